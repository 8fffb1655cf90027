package dev.ppexec.dist;

import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.LongSupplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Note [clock offset]: the estimate against a simulated skew and asymmetric, jittery network delays. */
class ClockOffsetTest {

    /** A timeline: our clock reads {@code now}; rank 0's reads {@code now - skew}; each leg of a ping takes a delay. */
    private static final class Network {
        final long skewNanos;
        final Random random;
        final long minLegNanos;
        final long jitterNanos;
        long now = 1_000_000_000L;
        long minRttNanos = Long.MAX_VALUE;
        long sentAt;

        Network(long skewNanos, long seed, long minLegNanos, long jitterNanos) {
            this.skewNanos = skewNanos;
            this.random = new Random(seed);
            this.minLegNanos = minLegNanos;
            this.jitterNanos = jitterNanos;
        }

        long leg() {
            return minLegNanos + (long) (random.nextDouble() * random.nextDouble() * jitterNanos);
        }

        LongSupplier local() {
            return () -> {
                now += 1_000;
                return now;
            };
        }

        LongSupplier rankZero() {
            return () -> {
                long out = leg();
                long back = leg();
                now += out;
                long reading = now - skewNanos;
                now += back;
                minRttNanos = Math.min(minRttNanos, out + back);
                return reading;
            };
        }
    }

    @Test
    void skewOfMilliseconds_withJitter_isEstimatedWithinHalfTheRtt() {
        for (long skew : new long[] {7_300_000L, -4_250_000L, 12_000_001L}) {
            for (long seed = 1; seed <= 20; seed++) {
                Network n = new Network(skew, seed, 30_000, 900_000);
                ClockOffset.Estimate e = ClockOffset.measure(n.local(), n.rankZero(), ClockOffset.SAMPLES);
                assertThat(Math.abs(e.offsetNanos() - skew)).as("skew %d, seed %d: %s", skew, seed, e)
                        .isLessThanOrEqualTo(e.rttNanos() / 2 + 1);
                // The sample used is the fastest ping (the local clock's own 1 us ticks add to each round trip).
                assertThat(e.rttNanos()).isEqualTo(n.minRttNanos + 1_000);
            }
        }
    }

    @Test
    void asymmetricLegs_areOffByHalfTheirDifference_notMore() {
        ClockOffset c = new ClockOffset();
        // Out 100 us, back 20 us: rank 0 read its clock 100 us after we sent; its clock is ours minus 5 ms.
        c.add(0, 100_000 - 5_000_000, 120_000);
        c.add(200_000, 200_000 + 400_000 - 5_000_000, 200_000 + 900_000); // slower: not used
        ClockOffset.Estimate e = c.estimate();
        assertThat(e.rttNanos()).isEqualTo(120_000);
        assertThat(e.offsetNanos()).isEqualTo(5_000_000 - 40_000);
        assertThat(e.line()).isEqualTo("clock offset to rank 0: +4960.0 us (rtt 120 us)");
    }

    @Test
    void noSample_orAnAnswerBeforeItsPing_isRefused() {
        assertThatThrownBy(() -> new ClockOffset().estimate()).isInstanceOf(IllegalStateException.class)
                .hasMessage("no clock sample");
        assertThatThrownBy(() -> new ClockOffset().add(10, 5, 9)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("answered before it was sent");
    }
}
