package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Stream;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.stage.StageWeights;
import dev.ppexec.stage.Workspace;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.management.ManagementFactory;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Note [vector api warm-up] (in VectorMath): once C2 has compiled the kernels, a forward on the CPU backend allocates
 * nothing on the stream's worker thread, measured with ThreadMXBean#getThreadAllocatedBytes. A kernel that runs the
 * Vector API without C2's intrinsics boxes every vector it makes (a 64-byte array and its object, each), thousands
 * per forward.
 */
class SteadyStateAllocationTest {

    /** Forwards per round; warm-up rounds until one allocates (almost) nothing, at most {@link #MAX_WARM_ROUNDS}. */
    private static final int FORWARDS_PER_ROUND = 200;
    private static final int MAX_WARM_ROUNDS = 50;
    /** Rounds measured once a round was quiet: the JIT's later recompilations must keep it so. */
    private static final int STEADY_ROUNDS = 10;
    /** Bytes a whole round may allocate: far below one boxed vector per forward (200 × 64 bytes). */
    private static final long ROUND_BUDGET_BYTES = 4096;

    /**
     * Rows: requests in the pass and tokens per request. The toy preset's widths (dim 512, ffn 2048, 8 heads) with
     * fewer layers and a smaller vocab to keep the test short: 2 requests, 1 token is the decode pass of `run --model
     * toy --stages 2 --micro-batches 4` (MatMul's 2-row tile, the fused list); 6 requests, MatMul's one-pass kernel;
     * 2 requests of 4 tokens, the prefill list and the 4-row tile.
     */
    @ParameterizedTest
    @CsvSource({"2, 1", "6, 1", "2, 4"})
    void steadyStateForward_allocatesNothingOnTheWorker(int batch, int tokens) {
        ModelConfig cfg = new ModelConfig("toy-2", 512, 512, 2, 8, 2048, 64, 7);
        int promptLen = 4;
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled())
                .as("this JVM counts each thread's allocated bytes").isTrue();
        long[] worker = {-1};
        try (CpuDevice device = new CpuDevice(launch -> worker[0] = Thread.currentThread().threadId());
             StageWeights weights = new StageWeights(device, cfg, 0, cfg.layers());
             Workspace ws = new Workspace(device, cfg, batch, promptLen, true);
             StageProgram program = new StageProgram(device, weights, ws, Prompts.prompts(cfg.seed(), batch, promptLen,
                     cfg.vocab()), IntStream.range(0, batch).toArray(), promptLen, promptLen + 1, new int[batch][2])) {
            Stream stream = device.createStream("decode");
            program.launchForward(stream, promptLen, 0);
            stream.synchronize();
            int warmRounds = 0;
            long cold = roundBytes(threads, worker, program, stream, tokens, tokens == 1 ? promptLen : 0);
            long warm = cold;
            while (warm > ROUND_BUDGET_BYTES && ++warmRounds < MAX_WARM_ROUNDS) {
                warm = roundBytes(threads, worker, program, stream, tokens, tokens == 1 ? promptLen : 0);
            }
            long[] steady = new long[STEADY_ROUNDS];
            for (int r = 0; r < STEADY_ROUNDS; r++) {
                steady[r] = roundBytes(threads, worker, program, stream, tokens, tokens == 1 ? promptLen : 0);
            }
            System.out.printf("%d×%d: the first round of %d forwards allocated %d bytes on the worker; quiet after %d "
                    + "more rounds; the next %d rounds allocated %s bytes%n", batch, tokens, FORWARDS_PER_ROUND, cold, warmRounds,
                    STEADY_ROUNDS, java.util.Arrays.toString(steady));
            assertThat(warm).as("bytes allocated by the last of %d warm-up rounds of %d forwards", warmRounds,
                    FORWARDS_PER_ROUND).isLessThanOrEqualTo(ROUND_BUDGET_BYTES);
            assertThat(java.util.Arrays.stream(steady).max().orElseThrow())
                    .as("bytes allocated by the worst round of %d forwards once quiet: %s", FORWARDS_PER_ROUND,
                            java.util.Arrays.toString(steady)).isLessThanOrEqualTo(ROUND_BUDGET_BYTES);
        }
    }

    /** Bytes the worker thread allocates while it runs {@link #FORWARDS_PER_ROUND} forwards of {@code tokens}. */
    private static long roundBytes(com.sun.management.ThreadMXBean threads, long[] worker, StageProgram program,
                                   Stream stream, int tokens, int startPos) {
        long before = threads.getThreadAllocatedBytes(worker[0]);
        for (int i = 0; i < FORWARDS_PER_ROUND; i++) {
            program.launchForward(stream, tokens, startPos);
        }
        stream.synchronize();
        return threads.getThreadAllocatedBytes(worker[0]) - before;
    }
}
