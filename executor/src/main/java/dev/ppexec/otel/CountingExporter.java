package dev.ppexec.otel;

import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.util.Collection;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wraps one destination's exporter and counts what reached it: spans handed over by the batch
 * processor, spans the destination accepted, and the first failure's reason. With the number of
 * spans ended, these give the spans the queue dropped and the spans lost on the way.
 */
final class CountingExporter implements SpanExporter {

    private final String destination;
    private final SpanExporter delegate;
    private final LongAdder handed = new LongAdder();
    private final LongAdder exported = new LongAdder();
    private final ExportOutcomes outcomes = new ExportOutcomes();

    CountingExporter(String destination, SpanExporter delegate) {
        this.destination = destination;
        this.delegate = delegate;
    }

    String destination() {
        return destination;
    }

    long handed() {
        return handed.sum();
    }

    /** Spans the destination holds: none when its shutdown failed (a file that could not be renamed into place). */
    long exported() {
        return outcomes.shutdownFailed() ? 0 : exported.sum();
    }

    /** The first failure's reason, or null. */
    String firstError() {
        return outcomes.firstError();
    }

    @Override
    public CompletableResultCode export(Collection<SpanData> spans) {
        int n = spans.size();
        handed.add(n);
        return outcomes.track(() -> delegate.export(spans), () -> exported.add(n), () -> {});
    }

    @Override
    public CompletableResultCode flush() {
        return delegate.flush();
    }

    @Override
    public CompletableResultCode shutdown() {
        return outcomes.trackShutdown(delegate.shutdown());
    }
}
