package dev.ppexec.model;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Expected values come from an independent Python implementation of DESIGN.md's generators. */
class GeneratorsTest {

    @Test
    void splitMix64AndFnv1a_matchPublishedReferenceValues() {
        assertThat(SplitMix64.fnv1a64("a")).isEqualTo(0xaf63dc4c8601ec8cL);
        assertThat(new SplitMix64(0).nextLong()).isEqualTo(0xe220a8397b1dcdafL);
    }

    @Test
    void tinyWeights_fixedElements() {
        ModelConfig tiny = ModelConfig.preset("tiny", 42);
        float[] embed = Weights.embedding(tiny.seed(), tiny.vocab(), tiny.dim());
        assertThat(embed).startsWith(-0.1220327615737915f, 0.490763783454895f, 0.8568713665008545f,
                0.7941305637359619f, -0.6790059804916382f);
        float[] wq = Weights.matrix(42, Weights.layer(1, "wq"), 64, 64);
        assertThat(wq).startsWith(0.0781707912683487f, 0.005612879991531372f, -0.05174407362937927f);
        float[] lmHead = Weights.matrix(42, "lm_head", 64, 256);
        assertThat(lmHead).startsWith(-0.06279480457305908f, 0.08712130784988403f);
        assertThat(Weights.norm(64)).containsOnly(1.0f);
    }

    @Test
    void prompts_fixedTokens() {
        assertThat(Prompts.prompt(42, 0, 8, 256)).containsExactly(239, 36, 195, 58, 103, 241, 140, 190);
        assertThat(Prompts.prompt(42, 2, 8, 256)).containsExactly(156, 66, 24, 59, 144, 178, 228, 147);
    }

    @Test
    void changingNameOrSeed_changesValues() {
        float[] a = Weights.matrix(42, Weights.layer(0, "wq"), 8, 8);
        assertThat(Weights.matrix(42, Weights.layer(0, "wk"), 8, 8)).isNotEqualTo(a);
        assertThat(Weights.matrix(43, Weights.layer(0, "wq"), 8, 8)).isNotEqualTo(a);
        assertThat(Weights.matrix(42, Weights.layer(0, "wq"), 8, 8)).isEqualTo(a);
        assertThat(Prompts.prompt(43, 0, 8, 256)).isNotEqualTo(Prompts.prompt(42, 0, 8, 256));
    }

    @Test
    void matrixScale_isOneOverSqrtIn() {
        float[] w = Weights.matrix(7, "x", 100, 50);
        for (float v : w) {
            assertThat(Math.abs(v)).isLessThanOrEqualTo(0.1f);
        }
    }

    @Test
    void presets_haveDesignShapes_andUnknownIsRejected() {
        ModelConfig toy = ModelConfig.preset("toy", 1);
        assertThat(toy).isEqualTo(new ModelConfig("toy", 4096, 512, 8, 8, 2048, 512, 1));
        assertThat(ModelConfig.preset("small", 1).layers()).isEqualTo(16);
        assertThatThrownBy(() -> ModelConfig.preset("huge", 1))
                .hasMessage("unknown model preset 'huge'; allowed: tiny, toy, small");
        assertThatThrownBy(() -> new ModelConfig("x", 10, 10, 3, 1, 1, 1, 0))
                .hasMessageContaining("dim 10 is not divisible by heads 3");
        assertThatThrownBy(() -> new ModelConfig("x", 0, 8, 2, 1, 1, 1, 0)).hasMessageContaining("vocab 0 is not positive");
    }

    @Test
    void partition_balancedAndExplicit() {
        Partition p = Partition.balanced(8, 3);
        assertThat(p.toString()).isEqualTo("3,3,2");
        assertThat(p.first(2)).isEqualTo(6);
        assertThat(p.end(2)).isEqualTo(8);
        assertThat(Partition.parse("1,3", 4).first(1)).isEqualTo(1);
        assertThatThrownBy(() -> Partition.parse("2,1", 4)).hasMessageContaining("sums to 3");
        assertThatThrownBy(() -> Partition.parse("4,0", 4)).hasMessageContaining("has a stage of 0 layers");
        assertThatThrownBy(() -> Partition.parse("a,3", 4)).hasMessageContaining("'a' is not a whole number");
        assertThatThrownBy(() -> Partition.balanced(4, 5)).hasMessageContaining("stages 5 is out of range; allowed: 1..4");
    }

    @Test
    void partition_userNumbersNeverOverflow_andAreAsciiDigits() {
        assertThatThrownBy(() -> Partition.of(new int[]{Integer.MAX_VALUE, Integer.MAX_VALUE, 2}, 4))
                .hasMessageStartingWith("split '[2147483647, 2147483647, 2]' sums to 4294967296;");
        assertThatThrownBy(() -> Partition.parse("2147483647,2147483647,2", 4))
                .hasMessageStartingWith("split '2147483647,2147483647,2' has a stage of 2147483647 layers;");
        assertThatThrownBy(() -> Partition.parse("99999999999,1", 4)).hasMessageContaining("has a stage of 99999999999 layers");
        assertThatThrownBy(() -> Partition.parse("\u0663,1", 4)).hasMessageContaining("'\u0663' is not a whole number");
        assertThatThrownBy(() -> Partition.parse("1, 3", 4)).hasMessageContaining("' 3' is not a whole number");
        assertThatThrownBy(() -> Partition.parse("1,1,1,1,1", 4)).hasMessageContaining("has 5 stages, more than the 4 layers");
    }
}
