package dev.ppexec.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.schedule.Schedule;
import dev.ppexec.schedule.ScheduleException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The runtime does what the schedule lists, in its order: other valid orders give the same tokens. */
@Timeout(60)
class ScheduleWalkTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);

    static int[][] generated(int stages, int microBatches, Workload w) {
        try (Pipeline p = Pipeline.builder().model(TINY).stages(stages).microBatches(microBatches).build()) {
            return p.generate(w).tokens();
        }
    }

    static RunResult walk(int stages, int microBatches, Workload w, String schedule) {
        try (Pipeline p = Pipeline.builder().model(TINY).stages(stages).microBatches(microBatches).build()) {
            return p.generate(w, Schedule.parse(schedule));
        }
    }

    /** Prefill in reverse micro-batch order, and the last rank sending before it copies its tokens to the host. */
    @Test
    void generate_reorderedTwoRankSchedule_givesTheGeneratedSchedulesTokens() {
        Workload w = Workload.generated(TINY, 4, 5, 1);
        RunResult r = walk(2, 2, w, """
                ranks=2 microBatches=2 steps=1
                0: F1@0 S1@0 F0@0 S0@0 R0@1 F0@1 S0@1 R1@1 F1@1 S1@1
                1: R1@0 F1@0 S1@0 T1@0 R0@0 F0@0 S0@0 T0@0 R0@1 F0@1 T0@1 R1@1 F1@1 T1@1
                """);
        assertThat(r.tokens()).isDeepEqualTo(generated(2, 2, w));
    }

    /** One rank, micro-batch 1 a step ahead of micro-batch 0: FEEDBACK carries each one's tokens on. */
    @Test
    void generate_oneRankWithMicroBatchesInterleavedAcrossSteps_givesTheGeneratedSchedulesTokens() {
        Workload w = Workload.generated(TINY, 3, 4, 2);
        RunResult r = walk(1, 2, w, """
                ranks=1 microBatches=2 steps=2
                0: F1@0 T1@0 B1@0 F1@1 T1@1 B1@1 F0@0 T0@0 B0@0 F1@2 T1@2 F0@1 T0@1 B0@1 F0@2 T0@2
                """);
        assertThat(r.tokens()).isDeepEqualTo(generated(1, 2, w));
    }

    @Test
    void generate_scheduleWithoutTokens_isRefusedWithTheGridBeforeAnythingRuns() {
        Workload w = Workload.generated(TINY, 2, 4, 0);
        assertThatThrownBy(() -> walk(2, 1, w, """
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0
                """))
                .isInstanceOf(ScheduleException.class)
                .hasMessage("""
                        rank 1, index 2, T0@0: missing (index 2 is the end of the list); expected exactly one TOKENS \
                        of micro-batch 0 at step 0 on the last rank
                        t  rank 0  rank 1
                        0  F0@0    .
                        1  .       F0@0
                        > rank 1, index 2: end of list""");
    }

    @Test
    void generate_scheduleOfAnotherShape_namesBothShapes() {
        Workload w = Workload.generated(TINY, 2, 4, 1);
        assertThatThrownBy(() -> walk(2, 1, w, """
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 T0@0
                """))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("schedule has ranks=2 microBatches=1 steps=0; allowed: ranks=2 microBatches=1 steps=1,"
                        + " this run's");
    }
}
