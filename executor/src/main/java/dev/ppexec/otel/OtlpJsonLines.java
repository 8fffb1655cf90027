package dev.ppexec.otel;

import dev.ppexec.io.AtomicFile;
import io.opentelemetry.exporter.internal.marshal.Marshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;

/**
 * One OTLP-JSON lines file, the shape the OpenTelemetry Collector's file exporter writes (one
 * export request per line), shared by the span file ({@link OtlpJsonFileExporter}) and the metrics
 * file ({@link OtlpJsonMetricFileExporter}). The file is one {@link AtomicFile.Open} from creation
 * to shutdown (Note [output policy]): lines go to a temporary file beside the target, which
 * replaces it on shutdown whole, with complete lines only; a FIFO or a device gets the lines in
 * place. Shutdown after no line at all, or after a failed write, leaves the previous file untouched.
 * Uses the SDK's own OTLP marshalers (an internal API of opentelemetry-exporter-otlp-common; the
 * logging-otlp module that wraps them is not available here).
 */
final class OtlpJsonLines {

    private final Path target;
    private final AtomicFile.Open file;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(1 << 16);
    private long lines;
    private IOException failure;
    private boolean closed;

    private OtlpJsonLines(Path target, AtomicFile.Open file) {
        this.target = target;
        this.file = file;
    }

    /** Opens {@code target} by Note [output policy], creating missing folders. */
    static OtlpJsonLines create(Path target) throws IOException {
        return new OtlpJsonLines(target, AtomicFile.open(target));
    }

    Path target() {
        return target;
    }

    /** Each request is marshalled whole, then written as one line: the file never holds half a line. */
    synchronized CompletableResultCode write(Marshaler request) {
        if (closed) {
            return CompletableResultCode.ofFailure();
        }
        if (failure != null) {
            return CompletableResultCode.ofExceptionalFailure(failure);
        }
        try {
            line.reset();
            request.writeJsonTo(line);
            line.write('\n');
            line.writeTo(file.out());
            lines++;
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            failure = e;
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    synchronized CompletableResultCode flush() {
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
    synchronized void discard() {
        closed = true;
        file.abort();
    }

    /** Commits the file (see the class comment); a failed write is reported here too. */
    synchronized CompletableResultCode shutdown() {
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
