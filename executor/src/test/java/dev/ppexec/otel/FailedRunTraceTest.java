package dev.ppexec.otel;

import dev.ppexec.cli.CliRun;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.ActionHook;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.PipelineException;
import dev.ppexec.runtime.Workload;
import dev.ppexec.schedule.ActionKind;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A run that fails on rank 1 half-way still leaves a trace: the spans whose times resolved before
 * the fault, every cut request's root ended with an ERROR status and the cause, no span without
 * its parent; {@code convert} and {@code report} read the file.
 */
@Timeout(120)
class FailedRunTraceTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 11);
    static final int REQUESTS = 8;
    static final int FAULT_STEP = 6;

    @Test
    void faultOnRank1_traceHoldsSpansResolvedBefore_cutRequestsEndError_andConvertAndReportReadIt(@TempDir Path dir) {
        Path file = dir.resolve("failed.jsonl");
        InMemorySpanExporter memory = InMemorySpanExporter.create();
        List<SpanData> spans;
        ActionHook faultOnRank1 = (rank, action) -> {
            if (rank == 1 && action.kind() == ActionKind.FORWARD && action.microBatch() == 2
                    && action.step() == FAULT_STEP) {
                throw new IllegalStateException("injected fault");
            }
        };
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                .addSpanProcessor(SimpleSpanProcessor.create(memory))
                .addSpanProcessor(BatchSpanProcessor.builder(OtlpJsonFileExporter.create(file)).build())
                .build();
             Pipeline pipeline = Pipeline.builder().model(TINY).stages(2).microBatches(4).actionHook(faultOnRank1)
                     .build()) {
            TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME), TraceLevel.DEFAULT,
                    TraceSchema.PPEXEC, EpochClock.process(), "host");
            assertThatThrownBy(() -> pipeline.generate(Workload.generated(TINY, REQUESTS, 4, 12), s -> {},
                    List.of(listener)))
                    .isInstanceOf(PipelineException.class).hasMessageContaining("injected fault");
            spans = memory.getFinishedSpanItems(); // before the provider's shutdown empties the exporter
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Map<String, SpanData> byId = spans.stream().collect(Collectors.toMap(SpanData::getSpanId, Function.identity()));

        List<SpanData> roots = spans.stream().filter(s -> s.getName().startsWith("Req ")).toList();
        assertThat(roots).as("one root per request").hasSize(REQUESTS);
        for (SpanData root : roots) {
            assertThat(root.getStatus().getStatusCode()).as("%s status", root.getName()).isEqualTo(StatusCode.ERROR);
            assertThat(root.getStatus().getDescription()).contains("rank 1").contains("injected fault");
            assertThat(root.getEvents()).as("%s exception event", root.getName())
                    .anySatisfy(e -> assertThat(e.getName()).isEqualTo("exception"));
        }
        for (SpanData s : spans) {
            if (s.getParentSpanContext().isValid()) {
                SpanData parent = byId.get(s.getParentSpanId());
                assertThat(parent).as("parent of %s", s.getName()).isNotNull();
                assertThat(s.getStartEpochNanos()).as("%s starts within %s", s.getName(), parent.getName())
                        .isGreaterThanOrEqualTo(parent.getStartEpochNanos());
                assertThat(s.getEndEpochNanos()).as("%s ends within %s", s.getName(), parent.getName())
                        .isLessThanOrEqualTo(parent.getEndEpochNanos());
            }
        }
        assertThat(spans).filteredOn(s -> s.getName().startsWith("Scheduler [PP 1]"))
                .as("rank 1's thread spans, cut short").isNotEmpty()
                .allSatisfy(s -> assertThat(s.getStatus().getStatusCode()).isEqualTo(StatusCode.ERROR));
        // Steps before FAULT_STEP - 1 finished on every rank before the fault (each launch waits for the
        // slot's previous step), so their device slices resolved: all of them are in the trace.
        for (int rank = 0; rank < 2; rank++) {
            for (int rid = 0; rid < REQUESTS; rid++) {
                Set<Long> steps = stepsOf(spans, "run_batch_device", rank, rid);
                assertThat(steps).as("run_batch_device steps of request %d on rank %d", rid, rank)
                        .containsAll(List.of(0L, 1L, 2L, 3L, 4L));
            }
        }
        assertThat(stepsOf(spans, "run_batch_cpu", 1, 4)).as("request 4 (micro-batch 2) on rank 1: no launch at the fault")
                .doesNotContain((long) FAULT_STEP);

        assertThat(file).exists();
        CliRun report = CliRun.of("report", "--input", file.toString());
        assertThat(report.status()).as("report: %s", report.err()).isZero();
        assertThat(report.out()).contains("PP1");
        CliRun convert = CliRun.of("convert", "--input", file.toString(), "--output", dir.resolve("p.json").toString());
        assertThat(convert.status()).as("convert: %s", convert.err()).isZero();
        assertThat(dir.resolve("p.json")).isNotEmptyFile();
    }

    static Set<Long> stepsOf(List<SpanData> spans, String name, int rank, int rid) {
        return spans.stream().filter(s -> s.getName().equals(name)
                        && s.getAttributes().get(AttributeKey.longKey("pp_rank")) == rank
                        && Integer.toString(rid).equals(s.getAttributes().get(AttributeKey.stringKey("rid"))))
                .map(s -> s.getAttributes().get(AttributeKey.longKey("step"))).collect(Collectors.toSet());
    }

}
