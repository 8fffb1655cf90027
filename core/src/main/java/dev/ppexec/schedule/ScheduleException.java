package dev.ppexec.schedule;

/**
 * A schedule that cannot run as written. The message names the rank, the index in its list, the action and what was
 * expected; {@link #rank()} and {@link #index()} locate the first failing action for
 * {@link SchedulePrinter#grid(Schedule, int, int)}.
 */
public final class ScheduleException extends RuntimeException {

    private final int rank;
    private final int index;

    ScheduleException(String message, int rank, int index) {
        super(message);
        this.rank = rank;
        this.index = index;
    }

    /** {@code rank r, index i, A: problem}; an index equal to the list's size means its end. */
    static ScheduleException at(int rank, int index, Action action, String problem) {
        return new ScheduleException("rank " + rank + ", index " + index + ", " + action + ": " + problem, rank, index);
    }

    public int rank() {
        return rank;
    }

    public int index() {
        return index;
    }
}
