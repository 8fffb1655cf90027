package dev.ppexec.trace;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * One request's times: its arrival, its last token, the start of each stage still open per rank,
 * and the slices recorded so far. Filled by {@link RequestTrace}'s batch helper.
 */
public final class ReqTimeStats {

    private static final long UNSET = Long.MIN_VALUE;
    private static final int STAGES = TraceStage.values().length;

    private final int rid;
    private final long[] openStarts; // [rank * STAGES + stage]
    private final List<Slice> slices = new ArrayList<>();
    private long arrivalNanos = UNSET;
    private long lastTokenNanos = UNSET;

    ReqTimeStats(int rid, int ranks) {
        this.rid = rid;
        this.openStarts = new long[ranks * STAGES];
        Arrays.fill(openStarts, UNSET);
    }

    public int rid() {
        return rid;
    }

    /** When the request arrived (the run's start); {@link Long#MIN_VALUE} if not recorded. */
    public long arrivalNanos() {
        return arrivalNanos;
    }

    /** When its last token was produced on the device; {@link Long#MIN_VALUE} if not recorded. */
    public long lastTokenNanos() {
        return lastTokenNanos;
    }

    /** The slices recorded, in the order they ended. */
    public List<Slice> slices() {
        return Collections.unmodifiableList(slices);
    }

    void arrive(long nanos) {
        arrivalNanos = nanos;
    }

    void lastToken(long nanos) {
        lastTokenNanos = Math.max(lastTokenNanos, nanos);
    }

    void start(int rank, TraceStage stage, long nanos) {
        openStarts[rank * STAGES + stage.ordinal()] = nanos;
    }

    void end(int rank, TraceStage stage, long nanos, int microBatch, int step) {
        int i = rank * STAGES + stage.ordinal();
        long start = openStarts[i];
        if (start == UNSET) {
            throw new IllegalStateException("request " + rid + ", rank " + rank + ": " + stage.spanName()
                    + " ended (step " + step + ") without a start");
        }
        openStarts[i] = UNSET;
        slices.add(new Slice(stage, rank, start, nanos, microBatch, step));
    }
}
