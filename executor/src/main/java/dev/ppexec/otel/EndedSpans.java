package dev.ppexec.otel;

import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.ReadableSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;

import java.util.concurrent.atomic.LongAdder;

/** Counts spans ended: what every destination should have received. Never blocks. */
final class EndedSpans implements SpanProcessor {

    private final LongAdder ended = new LongAdder();

    long count() {
        return ended.sum();
    }

    @Override
    public void onStart(Context parentContext, ReadWriteSpan span) {}

    @Override
    public boolean isStartRequired() {
        return false;
    }

    @Override
    public void onEnd(ReadableSpan span) {
        ended.increment();
    }

    @Override
    public boolean isEndRequired() {
        return true;
    }
}
