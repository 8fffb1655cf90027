package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Broken schedules are written by hand in the text form, each a generated schedule with one defect. */
class ScheduleValidatorTest {

    private static ScheduleException rejection(String text) {
        Schedule schedule = Schedule.parse(text);
        return catchThrowableOfType(ScheduleException.class, () -> ScheduleValidator.validate(schedule));
    }

    @Test
    void validate_generatedSchedules_accepts() {
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 6; m++) {
                for (int s = 0; s <= 3; s++) {
                    Schedule schedule = Schedules.generation(p, m, s);
                    assertThatCode(() -> ScheduleValidator.validate(schedule))
                            .as("generation(%d, %d, %d)", p, m, s)
                            .doesNotThrowAnyException();
                }
            }
        }
    }

    @Test
    void validate_missingSend_namesRankAndAction() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0
                1: R0@0 F0@0
                """);
        assertThat(e).hasMessage("rank 1, index 0, R0@0: expected exactly one matching SEND S0@0 on rank 0,"
                + " found none");
        assertThat(List.of(e.rank(), e.index())).containsExactly(1, 0);
    }

    @Test
    void validate_recvBeforeItsSendOnBothRanks_reportsDeadlockCycle() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=1
                0: R0@1 F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 S0@0 R0@1 F0@1
                """);
        assertThat(e).hasMessage("deadlock: no rank can progress;"
                + " rank 0, index 0, R0@1: waits for S0@0 at index 2 of rank 1;"
                + " rank 1, index 0, R0@0: waits for S0@0 at index 2 of rank 0;"
                + " cycle: rank 0 -> rank 1 -> rank 0 (each waits on the next)");
        assertThat(List.of(e.rank(), e.index())).containsExactly(0, 0);
    }

    @Test
    void validate_oneRankSendingToItself_saysRankWouldWaitOnItself() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=1
                0: F0@0 S0@0 R0@1 F0@1
                """);
        assertThat(e.getMessage())
                .startsWith("rank 0, index 1, S0@0: ")
                .contains("rank 0 would wait on itself")
                .endsWith("expected only FORWARDs");
    }

    @Test
    void validate_duplicatedForward_namesSecondCopyAndFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 F0@0
                """);
        assertThat(e).hasMessage("rank 1, index 2, F0@0: duplicate of index 1; expected exactly one FORWARD"
                + " of micro-batch 0 at step 0 on each rank");
    }

    @Test
    void validate_missingForward_namesEndOfListAndMissingAction() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=2 steps=0
                0: F0@0 S0@0 F1@0 S1@0
                1: R0@0 F0@0 R1@0
                """);
        assertThat(e).hasMessage("rank 1, index 3, F1@0: missing (index 3 is the end of the list);"
                + " expected exactly one FORWARD of micro-batch 1 at step 0 on each rank");
    }

    @Test
    void validate_recvAfterItsForward_saysRecvComesFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: F0@0 R0@0
                """);
        assertThat(e).hasMessage("rank 1, index 1, R0@0: comes after its FORWARD at index 0;"
                + " expected RECV before FORWARD");
    }

    @Test
    void validate_sendBeforeItsForward_saysForwardComesFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: S0@0 F0@0
                1: R0@0 F0@0
                """);
        assertThat(e).hasMessage("rank 0, index 0, S0@0: comes before its FORWARD F0@0;"
                + " expected FORWARD before SEND on the same rank");
    }

    @Test
    void validate_sendNobodyReceives_namesMissingRecv() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=1
                0: F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 S0@0 R0@1 F0@1
                """);
        assertThat(e).hasMessage("rank 1, index 2, S0@0: nothing consumes it; expected exactly one RECV R0@1"
                + " on rank 0, found none");
    }

    @Test
    void validate_handoffDroppedOnBothSides_saysForwardHasNoOutput() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0
                1: F0@0
                """);
        assertThat(e).hasMessage("rank 0, index 0, F0@0: its output goes nowhere; expected a SEND S0@0 after it,"
                + " to rank 1");
    }

    @Test
    void validate_recvOnRankZeroAtPrefill_saysInputIsThePrompt() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: R0@0 F0@0 S0@0
                1: R0@0 F0@0
                """);
        assertThat(e).hasMessage("rank 0, index 0, R0@0: rank 0 takes step 0 from the prompt;"
                + " expected no RECV on rank 0 at step 0");
    }

    @Test
    void validate_lastRankSendsAtLastStep_saysNextStepDoesNotExist() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 S0@0
                """);
        assertThat(e).hasMessage("rank 1, index 2, S0@0: the last rank's SEND feeds step 1, which does not exist"
                + " (steps=0); expected no SEND at the last step");
    }

    @Test
    void validate_microBatchOutOfRange_namesAllowedRange() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=2 steps=0
                0: F0@0 F1@0 F2@0
                """);
        assertThat(e).hasMessage("rank 0, index 2, F2@0: micro-batch 2 is out of range; expected 0..1");
    }

    @Test
    void validate_oneRankStepsOutOfOrder_namesEarlierStep() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=1
                0: F0@1 F0@0
                """);
        assertThat(e).hasMessage("rank 0, index 0, F0@1: runs before step 0 of micro-batch 0 at index 1;"
                + " expected steps in order");
    }
}
