package dev.ppexec.runtime;

/**
 * Hears of every timed action of a run as soon as its device times are known, on the run's trace
 * delivery thread (never a rank's thread: see {@link RecordDelivery}), in batches while the run
 * goes on. Used by tracing. Every call of one run comes from that one thread.
 */
public interface RunListener {

    /**
     * Whether this listener wants kernel slices (trace level 5): then the run records events between each
     * forward's launches and the forwards' records carry their times (Note [kernel slices] in ForwardLog). Asked
     * once, when the run is set up.
     */
    default boolean recordsKernels() {
        return false;
    }

    /** A run is about to start. */
    default void runStarted(RunInfo info) {}

    /**
     * One forward (kind FORWARD) or one transfer into a rank (kind RECV) of micro-batch {@code mb}
     * at {@code step}, in the order of the rank's log of that kind (not across ranks or kinds).
     * Times are epoch-free host nanoseconds ({@link System#nanoTime()}).
     */
    void action(RunInfo info, int rank, ActionRecord record);

    /**
     * The run ended, after the last action it resolved: {@code failure} is null when it
     * succeeded, else what stopped it (then the actions heard are those whose device times resolved
     * before the ranks stopped).
     */
    default void runFinished(RunInfo info, Throwable failure) {}
}
