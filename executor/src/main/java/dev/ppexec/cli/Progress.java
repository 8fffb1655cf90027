package dev.ppexec.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.IntConsumer;

/** A progress line on stderr, shown only for runs longer than a second, redrawn at most 5 times a second. */
final class Progress implements IntConsumer, AutoCloseable {

    private static final long QUIET_NANOS = 1_000_000_000L;
    private static final long REDRAW_NANOS = 200_000_000L;

    private final PrintWriter err;
    private final boolean enabled;
    private final int total;
    private final long startNanos = System.nanoTime();
    private long lastDrawNanos;
    private boolean drawn;

    private Progress(PrintWriter err, boolean enabled, int total) {
        this.err = err;
        this.enabled = enabled;
        this.total = total;
    }

    static Progress start(PrintWriter err, boolean enabled, int totalSteps) {
        return new Progress(err, enabled, totalSteps);
    }

    /** Steps whose last micro-batch has been launched on the last rank. */
    @Override
    public synchronized void accept(int stepsDone) {
        long now = System.nanoTime();
        if (!enabled || now - startNanos < QUIET_NANOS || now - lastDrawNanos < REDRAW_NANOS) {
            return;
        }
        lastDrawNanos = now;
        drawn = true;
        int width = 30;
        int filled = (int) ((long) width * stepsDone / Math.max(1, total));
        err.printf(Locale.ROOT, "\r[%s%s] step %d/%d  %.1f s", "#".repeat(filled), " ".repeat(width - filled), stepsDone,
                total, (now - startNanos) / 1e9);
        err.flush();
    }

    @Override
    public synchronized void close() {
        if (drawn) {
            err.println();
        }
    }
}
