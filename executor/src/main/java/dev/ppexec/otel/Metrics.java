package dev.ppexec.otel;

import dev.ppexec.runtime.RunListener;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.exporter.otlp.http.metrics.OtlpHttpMetricExporter;
import io.opentelemetry.exporter.otlp.metrics.OtlpGrpcMetricExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.metrics.InstrumentType;
import io.opentelemetry.sdk.metrics.data.AggregationTemporality;
import io.opentelemetry.sdk.metrics.data.MetricData;
import io.opentelemetry.sdk.metrics.export.MetricExporter;
import io.opentelemetry.sdk.metrics.export.PeriodicMetricReader;
import io.opentelemetry.sdk.resources.Resource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * The OpenTelemetry metrics of one {@code ppexec run} (docs/TRACING.md, "Metrics"): an SDK of its
 * own beside the tracing one, configured from the run's options and the standard {@code OTEL_*}
 * variables, with a periodic metric reader per destination (an OTLP collector, an OTLP-JSON lines
 * file) that exports every {@link MetricsOptions#interval()}. Its {@link #listener()} records the
 * instruments from the run's records on the trace delivery thread (Note [metrics from the records]
 * in {@link MetricsListener}). {@link #shutdown()} makes the last export (also after a failed or
 * interrupted run) within {@link Tracing#FLUSH_BOUND} and says what every destination got.
 */
public final class Metrics implements AutoCloseable {

    private static final String ENDPOINT = "otel.exporter.otlp.endpoint";
    private static final String METRICS_ENDPOINT = "otel.exporter.otlp.metrics.endpoint";
    private static final String PROTOCOL = "otel.exporter.otlp.protocol";
    private static final String METRICS_PROTOCOL = "otel.exporter.otlp.metrics.protocol";
    private static final String INTERVAL = "otel.metric.export.interval";

    private final OpenTelemetrySdk sdk;
    private final List<Counted> destinations;
    private final MetricsListener listener;
    private List<String> summary;

    private Metrics(OpenTelemetrySdk sdk, MetricsOptions options, List<Counted> destinations, boolean pipelineBubble) {
        this.sdk = sdk;
        this.destinations = destinations;
        this.listener = new MetricsListener(sdk.getMeter(Tracing.SCOPE_NAME), options.interval().toNanos(),
                pipelineBubble);
    }

    /**
     * Whether the environment names an OTLP collector for metrics ({@code OTEL_EXPORTER_OTLP_ENDPOINT}
     * or {@code OTEL_EXPORTER_OTLP_METRICS_ENDPOINT}, or their system properties) and
     * {@code OTEL_METRICS_EXPORTER} is not {@code none}.
     */
    public static boolean environmentNamesCollector(Map<String, String> env, Properties system) {
        return !metricsExporterNone(env, system) && (OtelSettings.effective(ENDPOINT, env, system) != null
                || OtelSettings.effective(METRICS_ENDPOINT, env, system) != null);
    }

    /** {@code OTEL_METRICS_EXPORTER=none}: no collector gets metrics, not even {@code --otlp-endpoint}'s. */
    public static boolean metricsExporterNone(Map<String, String> env, Properties system) {
        return "none".equals(OtelSettings.effective(OtelSettings.METRICS_EXPORTER, env, system));
    }

    /**
     * Starts the metrics SDK. {@code run} are the run's resource attributes. Bad OTEL_* values throw
     * {@link IllegalStateException} (OtelSettings refuses them before); a metrics file that cannot
     * be created throws {@link UncheckedIOException}.
     */
    public static Metrics start(MetricsOptions options, Attributes run) {
        return start(options, run, true);
    }

    /**
     * As {@link #start(MetricsOptions, Attributes)}; {@code pipelineBubble} false leaves the bubble gauge out, for a
     * process that hears only its own rank's forwards (one rank process of a world).
     */
    public static Metrics start(MetricsOptions options, Attributes run, boolean pipelineBubble) {
        OtlpJsonMetricFileExporter file = null;
        if (options.file() != null) {
            try {
                file = OtlpJsonMetricFileExporter.create(options.file());
            } catch (IOException e) {
                throw new UncheckedIOException("--metrics-file " + options.file() + ": cannot write: " + e.getMessage(), e);
            }
        }
        OtlpJsonMetricFileExporter fileExporter = file;
        List<Counted> destinations = new CopyOnWriteArrayList<>();
        try {
            OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                    .disableShutdownHook()
                    .setComponentLoader(OtlpSenders.jdkHttp(Metrics.class.getClassLoader()))
                    .addPropertiesCustomizer(config -> overrides(options, config))
                    .addResourceCustomizer((resource, config) -> resource.merge(Resource.create(run))
                            .merge(Resource.create(userAttributes(options.attributes()))))
                    .addMetricExporterCustomizer((exporter, config) -> {
                        Counted counted = new Counted(collectorName(config), withShortRetries(exporter, config));
                        destinations.add(counted);
                        return counted;
                    })
                    .addMeterProviderCustomizer((provider, config) -> {
                        if (fileExporter != null) {
                            Counted counted = new Counted(fileExporter.target().toString(), fileExporter);
                            destinations.add(counted);
                            provider.registerMetricReader(PeriodicMetricReader.builder(counted)
                                    .setInterval(options.interval()).build());
                        }
                        return provider;
                    })
                    .build()
                    .getOpenTelemetrySdk();
            return new Metrics(sdk, options, destinations, pipelineBubble);
        } catch (ConfigurationException e) {
            if (fileExporter != null) {
                fileExporter.discard();
            }
            throw new IllegalStateException("OpenTelemetry configuration: " + e.getMessage(), e);
        }
    }

    /** The run's options win over the environment; spans and logs are the tracing SDK's business, not this one's. */
    private static Map<String, String> overrides(MetricsOptions options, ConfigProperties config) {
        Map<String, String> o = new HashMap<>();
        String protocol = options.otlpProtocol() != null ? options.otlpProtocol()
                : config.getString(METRICS_PROTOCOL, config.getString(PROTOCOL, TraceOptions.HTTP_PROTOBUF));
        o.put(METRICS_PROTOCOL, protocol);
        if (options.otlpEndpoint() != null) {
            o.put(METRICS_ENDPOINT, metricsEndpoint(options.otlpEndpoint(), protocol));
        }
        o.put(OtelSettings.METRICS_EXPORTER, options.collector() ? "otlp" : "none");
        o.put(OtelSettings.TRACES_EXPORTER, "none");
        o.put("otel.logs.exporter", "none");
        o.put(INTERVAL, Long.toString(options.interval().toMillis()));
        if (config.getString("otel.service.name") == null
                && !config.getMap("otel.resource.attributes").containsKey("service.name")) {
            o.put("otel.service.name", "ppexec");
        }
        return o;
    }

    /**
     * OTLP/HTTP posts to {@code /v1/metrics} below the base URL (a URL that ends with
     * {@code /v1/traces}, the spans' path, takes {@code /v1/metrics} in its place); gRPC takes it as is.
     */
    static String metricsEndpoint(URI endpoint, String protocol) {
        String url = endpoint.toString();
        if (protocol.equals(TraceOptions.GRPC) || endpoint.getPath().endsWith("/v1/metrics")) {
            return url;
        }
        if (endpoint.getPath().endsWith("/v1/traces")) {
            return url.substring(0, url.length() - "/v1/traces".length()) + "/v1/metrics";
        }
        return (url.endsWith("/") ? url.substring(0, url.length() - 1) : url) + "/v1/metrics";
    }

    private static MetricExporter withShortRetries(MetricExporter exporter, ConfigProperties config) {
        if (config.getBoolean("otel.java.exporter.otlp.retry.disabled", false)) {
            return exporter;
        }
        MetricExporter rebuilt = switch (exporter) {
            case OtlpHttpMetricExporter http -> http.toBuilder().setRetryPolicy(Tracing.RETRY).build();
            case OtlpGrpcMetricExporter grpc -> grpc.toBuilder().setRetryPolicy(Tracing.RETRY).build();
            default -> exporter;
        };
        if (rebuilt != exporter) {
            exporter.shutdown();
        }
        return rebuilt;
    }

    private static String collectorName(ConfigProperties config) {
        String protocol = config.getString(METRICS_PROTOCOL, TraceOptions.HTTP_PROTOBUF);
        String endpoint = config.getString(METRICS_ENDPOINT);
        if (endpoint == null) {
            String base = config.getString(ENDPOINT);
            endpoint = base == null ? "the default endpoint" : metricsEndpoint(URI.create(base), protocol);
        }
        return "OTLP " + protocol + " " + endpoint;
    }

    private static Attributes userAttributes(Map<String, String> attributes) {
        AttributesBuilder b = Attributes.builder();
        attributes.forEach(b::put);
        return b.build();
    }

    /**
     * The listener that records the runs it hears into this SDK's instruments, one run after another
     * (bench's sweep: the counters add up every run); the bubble's window is the interval.
     */
    public RunListener listener() {
        return listener;
    }

    /** Exports made so far, all destinations together (each export holds every instrument's totals so far). */
    public long exportsSoFar() {
        long n = 0;
        for (Counted d : destinations) {
            n += d.exports.sum();
        }
        return n;
    }

    /**
     * Makes the last export, waits at most {@link Tracing#FLUSH_BOUND}, and stops the SDK; returns one line
     * per destination ({@code metrics: 3 exports to out/m.jsonl}, or {@code metrics: NAME: 0 of 3 exports
     * delivered (REASON)}). Idempotent.
     */
    public synchronized List<String> shutdown() {
        if (summary == null) {
            CompletableResultCode done = sdk.shutdown().join(Tracing.FLUSH_BOUND.toMillis(), TimeUnit.MILLISECONDS);
            List<String> lines = new ArrayList<>();
            for (Counted d : destinations) {
                String error = d.outcomes.firstError();
                if (error == null && !done.isDone()) {
                    error = "the last export did not finish within " + Tracing.FLUSH_BOUND.toSeconds() + " s";
                }
                long made = d.exports.sum() + d.failures.sum();
                long delivered = d.outcomes.shutdownFailed() ? 0 : d.exports.sum(); // a file that failed holds none
                lines.add(error == null
                        ? String.format(Locale.ROOT, "metrics: %,d export%s to %s", delivered, delivered == 1 ? "" : "s", d.name)
                        : String.format(Locale.ROOT, "metrics: %s: %,d of %,d exports delivered (%s)", d.name, delivered, made,
                        error));
            }
            summary = List.copyOf(lines);
        }
        return summary;
    }

    /** The first failure of the destination named {@code name} (a file: its path), if it failed. */
    public Optional<String> failure(String name) {
        return destinations.stream().filter(d -> d.name.equals(name)).map(d -> d.outcomes.firstError())
                .filter(Objects::nonNull).findFirst();
    }

    @Override
    public void close() {
        shutdown();
    }

    /** One destination's exporter, counting the exports it accepted and failed, and the first failure. */
    private static final class Counted implements MetricExporter {

        final String name;
        private final MetricExporter delegate;
        final LongAdder exports = new LongAdder();
        final LongAdder failures = new LongAdder();
        final ExportOutcomes outcomes = new ExportOutcomes();

        Counted(String name, MetricExporter delegate) {
            this.name = name;
            this.delegate = delegate;
        }

        @Override
        public AggregationTemporality getAggregationTemporality(InstrumentType instrumentType) {
            return delegate.getAggregationTemporality(instrumentType);
        }

        @Override
        public CompletableResultCode export(Collection<MetricData> metrics) {
            return outcomes.track(() -> delegate.export(metrics), exports::increment, failures::increment);
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
}
