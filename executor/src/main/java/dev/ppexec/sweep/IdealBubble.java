package dev.ppexec.sweep;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.schedule.Action;
import dev.ppexec.schedule.ActionKind;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.Schedule;
import dev.ppexec.schedule.Schedules;
import dev.ppexec.schedule.SimResult;
import dev.ppexec.schedule.Simulator;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * The bubble a phase would have with equal stage times and free transfers: the schedule the
 * runtime interprets, timed by the dry-run {@link Simulator}, measured with the same
 * {@link PhaseFigures} as the real run. For prefill this is fill-drain's (P−1)/(M+P−1); for the
 * decode ring it is what the ring leaves idle (1 − M/P when M &lt; P, little when M ≥ P).
 */
public final class IdealBubble {

    private static final double UNIT_NANOS = 1e6;

    private IdealBubble() {}

    /** The ideal bubble of the forwards whose step passes {@code steps}, in a run of {@code decodeSteps}. */
    public static double of(int ranks, int microBatches, int decodeSteps, IntPredicate steps) {
        Schedule schedule = Schedules.generation(ranks, microBatches, decodeSteps);
        SimResult sim = Simulator.simulate(schedule, CostModel.uniform(1.0, 0.0));
        List<List<ActionRecord>> perRank = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            List<ActionRecord> records = new ArrayList<>();
            List<Action> actions = schedule.rank(r);
            for (int i = 0; i < actions.size(); i++) {
                Action a = actions.get(i);
                if (a.kind() != ActionKind.FORWARD) {
                    continue;
                }
                SimResult.Span s = sim.span(r, i);
                long start = Math.round(s.start() * UNIT_NANOS);
                long end = Math.round(s.end() * UNIT_NANOS);
                records.add(new ActionRecord(ActionRecord.Kind.FORWARD, a.microBatch(), a.step(), start, start, start, end));
            }
            perRank.add(records);
        }
        return PhaseFigures.of(perRank, steps).bubble();
    }
}
