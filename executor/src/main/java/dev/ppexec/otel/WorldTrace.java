package dev.ppexec.otel;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.trace.EpochClock;

import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Tracing's share of one rank process of a world (Note [one trace across processes]): the clock correction, the
 * requests' trace contexts that the data plane carries, and the pp_send timings that only the sending process knows.
 * Thread-safe: the transport's threads write, the run's trace delivery thread reads.
 */
public final class WorldTrace {

    /*
     * Note [one trace across processes]
     * Rank 0 owns each request's trace: its listener starts every root `Req {rid}` when the run starts and publishes
     * their W3C traceparents per micro-batch (OpenTelemetry's W3CTraceContextPropagator); the data plane carries them
     * in the step-0 envelope of each micro-batch, and each rank passes on what it received. A rank r > 0 parents its
     * `Scheduler [PP r]` spans on the received context: the same trace id, the root's span id. Rank 0's sender waits
     * (bounded) for the contexts of a traced run, which InWorld arms before it starts; an untraced run (a warm-up)
     * carries none. pp_send is timed by the sending process's transport (from the payload being ready to its message
     * handed to gRPC), since the receiver's copy is not seen there; pp_recv is the receiver's copy, as in one process.
     * Every time is exported on rank 0's clock (Note [clock offset] in ClockOffset).
     */

    /** How long rank 0's sender waits for the listener's contexts before it sends none. */
    static final long CONTEXT_WAIT_MILLIS = 10_000;
    /** How long a run's end waits for the sends it posted to be timed. */
    static final long SENDS_WAIT_MILLIS = 5_000;

    private final int rank;
    private final long clockOffsetNanos;
    private final Map<Integer, CompletableFuture<List<String>>> published = new ConcurrentHashMap<>();
    private final Map<Integer, List<String>> received = new ConcurrentHashMap<>();
    private final Queue<ActionRecord> sends = new ConcurrentLinkedQueue<>();
    private final AtomicInteger sendsPosted = new AtomicInteger();
    private final AtomicInteger sendsTimed = new AtomicInteger();
    /** Which traced run this is (0: none yet); a send posted under another is not this run's. */
    private volatile int run;

    /** @param clockOffsetNanos this process's clock minus rank 0's */
    public WorldTrace(int rank, long clockOffsetNanos) {
        this.rank = rank;
        this.clockOffsetNanos = clockOffsetNanos;
    }

    public int rank() {
        return rank;
    }

    /** The process's epoch clock moved onto rank 0's: what every span of this process is timed by. */
    public EpochClock clock() {
        long now = System.nanoTime();
        return new EpochClock(EpochClock.process().epochNanos(now) - clockOffsetNanos, now);
    }

    /**
     * Every rank, before its traced run (not the warm-ups): from now on its sends are timed, and rank 0's wait for the
     * contexts the run's listener publishes.
     */
    public void arm() {
        published.clear(); // what a neighbour already sent stays: its run may start before ours
        sends.clear();
        run++;
    }

    /** Rank 0's listener: the traceparents of micro-batch {@code microBatch}'s requests, in their order. */
    void publish(int microBatch, List<String> traceparents) {
        published.computeIfAbsent(microBatch, m -> new CompletableFuture<>()).complete(List.copyOf(traceparents));
    }

    /** The transport, receiving: what a micro-batch's envelope carried. */
    public void received(int microBatch, List<String> traceparents) {
        received.put(microBatch, List.copyOf(traceparents));
    }

    /** The contexts a micro-batch's parents came with on this rank, or null when none came. */
    List<String> parents(int microBatch) {
        return received.get(microBatch);
    }

    /** The transport, sending a micro-batch's first step: the contexts to carry (empty when the run is not traced). */
    public List<String> outgoing(int microBatch) throws InterruptedException {
        if (rank != 0) {
            return received.getOrDefault(microBatch, List.of());
        }
        if (run == 0) {
            return List.of();
        }
        try {
            return published.computeIfAbsent(microBatch, m -> new CompletableFuture<>())
                    .get(CONTEXT_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            return List.of(); // the listener never started: the run's trace fails on its own, the data still goes
        }
    }

    /**
     * The transport, on the sending rank's thread: a send was posted; {@link #sent} or {@link #dropped} follows with
     * the token this returns (0: the run is not traced).
     */
    public int posted() {
        int r = run;
        if (r != 0) {
            sendsPosted.incrementAndGet();
        }
        return r;
    }

    /** The transport: a posted send of {@code microBatch} at {@code step} went from {@code startNanos} to {@code endNanos}. */
    public void sent(int token, int microBatch, int step, long startNanos, long endNanos) {
        if (token != 0) {
            if (token == run) {
                sends.add(new ActionRecord(ActionRecord.Kind.RECV, microBatch, step, startNanos, endNanos, startNanos,
                        endNanos));
            }
            sendsTimed.incrementAndGet();
        }
    }

    /** The transport: a posted send failed (the world aborts); nothing will time it. */
    public void dropped(int token) {
        if (token != 0) {
            sendsTimed.incrementAndGet();
        }
    }

    /** The sends timed since the last call, oldest first. */
    ActionRecord nextSend() {
        return sends.poll();
    }

    /** Waits (bounded) until every posted send was timed or dropped. */
    void awaitSends() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SENDS_WAIT_MILLIS);
        while (sendsTimed.get() < sendsPosted.get() && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
    }
}
