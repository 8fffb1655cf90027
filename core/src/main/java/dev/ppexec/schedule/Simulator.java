package dev.ppexec.schedule;

import java.util.Objects;

/**
 * Dry run of a schedule on a pipelined device timeline, to compare schedules and find their bubbles.
 *
 * <p>Note [device timeline]: each rank has a compute stream and a copy stream. RECV, FORWARD, TOKENS and FEEDBACK run
 * on the compute stream in list order: a FORWARD takes the rank's forward cost, a TOKENS or FEEDBACK the copy cost;
 * a RECV completes at the later of the stream's time and its SEND's end, and takes no time itself. SENDs run on the
 * copy stream in list order: each takes the transfer cost and starts no earlier than the end of the same rank's
 * compute work on its micro-batch and step that comes before it in the list (its FORWARD, and a TOKENS after it).
 * An action at step 0 takes its costs from {@link CostModel#at}{@code (0)}, so prefill and decode may cost apart.
 */
public final class Simulator {

    private Simulator() {
    }

    /** Validates {@code schedule} (so a deadlock throws a {@link ScheduleException}), then times it. */
    public static SimResult simulate(Schedule schedule, CostModel costs) {
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(costs, "costs");
        costs.checkCovers(schedule.ranks());
        ScheduleValidator.validate(schedule);
        return Timeline.run(schedule, costs).result();
    }
}
