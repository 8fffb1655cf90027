package dev.ppexec.trace;

import dev.ppexec.backend.Event;
import dev.ppexec.backend.Stream;

import java.util.function.LongSupplier;

/**
 * Maps a stream's events to host time.
 *
 * <p>Note [device clock anchor]: device events only give elapsed time between two events of one
 * device. So each stream keeps an anchor: record a reference event, synchronise on it, and read
 * the host clock at once; an event's host time is the anchor plus its elapsed time since the
 * reference. The host clock is read just after the reference completed, never before, so mapped
 * times are at or after the true ones: a device slice therefore never starts before the CPU launch
 * that enqueued it. The CPU backend's events go through the same code.
 *
 * <p>How late: the host reads its clock within [before the record, after the wait], so that window bounds the
 * anchor's error. A host descheduled in it (a loaded machine, a JIT or GC pause) would shift every mapped time of
 * the stream by as much: a loop of CudaWorldTest saw a send stream's times 9 ms late, its pp_send starting after the matching
 * pp_recv had ended on the other rank. So {@link #anchor} tries again, up to {@link #ANCHOR_TRIES} times, until the
 * window is within {@link #ANCHOR_WINDOW_NANOS}; the first try also waits for whatever the stream still had queued.
 *
 * <p>Note [re-anchoring]: the host and device clocks may drift apart over a run. The anchor is
 * renewed without any extra synchronisation: when the host has just waited for an event of the
 * same device (a wait it does anyway) and read its clock at once, that reading is an upper bound
 * of the event's completion, exactly as the first anchor was; {@link #reanchor} moves the anchor
 * to it, at most once per period. The reference event stays the same, so times mapped before and
 * after stay comparable.
 */
public final class DeviceClock {

    /** Note [device clock anchor]: an anchor whose record-to-read window is within this is taken at once. */
    public static final long ANCHOR_WINDOW_NANOS = 200_000;
    /** Note [device clock anchor]: at most this many tries; the last one is kept if none was within the window. */
    public static final int ANCHOR_TRIES = 8;

    /** How often the anchor is renewed from a host wait, at most. */
    public static final long DEFAULT_REANCHOR_PERIOD_NANOS = 1_000_000_000L;

    private final Stream stream;
    private final Event reference;
    private final LongSupplier hostNanos;
    private final long reanchorPeriodNanos;
    private long anchorHostNanos;
    private long anchoredAtNanos;
    private long anchorWindowNanos;
    private boolean anchored;

    public DeviceClock(Stream stream, Event reference, LongSupplier hostNanos) {
        this(stream, reference, hostNanos, DEFAULT_REANCHOR_PERIOD_NANOS);
    }

    public DeviceClock(Stream stream, Event reference, LongSupplier hostNanos, long reanchorPeriodNanos) {
        if (reanchorPeriodNanos < 0) {
            throw new IllegalArgumentException("re-anchor period " + reanchorPeriodNanos + " ns; allowed: >= 0");
        }
        this.stream = stream;
        this.reference = reference;
        this.hostNanos = hostNanos;
        this.reanchorPeriodNanos = reanchorPeriodNanos;
    }

    /**
     * Records the reference event, waits for it, reads the host clock; again while the read came more than
     * {@link #ANCHOR_WINDOW_NANOS} after the record (Note [device clock anchor]). Costs one to
     * {@link #ANCHOR_TRIES} stream synchronisations.
     */
    public void anchor() {
        for (int attempt = 0; attempt < ANCHOR_TRIES; attempt++) {
            long before = hostNanos.getAsLong();
            stream.record(reference);
            reference.synchronize();
            anchorHostNanos = hostNanos.getAsLong();
            anchorWindowNanos = anchorHostNanos - before;
            if (anchorWindowNanos <= ANCHOR_WINDOW_NANOS) {
                break;
            }
        }
        anchoredAtNanos = anchorHostNanos;
        anchored = true;
    }

    /** The first anchor's record-to-read window: how late, at most, its mapped times are (before any drift). */
    public long anchorWindowNanos() {
        requireAnchored();
        return anchorWindowNanos;
    }

    /**
     * See Note [re-anchoring]. {@code observed} is a done event of this stream's device that the
     * host just waited for, {@code observedHostNanos} the host clock read right after the wait.
     * Re-anchors when the period since the last anchor has passed; returns whether it did.
     */
    public boolean reanchor(Event observed, long observedHostNanos) {
        requireAnchored();
        if (observedHostNanos - anchoredAtNanos < reanchorPeriodNanos) {
            return false;
        }
        anchorHostNanos = observedHostNanos - observed.elapsedNanosSince(reference);
        anchoredAtNanos = observedHostNanos;
        return true;
    }

    /** Host time (same clock as the supplier) at which {@code event} completed; the event must be done. */
    public long hostNanos(Event event) {
        requireAnchored();
        return anchorHostNanos + event.elapsedNanosSince(reference);
    }

    private void requireAnchored() {
        if (!anchored) {
            throw new IllegalStateException("device clock of stream '" + stream.label() + "' was never anchored");
        }
    }
}
