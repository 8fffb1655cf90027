package dev.ppexec.otel;

import dev.ppexec.otlp.SpanRecord;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.trace.data.SpanData;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The run's own spans as the readers' {@link SpanRecord}s, in memory: what the report is built
 * from at the end of a run, the same records an OTLP-JSON file of the run reads back as.
 */
public final class SpanRecords {

    private SpanRecords() {}

    /** {@code span} as a record; {@code resource} is the span's resource, already converted (shared by its spans). */
    public static SpanRecord of(SpanData span, Map<String, Object> resource) {
        return new SpanRecord(span.getName(), span.getStartEpochNanos(), span.getEndEpochNanos(),
                attributes(span.getAttributes()), resource);
    }

    /** Attribute values as a reader holds them: String, Long, Double, Boolean, or a list of them. */
    public static Map<String, Object> attributes(Attributes attributes) {
        Map<String, Object> out = new HashMap<>();
        attributes.forEach((AttributeKey<?> k, Object v) -> out.put(k.getKey(), v instanceof List<?> l ? List.copyOf(l) : v));
        return Map.copyOf(out);
    }
}
