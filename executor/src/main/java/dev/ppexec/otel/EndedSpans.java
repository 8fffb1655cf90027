package dev.ppexec.otel;

import dev.ppexec.otlp.SpanRecord;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.data.SpanData;

import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Counts spans ended (what every destination should have received) and, once a tap is set, hands
 * each ended span as a reader's {@link SpanRecord} to it, on the thread that ends the span (the
 * run's trace delivery thread), so the tap needs no lock. Never blocks.
 */
final class EndedSpans implements EndProcessor {

    private final LongAdder ended = new LongAdder();
    private volatile Consumer<SpanRecord> tap;
    private Resource lastResource;
    private Map<String, Object> lastResourceMap;

    long count() {
        return ended.sum();
    }

    void tap(Consumer<SpanRecord> records) {
        this.tap = records;
    }

    @Override
    public void onEnd(ReadableSpan span) {
        ended.increment();
        Consumer<SpanRecord> records = tap;
        if (records == null) {
            return;
        }
        SpanData data = span.toSpanData();
        if (data.getResource() != lastResource) {
            lastResource = data.getResource();
            lastResourceMap = SpanRecords.attributes(lastResource.getAttributes());
        }
        records.accept(SpanRecords.of(data, lastResourceMap));
    }
}
