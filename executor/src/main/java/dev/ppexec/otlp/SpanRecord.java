package dev.ppexec.otlp;

import java.util.Map;
import java.util.Objects;

/**
 * One finished span, as the Perfetto converter and the report read it: what an OTLP-JSON file
 * holds, and what an adapter builds from the spans of a run in this process.
 *
 * <p>Attribute values are {@link String}, {@link Long}, {@link Double}, {@link Boolean},
 * {@code List<Object>} (OTLP arrayValue) or {@code Map<String, Object>} (kvlistValue). The
 * resource map is shared by every span of one resource, so holding it costs nothing per span.
 *
 * @param name       span name, e.g. {@code run_batch_cpu}
 * @param startNanos start, nanoseconds since the Unix epoch
 * @param endNanos   end, nanoseconds since the Unix epoch; not before the start
 * @param attributes the span's attributes
 * @param resource   the attributes of the resource that emitted it
 */
public record SpanRecord(String name, long startNanos, long endNanos, Map<String, Object> attributes,
                         Map<String, Object> resource) {

    public SpanRecord {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(attributes, "attributes");
        Objects.requireNonNull(resource, "resource");
        if (endNanos < startNanos) {
            throw new IllegalArgumentException("span '" + name + "' ends before it starts (start " + startNanos
                    + " ns, end " + endNanos + " ns); allowed: end >= start");
        }
    }

    /** An integer attribute (an int, an integral double, or a decimal string), or {@code null}. */
    public Integer intAttribute(String key) {
        return asInt(attributes.get(key));
    }

    /** An attribute as text (numbers and booleans spelled out), or {@code null}. */
    public String stringAttribute(String key) {
        Object v = attributes.get(key);
        return v == null ? null : String.valueOf(v);
    }

    static Integer asInt(Object v) {
        return switch (v) {
            case Long l when l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE -> (int) (long) l;
            case Double d when d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE -> (int) (double) d;
            case String s when s.matches("-?\\d{1,9}") -> Integer.parseInt(s);
            case null, default -> null;
        };
    }
}
