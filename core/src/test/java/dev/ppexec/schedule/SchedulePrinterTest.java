package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import org.junit.jupiter.api.Test;

/** Grids are written by hand from the unit-cost timeline: FORWARD takes one slot, the other actions none. */
class SchedulePrinterTest {

    @Test
    void grid_prefillTwoByTwo_showsFillAndDrain() {
        assertThat(SchedulePrinter.grid(Schedules.prefill(2, 2))).isEqualTo("""
                t  rank 0  rank 1
                0  F0@0    .
                1  F1@0    F0@0+T
                2  .       F1@0+T
                """);
    }

    @Test
    void grid_decodeRingWithFewerMicroBatchesThanRanks_showsRankZeroWaiting() {
        assertThat(SchedulePrinter.grid(Schedules.generation(2, 1, 1))).isEqualTo("""
                t  rank 0  rank 1
                0  F0@0    .
                1  .       F0@0+T
                2  F0@1    .
                3  .       F0@1+T
                """);
    }

    @Test
    void grid_markedForward_putsMarkInItsCellAndNamesIt() {
        assertThat(SchedulePrinter.grid(Schedules.prefill(2, 2), 1, 4)).isEqualTo("""
                t  rank 0  rank 1
                0  F0@0    .
                1  F1@0    F0@0+T
                2  .       >F1@0+T
                > rank 1, index 4: F1@0
                """);
    }

    @Test
    void grid_markedSend_marksTheCellOfItsForward() {
        assertThat(SchedulePrinter.grid(Schedules.prefill(2, 2), 0, 1)).isEqualTo("""
                t  rank 0  rank 1
                0  >F0@0   .
                1  F1@0    F0@0+T
                2  .       F1@0+T
                > rank 0, index 1: S0@0
                """);
    }

    @Test
    void grid_deadlockFromValidator_showsBlockedRowWithMark() {
        Schedule schedule = Schedule.parse("""
                ranks=2 microBatches=1 steps=1
                0: R0@1 F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 T0@0 S0@0 R0@1 F0@1 T0@1
                """);
        ScheduleException e = catchThrowableOfType(ScheduleException.class,
                () -> ScheduleValidator.validate(schedule));
        assertThat(SchedulePrinter.grid(schedule, e.rank(), e.index())).isEqualTo("""
                t        rank 0  rank 1
                blocked  >R0@1   R0@0
                > rank 0, index 0: R0@1
                """);
    }

    @Test
    void grid_duplicatedForward_marksTheSecondCopy() {
        Schedule schedule = Schedule.parse("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 F0@0
                """);
        assertThat(SchedulePrinter.grid(schedule, 1, 2)).isEqualTo("""
                t  rank 0  rank 1
                0  F0@0    .
                1  .       F0@0
                2  .       >F0@0
                > rank 1, index 2: F0@0
                """);
    }

    @Test
    void grid_markOutOfRange_namesArgumentAndRange() {
        assertThatThrownBy(() -> SchedulePrinter.grid(Schedules.prefill(2, 2), 1, 7))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("markIndex 7 is out of range; allowed: 0..6 (6 is the end of rank 1's list)");
        assertThatThrownBy(() -> SchedulePrinter.grid(Schedules.prefill(2, 2), 2, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("markRank 2 is out of range; allowed: 0..1");
    }

    @Test
    void grid_oneRank_addsTokensAndFeedbackToTheirForwardsCells() {
        assertThat(SchedulePrinter.grid(Schedules.generation(1, 2, 1))).isEqualTo("""
                t  rank 0
                0  F0@0+T+B
                1  F1@0+T+B
                2  F0@1+T
                3  F1@1+T
                """);
    }

    @Test
    void grid_markedTokens_marksTheCellOfItsForward() {
        assertThat(SchedulePrinter.grid(Schedules.generation(1, 1, 1), 0, 1)).isEqualTo("""
                t  rank 0
                0  >F0@0+T+B
                1  F0@1+T
                > rank 0, index 1: T0@0
                """);
    }
}
