package dev.ppexec.otel;

import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.AutoConfiguredOpenTelemetrySdk;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigProperties;
import io.opentelemetry.sdk.autoconfigure.spi.ConfigurationException;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.common.export.RetryPolicy;
import io.opentelemetry.sdk.trace.export.SpanExporter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.text.MessageFormat;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * The OpenTelemetry SDK of one {@code ppexec run}: configured from the run's options and the
 * standard {@code OTEL_*} variables (through the SDK's autoconfigure), with a batch span processor
 * per destination (an OTLP collector, an OTLP-JSON lines file). Spans are built while the run
 * goes on, on its trace delivery thread (see {@link TraceListener}), never on a rank's thread.
 * A collector's queue that is full drops and counts. The file does not drop: its batches are
 * written on the delivery thread, which waits for them ({@link WaitingBatchProcessor}).
 * {@link #shutdown()} flushes within {@link #FLUSH_BOUND} and says what every destination got.
 */
public final class Tracing implements AutoCloseable {

    public static final String SCOPE_NAME = "dev.ppexec";
    public static final String SCOPE_VERSION = "0.1.0";
    /** How long shutdown waits for the last exports, whatever the collector does. */
    public static final Duration FLUSH_BOUND = Duration.ofSeconds(10);
    /** The SDK's default export queue; a run's queue is at least this and at most {@link #MAX_QUEUE}. */
    static final int MIN_QUEUE = 2048;
    static final int MAX_QUEUE = 1 << 18;

    static final RetryPolicy RETRY = RetryPolicy.builder().setMaxAttempts(3).setInitialBackoff(Duration.ofMillis(100))
            .setMaxBackoff(Duration.ofMillis(400)).build();

    /** Kept here: java.util.logging holds loggers weakly, and a collected logger loses its handler. */
    private static final Logger SDK_LOG = Logger.getLogger("io.opentelemetry");

    private static final String ENDPOINT = "otel.exporter.otlp.endpoint";
    private static final String TRACES_ENDPOINT = "otel.exporter.otlp.traces.endpoint";
    private static final String PROTOCOL = "otel.exporter.otlp.protocol";
    private static final String TRACES_PROTOCOL = "otel.exporter.otlp.traces.protocol";
    private static final String SERVICE_NAME = "otel.service.name";
    private static final String RESOURCE_ATTRIBUTES = "otel.resource.attributes";

    private final OpenTelemetrySdk sdk;
    private final TraceLevel level;
    private final TraceSchema schema;
    private final EndedSpans ended;
    private final List<CountingExporter> destinations;
    private TraceSummary summary;

    private Tracing(OpenTelemetrySdk sdk, TraceLevel level, TraceSchema schema, EndedSpans ended,
                    List<CountingExporter> destinations) {
        this.sdk = sdk;
        this.level = level;
        this.schema = schema;
        this.ended = ended;
        this.destinations = destinations;
    }

    /**
     * Whether the environment names an OTLP collector ({@code OTEL_EXPORTER_OTLP_ENDPOINT} or
     * {@code OTEL_EXPORTER_OTLP_TRACES_ENDPOINT}, or their system properties) and
     * {@code OTEL_TRACES_EXPORTER} is not {@code none}: then a run sends spans there even without
     * {@code --otlp-endpoint}.
     */
    public static boolean environmentNamesCollector(Map<String, String> env, Properties system) {
        if ("none".equals(OtelSettings.effective(OtelSettings.TRACES_EXPORTER, env, system))) {
            return false;
        }
        for (String key : List.of(ENDPOINT, TRACES_ENDPOINT)) {
            String envName = key.toUpperCase(Locale.ROOT).replace('.', '_');
            if (!system.getProperty(key, "").isBlank() || !env.getOrDefault(envName, "").isBlank()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Starts the SDK. {@code run} are the run's resource attributes; {@code expectedSpans} sizes the
     * export queues (unless OTEL_BSP_MAX_QUEUE_SIZE does). Bad OTEL_* values throw
     * {@link IllegalStateException} (OtelSettings refuses them before); a trace file that cannot be created throws {@link UncheckedIOException}.
     */
    public static Tracing start(TraceOptions options, Attributes run, long expectedSpans) {
        if (options.level().isOff()) {
            throw new IllegalArgumentException("tracing at level 0 records nothing; do not start it");
        }
        oneLineSdkLog();
        EndedSpans ended = new EndedSpans();
        List<CountingExporter> destinations = new CopyOnWriteArrayList<>();
        OtlpJsonFileExporter file = null;
        if (options.file() != null) {
            try {
                file = OtlpJsonFileExporter.create(options.file());
            } catch (IOException e) {
                throw new UncheckedIOException("--trace-file " + options.file() + ": cannot write: " + e.getMessage(), e);
            }
        }
        OtlpJsonFileExporter fileExporter = file;
        try {
            OpenTelemetrySdk sdk = AutoConfiguredOpenTelemetrySdk.builder()
                    .disableShutdownHook()
                    .setComponentLoader(OtlpSenders.jdkHttp(Tracing.class.getClassLoader()))
                    .addPropertiesSupplier(() -> defaults(expectedSpans))
                    .addPropertiesCustomizer(config -> overrides(options, config))
                    .addResourceCustomizer((resource, config) -> resource.merge(Resource.create(run))
                            .merge(Resource.create(userAttributes(options.attributes()))))
                    .addSpanExporterCustomizer((exporter, config) -> {
                        CountingExporter counted = new CountingExporter(collectorName(config),
                                withShortRetries(exporter, config));
                        destinations.add(counted);
                        return counted;
                    })
                    .addTracerProviderCustomizer((provider, config) ->
                            withFile(provider, config, ended, fileExporter, destinations))
                    .build()
                    .getOpenTelemetrySdk();
            return new Tracing(sdk, options.level(), options.schema(), ended, destinations);
        } catch (ConfigurationException e) {
            if (fileExporter != null) {
                fileExporter.discard();
            }
            // OtelSettings refuses, before the run, every value the SDK would refuse here.
            throw new IllegalStateException("OpenTelemetry configuration: " + e.getMessage(), e);
        }
    }

    /**
     * A run's exports are short batches, and the SDK's default retries (5 attempts, backoff up to 5 s)
     * would mostly make a down collector slow to report; 3 quick attempts per batch instead, unless
     * OTEL_JAVA_EXPORTER_OTLP_RETRY_DISABLED turned retries off.
     */
    private static SpanExporter withShortRetries(SpanExporter exporter, ConfigProperties config) {
        if (config.getBoolean("otel.java.exporter.otlp.retry.disabled", false)) {
            return exporter;
        }
        SpanExporter rebuilt = switch (exporter) {
            case OtlpHttpSpanExporter http -> http.toBuilder().setRetryPolicy(RETRY).build();
            case OtlpGrpcSpanExporter grpc -> grpc.toBuilder().setRetryPolicy(RETRY).build();
            default -> exporter;
        };
        if (rebuilt != exporter) {
            exporter.shutdown();
        }
        return rebuilt;
    }

    private static Map<String, String> defaults(long expectedSpans) {
        Map<String, String> d = new HashMap<>();
        d.put("otel.bsp.max.queue.size", Long.toString(Math.clamp(expectedSpans, MIN_QUEUE, MAX_QUEUE)));
        return d;
    }

    /** The run's options win over the environment; the default protocol is http/protobuf. */
    private static Map<String, String> overrides(TraceOptions options, ConfigProperties config) {
        Map<String, String> o = new HashMap<>();
        String protocol = options.otlpProtocol() != null ? options.otlpProtocol()
                : config.getString(TRACES_PROTOCOL, config.getString(PROTOCOL, TraceOptions.HTTP_PROTOBUF));
        o.put(TRACES_PROTOCOL, protocol);
        if (options.otlpEndpoint() != null) {
            o.put(TRACES_ENDPOINT, tracesEndpoint(options.otlpEndpoint(), protocol));
        }
        boolean collector = options.otlpEndpoint() != null || (!"none".equals(config.getString(OtelSettings.TRACES_EXPORTER))
                && (config.getString(ENDPOINT) != null || config.getString(TRACES_ENDPOINT) != null));
        o.put(OtelSettings.TRACES_EXPORTER, collector ? "otlp" : "none");
        o.put("otel.metrics.exporter", "none"); // ppexec records no metrics and no logs
        o.put("otel.logs.exporter", "none");
        if (config.getString(SERVICE_NAME) == null && !config.getMap(RESOURCE_ATTRIBUTES).containsKey("service.name")) {
            o.put(SERVICE_NAME, options.schema().defaultServiceName());
        }
        return o;
    }

    /** OTLP/HTTP posts to {@code /v1/traces} below the base URL, unless the URL already ends so; gRPC takes it as is. */
    static String tracesEndpoint(URI endpoint, String protocol) {
        String url = endpoint.toString();
        if (protocol.equals(TraceOptions.GRPC) || endpoint.getPath().endsWith("/v1/traces")) {
            return url;
        }
        return (url.endsWith("/") ? url.substring(0, url.length() - 1) : url) + "/v1/traces";
    }

    /**
     * The SDK logs export failures with their stack traces through java.util.logging; the run's
     * summary reports the losses, so its warnings print as one line each on stderr.
     */
    private static synchronized void oneLineSdkLog() {
        if (SDK_LOG.getUseParentHandlers()) {
            SDK_LOG.setUseParentHandlers(false);
            SDK_LOG.addHandler(new Handler() {
                @Override
                public void publish(LogRecord record) {
                    if (record.getLevel().intValue() >= Level.WARNING.intValue()) {
                        String message = MessageFormat.format(String.valueOf(record.getMessage()),
                                record.getParameters() == null ? new Object[0] : record.getParameters());
                        System.err.println("opentelemetry: " + message.lines().findFirst().orElse(""));
                    }
                }

                @Override
                public void flush() {}

                @Override
                public void close() {}
            });
        }
    }

    private static String collectorName(ConfigProperties config) {
        String protocol = config.getString(TRACES_PROTOCOL, TraceOptions.HTTP_PROTOBUF);
        String endpoint = config.getString(TRACES_ENDPOINT);
        if (endpoint == null) {
            String base = config.getString(ENDPOINT);
            endpoint = base == null ? "the default endpoint"
                    : protocol.equals(TraceOptions.GRPC) ? base : tracesEndpoint(URI.create(base), protocol);
        }
        return "OTLP " + protocol + " " + endpoint;
    }

    private static SdkTracerProviderBuilder withFile(SdkTracerProviderBuilder provider, ConfigProperties config,
                                                     EndedSpans ended, OtlpJsonFileExporter file,
                                                     List<CountingExporter> destinations) {
        provider.addSpanProcessor(ended);
        if (file != null) {
            CountingExporter counted = new CountingExporter(file.target().toString(), file);
            destinations.add(counted);
            // The file's batches are written as they fill: OTEL_BSP_MAX_QUEUE_SIZE bounds them too.
            int batch = Math.min(config.getInt("otel.bsp.max.export.batch.size", 512),
                    config.getInt("otel.bsp.max.queue.size", MIN_QUEUE));
            provider.addSpanProcessor(new WaitingBatchProcessor(counted, Math.max(1, batch),
                    config.getDuration("otel.bsp.export.timeout", Duration.ofSeconds(30))));
        }
        return provider;
    }

    private static Attributes userAttributes(Map<String, String> attributes) {
        AttributesBuilder b = Attributes.builder();
        attributes.forEach(b::put);
        return b.build();
    }

    /** A listener that turns each run it hears into spans of this SDK, as the run goes on. */
    public RunListener listener() {
        return new TraceListener(sdk.getTracer(SCOPE_NAME, SCOPE_VERSION), level, schema, EpochClock.process(), HostName.get());
    }

    /** As {@link #listener()}, for one rank process of a world: its own rank's spans, on rank 0's clock. */
    public RunListener listener(WorldTrace world) {
        return new TraceListener(sdk.getTracer(SCOPE_NAME, SCOPE_VERSION), level, schema, world.clock(), HostName.get(),
                world);
    }

    /**
     * Hands every span ended from now on to {@code records}, as a reader's record, on the thread
     * that ends it (the run's trace delivery thread): e.g. the run's report, built from the same
     * spans the destinations get, without reading them back.
     */
    public void tap(Consumer<SpanRecord> records) {
        ended.tap(records);
    }

    /** Spans the destinations accepted so far, all together: they grow while a run goes on. */
    public long exportedSoFar() {
        long n = 0;
        for (CountingExporter d : destinations) {
            n += d.exported();
        }
        return n;
    }

    /** Flushes and stops the SDK, waiting at most {@link #FLUSH_BOUND}; says what each destination got. Idempotent. */
    public synchronized TraceSummary shutdown() {
        if (summary == null) {
            CompletableResultCode done = sdk.shutdown().join(FLUSH_BOUND.toMillis(), TimeUnit.MILLISECONDS);
            long spans = ended.count();
            List<TraceSummary.Destination> out = new ArrayList<>();
            for (CountingExporter d : destinations) {
                out.add(new TraceSummary.Destination(d.destination(), d.exported(), spans - d.handed(),
                        d.handed() - d.exported(), d.firstError()));
            }
            summary = new TraceSummary(level, spans, List.copyOf(out), done.isDone(), FLUSH_BOUND);
        }
        return summary;
    }

    @Override
    public void close() {
        shutdown();
    }
}
