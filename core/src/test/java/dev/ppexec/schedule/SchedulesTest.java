package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Expected texts are written by hand from the generator rules in {@link Schedules#generation}. */
class SchedulesTest {

    @Test
    void generation_twoRanksTwoMicroBatchesOneStep_matchesHandWrittenText() {
        assertThat(Schedules.generation(2, 2, 1).toText()).isEqualTo("""
                ranks=2 microBatches=2 steps=1
                0: F0@0 S0@0 F1@0 S1@0 R0@1 F0@1 S0@1 R1@1 F1@1 S1@1
                1: R0@0 F0@0 T0@0 S0@0 R1@0 F1@0 T1@0 S1@0 R0@1 F0@1 T0@1 R1@1 F1@1 T1@1
                """);
    }

    @Test
    void prefill_threeRanksTwoMicroBatches_isFillDrainWithTokensInsteadOfLastSend() {
        assertThat(Schedules.prefill(3, 2).toText()).isEqualTo("""
                ranks=3 microBatches=2 steps=0
                0: F0@0 S0@0 F1@0 S1@0
                1: R0@0 F0@0 S0@0 R1@0 F1@0 S1@0
                2: R0@0 F0@0 T0@0 R1@0 F1@0 T1@0
                """);
    }

    @Test
    void generation_oneRank_feedsTokensBackInsteadOfSending() {
        assertThat(Schedules.generation(1, 2, 1).toText()).isEqualTo("""
                ranks=1 microBatches=2 steps=1
                0: F0@0 T0@0 B0@0 F1@0 T1@0 B1@0 F0@1 T0@1 F1@1 T1@1
                """);
    }

    @Test
    void generation_threeRanksOneMicroBatchTwoSteps_ringsBackToRankZero() {
        assertThat(Schedules.generation(3, 1, 2).toText()).isEqualTo("""
                ranks=3 microBatches=1 steps=2
                0: F0@0 S0@0 R0@1 F0@1 S0@1 R0@2 F0@2 S0@2
                1: R0@0 F0@0 S0@0 R0@1 F0@1 S0@1 R0@2 F0@2 S0@2
                2: R0@0 F0@0 T0@0 S0@0 R0@1 F0@1 T0@1 S0@1 R0@2 F0@2 T0@2
                """);
    }

    @Test
    void prefill_equalsGenerationWithZeroSteps() {
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 5; m++) {
                assertThat(Schedules.prefill(p, m)).as("P=%d M=%d", p, m).isEqualTo(Schedules.generation(p, m, 0));
            }
        }
    }

    @Test
    void generation_outOfRangeArguments_nameArgumentAndRange() {
        assertThatThrownBy(() -> Schedules.generation(0, 1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("ranks 0 is out of range; allowed: 1 or more");
        assertThatThrownBy(() -> Schedules.generation(1, 0, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("microBatches 0 is out of range; allowed: 1 or more");
        assertThatThrownBy(() -> Schedules.generation(1, 1, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("steps -1 is out of range; allowed: 0 or more");
        assertThatThrownBy(() -> Schedules.prefill(2, -3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("microBatches -3 is out of range; allowed: 1 or more");
    }

    @Test
    void parse_ofToText_roundTripsForManyShapes() {
        for (int p = 1; p <= 5; p++) {
            for (int m = 1; m <= 4; m++) {
                for (int s = 0; s <= 3; s++) {
                    Schedule schedule = Schedules.generation(p, m, s);
                    String text = schedule.toText();
                    Schedule parsed = Schedule.parse(text);
                    assertThat(parsed).as("P=%d M=%d S=%d", p, m, s).isEqualTo(schedule);
                    assertThat(parsed.toText()).as("P=%d M=%d S=%d", p, m, s).isEqualTo(text);
                }
            }
        }
    }

    @Test
    void parse_emptyRankList_roundTrips() {
        String text = """
                ranks=2 microBatches=1 steps=0
                0: F0@0
                1:
                """;
        assertThat(Schedule.parse(text).rank(1)).isEmpty();
        assertThat(Schedule.parse(text).toText()).isEqualTo(text);
    }

    @Test
    void parse_badHeader_namesLineAndExpectedForm() {
        assertThatThrownBy(() -> Schedule.parse("ranks=2 steps=0\n0: F0@0\n1: R0@0 F0@0\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("line 1: header 'ranks=2 steps=0' is malformed; expected 'ranks=P microBatches=M steps=S'");
    }

    @Test
    void parse_wrongRankLabel_namesLineAndExpectedLabel() {
        assertThatThrownBy(() -> Schedule.parse("ranks=2 microBatches=1 steps=0\n0: F0@0 S0@0\n2: R0@0 F0@0\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("line 3: '2: R0@0 F0@0' is malformed; expected '1:'");
    }

    @Test
    void parse_badToken_namesLineAndToken() {
        assertThatThrownBy(() -> Schedule.parse("ranks=1 microBatches=1 steps=0\n0: F0@0  F1@0\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("line 2: action token '' is malformed");
    }

    @Test
    void parse_missingRankLine_saysHowManyExpected() {
        assertThatThrownBy(() -> Schedule.parse("ranks=2 microBatches=1 steps=0\n0: F0@0\n"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("schedule text has 1 rank lines for ranks=2; expected exactly one line per rank");
    }

    @Test
    void new_copiesActionsDefensively() {
        List<Action> rank0 = new ArrayList<>(List.of(Action.forward(0, 0)));
        Schedule schedule = new Schedule(1, 1, 0, List.of(rank0));
        rank0.add(Action.forward(1, 0));
        assertThat(schedule.rank(0)).containsExactly(Action.forward(0, 0));
        assertThatThrownBy(() -> schedule.rank(0).add(Action.forward(1, 0)))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void new_wrongRankListCount_namesCountAndRanks() {
        assertThatThrownBy(() -> new Schedule(2, 1, 0, List.of(List.of())))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("actions has 1 rank lists for ranks 2; allowed: exactly one list per rank");
    }

    @Test
    void routing_followsTheDecodeRing() {
        Schedule s = Schedules.generation(3, 1, 1);
        assertThat(s.destinationRank(0)).isEqualTo(1);
        assertThat(s.destinationRank(2)).isEqualTo(0);
        assertThat(s.sourceRank(0)).isEqualTo(2);
        assertThat(s.sourceRank(1)).isEqualTo(0);
        assertThat(s.receiveFor(2, Action.send(0, 0))).isEqualTo(Action.recv(0, 1));
        assertThat(s.receiveFor(1, Action.send(0, 0))).isEqualTo(Action.recv(0, 0));
        assertThat(s.sendFor(0, Action.recv(0, 1))).isEqualTo(Action.send(0, 0));
        assertThatThrownBy(() -> s.sourceRank(3))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("rank 3 is out of range; allowed: 0..2");
        assertThatThrownBy(() -> s.sendFor(0, Action.recv(0, 0)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rank 0 takes step 0 from the prompt");
    }
}
