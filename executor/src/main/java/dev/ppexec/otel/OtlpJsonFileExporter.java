package dev.ppexec.otel;

import io.opentelemetry.exporter.internal.otlp.traces.TraceRequestMarshaler;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Collection;

/**
 * Writes spans as OTLP-JSON lines, the shape the OpenTelemetry Collector's file exporter writes
 * (one {@code {"resourceSpans":[...]}} object per export batch, hex ids, times as decimal strings).
 * Lines go to a temporary file in the target's folder, renamed to the target on shutdown, so a
 * reader never sees half a trace. Uses the SDK's own OTLP marshaler (an internal API of
 * opentelemetry-exporter-otlp-common; the logging-otlp module that wraps it is not available here).
 */
public final class OtlpJsonFileExporter implements SpanExporter {

    private final Path target;
    private final Path temp;
    private final OutputStream out;
    private boolean closed;

    private OtlpJsonFileExporter(Path target, Path temp, OutputStream out) {
        this.target = target;
        this.temp = temp;
        this.out = out;
    }

    /** Opens the temporary file next to {@code target}, creating missing folders. */
    public static OtlpJsonFileExporter create(Path target) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path folder = absolute.getParent();
        Files.createDirectories(folder);
        Path temp = folder.resolve(absolute.getFileName() + "." + ProcessHandle.current().pid() + "-" + System.nanoTime()
                + ".tmp");
        OutputStream out = Files.newOutputStream(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        return new OtlpJsonFileExporter(target, temp, new BufferedOutputStream(out, 1 << 16));
    }

    public Path target() {
        return target;
    }

    @Override
    public synchronized CompletableResultCode export(Collection<SpanData> spans) {
        if (closed) {
            return CompletableResultCode.ofFailure();
        }
        try {
            TraceRequestMarshaler.create(spans).writeJsonTo(new FilterOutputStream(out) {
                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                }

                @Override
                public void close() throws IOException {
                    flush();
                }
            });
            out.write('\n');
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    @Override
    public synchronized CompletableResultCode flush() {
        try {
            out.flush();
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }

    /** Closes and deletes the temporary file, leaving the target as it was (the run never started). */
    public synchronized void discard() {
        closed = true;
        try {
            out.close();
        } catch (IOException ignored) {
            // Deleted next; nothing of it is kept.
        }
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // A leftover temporary file is named *.tmp next to the target; nothing else to do.
        }
    }

    /** Closes the file and renames it to the target. */
    @Override
    public synchronized CompletableResultCode shutdown() {
        if (closed) {
            return CompletableResultCode.ofSuccess();
        }
        closed = true;
        try {
            out.close();
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return CompletableResultCode.ofSuccess();
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // The rename's failure is the one to report.
            }
            return CompletableResultCode.ofExceptionalFailure(e);
        }
    }
}
