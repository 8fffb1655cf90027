package dev.ppexec.bench;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.Metrics;
import dev.ppexec.otel.MetricsOptions;
import dev.ppexec.otel.RunResource;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.runtime.Workload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What metrics cost a run, against the same run without them: the defaults of {@code ppexec run}
 * (toy, P=2, M=4, 8 requests of 32 + 32 tokens, as {@link TracingOverhead}) on the CPU backend, in one JVM, runs alternating
 * without / with metrics (in ABBA order), the metrics exported to a file every
 * {@link MetricsOptions#MIN_INTERVAL} (the most often allowed: the worst case) and once more at the
 * end. Per pair it compares the run's throughput (what the summary prints).
 *
 * <pre>scripts/metrics-overhead [PAIRS]</pre>
 */
public final class MetricsOverhead {

    private MetricsOverhead() {}

    public static void main(String[] args) throws IOException {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        ModelConfig model = ModelConfig.preset("toy", 42);
        Workload workload = Workload.generated(model, TracingOverhead.REQUESTS, TracingOverhead.PROMPT,
                TracingOverhead.DECODE_STEPS);
        Path dir = Files.createTempDirectory("ppexec-overhead");
        Path file = dir.resolve("metrics.jsonl");
        TracingOverhead.printMachine();
        System.out.println("pair  off tok/s  metrics tok/s  exports");
        double[] throughput = new double[pairs];
        MetricsOptions options = new MetricsOptions(file, false, null, null, MetricsOptions.MIN_INTERVAL, Map.of());
        try (Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(4).build()) {
            for (int i = 0; i < 3; i++) {
                pipeline.generate(workload);
                withMetrics(pipeline, workload, options);
            }
            for (int p = 0; p < pairs; p++) {
                // ABBA: odd pairs run with metrics first, so neither mode always follows the other's garbage.
                Measured on = p % 2 == 1 ? withMetrics(pipeline, workload, options) : null;
                RunResult off = pipeline.generate(workload);
                if (on == null) {
                    on = withMetrics(pipeline, workload, options);
                }
                throughput[p] = on.result().tokensPerSecond() / off.tokensPerSecond();
                System.out.printf(Locale.ROOT, "%4d  %9.1f  %13.1f  %7d%n", p + 1, off.tokensPerSecond(),
                        on.result().tokensPerSecond(), on.exports());
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
        System.out.printf(Locale.ROOT, "median metrics/off throughput: %.3f (%+.1f%%); quartiles %.3f .. %.3f%n",
                TracingOverhead.median(throughput), 100 * (TracingOverhead.median(throughput) - 1),
                TracingOverhead.quartile(throughput, 1), TracingOverhead.quartile(throughput, 3));
    }

    record Measured(RunResult result, long exports) {}

    private static Measured withMetrics(Pipeline pipeline, Workload workload, MetricsOptions options) {
        Metrics metrics = Metrics.start(options, RunResource.of(pipeline, workload, new TraceLevel(0)));
        RunResult result;
        try {
            result = pipeline.generate(workload, steps -> {}, List.of(metrics.listener()));
        } finally {
            List<String> lines = metrics.shutdown();
            if (lines.stream().anyMatch(l -> l.contains("failed"))) {
                throw new IllegalStateException("metrics not written: " + lines);
            }
        }
        return new Measured(result, metrics.exportsSoFar());
    }
}
