package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.trace.DeviceClock;

/**
 * What one rank did, one entry per timed action (a forward, or a receive's transfer): micro-batch,
 * step, host times of the launch, device times of the work. Arrays are sized once per run.
 *
 * <p>Device times are resolved off the hot path: each entry's start and end events come from a
 * ring of {@code depth} pairs, and an entry is read only when its pair is about to be reused, by
 * which time the stream has long passed it (if not, the rank waits for it: a bounded stall, never
 * an extra synchronisation per micro-batch).
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
    private int resolved;

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
        if (i - resolved >= starts.length) {
            resolve(resolved++);
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
    }

    private void resolve(int entry) {
        Event end = endEvent(entry);
        end.synchronize();
        deviceStartNanos[entry] = clock.hostNanos(startEvent(entry));
        deviceEndNanos[entry] = clock.hostNanos(end);
    }

    /** Resolves every remaining entry; call after the streams are synchronised. */
    void resolveAll() {
        while (resolved < count) {
            resolve(resolved++);
        }
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
