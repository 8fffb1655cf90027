package dev.ppexec.runtime;

/**
 * One rank's figures from its stream events.
 *
 * @param forwards          micro-batch forwards run
 * @param cpuLaunchNanos    total host time inside run_batch launches
 * @param deviceBusyNanos   total device time of the forwards
 * @param deviceSpanNanos   first forward's device start to last forward's device end
 * @param launchLatencyNanos mean time from a launch's start to its device start
 */
public record RankFigures(int rank, String device, int layers, int forwards, long cpuLaunchNanos,
                          long deviceBusyNanos, long deviceSpanNanos, long launchLatencyNanos) {

    /** Idle share of the device between its first and last forward. */
    public double bubble() {
        return deviceSpanNanos <= 0 ? 0.0 : 1.0 - (double) deviceBusyNanos / deviceSpanNanos;
    }
}
