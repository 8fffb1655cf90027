package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class SimulatorTest {

    private static final double TOLERANCE = 1e-12;

    @Test
    void simulate_fillDrainUniformCost_makespanAndBubbleAreIdeal() {
        double t = 1.5;
        for (int p = 1; p <= 6; p++) {
            for (int m = 1; m <= 8; m++) {
                SimResult result = Simulator.simulate(Schedules.prefill(p, m), CostModel.uniform(t, 0));
                assertThat(result.makespan()).as("makespan, P=%d M=%d", p, m)
                        .isCloseTo((m + p - 1) * t, within(TOLERANCE));
                assertThat(result.bubble()).as("bubble, P=%d M=%d", p, m)
                        .isCloseTo(Bubble.idealFillDrain(p, m), within(TOLERANCE));
                assertThat(Bubble.idealFillDrain(p, m)).isCloseTo((double) (p - 1) / (m + p - 1), within(TOLERANCE));
            }
        }
    }

    /**
     * Decode ring, uniform cost t, free transfers. Rank r runs (m, s) no earlier than rank r-1 did plus t, so at
     * best at (s·M + m + r)·t; rank 0 needs (m, s-1) back from rank P-1, which finished it at ((s-1)·M + m + P)·t.
     * With M ≥ P that is no later than s·M + m, so rank 0 never waits, every rank runs back to back from offset r,
     * and the last rank ends at ((S+1)·M + P − 1)·t. With M < P the ring is the bottleneck: rank 0 starts (m, s) at
     * (s·P + m)·t, and the last rank ends at (S·P + M + P − 1)·t. Both are S·max(M, P) + M + P − 1 slots.
     */
    @Test
    void simulate_decodeRingUniformCost_makespanMatchesHandDerivedFormula() {
        double t = 0.75;
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 7; m++) {
                for (int s = 0; s <= 3; s++) {
                    SimResult result = Simulator.simulate(Schedules.generation(p, m, s), CostModel.uniform(t, 0));
                    double slots = m >= p ? (s + 1) * m + p - 1 : s * p + m + p - 1;
                    assertThat(result.makespan()).as("P=%d M=%d S=%d", p, m, s).isCloseTo(slots * t, within(TOLERANCE));
                    assertThat(result.busy(p - 1)).as("busy, P=%d M=%d S=%d", p, m, s)
                            .isCloseTo((s + 1) * m * t, within(TOLERANCE));
                }
            }
        }
    }

    /**
     * prefill(2, 2), forward 1, transfer 0.5, by hand. Rank 0: F0@0 [0, 1], S0@0 on the copy stream [1, 1.5],
     * F1@0 [1, 2], S1@0 [2, 2.5]. Rank 1: R0@0 waits [0, 1.5], F0@0 [1.5, 2.5], T0@0 [2.5, 2.5], R1@0 [2.5, 2.5],
     * F1@0 [2.5, 3.5], T1@0 [3.5, 3.5].
     */
    @Test
    void simulate_transferCost_sendsOverlapNextForward() {
        SimResult result = Simulator.simulate(Schedules.prefill(2, 2), CostModel.uniform(1, 0.5));
        assertThat(result.spans().get(0)).containsExactly(new SimResult.Span(0, 1), new SimResult.Span(1, 1.5),
                new SimResult.Span(1, 2), new SimResult.Span(2, 2.5));
        assertThat(result.spans().get(1)).containsExactly(new SimResult.Span(0, 1.5), new SimResult.Span(1.5, 2.5),
                new SimResult.Span(2.5, 2.5), new SimResult.Span(2.5, 2.5), new SimResult.Span(2.5, 3.5),
                new SimResult.Span(3.5, 3.5));
        assertThat(result.makespan()).isEqualTo(3.5);
        assertThat(result.busy()).containsExactly(2.0, 2.0);
        assertThat(result.bubble()).isCloseTo(3.0 / 7, within(TOLERANCE));
    }

    /**
     * One rank, generation(1, 1, 1), forward 1, copies 0.25, by hand: F0@0 [0, 1], T0@0 [1, 1.25], B0@0 [1.25, 1.5],
     * F0@1 [1.5, 2.5], T0@1 [2.5, 2.75]; busy counts the forwards only.
     */
    @Test
    void simulate_copyCost_tokensAndFeedbackTakeComputeStreamTime() {
        SimResult result = Simulator.simulate(Schedules.generation(1, 1, 1), CostModel.uniform(1, 0, 0.25));
        assertThat(result.spans().get(0)).containsExactly(new SimResult.Span(0, 1), new SimResult.Span(1, 1.25),
                new SimResult.Span(1.25, 1.5), new SimResult.Span(1.5, 2.5), new SimResult.Span(2.5, 2.75));
        assertThat(result.makespan()).isEqualTo(2.75);
        assertThat(result.busy()).containsExactly(2.0);
    }

    /**
     * generation(2, 1, 1), forward 1, transfer 0, copies 0.5: rank 1's S0@0 waits for its T0@0 [2, 2.5], not only for
     * its F0@0 [1, 2], so rank 0 receives at 2.5, runs F0@1 [2.5, 3.5], and rank 1 ends with T0@1 [4.5, 5].
     */
    @Test
    void simulate_copyCost_sendWaitsForTheTokensBeforeIt() {
        SimResult result = Simulator.simulate(Schedules.generation(2, 1, 1), CostModel.uniform(1, 0, 0.5));
        assertThat(result.span(1, 3)).as("S0@0 on rank 1").isEqualTo(new SimResult.Span(2.5, 2.5));
        assertThat(result.span(0, 3)).as("F0@1 on rank 0").isEqualTo(new SimResult.Span(2.5, 3.5));
        assertThat(result.makespan()).isEqualTo(5.0);
    }

    /**
     * generation(2, 1, 1), decode forward 1 and transfer 0.5, prefill (step 0) forward 3 and transfer 2: F0@0 [0, 3]
     * and S0@0 [3, 5] on rank 0, F0@0 [5, 8] on rank 1 and its S0@0 back [8, 10], then F0@1 [10, 11] and S0@1
     * [11, 11.5] on rank 0, F0@1 [11.5, 12.5] on rank 1.
     */
    @Test
    void simulate_prefillCosts_applyToStepZeroOnly() {
        CostModel costs = CostModel.uniform(1, 0.5).withPrefill(CostModel.uniform(3, 2));
        SimResult result = Simulator.simulate(Schedules.generation(2, 1, 1), costs);
        assertThat(result.span(0, 0)).as("F0@0 on rank 0").isEqualTo(new SimResult.Span(0, 3));
        assertThat(result.span(0, 2)).as("R0@1 on rank 0 waits for the prefill send").isEqualTo(new SimResult.Span(3, 10));
        assertThat(result.span(0, 3)).as("F0@1 on rank 0").isEqualTo(new SimResult.Span(10, 11));
        assertThat(result.makespan()).isEqualTo(12.5);
        assertThat(result.busy()).containsExactly(4.0, 4.0);
    }

    /** prefill(2, 2) with forward costs [1, 2]: rank 1 runs F0@0 [1, 3] and F1@0 [3, 5]; bubble 1 − 6/10. */
    @Test
    void simulate_perRankForwardCosts_slowStageSetsThePace() {
        SimResult result = Simulator.simulate(Schedules.prefill(2, 2), new CostModel(new double[] {1, 2}, 0));
        assertThat(result.span(1, 1)).isEqualTo(new SimResult.Span(1, 3));
        assertThat(result.span(1, 4)).isEqualTo(new SimResult.Span(3, 5));
        assertThat(result.makespan()).isEqualTo(5.0);
        assertThat(result.busy()).containsExactly(2.0, 4.0);
        assertThat(result.bubble()).isCloseTo(0.4, within(TOLERANCE));
    }

    @Test
    void simulate_deadlockedSchedule_throwsLikeValidator() {
        Schedule schedule = Schedule.parse("""
                ranks=2 microBatches=1 steps=1
                0: R0@1 F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 T0@0 S0@0 R0@1 F0@1 T0@1
                """);
        assertThatThrownBy(() -> Simulator.simulate(schedule, CostModel.uniform(1, 0)))
                .isInstanceOf(ScheduleException.class)
                .hasMessageStartingWith("deadlock: no rank can progress; rank 0, index 0, R0@1");
    }

    @Test
    void simulate_costsForOtherRankCount_namesCountsAndAllowed() {
        assertThatThrownBy(() -> Simulator.simulate(Schedules.prefill(3, 1), new CostModel(new double[] {1, 1}, 0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("forwardCosts has 2 entries for 3 ranks; allowed: 1 (every rank) or 3 (one per rank)");
    }

    @Test
    void costModel_negativeOrNonFiniteCost_namesArgumentAndRange() {
        assertThatThrownBy(() -> CostModel.uniform(-1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("forwardCosts.get(0) -1.0 is out of range; allowed: finite, 0 or more");
        assertThatThrownBy(() -> CostModel.uniform(1, Double.NaN))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("transferCost NaN is out of range; allowed: finite, 0 or more");
        assertThatThrownBy(() -> CostModel.uniform(1, 0, Double.POSITIVE_INFINITY))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("copyCost Infinity is out of range; allowed: finite, 0 or more");
    }
}
