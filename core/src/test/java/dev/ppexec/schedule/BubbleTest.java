package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Each closed form of Note [ideal bubble] against the dry-run simulator with equal stage times and free transfers. */
class BubbleTest {

    private static final double TOLERANCE = 1e-12;
    private static final CostModel UNIT = CostModel.uniform(1, 0);

    /** S = 0 is prefill alone, fill-drain; SimulatorTest checks {@link Bubble#idealFillDrain} against the simulator. */
    @Test
    void idealGeneration_matchesTheSimulatedWholeRun() {
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 9; m++) {
                for (int s = 0; s <= 4; s++) {
                    SimResult sim = Simulator.simulate(Schedules.generation(p, m, s), UNIT);
                    assertThat(Bubble.idealGeneration(p, m, s)).as("P=%d M=%d S=%d", p, m, s)
                            .isCloseTo(sim.bubble(), within(TOLERANCE));
                }
            }
        }
    }

    /** The decode phase measured as the runtime and the sweep measure it: first decode FORWARD's start to last end. */
    @Test
    void idealDecode_matchesTheSimulatedDecodeForwards() {
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 9; m++) {
                for (int s = 1; s <= 4; s++) {
                    Schedule schedule = Schedules.generation(p, m, s);
                    SimResult sim = Simulator.simulate(schedule, UNIT);
                    double first = Double.MAX_VALUE;
                    double last = 0;
                    double busy = 0;
                    for (int r = 0; r < p; r++) {
                        List<Action> list = schedule.rank(r);
                        for (int i = 0; i < list.size(); i++) {
                            if (list.get(i).kind() == ActionKind.FORWARD && list.get(i).step() >= 1) {
                                first = Math.min(first, sim.span(r, i).start());
                                last = Math.max(last, sim.span(r, i).end());
                                busy += sim.span(r, i).duration();
                            }
                        }
                    }
                    assertThat(Bubble.idealDecode(p, m, s)).as("P=%d M=%d S=%d", p, m, s)
                            .isCloseTo(1 - busy / (p * (last - first)), within(TOLERANCE));
                }
            }
        }
    }

    @Test
    void idealDecode_fewerMicroBatchesThanRanks_leavesTheRingsShareIdle() {
        assertThat(Bubble.idealDecode(4, 1, 1)).as("one micro-batch on 4 ranks").isCloseTo(0.75, within(TOLERANCE));
        assertThat(Bubble.idealDecode(4, 4, 1)).as("M = P, one step: fill and drain")
                .isCloseTo(3.0 / 7, within(TOLERANCE));
        assertThat(Bubble.idealDecode(3, 2, 0)).as("no decode steps").isZero();
    }

    @Test
    void measured_isTheIdleShareOfTheSpan() {
        assertThat(Bubble.measured(400, 2, 400)).as("1 - 400 / (2 x 400)").isEqualTo(0.5);
        assertThat(Bubble.measured(900, 3, 300)).as("every rank busy all the time").isZero();
        assertThat(Bubble.measured(0, 2, 0)).as("empty span").isZero();
    }

    @Test
    void outOfRange_namesArgumentAndRange() {
        assertThatThrownBy(() -> Bubble.idealFillDrain(0, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ranks 0 is out of range; allowed: 1 or more");
        assertThatThrownBy(() -> Bubble.idealDecode(2, 0, 3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("microBatches 0 is out of range; allowed: 1 or more");
        assertThatThrownBy(() -> Bubble.idealGeneration(2, 2, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("steps -1 is out of range; allowed: 0 or more");
        assertThatThrownBy(() -> Bubble.measured(1, 0, 1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ranks 0 is out of range; allowed: 1 or more");
    }
}
