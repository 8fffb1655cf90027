package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.trace.DeviceClock;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * What one rank did, one entry per timed action (a forward, or a receive's transfer): micro-batch,
 * step, host times of the launch, device times of the work. Arrays are sized once per run.
 *
 * <p>Device times are resolved off the hot path: each entry's start and end events come from a
 * ring of {@code depth} pairs, and an entry is read only when its pair is about to be reused, by
 * which time the stream has long passed it (if not, the rank waits for it: a bounded stall, never
 * an extra synchronisation per micro-batch).
 *
 * <p>Note [streaming records]: an entry's fields are written by one thread at a time (the rank's
 * scheduler thread during the run, the run's thread after the ranks stopped), and
 * {@link #resolved()} is published with release semantics after them, so the trace delivery thread
 * reads every entry below it without a lock. The rank pays one plain store per entry.
 */
final class ForwardLog {

    final int[] microBatch;
    final int[] step;
    final long[] cpuStartNanos;
    final long[] cpuEndNanos;
    final long[] deviceStartNanos;
    final long[] deviceEndNanos;
    private final Event[] starts;
    private final Event[] ends;
    private final DeviceClock clock;
    private int count;
    private int ended;
    /** Entries below this have their device times; read through {@link #RESOLVED}. */
    private int resolved;

    private static final VarHandle RESOLVED;

    static {
        try {
            RESOLVED = MethodHandles.lookup().findVarHandle(ForwardLog.class, "resolved", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    ForwardLog(Device device, DeviceClock clock, int capacity, int depth) {
        this.microBatch = new int[capacity];
        this.step = new int[capacity];
        this.cpuStartNanos = new long[capacity];
        this.cpuEndNanos = new long[capacity];
        this.deviceStartNanos = new long[capacity];
        this.deviceEndNanos = new long[capacity];
        this.clock = clock;
        this.starts = new Event[depth];
        this.ends = new Event[depth];
        for (int i = 0; i < depth; i++) {
            starts[i] = device.createEvent();
            ends[i] = device.createEvent();
        }
    }

    /** Claims the next entry; resolves the entry whose events it reuses. Returns the entry index. */
    int begin(int mb, int stepIndex, long cpuStart) {
        int i = count;
        int done = (int) RESOLVED.getOpaque(this);
        if (i - done >= starts.length) {
            resolve(done);
        }
        microBatch[i] = mb;
        step[i] = stepIndex;
        cpuStartNanos[i] = cpuStart;
        count = i + 1;
        return i;
    }

    Event startEvent(int entry) {
        return starts[entry % starts.length];
    }

    Event endEvent(int entry) {
        return ends[entry % ends.length];
    }

    void end(int entry, long cpuEnd) {
        cpuEndNanos[entry] = cpuEnd;
        ended = entry + 1;
    }

    /** Reads entry {@code entry}'s device times (the next unresolved one) and publishes it. */
    private void resolve(int entry) {
        Event end = endEvent(entry);
        end.synchronize();
        deviceStartNanos[entry] = clock.hostNanos(startEvent(entry));
        deviceEndNanos[entry] = clock.hostNanos(end);
        RESOLVED.setRelease(this, entry + 1);
    }

    /** Resolves every remaining entry; call after the streams are synchronised. */
    void resolveAll() {
        for (int i = (int) RESOLVED.getOpaque(this); i < count; i++) {
            resolve(i);
        }
    }

    /**
     * After a failure, with the rank stopped: resolves the entries whose work the device finished,
     * in order, up to the first that is unfinished (or was never fully launched). Never waits.
     */
    void resolveFinished() {
        for (int i = (int) RESOLVED.getOpaque(this); i < ended; i++) {
            if (!endEvent(i).isDone()) {
                return;
            }
            try {
                resolve(i);
            } catch (RuntimeException e) {
                return; // a failed device cannot time its events: the entries before this one are what it has
            }
        }
    }

    /** Entries whose device times are known and published (acquire: their fields are visible). */
    int resolved() {
        return (int) RESOLVED.getAcquire(this);
    }

    int count() {
        return count;
    }

    void close() {
        for (int i = 0; i < starts.length; i++) {
            starts[i].close();
            ends[i].close();
        }
    }
}
