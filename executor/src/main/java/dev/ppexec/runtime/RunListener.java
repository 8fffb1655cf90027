package dev.ppexec.runtime;

/**
 * Hears of every timed action of a run once its device times are known, on the thread that
 * resolved them (never a rank's hot path). Used by tracing.
 */
public interface RunListener {

    /** A run is about to start. */
    default void runStarted(RunInfo info) {}

    /**
     * One forward (kind FORWARD) or one transfer into a rank (kind RECV) of micro-batch {@code mb}
     * at {@code step}. Times are epoch-free host nanoseconds ({@link System#nanoTime()}).
     */
    void action(RunInfo info, int rank, ActionRecord record);

    /** The run ended (successfully or not). */
    default void runFinished(RunInfo info, boolean ok) {}
}
