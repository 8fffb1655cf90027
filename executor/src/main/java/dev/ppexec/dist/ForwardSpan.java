package dev.ppexec.dist;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.trace.EpochClock;

/**
 * This process's share of the world's pipeline span (Note [world bubble] in Results): the device start of its first
 * forward and the device end of its last, heard as the run's records resolve.
 */
public final class ForwardSpan implements RunListener {

    private long firstStartNanos = Long.MAX_VALUE;
    private long lastEndNanos = Long.MIN_VALUE;

    @Override
    public synchronized void action(RunInfo info, int rank, ActionRecord record) {
        if (record.kind() == ActionRecord.Kind.RECV) {
            return;
        }
        firstStartNanos = Math.min(firstStartNanos, record.deviceStartNanos());
        lastEndNanos = Math.max(lastEndNanos, record.deviceEndNanos());
    }

    /** {first start, last end} in epoch nanoseconds of rank 0's clock, given this process's clock minus rank 0's. */
    synchronized long[] onRankZerosClock(long clockOffsetNanos) {
        if (firstStartNanos > lastEndNanos) {
            throw new IllegalStateException("this rank ran no forward: no pipeline span");
        }
        EpochClock clock = EpochClock.process();
        return new long[] {clock.epochNanos(firstStartNanos) - clockOffsetNanos,
                clock.epochNanos(lastEndNanos) - clockOffsetNanos};
    }
}
