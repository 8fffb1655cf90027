package dev.ppexec.otel;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Where a run's metrics go.
 *
 * @param file         OTLP-JSON lines file ({@code --metrics-file}), or null
 * @param collector    whether a collector gets them: {@code --otlp-endpoint}, or OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT,
 *                     unless OTEL_METRICS_EXPORTER=none
 * @param otlpEndpoint collector URL, or null (then the OTEL_* variables name it)
 * @param otlpProtocol {@code http/protobuf} or {@code grpc}, or null (then OTEL_EXPORTER_OTLP_[METRICS_]PROTOCOL,
 *                     else http/protobuf)
 * @param interval     how often they are exported while the run goes on ({@link #MIN_INTERVAL}..{@link #MAX_INTERVAL}),
 *                     and the bubble gauge's window
 * @param attributes   resource attributes of the experiment ({@code --attr key=value})
 */
public record MetricsOptions(Path file, boolean collector, URI otlpEndpoint, String otlpProtocol, Duration interval,
                             Map<String, String> attributes) {

    public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(10);
    public static final Duration MIN_INTERVAL = Duration.ofMillis(100);
    public static final Duration MAX_INTERVAL = Duration.ofHours(1);

    public MetricsOptions {
        Objects.requireNonNull(interval, "interval");
        attributes = Map.copyOf(attributes);
        if (interval.compareTo(MIN_INTERVAL) < 0 || interval.compareTo(MAX_INTERVAL) > 0) {
            throw new IllegalArgumentException("interval " + interval + " is out of range; allowed: 0.1 s .. 1 h");
        }
        if (file == null && !collector) {
            throw new IllegalArgumentException("metrics need a destination: a file or a collector");
        }
    }
}
