package dev.ppexec.otel;

import dev.ppexec.io.TestFiles;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The trace file's commit (Note [output policy]): the previous trace is replaced whole, with
 * complete lines only, when spans were written; kept when none were or a write failed; a device
 * gets the lines in place and stays a device.
 */
class TraceFileCommitTest {

    static final String OLD = "{\"resourceSpans\":[]}";

    @TempDir
    Path dir;

    @Test
    void spansWritten_replaceThePreviousTraceWhole() throws Exception {
        Path trace = Files.writeString(dir.resolve("t.jsonl"), OLD + "\n");
        OtlpJsonFileExporter exporter = OtlpJsonFileExporter.create(trace);
        emit(exporter, 3);
        assertThat(trace).as("untouched until shutdown").hasContent(OLD);
        assertThat(exporter.shutdown().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
        List<String> lines = Files.readAllLines(trace);
        assertThat(lines).hasSize(3).allSatisfy(l -> assertThat(l).startsWith("{\"resourceSpans\":[{").endsWith("}"));
        assertThat(dir.toFile().list()).containsExactly("t.jsonl");
    }

    @Test
    void noSpans_leaveThePreviousTrace_notAnEmptyFile() throws Exception {
        Path trace = Files.writeString(dir.resolve("t.jsonl"), OLD + "\n");
        OtlpJsonFileExporter exporter = OtlpJsonFileExporter.create(trace);
        assertThat(exporter.shutdown().join(10, TimeUnit.SECONDS).isSuccess()).isTrue();
        assertThat(trace).hasContent(OLD);
        assertThat(dir.toFile().list()).containsExactly("t.jsonl");
    }

    @Test
    void aFullDevice_failsTheExport_andStaysADevice() throws Exception {
        Path full = TestFiles.fullDevice(dir);
        OtlpJsonFileExporter exporter = OtlpJsonFileExporter.create(full);
        emit(exporter, 1);
        CompletableResultCode flushed = exporter.flush().join(10, TimeUnit.SECONDS);
        CompletableResultCode shut = exporter.shutdown().join(10, TimeUnit.SECONDS);
        assertThat(flushed.isSuccess() && shut.isSuccess()).as("the full device's error is reported").isFalse();
        assertThat(Files.isRegularFile(full)).isFalse();
    }

    /** {@code n} export calls of one span each. */
    private static void emit(OtlpJsonFileExporter exporter, int n) {
        SpanExporter exportOnly = new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                return exporter.export(spans);
            }

            @Override
            public CompletableResultCode flush() {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode.ofSuccess(); // the test shuts the file down itself
            }
        };
        try (SdkTracerProvider provider = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exportOnly))
                .build()) {
            for (int i = 0; i < n; i++) {
                provider.get("test").spanBuilder("s" + i).startSpan().end();
            }
        }
    }
}
