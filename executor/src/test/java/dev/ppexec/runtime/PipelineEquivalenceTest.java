package dev.ppexec.runtime;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every split and micro-batching gives bit-identical tokens to the single-stage reference. */
@Timeout(120)
class PipelineEquivalenceTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);
    static final int REQUESTS = 7;  // not a multiple of any M > 1 used here
    static final int PROMPT = 6;
    static final int STEPS = 5;
    static int[][] reference;

    static RunResult run(String split, int stages, int microBatches, Workload w) {
        try (Pipeline p = Pipeline.builder().model(TINY).stages(stages).split(split).microBatches(microBatches).build()) {
            return p.generate(w);
        }
    }

    @BeforeAll
    static void singleStageReference() {
        reference = run(null, 1, 1, Workload.generated(TINY, REQUESTS, PROMPT, STEPS)).tokens();
        assertThat(reference).hasNumberOfRows(REQUESTS);
        assertThat(reference[0]).hasSize(STEPS + 1);
    }

    static Stream<Arguments> splits() {
        List<Arguments> cases = new ArrayList<>();
        for (int p = 1; p <= TINY.layers(); p++) {
            for (int m : new int[] {1, p, 2 * p + 1}) {
                if (m <= REQUESTS) {
                    cases.add(Arguments.of(null, p, m));
                }
            }
        }
        cases.add(Arguments.of("1,3", 2, 2));
        cases.add(Arguments.of("3,1", 2, 3));
        cases.add(Arguments.of("1,2,1", 3, 4));
        return cases.stream();
    }

    @ParameterizedTest(name = "split={0} stages={1} microBatches={2}")
    @MethodSource("splits")
    void tokensAreBitIdenticalToSingleStage(String split, int stages, int microBatches) {
        RunResult r = run(split, stages, microBatches, Workload.generated(TINY, REQUESTS, PROMPT, STEPS));
        for (int i = 0; i < REQUESTS; i++) {
            assertThat(r.tokens()[i]).as("request %d with split=%s P=%d M=%d", i, split, stages, microBatches)
                    .containsExactly(reference[i]);
        }
        assertThat(r.ranks()).hasSize(stages);
        int forwardsPerRank = microBatches * (STEPS + 1);
        assertThat(r.ranks()).allSatisfy(f -> assertThat(f.forwards()).isEqualTo(forwardsPerRank));
    }

    @Test
    void eachRequest_aloneOrBatched_isBitIdentical() {
        for (int i = 0; i < REQUESTS; i++) {
            int[][] one = {Prompts.prompt(TINY.seed(), i, PROMPT, TINY.vocab())};
            int[][] alone = run(null, 2, 1, new Workload(one, STEPS)).tokens();
            assertThat(alone[0]).as("request %d alone", i).containsExactly(reference[i]);
        }
    }

    @Test
    void runsAreDeterministic_andSeedMatters() {
        int[][] again = run(null, 1, 1, Workload.generated(TINY, REQUESTS, PROMPT, STEPS)).tokens();
        assertThat(again).isDeepEqualTo(reference);
        ModelConfig other = ModelConfig.preset("tiny", 43);
        try (Pipeline p = Pipeline.builder().model(other).build()) {
            assertThat(p.generate(Workload.generated(other, REQUESTS, PROMPT, STEPS)).tokens()).isNotEqualTo(reference);
        }
    }

    @Test
    void figures_arePositive_andIdealBubbleMatchesFillDrainForPrefillOnly() {
        RunResult r = run(null, 2, 4, Workload.generated(TINY, 4, PROMPT, 0));
        assertThat(r.idealBubble()).isCloseTo(1.0 / 5.0, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(r.tokensPerSecond()).isPositive();
        assertThat(r.ranks()).allSatisfy(f -> {
            assertThat(f.deviceBusyNanos()).isPositive();
            assertThat(f.cpuLaunchNanos()).isPositive();
            assertThat(f.launchLatencyNanos()).isNotNegative();
        });
    }

    @Test
    void badWorkloads_areRejectedWithTheOptionAndAllowedRange() {
        try (Pipeline p = Pipeline.builder().model(TINY).stages(2).microBatches(4).build()) {
            assertThatThrownBy(() -> p.generate(Workload.generated(TINY, 3, 4, 1)))
                    .hasMessage("microBatches 4 is more than the workload's requests 3; allowed: 1..3");
            assertThatThrownBy(() -> p.generate(Workload.generated(TINY, 4, 100, 29)))
                    .hasMessageContaining("= 129 positions; allowed: at most maxSeq 128");
        }
        assertThatThrownBy(() -> Pipeline.builder().model(TINY).stages(5).build())
                .hasMessageContaining("stages 5 is out of range; allowed: 1..4");
    }
}
