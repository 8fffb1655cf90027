package dev.ppexec.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ActionTest {

    @Test
    void toString_isKindLetterMicroBatchAtStep() {
        assertThat(Action.forward(3, 2)).hasToString("F3@2");
        assertThat(Action.recv(0, 0)).hasToString("R0@0");
        assertThat(Action.send(12, 105)).hasToString("S12@105");
        assertThat(Action.tokens(1, 0)).hasToString("T1@0");
        assertThat(Action.feedback(2, 7)).hasToString("B2@7");
    }

    @ParameterizedTest
    @ValueSource(strings = {"F3@2", "R0@0", "S12@105", "T4@1", "B0@3"})
    void parse_ofToString_roundTrips(String token) {
        assertThat(Action.parse(token).toString()).isEqualTo(token);
    }

    @Test
    void parse_validToken_givesFields() {
        assertThat(Action.parse("S7@4")).isEqualTo(new Action(ActionKind.SEND, 7, 4));
        assertThat(Action.parse("T7@4")).isEqualTo(new Action(ActionKind.TOKENS, 7, 4));
        assertThat(Action.parse("B7@4")).isEqualTo(new Action(ActionKind.FEEDBACK, 7, 4));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "F", "F3", "F3@", "@2", "X3@2", "f3@2", "F-1@2", "F3@-2", "F03@2", "F3@2x", " F3@2",
            "F3 @2", "F9999999999@0"})
    void parse_badToken_namesTokenAndExpectedForm(String token) {
        assertThatThrownBy(() -> Action.parse(token))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'" + token + "'")
                .hasMessageContaining("expected <kind><microBatch>@<step>");
    }

    @Test
    void new_negativeMicroBatch_namesArgumentAndRange() {
        assertThatThrownBy(() -> Action.forward(-1, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("microBatch -1 is out of range; allowed: 0 or more");
    }

    @Test
    void ofCode_unknownLetter_namesAllowedLetters() {
        assertThatThrownBy(() -> ActionKind.ofCode('X'))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("action kind code 'X' is unknown; allowed: R, F, T, B, S");
    }
}
