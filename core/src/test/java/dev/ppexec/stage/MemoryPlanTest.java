package dev.ppexec.stage;

import dev.ppexec.model.ModelConfig;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class MemoryPlanTest {

    @Test
    void weights_countEveryTensorOfTheDesignOnce() {
        ModelConfig tiny = ModelConfig.preset("tiny", 1); // vocab 256, dim 64, 4 layers, ffn 256
        // embed [256,64] + lm_head [64,256] + final_norm [64]
        long global = 256 * 64 + 64 * 256 + 64;
        // wq wk wv wo [64,64]; w1 w3 [64,256]; w2 [256,64]; attn_norm, mlp_norm [64]
        long layer = 4 * 64 * 64 + 2 * 64 * 256 + 256 * 64 + 2 * 64;
        MemoryPlan plan = MemoryPlan.of(tiny, 2, 2, 4, 8, 2);
        assertThat(plan.weightBytes()).isEqualTo(4 * (global + 4 * layer));
    }

    @Test
    void kvCache_isTwoTensorsPerLayerPerRequestPosition() {
        ModelConfig tiny = ModelConfig.preset("tiny", 1);
        MemoryPlan plan = MemoryPlan.of(tiny, 2, 2, 4, 8, 2);
        assertThat(plan.kvCacheBytes()).isEqualTo(4L * 2 * 4 * 4 * (8 + 2) * 64);
    }

    @Test
    void moreRequestsOrPositions_needMoreMemory() {
        ModelConfig toy = ModelConfig.preset("toy", 1);
        MemoryPlan base = MemoryPlan.of(toy, 2, 4, 8, 32, 32);
        assertThat(MemoryPlan.of(toy, 2, 4, 16, 32, 32).total()).isGreaterThan(base.total());
        assertThat(MemoryPlan.of(toy, 2, 4, 8, 64, 32).total()).isGreaterThan(base.total());
        assertThat(base.total()).isEqualTo(base.weightBytes() + base.kvCacheBytes() + base.activationBytes());
    }

    @Test
    void absurdShapes_saturateInsteadOfOverflowing() {
        ModelConfig huge = new ModelConfig("huge", Integer.MAX_VALUE, 1 << 30, 2, 1 << 20, Integer.MAX_VALUE,
                Integer.MAX_VALUE, 1);
        MemoryPlan plan = MemoryPlan.of(huge, 4, 1, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE);
        assertThat(plan.total()).isEqualTo(Long.MAX_VALUE);
        assertThat(plan.describe()).startsWith("more than 8 EiB");
        assertThat(MemoryPlan.gib(3L << 29)).isEqualTo("1.50 GiB");
    }

    @Test
    void mostRequests_countTheirActivationsExactly_withoutIntOverflow() {
        ModelConfig tiny = ModelConfig.preset("tiny", 1); // dim 64, ffn 256, vocab 256
        MemoryPlan plan = MemoryPlan.of(tiny, 2, 4, Integer.MAX_VALUE, 32, 32);
        long maxBatch = (Integer.MAX_VALUE + 3L) / 4;
        long rows = maxBatch * 32;
        long scratch = 6 * rows * 64 + 3 * rows * 256;
        long activations = 4 * (2 * scratch + maxBatch * (2 * 64 + 256) + (long) Integer.MAX_VALUE * 32 * 64);
        assertThat(plan.activationBytes()).as("not saturated, not negative").isEqualTo(activations);
    }
}
