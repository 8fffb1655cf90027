package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.schedule.Action;
import dev.ppexec.schedule.ActionKind;
import dev.ppexec.schedule.Schedule;
import dev.ppexec.schedule.Schedules;
import dev.ppexec.schedule.SimResult;
import dev.ppexec.trace.TraceStage;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.withinPercentage;

/**
 * Note [shared device] and Note [contention in the simulator] on hand-laid traces of known costs: split 4,4 of toy,
 * rows 2, a forward alone costs 4 layers (and the head on rank 1), and while the other rank computes it runs
 * {@code 1 + κ·o} slower, o the share of it the other rank's forward overlaps. At M 1 the ranks take turns (o = 0); at
 * M 2 both start a forward together at every step, twice.
 */
class ContentionTest {

    private static final Partition SPLIT = Partition.balanced(8, 2);
    private static final double KAPPA = 0.25;
    private static final double LAYER_DECODE_NANOS = 1_000_000;
    private static final double HEAD_DECODE_NANOS = 500_000;
    private static final double LAYER_PREFILL_NANOS_PER_TOKEN = 20_000;
    private static final double HEAD_PREFILL_NANOS_PER_TOKEN = 10_000;
    private static final int ROWS = 2;
    private static final int PROMPT = 4;
    private static final int STEPS = 3;

    /** A forward of {@code rank} at {@code step} alone on the device. */
    private static double alone(int rank, int step) {
        return step == 0
                ? ROWS * PROMPT * (4 * LAYER_PREFILL_NANOS_PER_TOKEN + (rank == 1 ? HEAD_PREFILL_NANOS_PER_TOKEN : 0))
                : 4 * LAYER_DECODE_NANOS + (rank == 1 ? HEAD_DECODE_NANOS : 0);
    }

    private static List<SpanRecord> trace(int microBatches) {
        int requests = ROWS * microBatches;
        Map<String, Object> resource = SyntheticTrace.resource(SPLIT, requests, microBatches, PROMPT, STEPS);
        List<SpanRecord> spans = new ArrayList<>();
        long at = SyntheticTrace.T0;
        for (int step = 0; step <= STEPS; step++) {
            if (microBatches == 1) {
                for (int rank = 0; rank < 2; rank++) {
                    long d = Math.round(alone(rank, step));
                    forward(spans, rank, 0, step, at, d, resource);
                    at += d;
                }
                continue;
            }
            for (int pair = 0; pair < 2; pair++) {
                // rank 0 (no head) is the shorter: its other rank covers all of it; rank 1's is covered for short/long
                double shortNanos = alone(0, step) * (1 + KAPPA);
                double a = alone(1, step);
                double longNanos = (a + Math.sqrt(a * a + 4 * a * KAPPA * shortNanos)) / 2; // L = a·(1 + κ·S/L)
                forward(spans, 0, pair, step, at, Math.round(shortNanos), resource);
                forward(spans, 1, 1 - pair, step, at, Math.round(longNanos), resource);
                at += Math.round(longNanos);
            }
        }
        for (int rid = 0; rid < requests; rid++) {
            spans.add(SyntheticTrace.request(rid, STEPS, at - SyntheticTrace.T0, resource));
        }
        return spans;
    }

    private static void forward(List<SpanRecord> spans, int rank, int mb, int step, long at, long nanos,
                                Map<String, Object> resource) {
        for (int rid = mb * ROWS; rid < (mb + 1) * ROWS; rid++) {
            spans.add(SyntheticTrace.batch(TraceStage.RUN_BATCH_DEVICE, rank, -1, mb, step, rid, ROWS, at, at + nanos,
                    resource));
        }
    }

    /** The M 2 run first: the planner plans its workload (4 requests, so M 2 has rows 2). */
    private static List<TracedRun> bothRuns() {
        List<TracedRun> runs = new ArrayList<>(TracedRun.read("m2", trace(2)));
        runs.addAll(TracedRun.read("m1", trace(1)));
        return runs;
    }

    @Test
    void fit_sameStagesAloneAndShared_recoversSlowdownAndCostsAlone() {
        CostFit fit = CostFit.fit(bothRuns());

        assertThat(fit.contention().perOverlap()).isCloseTo(KAPPA, withinPercentage(1e-4));
        assertThat(fit.contention().groups()).isEqualTo(4); // prefill and decode of each rank
        assertThat(fit.contention().shared()).isTrue();
        assertThat(fit.decodeAt(ROWS).layerNanos()).isCloseTo(LAYER_DECODE_NANOS, withinPercentage(1e-4));
        assertThat(fit.decodeAt(ROWS).headNanos()).isCloseTo(HEAD_DECODE_NANOS, withinPercentage(1e-4));
        assertThat(fit.prefillAt(ROWS).layerNanos()).isCloseTo(LAYER_PREFILL_NANOS_PER_TOKEN, withinPercentage(1e-4));
        assertThat(fit.prefillAt(ROWS).headNanos()).isCloseTo(HEAD_PREFILL_NANOS_PER_TOKEN, withinPercentage(1e-4));
    }

