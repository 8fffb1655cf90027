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
 * that enqueued it. {@link #anchor()} may be called again (when the stream is idle) to bound drift.
 * The CPU backend's events go through the same code.
 */
public final class DeviceClock {

    private final Stream stream;
    private final Event reference;
    private final LongSupplier hostNanos;
    private long anchorHostNanos = Long.MIN_VALUE;
    private boolean anchored;

    public DeviceClock(Stream stream, Event reference, LongSupplier hostNanos) {
        this.stream = stream;
        this.reference = reference;
        this.hostNanos = hostNanos;
    }

    /** Records the reference event, waits for it, reads the host clock. Costs one stream synchronisation. */
    public void anchor() {
        stream.record(reference);
        reference.synchronize();
        anchorHostNanos = hostNanos.getAsLong();
        anchored = true;
    }

    /** Host time (same clock as the supplier) at which {@code event} completed; the event must be done. */
    public long hostNanos(Event event) {
        if (!anchored) {
            throw new IllegalStateException("device clock of stream '" + stream.label() + "' was never anchored");
        }
        return anchorHostNanos + event.elapsedNanosSince(reference);
    }
}
