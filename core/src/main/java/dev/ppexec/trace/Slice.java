package dev.ppexec.trace;

/**
 * One recorded slice of one request on one rank, in host nanoseconds ({@link System#nanoTime()}).
 *
 * @param microBatch the micro-batch ({@code pp_mb_id}), or {@link RequestTrace#NO_MICRO_BATCH}
 * @param step       0 = prefill, s = decode step s
 */
public record Slice(TraceStage stage, int rank, long startNanos, long endNanos, int microBatch, int step) {}
