package dev.ppexec.cli;

import dev.ppexec.otel.Metrics;
import dev.ppexec.otel.MetricsOptions;
import dev.ppexec.otel.OtelSettings;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

import picocli.CommandLine.Option;

import static dev.ppexec.cli.UsageException.check;

/**
 * {@code --metrics-file} and {@code --metrics-interval}, the options run and bench share (a picocli
 * mixin), checked against the run's collector options and the {@code OTEL_*} settings (Note [usage errors]).
 */
final class MetricsFlags {

    @Option(names = "--metrics-file", paramLabel = "FILE.jsonl",
            description = "Write the metrics (per rank counters, bubble gauge, duration histograms) as OTLP-JSON lines, one export per line.")
    Path file;

    @Option(names = "--metrics-interval", paramLabel = "SECONDS",
            description = "Seconds between metric exports while it runs, 0.1..3600 (default: 10); a last export at the end.")
    String interval;

    /**
     * Where the run's metrics go, or null when they go nowhere (then no metrics SDK starts):
     * the file, and a collector when {@code --otlp-endpoint} or OTEL_EXPORTER_OTLP_[METRICS_]ENDPOINT
     * names one, unless OTEL_METRICS_EXPORTER=none.
     */
    MetricsOptions options(String otlpEndpoint, String otlpProtocol, Map<String, String> attributes,
                           Map<String, String> env, Properties system) {
        Duration every = interval(interval);
        boolean collector = !Metrics.metricsExporterNone(env, system)
                && (otlpEndpoint != null || Metrics.environmentNamesCollector(env, system));
        if (file == null && !collector) {
            check(interval == null, "--metrics-interval " + interval + " without a metrics destination; allowed: with "
                    + "--metrics-file FILE.jsonl or a collector (run's --otlp-endpoint URL, or OTEL_EXPORTER_OTLP_ENDPOINT set) "
                    + "and OTEL_METRICS_EXPORTER not none");
            return null;
        }
        OtelSettings.problem(env, system).ifPresent(p -> check(false, p));
        return new MetricsOptions(file, collector, otlpEndpoint == null ? null : URI.create(otlpEndpoint), otlpProtocol,
                every, attributes);
    }

    /** {@code --metrics-interval SECONDS}: a decimal number of seconds in 0.1..3600; default 10. */
    static Duration interval(String seconds) {
        if (seconds == null) {
            return MetricsOptions.DEFAULT_INTERVAL;
        }
        String allowed = "; allowed: seconds from 0.1 to 3600 (e.g. 10 or 0.5)";
        double s;
        try {
            s = Double.parseDouble(seconds.trim());
        } catch (NumberFormatException e) {
            throw new UsageException("--metrics-interval '" + seconds + "' is not a number" + allowed);
        }
        Duration d = Double.isFinite(s) ? Duration.ofNanos(Math.round(Math.min(s, 1e7) * 1e9)) : Duration.ZERO;
        check(Double.isFinite(s) && d.compareTo(MetricsOptions.MIN_INTERVAL) >= 0 && d.compareTo(MetricsOptions.MAX_INTERVAL) <= 0,
                String.format(Locale.ROOT, "--metrics-interval %s is out of range%s", seconds, allowed));
        return d;
    }
}
