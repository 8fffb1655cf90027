package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.trace.DeviceClock;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Arrays;
import java.util.concurrent.locks.LockSupport;

/**
 * What one rank did, one entry per timed action (a forward, or a receive's transfer): micro-batch,
 * step, host times of the launch, device times of the work. Arrays are sized once per run, by a
 * window, not by the run's length (Note [bounded logs]).
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
 *
 * <p>Note [kernel slices]: at trace level 5 a forward log also keeps, per ring pair, one event
 * between each two launches of the stage's forward (made once, with the ring, for the longer of the
 * program's two launch lists: a shorter forward records the marks it does not use after its last
 * launch, StageProgram.launchBodyMarked), and resolves them
 * with the pair: launch i of an entry ran from mark i−1 (the entry's start event for the first)
 * to mark i (its end event for the last), on the device clock of the forward itself, so the
 * kernel slices tile the entry's device time. Below level 5 the marks are null and the rank pays
 * one comparison per forward. On CUDA the marks are {@code cuEventRecord}s between the launches
 * on the compute stream; a decode step replayed as a graph records the graph's own marks instead
 * (Note [decode graphs] in PipelineRun), which {@link #marksIn} ties to the entry.
 *
 * <p>Note [bounded logs]: the log is a ring of {@code window} entries (entry i lives in slot
 * {@code i % window}, its marks too), and an entry's slot is reused once every consumer has taken
 * it. The run's figures are one consumer: {@link ForwardTotals} adds each entry up as it resolves,
 * on the thread that resolves it, so they need no slot after that. A trace reader
 * ({@link RecordDelivery}) is the other, when there is one: it publishes what it took with release
 * semantics ({@link #taken(int)}), and a rank about to reuse a slot the reader has not taken yet
 * waits for it ({@link #stalls()} counts those waits) instead of growing. Since the window is at
 * least the event ring's depth, the reader can always take what the rank waits for: every entry
 * but the last {@code depth} is resolved by then. A reader that stops (its listener failed)
 * {@link #detach()}es, and the ranks go on alone.
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
    /** [ring pair] the events between an entry's launches (Note [kernel slices]); null below level 5. */
    private final Event[][] marks;
    /** [ring pair] where the entry's marks were recorded instead of {@link #marks} (a graph's), or null. */
    private final Event[][] recordedMarks;
    /** Marks per entry: the stage's launches − 1. */
    private final int marksPerEntry;
    /** [entry · marksPerEntry + i] host time of an entry's mark i; null below level 5. */
    private final long[] markNanos;
    /** Slots in the ring. */
    private final int window;
    /** What the run's figures add up, entry by entry as they resolve. */
    private final ForwardTotals totals = new ForwardTotals();
    /** Whether a reader takes entries (set before the rank starts); without one, a resolved slot is free. */
    private boolean reader;
    /** Times the rank waited for the reader to take a slot it was about to reuse. */
    private int stalls;
    private int count;
    private int ended;
    /** Entries below this have their device times; read through {@link #RESOLVED}. */
    private int resolved;
    /** Entries below this the reader has taken; read through {@link #TAKEN}. */
    private int taken;

    /** How long a rank ahead of the reader parks between looks. */
    private static final long STALL_PARK_NANOS = 100_000;

    private static final VarHandle RESOLVED;
    private static final VarHandle TAKEN;

    static {
        try {
            RESOLVED = MethodHandles.lookup().findVarHandle(ForwardLog.class, "resolved", int.class);
            TAKEN = MethodHandles.lookup().findVarHandle(ForwardLog.class, "taken", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    ForwardLog(Device device, DeviceClock clock, int window, int depth) {
        this(device, clock, window, depth, 0);
    }

    /**
     * {@code window}: slots in the ring, at least {@code depth} (or 0 for a log that takes no entries);
     * {@code launches}: the launches of a forward whose kernel slices are kept (level 5), or 0 for none.
     */
    ForwardLog(Device device, DeviceClock clock, int window, int depth, int launches) {
        if (window != 0 && window < depth) {
            throw new IllegalArgumentException("window " + window + " is below the event ring's depth " + depth);
        }
        this.window = window;
        this.microBatch = new int[window];
        this.step = new int[window];
        this.cpuStartNanos = new long[window];
        this.cpuEndNanos = new long[window];
        this.deviceStartNanos = new long[window];
        this.deviceEndNanos = new long[window];
        this.clock = clock;
        this.starts = new Event[depth];
        this.ends = new Event[depth];
        this.marksPerEntry = Math.max(0, launches - 1);
        this.marks = launches > 0 ? new Event[depth][marksPerEntry] : null;
        this.recordedMarks = launches > 0 ? new Event[depth][] : null;
        this.markNanos = launches > 0 ? new long[Math.multiplyExact(window, marksPerEntry)] : null;
        // A failure half-way (a device out of events) frees the events already made.
        try {
            for (int i = 0; i < depth; i++) {
                starts[i] = device.createEvent();
                ends[i] = device.createEvent();
                for (int j = 0; j < marksPerEntry; j++) {
                    marks[i][j] = device.createEvent();
                }
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /**
     * Claims the next entry; resolves the entry whose events it reuses, and waits for the reader
     * to take the one whose slot it reuses (Note [bounded logs]). Returns the entry index.
     */
    int begin(int mb, int stepIndex, long cpuStart) throws InterruptedException {
        int i = count;
        int done = (int) RESOLVED.getOpaque(this);
        if (i - done >= starts.length) {
            resolve(done);
        }
        if (reader && i - (int) TAKEN.getAcquire(this) >= window) {
            awaitReader(i);
        }
        if (recordedMarks != null) {
            recordedMarks[i % starts.length] = null;
        }
        int s = slot(i);
        microBatch[s] = mb;
        step[s] = stepIndex;
        cpuStartNanos[s] = cpuStart;
        count = i + 1;
        return i;
    }

    private void awaitReader(int entry) throws InterruptedException {
        stalls++;
        while (entry - (int) TAKEN.getAcquire(this) >= window) {
            if (Thread.interrupted()) {
                throw new InterruptedException("waiting for the trace reader to take entry " + (entry - window));
            }
            LockSupport.parkNanos(STALL_PARK_NANOS);
        }
    }

    /** The ring slot of {@code entry}: where its fields are, until the slot comes round again. */
    int slot(int entry) {
        return entry % window;
    }

    /** Makes the rank wait for a reader's {@link #taken(int)} before it reuses a slot; call before the rank starts. */
    void attachReader() {
        reader = true;
    }

    /** The reader took every entry below {@code upTo}: their slots may be reused (release). */
    void taken(int upTo) {
        TAKEN.setRelease(this, upTo);
    }

    /** The reader stopped: the rank no longer waits for it. */
    void detach() {
        TAKEN.setRelease(this, Integer.MAX_VALUE);
    }

    /** Times the rank waited for the reader; read after the rank stopped. */
    int stalls() {
        return stalls;
    }

    /** The run's figures, added up over the resolved entries; read after the rank stopped and the log resolved. */
    ForwardTotals totals() {
        return totals;
    }

    Event startEvent(int entry) {
        return starts[entry % starts.length];
    }

    Event endEvent(int entry) {
        return ends[entry % ends.length];
    }

    /** The events to record between the launches of {@code entry}'s forward; null below level 5. */
    Event[] marks(int entry) {
        return marks == null ? null : marks[entry % marks.length];
    }

    /** Marks per entry: the launches of the longest forward − 1; 0 below level 5. */
    int marksPerEntry() {
        return marksPerEntry;
    }

    /**
     * Level 5: {@code entry}'s marks are {@code recorded} (a graph's own events, recorded again at every replay)
     * instead of its ring pair's. Resolves every entry through {@code previous}, the entry that last used
     * {@code recorded} (−1 for none), now, before they are recorded again: its work has finished by then (Note
     * [decode graphs] in PipelineRun), and so has all work before it on the stream.
     */
    void marksIn(int entry, Event[] recorded, int previous) {
        for (int i = (int) RESOLVED.getOpaque(this); i <= previous; i++) {
            resolve(i);
        }
        recordedMarks[entry % starts.length] = recorded;
    }

    /** Host times of {@code entry}'s marks (a copy), once it is resolved; null below level 5. */
    long[] markNanos(int entry) {
        if (markNanos == null) {
            return null;
        }
        int from = slot(entry) * marksPerEntry;
        return Arrays.copyOfRange(markNanos, from, from + marksPerEntry);
    }

    void end(int entry, long cpuEnd) {
        cpuEndNanos[slot(entry)] = cpuEnd;
        ended = entry + 1;
    }

    /** Reads entry {@code entry}'s device times (the next unresolved one) and publishes it. */
    private void resolve(int entry) {
        Event end = endEvent(entry);
        end.synchronize();
        int s = slot(entry);
        deviceStartNanos[s] = clock.hostNanos(startEvent(entry));
        deviceEndNanos[s] = clock.hostNanos(end);
        if (marks != null) {
            Event[] recorded = recordedMarks[entry % starts.length];
            Event[] m = recorded != null ? recorded : marks(entry);
            for (int i = 0; i < marksPerEntry; i++) {
                markNanos[s * marksPerEntry + i] = clock.hostNanos(m[i]);
            }
        }
        totals.add(cpuStartNanos[s], cpuEndNanos[s], deviceStartNanos[s], deviceEndNanos[s]);
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


    void close() {
        for (int i = 0; i < starts.length; i++) {
            closeIfMade(starts[i]);
            closeIfMade(ends[i]);
            for (int j = 0; j < marksPerEntry; j++) {
                closeIfMade(marks[i][j]);
            }
        }
    }

    private static void closeIfMade(Event e) {
        if (e != null) {
            e.close();
        }
    }
}
