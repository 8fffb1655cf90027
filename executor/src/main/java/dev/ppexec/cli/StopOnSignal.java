package dev.ppexec.cli;

import java.io.PrintWriter;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Ctrl-C (SIGINT) or SIGTERM during a command: the JVM's shutdown hook interrupts the thread
 * running it (while it is {@linkplain #uninterruptible() interruptible}), which stops every rank
 * (the pipeline's failure path) and aborts outputs not yet committed; the hook waits for that at
 * most {@link #BOUND_MILLIS}, then prints the one stop line (the same in every phase: start-up,
 * warm-up, measured run, report writing, trace flush) and lets the JVM exit (status 130 or 143,
 * never 0). The command itself prints nothing more once {@link #signalled()}.
 */
final class StopOnSignal implements AutoCloseable {

    /** Ranks' stop bound (5 s) plus the trace flush bound (10 s), and a margin. */
    static final long BOUND_MILLIS = 17_000;

    static final String STOPPED = "stopped by a signal (SIGINT or SIGTERM): every rank stopped; finished outputs are "
            + "whole, unfinished ones are left as they were";

    /** The stop line of a command without ranks ({@code convert}, {@code report}). */
    static final String STOPPED_READING = "stopped by a signal (SIGINT or SIGTERM): finished outputs are whole, "
            + "unfinished ones are left as they were";

    /** A command's body, run under {@link #guard}. */
    @FunctionalInterface
    interface Body {
        Integer call(StopOnSignal signal) throws Exception;
    }

    private final CountDownLatch finished = new CountDownLatch(1);
    private final Object lock = new Object();
    private final Thread hook;
    private volatile boolean signalled;
    private volatile String traceNote = "";
    private boolean interruptible = true;

    private StopOnSignal(Thread worker, PrintWriter err, String command, String stopped) {
        this.hook = new Thread(() -> {
            synchronized (lock) {
                signalled = true;
                if (interruptible) {
                    worker.interrupt();
                }
            }
            boolean done = false;
            try {
                done = finished.await(BOUND_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            err.println(command + ": error: " + (done ? stopped + traceNote
                    : "stopped by a signal (SIGINT or SIGTERM): the run did not stop within " + BOUND_MILLIS + " ms"));
            err.flush();
        }, "ppexec-stop-on-signal");
    }

    /** Watches for a signal while the calling thread runs; close when done. */
    static StopOnSignal watch(PrintWriter err, String command) {
        return watch(err, command, STOPPED);
    }

    private static StopOnSignal watch(PrintWriter err, String command, String stopped) {
        StopOnSignal s = new StopOnSignal(Thread.currentThread(), err, command, stopped);
        Runtime.getRuntime().addShutdownHook(s.hook);
        return s;
    }

    /**
     * Runs a whole command under the hook: after a signal its failure (the interrupt's) is the stop
     * line's, not an error line of its own. {@code ranks}: whether it runs a pipeline ({@code bench})
     * or only reads and writes files ({@code convert}, {@code report}).
     */
    static Integer guard(PrintWriter err, String command, boolean ranks, Body body) throws Exception {
        try (StopOnSignal signal = watch(err, command, ranks ? STOPPED : STOPPED_READING)) {
            try {
                return body.call(signal);
            } catch (Exception e) {
                if (!signal.signalled()) {
                    throw e;
                }
                return 1; // the stop line is the signal hook's, whatever the phase
            }
        }
    }

    boolean signalled() {
        return signalled;
    }

    /** The run is traced: the stop line also says what its trace holds (Note [streaming spans] in TraceListener). */
    void traced() {
        traceNote = "; the trace holds the spans resolved before the stop, the requests it cut short marked ERROR";
    }

    /**
     * From here on a signal no longer interrupts the calling thread (whose interrupt flag this
     * clears): what is left (the trace's bounded flush) finishes, then the hook says the stop line.
     */
    void uninterruptible() {
        synchronized (lock) {
            interruptible = false;
            Thread.interrupted();
        }
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
