package dev.ppexec.otel;

import io.opentelemetry.context.Context;
import io.opentelemetry.sdk.trace.ReadWriteSpan;
import io.opentelemetry.sdk.trace.SpanProcessor;

/** A span processor that hears only span ends (this project's spans carry their explicit times). */
interface EndProcessor extends SpanProcessor {

    @Override
    default void onStart(Context parentContext, ReadWriteSpan span) {}

    @Override
    default boolean isStartRequired() {
        return false;
    }

    @Override
    default boolean isEndRequired() {
        return true;
    }
}
