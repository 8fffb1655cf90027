package dev.ppexec.stage;

import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.backend.cpu.MatMulTile;
import dev.ppexec.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole model on the CPU backend with each matmul tile forced: tokens and logits are the same bits whichever
 * tile runs (Note [matmul reduction order] in MatMul), here for a {@code toy} run of 3 requests (prefill of 9
 * rows, decode of 3). The first tile runs twice: the JIT compiles kernels between the runs, and compiled code
 * must give the interpreter's bits (it did not while VectorMath.dot used reduceLanes).
 */
@Timeout(300)
class MatMulTilesModelTest {

    @Test
    void toyRun_givesTheSameTokensAndLogitBits_withEveryTile() {
        ModelConfig cfg = ModelConfig.preset("toy", 42);
        int requests = 3;
        int promptLen = 3;
        int steps = 4;
        MatMulTile first = MatMulTile.values()[0];
        NumpyReferenceTest.Run expected = NumpyReferenceTest.runCpu(new CpuDevice(first), cfg, requests, promptLen, steps);
        for (MatMulTile tile : MatMulTile.values()) {
            NumpyReferenceTest.Run run = NumpyReferenceTest.runCpu(new CpuDevice(tile), cfg, requests, promptLen, steps);
            assertThat(run.tokens()).as("tokens [request][step] with tile %s vs %s", tile, first)
                    .isDeepEqualTo(expected.tokens());
            for (int r = 0; r < requests; r++) {
                for (int s = 0; s <= steps; s++) {
                    assertThat(run.logits()[r][s]).as("logits of request %d step %d, tile %s vs %s", r, s, tile, first)
                            .containsExactly(expected.logits()[r][s]);
                }
            }
        }
    }
}
