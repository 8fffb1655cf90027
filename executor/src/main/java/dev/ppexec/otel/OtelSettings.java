package dev.ppexec.otel;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one place that checks the {@code OTEL_*} variables (and their {@code otel.*} system
 * properties, which win, as in the SDK) that the SDK reads for a traced run, before anything
 * starts: each bad value becomes one line naming the variable, its value and what is allowed.
 * Values the SDK would accept but that would lose or change spans without a word (a negative
 * timeout, a sampler that drops spans, attribute limits that cut the run's own attributes) are
 * refused too. Variables of other languages' SDKs ({@code OTEL_PYTHON_*}) are not read and not checked.
 */
public final class OtelSettings {

    static final String TRACES_EXPORTER = "otel.traces.exporter";
    static final String METRICS_EXPORTER = "otel.metrics.exporter";
    /** Largest export queue a user may ask for: 16 M spans (a few GiB of heap at most). */
    static final int MAX_QUEUE_SIZE = 1 << 24;
    private static final long MAX_DURATION_MS = 3_600_000;
    private static final Pattern DURATION = Pattern.compile("([0-9]{1,12})(ms|s|m|h)?");
    private static final Pattern PERCENT_ENCODED = Pattern.compile("([^%]|%[0-9A-Fa-f]{2})*");

    /** Each checked setting (as the SDK's property key) and its check: null when allowed, else "is ...; allowed: ...". */
    private static final Map<String, Function<String, String>> CHECKS = checks();

    private OtelSettings() {}

    private static Map<String, Function<String, String>> checks() {
        Map<String, Function<String, String>> m = new LinkedHashMap<>();
        m.put("otel.sdk.disabled", v -> v.equalsIgnoreCase("false") ? null
                : v.equalsIgnoreCase("true") ? "turns off the SDK that writes this run's spans; allowed: false, or unset"
                : "is not a boolean; allowed: false, or unset");
        m.put("otel.config.file", v -> "is not supported (declarative configuration); allowed: unset");
        m.put("otel.experimental.config.file", v -> "is not supported (declarative configuration); allowed: unset");
        m.put("otel.service.name", v -> v.chars().anyMatch(Character::isISOControl)
                ? "has a control character; allowed: printable text" : null);
        m.put("otel.resource.attributes", OtelSettings::resourceAttributes);
        m.put(TRACES_EXPORTER, v -> oneOf(v, List.of("otlp", "none"),
                " (otlp: to OTEL_EXPORTER_OTLP_ENDPOINT; none: only --trace-file; ppexec writes no other exporter's format)"));
        m.put(METRICS_EXPORTER, v -> oneOf(v, List.of("otlp", "none"),
                " (otlp: to OTEL_EXPORTER_OTLP_ENDPOINT; none: only --metrics-file; ppexec writes no other exporter's format)"));
        m.put("otel.exporter.otlp.metrics.temporality.preference", v -> oneOf(v.toLowerCase(Locale.ROOT),
                List.of("cumulative", "delta", "lowmemory"), ""));
        m.put("otel.traces.sampler", v -> oneOf(v, List.of("always_on", "parentbased_always_on"),
                " (the run's report and its Perfetto trace need every span)"));
        m.put("otel.propagators", OtelSettings::propagators);
        for (String signal : List.of("", "traces.", "metrics.")) {
            String p = "otel.exporter.otlp." + signal;
            m.put(p + "endpoint", v -> endpointProblem(v).orElse(null));
            m.put(p + "protocol", v -> oneOf(v, List.of(TraceOptions.HTTP_PROTOBUF, TraceOptions.GRPC), ""));
            m.put(p + "timeout", v -> duration(v, 1));
            m.put(p + "headers", OtelSettings::headers);
            m.put(p + "compression", v -> oneOf(v, List.of("gzip", "none"), ""));
            m.put(p + "certificate", OtelSettings::readableFile);
            m.put(p + "client.key", OtelSettings::readableFile);
            m.put(p + "client.certificate", OtelSettings::readableFile);
        }
        m.put("otel.java.exporter.otlp.retry.disabled", v -> oneOf(v.toLowerCase(Locale.ROOT), List.of("true", "false"), ""));
        m.put("otel.bsp.schedule.delay", v -> duration(v, 0));
        m.put("otel.bsp.export.timeout", v -> duration(v, 1));
        m.put("otel.bsp.max.queue.size", v -> whole(v, 1, MAX_QUEUE_SIZE, ""));
        m.put("otel.bsp.max.export.batch.size", v -> whole(v, 1, MAX_QUEUE_SIZE, ""));
        String attributesWhole = " (fewer would cut the run's own attributes)";
        m.put("otel.attribute.count.limit", v -> whole(v, 128, Integer.MAX_VALUE, attributesWhole));
        m.put("otel.span.attribute.count.limit", v -> whole(v, 128, Integer.MAX_VALUE, attributesWhole));
        m.put("otel.attribute.value.length.limit", v -> whole(v, 1024, Integer.MAX_VALUE, attributesWhole));
        m.put("otel.span.attribute.value.length.limit", v -> whole(v, 1024, Integer.MAX_VALUE, attributesWhole));
        m.put("otel.span.event.count.limit", v -> whole(v, 0, Integer.MAX_VALUE, ""));
        m.put("otel.span.link.count.limit", v -> whole(v, 0, Integer.MAX_VALUE, ""));
        return m;
    }

    /**
     * The first setting the SDK would read that is not allowed, as one line
     * ({@code OTEL_BSP_MAX_QUEUE_SIZE='-1' is not a whole number in 1..16777216; allowed: ...}), or
     * empty. Blank values count as unset, as in the SDK.
     */
    public static Optional<String> problem(Map<String, String> env, Properties system) {
        for (Map.Entry<String, Function<String, String>> c : CHECKS.entrySet()) {
            String key = c.getKey();
            String property = system.getProperty(key);
            String name = property != null ? "system property " + key : envName(key);
            String value = property != null ? property : env.get(envName(key));
            if (value == null || value.isBlank()) {
                continue;
            }
            String problem = c.getValue().apply(value);
            if (problem != null) {
                boolean secret = key.endsWith(".headers");
                return Optional.of(name + (secret ? " (value not shown: it may hold a secret) " : "='" + value + "' ") + problem);
            }
        }
        String queue = effective("otel.bsp.max.queue.size", env, system);
        String batch = effective("otel.bsp.max.export.batch.size", env, system);
        if (queue != null && batch != null && Long.parseLong(batch) > Long.parseLong(queue)) {
            return Optional.of(envName("otel.bsp.max.export.batch.size") + "='" + batch + "' is more than "
                    + envName("otel.bsp.max.queue.size") + "='" + queue + "'; allowed: a batch no larger than the queue");
        }
        return Optional.empty();
    }

    /**
     * What is wrong with a collector URL ({@code --otlp-endpoint} or an endpoint variable), said
     * without its subject ({@code "is not a URL; allowed: ..."}), or empty when it is usable.
     */
    public static Optional<String> endpointProblem(String url) {
        String allowed = "; allowed: http://HOST[:PORT][/PATH] or https://..., PORT 1..65535 (e.g. http://127.0.0.1:4318)";
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            return Optional.of("is not a URL" + allowed);
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            return Optional.of("is not a URL" + allowed);
        }
        if (uri.getPort() != -1 && (uri.getPort() < 1 || uri.getPort() > 65535)) {
            return Optional.of("has port " + uri.getPort() + allowed);
        }
        if (uri.getRawUserInfo() != null) {
            return Optional.of("holds user credentials" + allowed + " (credentials go in OTEL_EXPORTER_OTLP_HEADERS)");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
            return Optional.of("has a query or fragment" + allowed);
        }
        return Optional.empty();
    }

    /** The problem of an OTLP protocol ({@code --otlp-protocol} or a protocol variable) or empty. */
    public static Optional<String> protocolProblem(String protocol) {
        return Optional.ofNullable(oneOf(protocol, List.of(TraceOptions.HTTP_PROTOBUF, TraceOptions.GRPC), ""));
    }

    /** The variable's name, {@code OTEL_BSP_MAX_QUEUE_SIZE}, of a property key {@code otel.bsp.max.queue.size}. */
    static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_');
    }

    /** The value the SDK reads for {@code key}: its system property, else its variable; null when unset or blank. */
    static String effective(String key, Map<String, String> env, Properties system) {
        String v = system.getProperty(key, env.get(envName(key)));
        return v == null || v.isBlank() ? null : v;
    }

    private static String oneOf(String value, List<String> allowed, String why) {
        return allowed.contains(value) ? null : "is not supported; allowed: " + String.join(", ", allowed) + why;
    }

    private static String whole(String value, long min, long max, String why) {
        String allowed = "; allowed: a whole number " + min + ".." + max + why;
        if (!value.matches("-?[0-9]{1,18}")) {
            return "is not a whole number" + allowed;
        }
        long v = Long.parseLong(value);
        return v < min || v > max ? "is out of range" + allowed : null;
    }

    private static String duration(String value, long minMs) {
        String allowed = "; allowed: " + minMs + "ms..1h, as milliseconds (10000) or with a unit ms, s, m, h (10s)";
        Matcher d = DURATION.matcher(value);
        if (!d.matches()) {
            return "is not a duration" + allowed;
        }
        long n = Long.parseLong(d.group(1));
        long ms = switch (d.group(2) == null ? "ms" : d.group(2)) {
            case "s" -> n * 1_000;
            case "m" -> n * 60_000;
            case "h" -> n * 3_600_000;
            default -> n;
        };
        return ms < minMs || ms > MAX_DURATION_MS || n > MAX_DURATION_MS ? "is out of range" + allowed : null;
    }

    private static String resourceAttributes(String value) {
        Set<String> keys = new HashSet<>();
        for (String entry : value.split(",", -1)) {
            int eq = entry.indexOf('=');
            String allowed = "; allowed: KEY=VALUE pairs separated by commas, values percent-encoded";
            if (eq < 1 || entry.substring(0, eq).isBlank()) {
                return "has the entry '" + entry + "', not KEY=VALUE" + allowed;
            }
            String key = entry.substring(0, eq).strip();
            if (!PERCENT_ENCODED.matcher(entry.substring(eq + 1)).matches()) {
                return "has a '%' that is not followed by two hex digits in '" + entry + "'" + allowed;
            }
            if (key.startsWith("ppexec.")) {
                return "sets key '" + key + "', which the run sets; allowed: keys outside ppexec.*";
            }
            if (!keys.add(key)) {
                return "sets key '" + key + "' twice; allowed: each key once";
            }
        }
        return null;
    }

    private static String headers(String value) {
        for (String entry : value.split(",", -1)) {
            int eq = entry.indexOf('=');
            if (eq < 1 || entry.substring(0, eq).isBlank()) {
                return "has an entry that is not KEY=VALUE; allowed: KEY=VALUE pairs separated by commas";
            }
            if (!PERCENT_ENCODED.matcher(entry.substring(eq + 1)).matches()) {
                return "has a '%' that is not followed by two hex digits; allowed: percent-encoded values";
            }
        }
        return null;
    }

    private static String propagators(String value) {
        List<String> names = List.of(value.split(",", -1)).stream().map(String::strip).toList();
        boolean known = names.stream().allMatch(n -> n.equals("tracecontext") || n.equals("baggage") || n.equals("none"));
        if (!known || (names.contains("none") && names.size() > 1)) {
            return "is not supported; allowed: tracecontext and/or baggage (comma-separated), or none alone";
        }
        return null;
    }

    private static String readableFile(String value) {
        try {
            Path p = Path.of(value);
            return Files.isRegularFile(p) && Files.isReadable(p) ? null
                    : "is not a readable file; allowed: a PEM file this user can read";
        } catch (InvalidPathException e) {
            return "is not a path; allowed: a PEM file this user can read";
        }
    }
}
