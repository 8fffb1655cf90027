package dev.ppexec.otel;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The trace file's span processor: it never drops. Spans are batched on the thread that ends them
 * (the run's trace delivery thread, never a rank's) and each full batch is exported there, that
 * thread waiting for the file (at most {@code exportTimeout} per batch): a slow file slows the
 * delivery, not the ranks, and loses nothing. A collector keeps the SDK's batch processor, which
 * drops and counts instead.
 */
final class WaitingBatchProcessor implements EndProcessor {

    private final SpanExporter exporter;
    private final int batchSize;
    private final long exportTimeoutNanos;
    private final List<SpanData> batch = new ArrayList<>();

    WaitingBatchProcessor(SpanExporter exporter, int batchSize, Duration exportTimeout) {
        this.exporter = exporter;
        this.batchSize = batchSize;
        this.exportTimeoutNanos = exportTimeout.toNanos();
    }

    @Override
    public synchronized void onEnd(ReadableSpan span) {
        batch.add(span.toSpanData());
        if (batch.size() >= batchSize) {
            exportBatch();
        }
    }

    private void exportBatch() {
        if (batch.isEmpty()) {
            return;
        }
        List<SpanData> spans = List.copyOf(batch);
        batch.clear();
        exporter.export(spans).join(exportTimeoutNanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public synchronized CompletableResultCode forceFlush() {
        exportBatch();
        return exporter.flush();
    }

    @Override
    public synchronized CompletableResultCode shutdown() {
        exportBatch();
        return exporter.shutdown();
    }
}
