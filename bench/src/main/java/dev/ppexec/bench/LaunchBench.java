package dev.ppexec.bench;

import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.model.Prompts;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.stage.StageWeights;
import dev.ppexec.stage.Workspace;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

/**
 * The CPU launch cost of one stage's run_batch: {@link StageProgram#launchForward} of a decode step (one
 * token for each of 4 requests) of model {@code toy} split over 2 ranks, on a CPU stream. Only the
 * enqueueing is timed: before each call the stream is drained, outside the measurement, so the call
 * finds its stream idle, as a rank's launch does between decode steps. The stream's worker starts on the
 * first kernel while the rest are still being enqueued, sharing the machine's cores as it does in a run.
 * Rank 0 enqueues 26 launches (setStep, embedding and 4 fused layers of 6), rank 1 enqueues 27 (setStep, 4 layers,
 * then the final norm with the LM head, and argmax): Note [fused launches] in Kernels.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@State(Scope.Thread)
public class LaunchBench {

    private static final int RANKS = 2;
    private static final int BATCH = 4;
    private static final int PROMPT = 32;

    /** Which rank's stage: 0 (embeds) or 1 (runs the LM head). */
    @Param({"0", "1"})
    public int rank;

    private CpuDevice device;
    private StageWeights weights;
    private Workspace workspace;
    private StageProgram program;
    private Stream stream;

    @Setup(Level.Trial)
    public void build() {
        ModelConfig toy = ModelConfig.preset("toy", 42);
        Partition split = Partition.balanced(toy.layers(), RANKS);
        device = new CpuDevice();
        weights = new StageWeights(device, toy, split.first(rank), split.end(rank));
        workspace = new Workspace(device, toy, BATCH, PROMPT, weights.isLast());
        int[][] prompts = weights.isFirst() ? Prompts.prompts(toy.seed(), BATCH, PROMPT, toy.vocab()) : null;
        int[][] tokenLog = weights.isLast() ? new int[BATCH][2] : null;
        program = new StageProgram(device, weights, workspace, prompts, IntStream.range(0, BATCH).toArray(), PROMPT,
                PROMPT + 1, tokenLog);
        stream = device.createStream("PP" + rank + " compute");
    }

    /** Drains the previous call's work, outside the measured part. */
    @Setup(Level.Invocation)
    public void drain() {
        stream.synchronize();
    }

    /** Decode step 1: one position per request, at position {@code PROMPT}. */
    @Benchmark
    public void runBatch() {
        program.launchForward(stream, 1, PROMPT);
    }

    @TearDown(Level.Trial)
    public void close() {
        stream.synchronize();
        program.close();
        workspace.close();
        weights.close();
        device.close();
    }
}