    @Test
    void fit_everyStageAtOneOverlap_leavesCostsAsTraced() {
        CostFit fit = CostFit.fit(TracedRun.read("m2", trace(2)));

        assertThat(fit.contention().perOverlap()).isZero();
        assertThat(fit.contention().groups()).isZero();
        // rank 0's forwards were all overlapped: its 4 layers cost (1 + κ) times their cost alone
        assertThat(fit.decodeAt(ROWS).layerNanos()).isCloseTo(LAYER_DECODE_NANOS * (1 + KAPPA), withinPercentage(1e-4));
    }

    @Test
    void fit_slowerAloneThanShared_takesNoContention() {
        List<TracedRun> runs = new ArrayList<>(TracedRun.read("m1", trace(1)));
        runs.addAll(TracedRun.read("m2", SyntheticTrace.run(new SyntheticTrace.Costs(
                Map.of(ROWS, new CostFit.StageCosts(1_000, 500)), Map.of(ROWS, new CostFit.StageCosts(10_000, 5_000)),
                0, 0, 0), SPLIT, 2 * ROWS, 2, PROMPT, STEPS, 1_000_000)));

        Contention contention = CostFit.fit(runs).contention();
        assertThat(contention.fitted()).isNegative();
        assertThat(contention.perOverlap()).isZero();
    }

    @Test
    void fit_slowdownBeyondProcessorSharing_heldAtOne() {
        List<TracedRun> runs = new ArrayList<>(TracedRun.read("m1", trace(1)));
        runs.addAll(TracedRun.read("m2", SyntheticTrace.run(new SyntheticTrace.Costs(
                Map.of(ROWS, new CostFit.StageCosts(1_000_000, 500_000)),
                Map.of(ROWS, new CostFit.StageCosts(10_000_000, 5_000_000)), 0, 0, 0),
                SPLIT, 2 * ROWS, 2, PROMPT, STEPS, 1_000_000)));

        Contention contention = CostFit.fit(runs).contention();
        assertThat(contention.fitted()).isGreaterThan(Contention.MAX_PER_OVERLAP);
        assertThat(contention.perOverlap()).isEqualTo(Contention.MAX_PER_OVERLAP);
    }

    @Test
    void predict_sharedRanks_eachForwardSlowedByItsSimulatedOverlap() {
        List<TracedRun> runs = bothRuns();
        Planner planner = Planner.of(CostFit.fit(runs), runs);

        Planner.Candidate shared = planner.predict(SPLIT, Planner.SplitKind.balanced, 2);
        Schedule schedule = Schedules.generation(2, 2, STEPS);
        for (int rank = 0; rank < 2; rank++) {
            for (int phase = 0; phase < 2; phase++) {
                double own = 0, covered = 0;
                List<SimResult.Span> mine = forwards(schedule, shared.simulated(), rank, phase);
                for (SimResult.Span f : mine) {
                    own += f.duration();
                    for (SimResult.Span g : forwards(schedule, shared.simulated(), 1 - rank, -1)) {
                        covered += Math.max(0, Math.min(f.end(), g.end()) - Math.max(f.start(), g.start()));
                    }
                }
                double expected = alone(rank, phase == 0 ? 0 : 1) * (1 + KAPPA * covered / own);
                assertThat(covered).as("rank %d phase %d overlapped", rank, phase).isPositive();
                for (SimResult.Span f : mine) {
                    assertThat(f.duration()).as("rank %d phase %d", rank, phase).isCloseTo(expected, withinPercentage(1e-3));
                }
            }
        }
        Planner.Candidate single = planner.predict(Partition.balanced(8, 1), Planner.SplitKind.balanced, 2);
        for (SimResult.Span f : forwards(Schedules.generation(1, 2, STEPS), single.simulated(), 0, 1)) {
            assertThat(f.duration()).isCloseTo(8 * LAYER_DECODE_NANOS + HEAD_DECODE_NANOS, withinPercentage(1e-4));
        }
    }

    /** {@code rank}'s FORWARD spans of {@code phase} (0 prefill, 1 decode, -1 both). */
    private static List<SimResult.Span> forwards(Schedule schedule, SimResult sim, int rank, int phase) {
        List<SimResult.Span> out = new ArrayList<>();
        List<Action> actions = schedule.rank(rank);
        for (int i = 0; i < actions.size(); i++) {
            Action a = actions.get(i);
            if (a.kind() == ActionKind.FORWARD && (phase < 0 || (a.step() == 0 ? 0 : 1) == phase)) {
                out.add(sim.span(rank, i));
            }
        }
        return out;
    }
}
