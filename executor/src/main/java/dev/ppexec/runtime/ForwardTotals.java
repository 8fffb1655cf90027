package dev.ppexec.runtime;

/**
 * What the run's figures ({@link RankFigures}, the measured bubble) need from one log, added up entry
 * by entry as the entries resolve (Note [bounded logs] in {@link ForwardLog}), so the log need not keep
 * them. Written by the thread that resolves (the rank, then the run's thread after the rank stopped);
 * plain fields, read after the rank stopped. Sums of longs in entry order: the same values as adding
 * up a fully kept log.
 */
final class ForwardTotals {

    private int entries;
    private long cpuLaunchNanos;
    private long deviceBusyNanos;
    private long launchLatencyNanos;
    private long firstDeviceStartNanos = Long.MAX_VALUE;
    private long lastDeviceEndNanos = Long.MIN_VALUE;

    void add(long cpuStartNanos, long cpuEndNanos, long deviceStartNanos, long deviceEndNanos) {
        entries++;
        cpuLaunchNanos += cpuEndNanos - cpuStartNanos;
        deviceBusyNanos += deviceEndNanos - deviceStartNanos;
        launchLatencyNanos += deviceStartNanos - cpuStartNanos;
        firstDeviceStartNanos = Math.min(firstDeviceStartNanos, deviceStartNanos);
        lastDeviceEndNanos = Math.max(lastDeviceEndNanos, deviceEndNanos);
    }

    int entries() {
        return entries;
    }

    long cpuLaunchNanos() {
        return cpuLaunchNanos;
    }

    long deviceBusyNanos() {
        return deviceBusyNanos;
    }

    /** Total time from a launch's start to its device start, over the entries. */
    long launchLatencyNanos() {
        return launchLatencyNanos;
    }

    /** The first entry's device start; {@code Long.MAX_VALUE} with no entries. */
    long firstDeviceStartNanos() {
        return firstDeviceStartNanos;
    }

    /** The last entry's device end; {@code Long.MIN_VALUE} with no entries. */
    long lastDeviceEndNanos() {
        return lastDeviceEndNanos;
    }
}
