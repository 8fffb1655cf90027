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
 * <p>Note [re-anchoring]: the host and device clocks may drift apart over a run. The anchor is
 * renewed without any extra synchronisation: when the host has just waited for an event of the
 * same device (a wait it does anyway) and read its clock at once, that reading is an upper bound
 * of the event's completion, exactly as the first anchor was; {@link #reanchor} moves the anchor
 * to it, at most once per period. The reference event stays the same, so times mapped before and
 * after stay comparable.
 */
public final class DeviceClock {

    /** How often the anchor is renewed from a host wait, at most. */
    public static final long DEFAULT_REANCHOR_PERIOD_NANOS = 1_000_000_000L;

    private final Stream stream;
    private final Event reference;
    private final LongSupplier hostNanos;
    private final long reanchorPeriodNanos;
    private long anchorHostNanos;
    private long anchoredAtNanos;
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

    /** Records the reference event, waits for it, reads the host clock. Costs one stream synchronisation. */
    public void anchor() {
        stream.record(reference);
        reference.synchronize();
        anchorHostNanos = hostNanos.getAsLong();
        anchoredAtNanos = anchorHostNanos;
        anchored = true;
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
