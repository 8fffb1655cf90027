package dev.ppexec.reliability;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.TraceSummary;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The long run: {@code tiny} through 20,000 micro-batch decode steps (50 runs of 4 micro-batches x
 * 100 steps on one pipeline, P=2), traced at level 4 to a file. Heap after GC, resident memory and
 * threads are read after the 5th run (warm) and after the last; they must stay flat, and the trace
 * must hold every span (the file never drops). Spans are exported while each run goes on: at
 * each run's last launch the file already holds spans of that run. The figures are printed for
 * docs/RELIABILITY.md and docs/TRACING.md.
 */
@Timeout(600)
class SoakTest {

    static final int RUNS = 50;
    static final int MICRO_BATCHES = 4;
    static final int DECODE_STEPS = 100;
    static final int REQUESTS = 4;

    record Sample(long heapAfterGc, long residentBytes, int threads) {
        static Sample now() throws IOException, InterruptedException {
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(50);
            }
            long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
            long rss = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("VmRSS:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024).findFirst().orElse(-1);
            return new Sample(heap, rss, Thread.activeCount());
        }

        String show() {
            return String.format("heap after GC %.1f MiB, resident %.1f MiB, threads %d", heapAfterGc / 1048576.0,
                    residentBytes / 1048576.0, threads);
        }
    }

    @Test
    void twentyThousandDecodeStepsOfMicroBatches_stayFlat_andTheTraceHoldsEverySpan(@TempDir Path dir) throws Exception {
        ModelConfig tiny = ModelConfig.preset("tiny", 42);
        Workload workload = Workload.generated(tiny, REQUESTS, 8, DECODE_STEPS);
        Path trace = dir.resolve("soak.jsonl");
        TraceLevel level = TraceLevel.DEFAULT;
        long perRun = SpanContract.spanCount(REQUESTS, 2, DECODE_STEPS, level);
        long expected = RUNS * perRun;
        long[] duringRun = new long[RUNS + 1];
        Sample warm = null;
        long start = System.nanoTime();
        TraceSummary summary;
        try (Pipeline pipeline = Pipeline.builder().model(tiny).stages(2).microBatches(MICRO_BATCHES).build()) {
            // Queues sized for the smallest run (2,048 spans), not for 162,800: the file must still hold every span.
            Tracing tracing = Tracing.start(new TraceOptions(level, trace, null, null, Map.of()),
                    RunResource.of(pipeline, workload, level), 0);
            try {
                for (int run = 1; run <= RUNS; run++) {
                    int current = run;
                    pipeline.generate(workload, steps -> {
                        if (steps == DECODE_STEPS + 1) {
                            duringRun[current] = tracing.exportedSoFar() - (current - 1) * perRun;
                        }
                    }, List.of(tracing.listener()));
                    if (run == 5) {
                        warm = Sample.now();
                    }
                }
            } finally {
                summary = tracing.shutdown();
            }
        }
        Sample end = Sample.now();
        long microBatchSteps = (long) RUNS * MICRO_BATCHES * DECODE_STEPS;
        System.out.printf("soak: %,d micro-batch decode steps in %.1f s%n", microBatchSteps,
                (System.nanoTime() - start) / 1e9);
        System.out.println("soak: after run 5:  " + warm.show());
        System.out.println("soak: after run " + RUNS + ": " + end.show());
        summary.lines().forEach(l -> System.out.println("soak: " + l));

        long streamed = java.util.Arrays.stream(duringRun).filter(n -> n > 0).count();
        System.out.printf("soak: %d of %d runs had spans of their own in the file at their last launch%n", streamed, RUNS);
        assertThat(streamed).as("runs whose spans reached the file before the run ended").isPositive();

        assertThat(microBatchSteps).isEqualTo(20_000);
        assertThat(end.threads()).as("threads").isLessThanOrEqualTo(warm.threads());
        assertThat(end.heapAfterGc() - warm.heapAfterGc()).as("heap growth after GC, bytes").isLessThan(8L << 20);
        assertThat(end.residentBytes() - warm.residentBytes()).as("resident growth, bytes").isLessThan(256L << 20);

        long spans = countSpans(trace);
        System.out.printf("soak: trace holds %,d spans; expected %,d; lost %,d%n", spans, expected,
                summary.destinations().getFirst().lost());
        assertThat(summary.destinations().getFirst().lost()).as("spans lost: the file is waited for, never dropped")
                .isZero();
        assertThat(spans).isEqualTo(expected);
    }

    /** Spans in an OTLP-JSON lines file, counted by streaming (the file is tens of MB). */
    static long countSpans(Path file) throws IOException {
        long n = 0;
        try (JsonParser p = new JsonFactory().createParser(file.toFile())) {
            int depthOfSpans = -1;
            int depth = 0;
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    depth++;
                    if (t == JsonToken.START_ARRAY && "spans".equals(p.currentName())) {
                        depthOfSpans = depth;
                    } else if (t == JsonToken.START_OBJECT && depth == depthOfSpans + 1 && depthOfSpans > 0) {
                        n++;
                    }
                } else if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY) {
                    if (t == JsonToken.END_ARRAY && depth == depthOfSpans) {
                        depthOfSpans = -1;
                    }
                    depth--;
                }
            }
        }
        return n;
    }
}
