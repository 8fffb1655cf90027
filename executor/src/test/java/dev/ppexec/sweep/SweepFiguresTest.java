package dev.ppexec.sweep;

import dev.ppexec.runtime.ActionRecord;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SweepFiguresTest {

    static ActionRecord forward(int step, long cpuStart, long cpuEnd, long devStart, long devEnd) {
        return new ActionRecord(ActionRecord.Kind.FORWARD, 0, step, cpuStart, cpuEnd, devStart, devEnd);
    }

    @Test
    void phaseFigures_onSyntheticSpans() {
        // rank 0 busy [10,40) and [40,60): 50; rank 1 busy [40,70) and [70,100): 60; device span [10,100) = 90
        List<List<ActionRecord>> perRank = List.of(
                List.of(forward(0, 0, 4, 10, 40), forward(0, 5, 7, 40, 60)),
                List.of(forward(0, 30, 32, 40, 70), forward(0, 35, 41, 70, 100), forward(1, 200, 201, 300, 400)));
        PhaseFigures f = PhaseFigures.of(perRank, step -> step == 0);
        assertThat(f.spanNanos()).isEqualTo(100);         // first launch at 0, last device end at 100
        assertThat(f.deviceSpanNanos()).isEqualTo(90);
        assertThat(f.busyNanos()).containsExactly(50, 60);
        assertThat(f.forwards()).containsExactly(2, 2);
        assertThat(f.bubble()).isCloseTo(1 - 110.0 / 180.0, within(1e-12));
        assertThat(f.meanCpuNanos(0)).isEqualTo(3.0);     // (4 + 2) / 2
        assertThat(f.meanDeviceNanos(1)).isEqualTo(30.0);
        // ideal bubble 1/3: efficiency = (1 − bubble) / (1 − 1/3)
        assertThat(f.efficiency(1.0 / 3)).isCloseTo((110.0 / 180.0) / (2.0 / 3), within(1e-12));
    }

    @Test
    void phaseFigures_ofNoRecords_areZero() {
        PhaseFigures f = PhaseFigures.of(List.of(List.of(), List.of()), step -> true);
        assertThat(f.spanNanos()).isZero();
        assertThat(f.bubble()).isZero();
        assertThat(f.meanCpuNanos(0)).isZero();
    }

    @Test
    void idealBubble_prefillIsFillDrain() {
        for (int p = 1; p <= 4; p++) {
            for (int m = 1; m <= 8; m++) {
                assertThat(Sweep.idealBubble(p, m, 3, "prefill")).as("P=%d M=%d", p, m)
                        .isCloseTo((p - 1.0) / (m + p - 1.0), within(1e-9));
            }
        }
    }

    @Test
    void idealBubble_decodeIsWhatTheRingLeavesIdle() {
        // Fewer micro-batches than ranks: each rank works M of every P time units.
        assertThat(Sweep.idealBubble(4, 1, 64, "decode")).isCloseTo(0.75, within(0.02));
        assertThat(Sweep.idealBubble(4, 2, 64, "decode")).isCloseTo(0.50, within(0.02));
        // M >= P keeps every rank busy but for the ends of the phase.
        assertThat(Sweep.idealBubble(4, 4, 64, "decode")).isLessThan(0.03);
        assertThat(Sweep.idealBubble(1, 1, 64, "decode")).isZero();
    }

    @Test
    void microBatches_areOnePTwoPFourP_withoutRepeats() {
        assertThat(Sweep.microBatches(1)).containsExactly(1, 2, 4);
        assertThat(Sweep.microBatches(2)).containsExactly(1, 2, 4, 8);
        assertThat(Sweep.microBatches(4)).containsExactly(1, 4, 8, 16);
    }

    @Test
    void median_andMedianRun() {
        assertThat(Stats.median(List.of(3.0, 1.0, 2.0))).isEqualTo(2.0);
        assertThat(Stats.median(List.of(4.0, 1.0, 2.0, 3.0))).isEqualTo(2.5);
        assertThat(Stats.medianIndex(List.of(10.0, 30.0, 20.0))).isEqualTo(2);
    }
}
