package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.HashMap;
import java.util.Map;

/**
 * One OTLP-JSON metrics export request read back for tests: the file exporter's line (attributes
 * as {@code [{key, value}]}, integers as strings) or the mock receiver's printed line (attributes
 * as one object; over gRPC integers as {@code {low, high}}).
 *
 * @param points   [metric name][pp_rank, or -1 without one] the data point
 * @param units    [metric name] its unit
 * @param resource the resource's attributes, as text
 */
public record MetricLines(Map<String, Map<Long, Point>> points, Map<String, String> units, Map<String, String> resource) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A sum's or gauge's value, or a histogram's count, sum and bucket bounds. */
    public record Point(double value, long count, double sum, String device, JsonNode bounds) {}

    public static MetricLines parse(String line) {
        JsonNode root;
        try {
            root = JSON.readTree(line);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        Map<String, Map<Long, Point>> points = new HashMap<>();
        Map<String, String> units = new HashMap<>();
        Map<String, String> resource = new HashMap<>();
        for (JsonNode rm : root.get("resourceMetrics")) {
            resource.putAll(attributes(rm.at("/resource/attributes")));
            for (JsonNode sm : rm.get("scopeMetrics")) {
                for (JsonNode m : sm.get("metrics")) {
                    String name = m.get("name").asText();
                    units.put(name, m.path("unit").asText());
                    JsonNode data = m.has("sum") ? m.get("sum") : m.has("gauge") ? m.get("gauge") : m.get("histogram");
                    for (JsonNode p : data.get("dataPoints")) {
                        Map<String, String> attrs = attributes(p.path("attributes"));
                        long rank = attrs.containsKey("pp_rank") ? Long.parseLong(attrs.get("pp_rank")) : -1;
                        double value = p.has("asDouble") ? p.get("asDouble").asDouble() : number(p.path("asInt"));
                        points.computeIfAbsent(name, k -> new HashMap<>()).put(rank, new Point(value,
                                (long) number(p.path("count")), p.path("sum").asDouble(), attrs.get("device"),
                                p.path("explicitBounds")));
                    }
                }
            }
        }
        return new MetricLines(points, units, resource);
    }

    public Point point(String metric, long rank) {
        Map<Long, Point> byRank = points.get(metric);
        if (byRank == null || !byRank.containsKey(rank)) {
            throw new AssertionError("no point of " + metric + " for pp_rank " + rank + " in " + points.keySet());
        }
        return byRank.get(rank);
    }

    /** A number written as a number, a decimal string, or a Long's {low, high} halves; 0 when absent. */
    private static double number(JsonNode n) {
        if (n.isMissingNode() || n.isNull()) {
            return 0;
        }
        if (n.isObject()) {
            return (double) ((n.get("high").asLong() << 32) | (n.get("low").asLong() & 0xffffffffL));
        }
        return n.isTextual() ? Double.parseDouble(n.asText()) : n.asDouble();
    }

    private static Map<String, String> attributes(JsonNode attrs) {
        Map<String, String> out = new HashMap<>();
        if (attrs.isArray()) {
            out.putAll(OtlpJsonFileExporterTest.attributes(attrs));
        } else if (attrs.isObject()) {
            attrs.properties().forEach(e -> out.put(e.getKey(), e.getValue().asText()));
        }
        return out;
    }
}
