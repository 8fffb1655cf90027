package dev.ppexec.runtime;

/**
 * One timed action of a rank: a forward (run_batch) or a transfer into the rank (pp_recv).
 * Host times are {@link System#nanoTime()}; device times are the stream's events mapped to that
 * clock (see Note [device clock anchor] in {@link dev.ppexec.trace.DeviceClock}).
 *
 * @param kernelMarkNanos at trace level 5, a forward's host times of the events between its launches (Note [kernel
 *                        slices] in {@link ForwardLog}): launch i ran from mark i−1 (or the device start) to mark i
 *                        (or the device end); null otherwise
 */
public record ActionRecord(Kind kind, int microBatch, int step, long cpuStartNanos, long cpuEndNanos,
                           long deviceStartNanos, long deviceEndNanos, long[] kernelMarkNanos) {

    public enum Kind { FORWARD, RECV }

    /** An action without kernel marks (below trace level 5, and every transfer). */
    public ActionRecord(Kind kind, int microBatch, int step, long cpuStartNanos, long cpuEndNanos,
                        long deviceStartNanos, long deviceEndNanos) {
        this(kind, microBatch, step, cpuStartNanos, cpuEndNanos, deviceStartNanos, deviceEndNanos, null);
    }
}
