package dev.ppexec.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT) or SIGTERM during a run: the JVM's shutdown hook interrupts the thread running
 * it, which stops every rank (the pipeline's failure path), flushes the trace and prints what it
 * has; the hook waits for that at most {@link #BOUND_MILLIS}, then lets the JVM exit (status 130 or
 * 143, never 0).
 */
final class StopOnSignal implements AutoCloseable {

    /** Ranks' stop bound (5 s) plus the trace flush bound (10 s), and a margin. */
    static final long BOUND_MILLIS = 17_000;

    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;
    private volatile boolean signalled;

    private StopOnSignal(Thread worker) {
        this.hook = new Thread(() -> {
            signalled = true;
            worker.interrupt();
            try {
                finished.await(BOUND_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "ppexec-stop-on-signal");
    }

    /** Watches for a signal while the calling thread runs; close when done. */
    static StopOnSignal watch() {
        StopOnSignal s = new StopOnSignal(Thread.currentThread());
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    boolean signalled() {
        return signalled;
    }

    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down: the hook is running and now returns
        }
    }
}
