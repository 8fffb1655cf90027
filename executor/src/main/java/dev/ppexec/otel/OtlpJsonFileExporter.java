package dev.ppexec.otel;

import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import dev.ppexec.io.AtomicFile;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Collection;

/**
 * Writes spans as OTLP-JSON lines, the shape the OpenTelemetry Collector's file exporter writes
 * (one {@code {"resourceSpans":[...]}} object per export batch, hex ids, times as decimal strings).
 * The file is one {@link AtomicFile.Open} from creation to shutdown (Note [output policy]): lines
 * go to a temporary file beside the target, which replaces it on shutdown whole, with complete
 * lines only; a FIFO or a device gets the lines in place. Shutdown after no line at all, or after a
 * failed write, leaves the previous file untouched. Uses the SDK's own OTLP marshaler (an internal
 * API of opentelemetry-exporter-otlp-common; the logging-otlp module that wraps it is not available here).
 */
public final class OtlpJsonFileExporter implements SpanExporter {

    private final Path target;
    private final AtomicFile.Open file;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(1 << 16);
    private long lines;
    private IOException failure;
    private boolean closed;

    private OtlpJsonFileExporter(Path target, AtomicFile.Open file) {
        this.target = target;
        this.file = file;
    }

    /** Opens {@code target} by Note [output policy], creating missing folders. */
    public static OtlpJsonFileExporter create(Path target) throws IOException {
        return new OtlpJsonFileExporter(target, AtomicFile.open(target));
    }

    public Path target() {
        return target;
    }

    /** Each batch is marshalled whole, then written as one line: the file never holds half a line. */
    @Override
    public synchronized CompletableResultCode export(Collection<SpanData> spans) {
        if (closed) {
            return CompletableResultCode.ofFailure();
        }
        if (failure != null) {
            return CompletableResultCode.ofExceptionalFailure(failure);
        }
        try {
            line.reset();
            TraceRequestMarshaler.create(spans).writeJsonTo(line);
            line.write('\n');
            line.writeTo(file.out());
            lines++;
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            failure = e;
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    @Override
    public synchronized CompletableResultCode flush() {
        if (closed || failure != null) {
            return CompletableResultCode.ofSuccess();
        }
        try {
            file.out().flush();
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            failure = e;
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    /** Leaves the target as it was (the run never started). */
    public synchronized void discard() {
        closed = true;
        file.abort();
    }

    /** Commits the file (see the class comment); a failed write is reported here too. */
    @Override
    public synchronized CompletableResultCode shutdown() {
        if (closed) {
            return CompletableResultCode.ofSuccess();
        }
        closed = true;
        if (failure != null || lines == 0) {
            file.abort();
            return failure == null ? CompletableResultCode.ofSuccess() : CompletableResultCode.ofExceptionalFailure(failure);
        }
        try {
            file.commit();
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }
}
