package dev.ppexec.dist;

import dev.ppexec.runtime.RankFigures;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Note [world bubble]: the common pipeline span across ranks, and the bubble over it. */
class ResultsTest {

    private static RankFigures busy(int rank, long busyNanos) {
        return new RankFigures(rank, "cpu", 2, 10, 0, busyNanos, busyNanos, 0);
    }

    @Test
    void commonSpan_runsFromTheEarliestStartToTheLatestEnd_acrossRanks() {
        assertThat(Results.commonSpanNanos(List.of(new long[] {300, 900}, new long[] {100, 500}))).isEqualTo(800);
    }

    @Test
    void bubble_isTheIdleShareOfRanksTimesTheCommonSpan() {
        assertThat(Results.bubble(List.of(busy(0, 400), busy(1, 400)), 800)).isCloseTo(0.5, within(1e-12));
        assertThat(Results.bubble(List.of(busy(0, 800), busy(1, 900)), 800)).as("never below 0").isZero();
    }
}
