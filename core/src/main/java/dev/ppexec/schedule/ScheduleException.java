package dev.ppexec.schedule;

/**
 * A schedule that cannot run as written. {@link #problem()} names the rank, the index in its list, the action and what
 * was expected; {@link #rank()} and {@link #index()} locate the first failing action. From the validator, the message
 * is the problem followed by {@link SchedulePrinter#grid(Schedule, int, int)} with that action marked.
 */
public final class ScheduleException extends RuntimeException {

    private final String problem;
    private final int rank;
    private final int index;

    private ScheduleException(String message, String problem, int rank, int index) {
        super(message);
        this.problem = problem;
        this.rank = rank;
        this.index = index;
    }

    ScheduleException(String problem, int rank, int index) {
        this(problem, problem, rank, index);
    }

    /** {@code rank r, index i, A: problem}; an index equal to the list's size means its end. */
    static ScheduleException at(int rank, int index, Action action, String problem) {
        return new ScheduleException("rank " + rank + ", index " + index + ", " + action + ": " + problem, rank, index);
    }

    /** The same failure, its message followed by {@code schedule}'s grid with the failing action marked. */
    ScheduleException withGrid(Schedule schedule) {
        String grid = SchedulePrinter.grid(schedule, rank, index).stripTrailing();
        return new ScheduleException(problem + "\n" + grid, problem, rank, index);
    }

    /** The failure in one line, without the grid. */
    public String problem() {
        return problem;
    }

    public int rank() {
        return rank;
    }

    public int index() {
        return index;
    }
}
