package dev.ppexec.bench;

import dev.ppexec.host.HostCpu;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.TraceSummary;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.stage.StageProgram;
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
 * What tracing costs a run, against the same run traced at a lower level (by default: tracing off
 * against level 4): the defaults of {@code ppexec run} (toy, P=2, M=4, 8 requests of 32 + 32
 * tokens) on the CPU backend, in one JVM, runs alternating baseline / traced (in ABBA order). Per
 * pair it compares the run's throughput (what the summary prints) and the traced run's end-to-end
 * time (the run with its spans built and written as it goes, then the last spans and the flush)
 * against the baseline's; pairs cancel slow drifts in the machine's load, medians its spikes.
 * {@code LEVELS} {@code 4,5} measures what level 5's kernel slices add to level 4.
 *
 * <pre>scripts/tracing-overhead [PAIRS] [BASELINE_LEVEL,LEVEL]</pre>
 */
public final class TracingOverhead {

    static final int REQUESTS = 8;
    static final int PROMPT = 32;
    static final int DECODE_STEPS = 32;

    private TracingOverhead() {}

    public static void main(String[] args) throws IOException {
        int pairs = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        String[] levels = (args.length > 1 ? args[1] : "0,4").split(",");
        TraceLevel baseLevel = new TraceLevel(Integer.parseInt(levels[0]));
        TraceLevel level = new TraceLevel(Integer.parseInt(levels[1]));
        ModelConfig model = ModelConfig.preset("toy", 42);
        Workload workload = Workload.generated(model, REQUESTS, PROMPT, DECODE_STEPS);
        Path dir = Files.createTempDirectory("ppexec-overhead");
        Path file = dir.resolve("trace.jsonl");
        printMachine();
        System.out.printf(Locale.ROOT, "level %d (baseline) against level %d%n", baseLevel.value(), level.value());
        System.out.println("pair  base tok/s  traced tok/s  base ms  traced end-to-end ms  tracing work ms  spans");
        double[] throughput = new double[pairs];
        double[] endToEnd = new double[pairs];
        double[] work = new double[pairs];
        try (Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(4).build()) {
            Mode base = new Mode(baseLevel, file, expectedSpans(baseLevel, pipeline.partition()));
            Mode traced = new Mode(level, file, expectedSpans(level, pipeline.partition()));
            for (int i = 0; i < 3; i++) {
                base.run(pipeline, workload);
                traced.run(pipeline, workload);
            }
            for (int p = 0; p < pairs; p++) {
                // ABBA: odd pairs run the traced run first, so neither mode always follows the other's garbage.
                Timed on = p % 2 == 1 ? traced.run(pipeline, workload) : null;
                Timed off = base.run(pipeline, workload);
                if (on == null) {
                    on = traced.run(pipeline, workload);
                }
                throughput[p] = on.result().tokensPerSecond() / off.result().tokensPerSecond();
                endToEnd[p] = (double) on.nanos() / off.nanos();
                // Outside the run's own wall time: set-up, then the last spans and the flush in the traced run.
                work[p] = ((on.nanos() - on.result().wallNanos()) - (off.nanos() - off.result().wallNanos())) / 1e6;
                System.out.printf(Locale.ROOT, "%4d  %10.1f  %12.1f  %7.1f  %20.1f  %15.1f  %,d%n", p + 1,
                        off.result().tokensPerSecond(), on.result().tokensPerSecond(), off.nanos() / 1e6, on.nanos() / 1e6,
                        work[p], on.spans());
            }
        } finally {
            Files.deleteIfExists(file);
            Files.deleteIfExists(dir);
        }
        System.out.printf(Locale.ROOT, "median traced/baseline throughput: %.3f (%+.1f%%); quartiles %.3f .. %.3f%n",
                median(throughput), 100 * (median(throughput) - 1), quartile(throughput, 1), quartile(throughput, 3));
        System.out.printf(Locale.ROOT, "median traced end-to-end / baseline run time: %.3f; quartiles %.3f .. %.3f%n",
                median(endToEnd), quartile(endToEnd, 1), quartile(endToEnd, 3));
        System.out.printf(Locale.ROOT, "median tracing work outside the run (set-up, last spans, flush): %.1f ms; quartiles %.1f .. %.1f%n",
                median(work), quartile(work, 1), quartile(work, 3));
    }

    private static long expectedSpans(TraceLevel level, Partition partition) {
        int batch = REQUESTS / 4;
        return SpanContract.spanCount(REQUESTS, 2, DECODE_STEPS, level)
                + SpanContract.kernelSpanCount(4, DECODE_STEPS, StageProgram.kernelSlices(partition, batch, PROMPT),
                StageProgram.kernelSlices(partition, batch, 1), level);
    }

    record Timed(RunResult result, long nanos, long spans) {}

    /** Runs at one level: untraced at level 0, else traced into {@code file}, which must lose no span. */
    record Mode(TraceLevel level, Path file, long expectedSpans) {

        Timed run(Pipeline pipeline, Workload workload) {
            if (level.isOff()) {
                long start = System.nanoTime();
                RunResult result = pipeline.generate(workload);
                return new Timed(result, System.nanoTime() - start, 0);
            }
            TraceOptions options = new TraceOptions(level, file, null, null, Map.of());
            Tracing tracing = Tracing.start(options, RunResource.of(pipeline, workload, level), expectedSpans);
            long start = System.nanoTime();
            RunResult result = pipeline.generate(workload, steps -> {}, List.of(tracing.listener()));
            TraceSummary summary = tracing.shutdown();
            long nanos = System.nanoTime() - start;
            if (summary.lost() != 0) {
                throw new IllegalStateException("spans lost: " + summary.lines());
            }
            return new Timed(result, nanos, summary.spans());
        }
    }

    static double median(double[] values) {
        return quartile(values, 2);
    }

    static double quartile(double[] values, int q) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double position = (sorted.length - 1) * q / 4.0;
        int low = (int) Math.floor(position);
        int high = (int) Math.ceil(position);
        return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
    }

    /** The machine line the overhead benchmarks start with. */
    static void printMachine() {
        System.out.printf(Locale.ROOT, "machine: %d cores, %s; Java %s%n", Runtime.getRuntime().availableProcessors(),
                HostCpu.model().orElse("unknown CPU"), System.getProperty("java.version"));
    }
}
