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
                1: R0@0 F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 0, R0@0: expected exactly one matching SEND S0@0 on rank 0,"
                + " found none");
        assertThat(List.of(e.rank(), e.index())).containsExactly(1, 0);
    }

    @Test
    void validate_recvBeforeItsSendOnBothRanks_reportsDeadlockCycle() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=1
                0: R0@1 F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 T0@0 S0@0 R0@1 F0@1 T0@1
                """);
        assertThat(e.problem()).isEqualTo("deadlock: no rank can progress;"
                + " rank 0, index 0, R0@1: waits for S0@0 at index 3 of rank 1;"
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
                .contains("expected a FEEDBACK to carry the tokens, and no RECV or SEND");
    }

    @Test
    void validate_duplicatedForward_namesSecondCopyAndFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 2, F0@0: duplicate of index 1; expected exactly one FORWARD"
                + " of micro-batch 0 at step 0 on each rank");
    }

    @Test
    void validate_missingForward_namesEndOfListAndMissingAction() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=2 steps=0
                0: F0@0 S0@0 F1@0 S1@0
                1: R0@0 F0@0 T0@0 R1@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 4, F1@0: missing (index 4 is the end of the list);"
                + " expected exactly one FORWARD of micro-batch 1 at step 0 on each rank");
    }

    @Test
    void validate_recvAfterItsForward_saysRecvComesFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: F0@0 R0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 1, R0@0: comes after its FORWARD at index 0;"
                + " expected RECV before FORWARD");
    }

    @Test
    void validate_sendBeforeItsForward_saysForwardComesFirst() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: S0@0 F0@0
                1: R0@0 F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 0, S0@0: comes before its FORWARD F0@0;"
                + " expected FORWARD before SEND on the same rank");
    }

    @Test
    void validate_sendNobodyReceives_namesMissingRecv() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=1
                0: F0@0 S0@0 F0@1 S0@1
                1: R0@0 F0@0 T0@0 S0@0 R0@1 F0@1 T0@1
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 3, S0@0: nothing consumes it; expected exactly one RECV R0@1"
                + " on rank 0, found none");
    }

    @Test
    void validate_handoffDroppedOnBothSides_saysForwardHasNoOutput() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0
                1: F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 0, F0@0: its output goes nowhere; expected a SEND S0@0"
                + " after it, to rank 1");
    }

    @Test
    void validate_recvOnRankZeroAtPrefill_saysInputIsThePrompt() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: R0@0 F0@0 S0@0
                1: R0@0 F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 0, R0@0: rank 0 takes step 0 from the prompt;"
                + " expected no RECV on rank 0 at step 0");
    }

    @Test
    void validate_lastRankSendsAtLastStep_saysNextStepDoesNotExist() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0 T0@0 S0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 3, S0@0: the last rank's SEND feeds step 1, which does"
                + " not exist (steps=0); expected no SEND at the last step");
    }

    @Test
    void validate_microBatchOutOfRange_namesAllowedRange() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=2 steps=0
                0: F0@0 T0@0 F1@0 T1@0 F2@0 T2@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 4, F2@0: micro-batch 2 is out of range; expected 0..1");
    }

    @Test
    void validate_oneRankStepsOutOfOrder_saysTheCopyComesAfterTheNextStep() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=1
                0: F0@1 T0@1 F0@0 T0@0 B0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 3, T0@0: comes after the next step's FORWARD at index 0,"
                + " which overwrites the tokens it copies; expected TOKENS before F0@1");
    }

    @Test
    void validate_failure_messageIsTheProblemThenTheGridWithTheStepMarked() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0
                1: R0@0 F0@0 T0@0
                """);
        assertThat(e).hasMessage("""
                rank 1, index 0, R0@0: expected exactly one matching SEND S0@0 on rank 0, found none
                t        rank 0  rank 1
                0        F0@0    .
                blocked  .       >R0@0
                > rank 1, index 0: R0@0""");
    }

    @Test
    void validate_tokensOnAnEarlierRank_saysOnlyTheLastRankHasTokens() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 T0@0 S0@0
                1: R0@0 F0@0 T0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 1, T0@0: only the last rank computes tokens;"
                + " expected TOKENS only on rank 1");
    }

    @Test
    void validate_feedbackWithTwoRanks_saysTheRingCarriesTheTokens() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=1
                0: F0@0 S0@0 R0@1 F0@1 S0@1
                1: R0@0 F0@0 T0@0 B0@0 S0@0 R0@1 F0@1 T0@1
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 3, B0@0: with 2 ranks the last rank's SEND carries the"
                + " tokens back to rank 0; expected FEEDBACK only with one rank");
    }

    @Test
    void validate_feedbackAtTheLastStep_saysTheNextStepDoesNotExist() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=1
                0: F0@0 T0@0 B0@0 F0@1 T0@1 B0@1
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 5, B0@1: feeds step 2, which does not exist (steps=1);"
                + " expected no FEEDBACK at the last step");
    }

    @Test
    void validate_tokensBeforeTheirForward_saysForwardComesFirst() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=0
                0: T0@0 F0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 0, T0@0: comes before its FORWARD F0@0;"
                + " expected FORWARD before TOKENS on the same rank");
    }

    @Test
    void validate_feedbackAfterTheNextStepsForward_saysItWouldCopyTheWrongTokens() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=1 steps=1
                0: F0@0 T0@0 F0@1 B0@0 T0@1
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 3, B0@0: comes after the next step's FORWARD at index 2,"
                + " which overwrites the tokens it copies; expected FEEDBACK before F0@1");
    }

    @Test
    void validate_missingTokens_namesTheEndOfTheLastRanksList() {
        ScheduleException e = rejection("""
                ranks=2 microBatches=1 steps=0
                0: F0@0 S0@0
                1: R0@0 F0@0
                """);
        assertThat(e.problem()).isEqualTo("rank 1, index 2, T0@0: missing (index 2 is the end of the list);"
                + " expected exactly one TOKENS of micro-batch 0 at step 0 on the last rank");
    }

    @Test
    void validate_missingFeedback_namesTheStepItWouldFeed() {
        ScheduleException e = rejection("""
                ranks=1 microBatches=2 steps=1
                0: F0@0 T0@0 B0@0 F1@0 T1@0 F0@1 T0@1 F1@1 T1@1
                """);
        assertThat(e.problem()).isEqualTo("rank 0, index 9, B1@0: missing (index 9 is the end of the list);"
                + " expected exactly one FEEDBACK of micro-batch 1 at step 0 before step 1 with one rank");
    }
}
