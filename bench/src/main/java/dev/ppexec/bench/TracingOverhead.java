package dev.ppexec.bench;

import dev.ppexec.host.HostCpu;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.TraceSummary;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What tracing at level 4 costs a run, against the same run with tracing off: the defaults of
 * {@code ppexec run} (toy, P=2, M=4, 8 requests of 32 + 32 tokens) on the CPU backend, in one JVM,
 * runs alternating off / traced (in ABBA order). Per pair it compares the run's throughput (what the summary prints)
 * and the traced run's end-to-end time (the run with its spans built and written as it goes, then the
 * last spans and the flush)
 * against the plain run's; pairs cancel slow drifts in the machine's load, medians its spikes.
 *
 * <pre>scripts/tracing-overhead [PAIRS]</pre>
 */
public final class TracingOverhead {

    private static final int REQUESTS = 8;
    private static final int PROMPT = 32;
    private static final int DECODE_STEPS = 32;

    private TracingOverhead() {}

    public static void main(String[] args) throws IOException {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        ModelConfig model = ModelConfig.preset("toy", 42);
        Workload workload = Workload.generated(model, REQUESTS, PROMPT, DECODE_STEPS);
        Path dir = Files.createTempDirectory("ppexec-overhead");
        Path file = dir.resolve("trace.jsonl");
        System.out.printf(Locale.ROOT, "machine: %d cores, %s; Java %s%n", Runtime.getRuntime().availableProcessors(),
                cpuModel(), System.getProperty("java.version"));
        System.out.println("pair  off tok/s  traced tok/s  off ms  traced end-to-end ms  tracing work ms  spans");
        double[] throughput = new double[pairs];
        double[] endToEnd = new double[pairs];
        double[] work = new double[pairs];
        try (Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(4).build()) {
            TraceOptions options = new TraceOptions(TraceLevel.DEFAULT, file, null, null, Map.of());
            long expected = SpanContract.spanCount(REQUESTS, 2, DECODE_STEPS, TraceLevel.DEFAULT);
            for (int i = 0; i < 3; i++) {
                pipeline.generate(workload);
                traced(pipeline, workload, options, expected);
            }
            for (int p = 0; p < pairs; p++) {
                // ABBA: odd pairs run the traced run first, so neither mode always follows the other's garbage.
                Traced on = p % 2 == 1 ? traced(pipeline, workload, options, expected) : null;
                long start = System.nanoTime();
                RunResult off = pipeline.generate(workload);
                long offNanos = System.nanoTime() - start;
                if (on == null) {
                    on = traced(pipeline, workload, options, expected);
                }
                throughput[p] = on.result().tokensPerSecond() / off.tokensPerSecond();
                endToEnd[p] = (double) on.nanos() / offNanos;
                // Outside the run's own wall time: set-up, then the last spans and the flush in the traced run.
                work[p] = ((on.nanos() - on.result().wallNanos()) - (offNanos - off.wallNanos())) / 1e6;
                System.out.printf(Locale.ROOT, "%4d  %9.1f  %12.1f  %6.1f  %20.1f  %15.1f  %,d%n", p + 1,
                        off.tokensPerSecond(), on.result().tokensPerSecond(), offNanos / 1e6, on.nanos() / 1e6, work[p],
                        on.summary().spans());
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
        System.out.printf(Locale.ROOT, "median traced/off throughput: %.3f (%+.1f%%); quartiles %.3f .. %.3f%n",
                median(throughput), 100 * (median(throughput) - 1), quartile(throughput, 1), quartile(throughput, 3));
        System.out.printf(Locale.ROOT, "median traced end-to-end / off run time: %.3f; quartiles %.3f .. %.3f%n",
                median(endToEnd), quartile(endToEnd, 1), quartile(endToEnd, 3));
        System.out.printf(Locale.ROOT, "median tracing work outside the run (set-up, last spans, flush): %.1f ms; quartiles %.1f .. %.1f%n",
                median(work), quartile(work, 1), quartile(work, 3));
    }

    record Traced(RunResult result, long nanos, TraceSummary summary) {}

    private static Traced traced(Pipeline pipeline, Workload workload, TraceOptions options, long expected) {
        Tracing tracing = Tracing.start(options, RunResource.of(pipeline, workload, options.level()), expected);
        long start = System.nanoTime();
        RunResult result = pipeline.generate(workload, steps -> {}, List.of(tracing.listener()));
        TraceSummary summary = tracing.shutdown();
        long nanos = System.nanoTime() - start;
        if (summary.lost() != 0) {
            throw new IllegalStateException("spans lost: " + summary.lines());
        }
        return new Traced(result, nanos, summary);
    }

    private static double median(double[] values) {
        return quartile(values, 2);
    }

    private static double quartile(double[] values, int q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double position = (sorted.length - 1) * q / 4.0;
        int low = (int) Math.floor(position);
        int high = (int) Math.ceil(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }

    private static String cpuModel() {
        return HostCpu.model().orElse("unknown CPU");
    }
}
