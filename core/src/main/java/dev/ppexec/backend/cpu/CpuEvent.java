package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Event;

/**
 * An event of the CPU backend. Each record takes a new generation; the event completes a
 * generation when the recording stream's worker reaches it, and keeps the host time of that moment.
 */
final class CpuEvent implements Event {

    private static final int SPINS = 256;

    private long recordedGeneration;
    private volatile long completedGeneration;
    private volatile long hostNanos = -1;
    private int waiters;

    synchronized long nextGeneration() {
        return ++recordedGeneration;
    }

    synchronized long latestGeneration() {
        return recordedGeneration;
    }

    void complete(long generation) {
        long now = System.nanoTime();
        synchronized (this) {
            if (generation > completedGeneration) {
                hostNanos = now;
                completedGeneration = generation;
            }
            if (waiters > 0) {
                notifyAll();
            }
        }
    }

    /** Waits until {@code generation} completed; spins briefly first, since a blocking hand-off costs ~12 µs. */
    void await(long generation) throws InterruptedException {
        for (int i = 0; i < SPINS && completedGeneration < generation; i++) {
            Thread.onSpinWait();
        }
        if (completedGeneration >= generation) {
            return;
        }
        synchronized (this) {
            while (completedGeneration < generation) {
                waiters++;
                try {
                    wait();
                } finally {
                    waiters--;
                }
            }
        }
    }

    long hostNanos() {
        return hostNanos;
    }

    @Override
    public boolean isDone() {
        return completedGeneration >= latestGeneration();
    }

    @Override
    public void synchronize() {
        try {
            await(latestGeneration());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for an event", e);
        }
    }

    @Override
    public long elapsedNanosSince(Event start) {
        CpuEvent from = (CpuEvent) start;
        if (!isDone() || !from.isDone() || hostNanos < 0 || from.hostNanos < 0) {
            throw new IllegalStateException("elapsed time asked of an event that has not completed");
        }
        return hostNanos - from.hostNanos;
    }

    @Override
    public void close() {
        // Nothing to free: an event is plain heap state.
    }
}
