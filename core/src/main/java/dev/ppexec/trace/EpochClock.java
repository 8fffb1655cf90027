package dev.ppexec.trace;

import java.time.Instant;

/**
 * Maps {@link System#nanoTime()} to epoch nanoseconds through one anchor: the host clock's reading
 * and the wall clock's, taken together once per process (as OpenTelemetry's {@code AnchoredClock}).
 * Every span of the process shares it, so durations are monotonic-clock exact and spans of
 * different ranks line up.
 */
public final class EpochClock {

    private static final class Process {
        static final EpochClock CLOCK = anchorNow();
    }

    private final long epochNanosAtAnchor;
    private final long nanoTimeAtAnchor;

    public EpochClock(long epochNanosAtAnchor, long nanoTimeAtAnchor) {
        this.epochNanosAtAnchor = epochNanosAtAnchor;
        this.nanoTimeAtAnchor = nanoTimeAtAnchor;
    }

    /** The process's anchor, taken on first use. */
    public static EpochClock process() {
        return Process.CLOCK;
    }

    private static EpochClock anchorNow() {
        long before = System.nanoTime();
        Instant now = Instant.now();
        long after = System.nanoTime();
        return new EpochClock(now.getEpochSecond() * 1_000_000_000L + now.getNano(), before + (after - before) / 2);
    }

    /** Epoch nanoseconds of a {@link System#nanoTime()} reading. */
    public long epochNanos(long nanoTime) {
        return epochNanosAtAnchor + (nanoTime - nanoTimeAtAnchor);
    }
}
