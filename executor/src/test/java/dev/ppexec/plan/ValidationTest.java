package dev.ppexec.plan;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Medians and the load ratio of Note [validation baseline]. */
class ValidationTest {

    @Test
    void errors_machineTwiceAsFastAsWhenTraced_scaleThePredictionByTheLoadRatio() {
        // traced at 100 tokens/s; the same configuration now runs at 200 (median of 150, 200, 900)
        Validation v = new Validation(100, List.of(900.0, 150.0, 200.0), List.of(List.of(330.0, 300.0, 100.0)));

        assertThat(v.rounds()).isEqualTo(3);
        assertThat(v.baselineTokensPerSecond()).isEqualTo(200.0);
        assertThat(v.loadRatio()).isEqualTo(2.0);
        assertThat(v.measured(0)).isEqualTo(300.0);
        // predicted 150: half the measured 300, but at the trace's load (x2) exactly it
        assertThat(v.error(0, 150)).isCloseTo(-0.5, within(1e-12));
        assertThat(v.errorAtTracedLoad(0, 150)).isCloseTo(0.0, within(1e-12));
        assertThat(v.errorAtTracedLoad(0, 165)).isCloseTo(0.1, within(1e-12));
    }

    @Test
    void new_candidateWithFewerSamplesThanRounds_isRefused() {
        assertThatThrownBy(() -> new Validation(100, List.of(1.0, 2.0), List.of(List.of(1.0))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a candidate has 1 samples for 2 rounds; allowed: one sample per round");
    }
}
