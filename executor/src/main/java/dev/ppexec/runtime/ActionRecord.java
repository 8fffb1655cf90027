package dev.ppexec.runtime;

/**
 * One timed action of a rank: a forward (run_batch) or a transfer into the rank (pp_recv).
 * Host times are {@link System#nanoTime()}; device times are the stream's events mapped to that
 * clock (see Note [device clock anchor] in {@link dev.ppexec.trace.DeviceClock}).
 */
public record ActionRecord(Kind kind, int microBatch, int step, long cpuStartNanos, long cpuEndNanos,
                           long deviceStartNanos, long deviceEndNanos) {

    public enum Kind { FORWARD, RECV }
}
