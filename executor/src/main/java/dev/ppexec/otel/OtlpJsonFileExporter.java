package dev.ppexec.otel;

import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;

/**
 * Writes spans as OTLP-JSON lines, the shape the OpenTelemetry Collector's file exporter writes
 * (one {@code {"resourceSpans":[...]}} object per export batch, hex ids, times as decimal strings),
 * by the file policy of {@link OtlpJsonLines}.
 */
public final class OtlpJsonFileExporter implements SpanExporter {

    private final OtlpJsonLines file;

    private OtlpJsonFileExporter(OtlpJsonLines file) {
        this.file = file;
    }

    /** Opens {@code target} by Note [output policy], creating missing folders. */
    public static OtlpJsonFileExporter create(Path target) throws IOException {
        return new OtlpJsonFileExporter(OtlpJsonLines.create(target));
    }

    public Path target() {
        return file.target();
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
        return file.write(TraceRequestMarshaler.create(spans));
    }

    @Override
    public CompletableResultCode flush() {
        return file.flush();
    }

    /** Leaves the target as it was (the run never started). */
    public void discard() {
        file.discard();
    }

    /** Commits the file; a failed write is reported here too. */
    @Override
    public CompletableResultCode shutdown() {
        return file.shutdown();
    }
}
