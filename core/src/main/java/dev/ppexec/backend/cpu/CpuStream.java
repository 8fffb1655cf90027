package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;

/**
 * A CPU stream: a worker thread draining a preallocated ring of commands, so that a launch
 * enqueues and returns exactly as on a GPU, and enqueuing allocates nothing.
 *
 * <p>Note [cpu stream failure]: when a launch throws, the stream keeps the first failure, skips
 * every later launch, and still completes every later event record, so that no stream or host
 * thread waiting on this one hangs. {@link #synchronize()} rethrows the failure, and the device's
 * failure listener hears of it at once.
 */
final class CpuStream implements Stream {

    private static final int CAPACITY = 1 << 12;
    private static final int MASK = CAPACITY - 1;
    private static final int SPINS = 256;

    private static final byte LAUNCH = 1;
    private static final byte RECORD = 2;
    private static final byte WAIT = 3;

    private final CpuDevice device;
    private final String label;
    private final int id;
    private final Thread worker;

    // The ring: written by producers under `this`, read by the worker.
    private final byte[] kinds = new byte[CAPACITY];
    private final Object[] targets = new Object[CAPACITY];
    private final long[] firstArgs = new long[CAPACITY];
    private final int[] secondArgs = new int[CAPACITY];
    private volatile long tail;
    private volatile long head;

    private volatile boolean workerSleeping;
    private volatile boolean closing;
    private volatile Throwable failure;
    private volatile int hostWaiters;

    CpuStream(CpuDevice device, String label, int id) {
        this.device = device;
        this.label = label;
        this.id = id;
        this.worker = Thread.ofPlatform().daemon().name("cpu stream " + id + " (" + label + ")").unstarted(this::work);
        this.worker.start();
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public String label() {
        return label;
    }

    @Override
    public int id() {
        return id;
    }

    @Override
    public void launch(Launch launch, int tokens, int startPos) {
        enqueue(LAUNCH, (CpuLaunch) launch, tokens, startPos);
    }

    @Override
    public void record(Event event) {
        CpuEvent e = (CpuEvent) event;
        enqueue(RECORD, e, e.nextGeneration(), 0);
    }

    @Override
    public void waitFor(Event event) {
        CpuEvent e = (CpuEvent) event;
        enqueue(WAIT, e, e.latestGeneration(), 0);
    }

    private synchronized void enqueue(byte kind, Object target, long first, int second) {
        if (closing) {
            throw new IllegalStateException("cpu stream " + id + " (" + label + ") is closed");
        }
        long t = tail;
        while (t - head >= CAPACITY) {
            awaitHead(t - CAPACITY + 1);
        }
        int slot = (int) (t & MASK);
        kinds[slot] = kind;
        targets[slot] = target;
        firstArgs[slot] = first;
        secondArgs[slot] = second;
        tail = t + 1;
        if (workerSleeping) {
            notifyAll();
        }
    }

    /** Waits (holding no work) until the worker has consumed up to {@code target}. Called under `this`. */
    private void awaitHead(long target) {
        // hostWaiters is raised before head is read again: the worker writes head, then reads
        // hostWaiters, so one of the two always sees the other (both volatile).
        hostWaiters++;
        try {
            while (head < target) {
                wait();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for cpu stream " + id, e);
        } finally {
            hostWaiters--;
        }
    }

    @Override
    public void synchronize() {
        long target = tail;
        for (int i = 0; i < SPINS && head < target; i++) {
            Thread.onSpinWait();
        }
        if (head < target) {
            synchronized (this) {
                awaitHead(target);
            }
        }
        Throwable f = failure;
        if (f != null) {
            throw new StreamFailedException("cpu stream " + id + " (" + label + ") failed: " + f.getMessage(), f);
        }
    }

    Throwable failure() {
        return failure;
    }

    private void work() {
        while (true) {
            long h = head;
            if (h == tail && !idle(h)) {
                return;
            }
            int slot = (int) (h & MASK);
            execute(kinds[slot], targets[slot], firstArgs[slot], secondArgs[slot]);
            targets[slot] = null;
            head = h + 1;
            if (hostWaiters > 0) {
                synchronized (this) {
                    notifyAll();
                }
            }
        }
    }

    /** Waits for work at {@code h}; returns false when the stream is closed and drained. */
    private boolean idle(long h) {
        for (int i = 0; i < SPINS && h == tail; i++) {
            Thread.onSpinWait();
        }
        synchronized (this) {
            while (h == tail) {
                if (closing) {
                    return false;
                }
                workerSleeping = true;
                try {
                    wait();
                } catch (InterruptedException e) {
                    // Interrupt only comes from close(); loop to re-check.
                } finally {
                    workerSleeping = false;
                }
            }
        }
        return true;
    }

    private void execute(byte kind, Object target, long first, int second) {
        switch (kind) {
            case LAUNCH -> {
                if (failure == null && !closing) {
                    CpuLaunch launch = (CpuLaunch) target;
                    try {
                        launch.run((int) first, second);
                    } catch (Throwable t) {
                        failure = t;
                        device.streamFailed(this, launch, t);
                    }
                }
            }
            case RECORD -> ((CpuEvent) target).complete(first);
            case WAIT -> {
                try {
                    ((CpuEvent) target).await(first);
                } catch (InterruptedException e) {
                    // close() interrupts a worker stuck on an event that will never complete.
                    if (failure == null) {
                        failure = new IllegalStateException("cpu stream " + id + " closed while waiting for an event");
                    }
                }
            }
            default -> throw new AssertionError("unknown command " + kind);
        }
    }

    /**
     * Stops the worker: work already enqueued drains with launches skipped, records still complete.
     * Bounded: a worker stuck waiting on another stream's event is interrupted after 1 s.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closing) {
                return;
            }
            closing = true;
            notifyAll();
        }
        try {
            worker.join(1000);
            if (worker.isAlive()) {
                worker.interrupt();
                worker.join(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        device.forget(this);
    }

    boolean workerAlive() {
        return worker.isAlive();
    }
}
