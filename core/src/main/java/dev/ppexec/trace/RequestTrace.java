package dev.ppexec.trace;

import java.util.Objects;

/**
 * The trace of one run's requests, filled a micro-batch at a time: {@link #setTimeBatch} sets a
 * stage's start or end for every request of a micro-batch (sglang's {@code set_time_batch}); an
 * end records a {@link Slice} per request. A stage above the trace level is not recorded: the
 * helper returns after one comparison, allocating nothing and reading no clock (times are
 * arguments). Not thread-safe: one thread fills it.
 */
public final class RequestTrace {

    /** The micro-batch of a slice that is not a per-micro-batch one (levels 1 and 3). */
    public static final int NO_MICRO_BATCH = -1;

    /** Which end of a stage a time marks. */
    public enum Edge { START, END }

    private final int level;
    private final int ranks;
    private final ReqTimeStats[] requests;

    public RequestTrace(TraceLevel level, int requests, int ranks) {
        Objects.requireNonNull(level, "level");
        if (requests < 1 || ranks < 1) {
            throw new IllegalArgumentException("requests " + requests + ", ranks " + ranks + "; allowed: both >= 1");
        }
        this.level = level.value();
        this.ranks = ranks;
        this.requests = new ReqTimeStats[requests];
        for (int i = 0; i < requests; i++) {
            this.requests[i] = new ReqTimeStats(i, ranks);
        }
    }

    /**
     * Sets {@code stage}'s start or end at {@code hostNanos} on {@code rank} for every request in
     * {@code rids}; an end records one slice per request, carrying {@code microBatch} and {@code step}.
     */
    public void setTimeBatch(int[] rids, int rank, TraceStage stage, Edge edge, long hostNanos, int microBatch,
                             int step) {
        if (stage.level() > level) {
            return;
        }
        assert rank >= 0 && rank < ranks : "rank " + rank + " of " + ranks;
        if (edge == Edge.START) {
            for (int rid : rids) {
                requests[rid].start(rank, stage, hostNanos);
            }
        } else {
            for (int rid : rids) {
                requests[rid].end(rank, stage, hostNanos, microBatch, step);
            }
        }
    }

    /** The requests in {@code rids} arrived at {@code hostNanos}. */
    public void arriveBatch(int[] rids, long hostNanos) {
        if (level == 0) {
            return;
        }
        for (int rid : rids) {
            requests[rid].arrive(hostNanos);
        }
    }

    /** The requests in {@code rids} got a token at {@code hostNanos} (the last one wins). */
    public void tokenBatch(int[] rids, long hostNanos) {
        if (level == 0) {
            return;
        }
        for (int rid : rids) {
            requests[rid].lastToken(hostNanos);
        }
    }

    public int requests() {
        return requests.length;
    }

    public ReqTimeStats request(int rid) {
        return requests[rid];
    }

    /**
     * Spans one run exports: per request a root, a thread span per rank, and the recorded slices.
     * Sizes the export queue so that a run's spans fit.
     */
    public static long spanCount(int requests, int ranks, int decodeSteps, TraceLevel level) {
        if (level.isOff()) {
            return 0;
        }
        long passes = decodeSteps + 1L;
        long perRequest = 1 + ranks;
        perRequest += 1 + ranks + (long) ranks * decodeSteps;               // level 1
        if (level.records(TraceStage.DECODE_LOOP) && decodeSteps > 0) {
            perRequest += ranks;                                              // level 3
        }
        if (level.records(TraceStage.RUN_BATCH_CPU)) {
            perRequest += passes * (2L * ranks + 2L * (ranks - 1));          // level 4
        }
        long spans = perRequest * requests;
        return Math.multiplyHigh(perRequest, requests) != 0 || spans < 0 ? Long.MAX_VALUE : spans; // saturates, never wraps
    }
}
