package dev.ppexec.dist;

import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * This process's clock against rank 0's, NTP-style (Note [clock offset]): samples of (local send, rank 0's reading,
 * local receive); the sample with the smallest round trip gives the estimate.
 */
final class ClockOffset {

    /** Pings at rendezvous: the issue asks for at least 8. */
    static final int SAMPLES = 32;

    /*
     * Note [clock offset]
     * A rank r > 0 asks rank 0's store for its clock (Wire.CLOCK: rank 0's epoch nanoseconds of System.nanoTime(), the
     * domain spans use) SAMPLES times, reading its own clock before (t_send) and after (t_recv). Rank 0 read its clock
     * somewhere inside [t_send, t_recv], so for that sample rank 0's clock minus ours is t_server - (t_send + t_recv)/2
     * within rtt/2 = (t_recv - t_send)/2 either way; the smallest rtt bounds it tightest. The contract records the
     * other sign, ppexec.clock_offset_ns = this clock minus rank 0's, and every span of this process is exported minus
     * that offset, i.e. on rank 0's clock; readers use ppexec.clock_rtt_ns as the uncertainty and never apply the
     * offset again.
     */

    /** @param offsetNanos this clock minus rank 0's; @param rttNanos the round trip of the sample it came from */
    record Estimate(long offsetNanos, long rttNanos) {

        static final Estimate REFERENCE = new Estimate(0, 0);

        /** {@code clock offset to rank 0: +12.3 us (rtt 85 us)}. */
        String line() {
            return String.format(Locale.ROOT, "clock offset to rank 0: %+.1f us (rtt %d us)", offsetNanos / 1e3,
                    Math.round(rttNanos / 1e3));
        }
    }

    private long bestRttNanos = Long.MAX_VALUE;
    private long bestOffsetNanos;
    private int samples;

    /** One ping: our clock when it left, rank 0's reading, our clock when the answer came. */
    void add(long sendNanos, long serverNanos, long receiveNanos) {
        if (receiveNanos < sendNanos) {
            throw new IllegalArgumentException("a ping answered before it was sent: " + sendNanos + " > " + receiveNanos);
        }
        samples++;
        long rtt = receiveNanos - sendNanos;
        if (rtt < bestRttNanos) {
            bestRttNanos = rtt;
            bestOffsetNanos = sendNanos + rtt / 2 - serverNanos;
        }
    }

    Estimate estimate() {
        if (samples == 0) {
            throw new IllegalStateException("no clock sample");
        }
        return new Estimate(bestOffsetNanos, bestRttNanos);
    }

    /** {@code samples} pings through {@code rankZero} (which returns rank 0's reading), timed by {@code local}. */
    static Estimate measure(LongSupplier local, LongSupplier rankZero, int samples) {
        ClockOffset c = new ClockOffset();
        for (int i = 0; i < samples; i++) {
            long send = local.getAsLong();
            long server = rankZero.getAsLong();
            c.add(send, server, local.getAsLong());
        }
        return c.estimate();
    }
}
