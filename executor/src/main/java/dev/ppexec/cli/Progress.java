package dev.ppexec.cli;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

/**
 * The one progress bar on stderr, for {@code run} (steps) and {@code bench} (runs):
 * {@code [#########        ] 3/10 runs  P=2 M=4  12.0 s}. Drawn by whoever calls it (the runtime calls from the
 * thread that waits for the ranks, never from a rank), at most every {@code redrawNanos}, and only once the work has
 * taken {@code quietNanos}, so that short runs print nothing.
 */
final class Progress implements IntConsumer, AutoCloseable {

    private static final int WIDTH = 30;

    private final PrintWriter err;
    private final boolean enabled;
    private final String unit;
    private final int total;
    private final long quietNanos;
    private final long redrawNanos;
    private final LongSupplier clock;
    private final long startNanos;
    private long lastDrawNanos;
    private boolean drawn;

    Progress(PrintWriter err, boolean enabled, String unit, int total, long quietNanos, long redrawNanos,
             LongSupplier clock) {
        this.err = err;
        this.enabled = enabled;
        this.unit = unit;
        this.total = total;
        this.quietNanos = quietNanos;
        this.redrawNanos = redrawNanos;
        this.clock = clock;
        this.startNanos = clock.getAsLong();
    }

    /** A run's steps: quiet for the first second, redrawn at most 5 times a second. */
    static Progress steps(PrintWriter err, boolean enabled, int totalSteps) {
        return new Progress(err, enabled, "steps", totalSteps, 1_000_000_000L, 200_000_000L, System::nanoTime);
    }

    /** A sweep's runs, each drawn as it ends: {@link #draw} fits {@code Sweep.Progress}. */
    static Progress runs(PrintWriter err, boolean enabled) {
        return new Progress(err, enabled, "runs", 0, 0, 0, System::nanoTime);
    }

    /** {@code done} of the total given at the start. */
    @Override
    public void accept(int done) {
        draw(done, total, "");
    }

    /** {@code done} of {@code total}, and what ran last (may be empty). */
    synchronized void draw(int done, int total, String what) {
        long now = clock.getAsLong();
        if (!enabled || now - startNanos < quietNanos || (drawn && now - lastDrawNanos < redrawNanos)) {
            return;
        }
        lastDrawNanos = now;
        drawn = true;
        int filled = (int) ((long) WIDTH * Math.min(done, total) / Math.max(1, total));
        err.printf(Locale.ROOT, "\r[%s%s] %d/%d %s  %-24s %.1f s", "#".repeat(filled), " ".repeat(WIDTH - filled), done,
                total, unit, what, (now - startNanos) / 1e9);
        err.flush();
    }

    /** Ends the bar's line, if one was drawn. */
    @Override
    public synchronized void close() {
        if (drawn) {
            err.println();
            err.flush();
        }
    }
}
