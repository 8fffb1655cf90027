package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.Schedules;
import dev.ppexec.schedule.SimResult;
import dev.ppexec.schedule.Simulator;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The fit on synthetic traces of known costs (built in {@link SyntheticTrace}), and the planner's predictions against
 * the simulator. Split 5,3 gives the ranks different layer counts, so the layer and head costs are identifiable.
 */
class PlannerTest {

    private static final double NANOS = 1e-6;
    private static final Partition SPLIT = Partition.parse("5,3", 8);
    private static final SyntheticTrace.Costs COSTS = new SyntheticTrace.Costs(
            Map.of(2, new CostFit.StageCosts(1_000, 500), 4, new CostFit.StageCosts(800, 300)),
            Map.of(2, new CostFit.StageCosts(2_000_000, 1_000_000), 4, new CostFit.StageCosts(3_000_000, 1_200_000)),
            256, 10_000, 20_000);

    private static List<TracedRun> runs() {
        List<TracedRun> runs = new ArrayList<>();
        runs.addAll(TracedRun.read("m2", SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 90_000_000)));
        runs.addAll(TracedRun.read("m1", SyntheticTrace.run(COSTS, SPLIT, 4, 1, 8, 3, 60_000_000)));
        return runs;
    }

    @Test
    void fit_syntheticTraceOfKnownCosts_recoversThem() {
        CostFit fit = CostFit.fit(runs());

        for (int rows : List.of(2, 4)) {
            assertStage(fit.prefillAt(rows), COSTS.prefillPerToken().get(rows), "prefill at rows " + rows);
            assertStage(fit.decodeAt(rows), COSTS.decodePerForward().get(rows), "decode at rows " + rows);
        }
        assertThat(fit.transferNanosPerByte()).isCloseTo(256.0 / 1024, within(NANOS));
        assertThat(fit.prefillLaunchNanos()).isCloseTo(10_000, within(NANOS));
        assertThat(fit.decodeLaunchNanos()).isCloseTo(20_000, within(NANOS));
        assertThat(fit.observed(2)).isTrue();
        assertThat(fit.observed(3)).isFalse();
    }

    @Test
    void fit_betweenSeenRowCounts_interpolatesLinearly() {
        CostFit fit = CostFit.fit(runs());

        assertStage(fit.decodeAt(3), new CostFit.StageCosts(2_500_000, 1_100_000), "decode at rows 3");
        assertStage(fit.decodeAt(8), COSTS.decodePerForward().get(4), "decode at rows 8 holds rows 4's");
    }

    /** The traced configuration's prediction is the simulator's run of its schedule with the known costs. */
    @Test
    void traced_predictionOfTracedConfiguration_equalsTheSimulators() {
        List<TracedRun> runs = runs();
        Planner planner = Planner.of(CostFit.fit(runs), runs);
        TracedRun m2 = runs.getFirst();

        Planner.Candidate predicted = planner.traced(m2).predicted();

        // rows 2, prompt 8: prefill 16 tokens; decode per forward; transfers of 2 x 8 and 2 x 1 positions of dim 512
        CostModel prefill = new CostModel(List.of(16 * (5 * 1_000.0), 16 * (3 * 1_000.0 + 500)), 32768 / 4.0, 0);
        CostModel known = new CostModel(List.of(5 * 2e6, 3 * 2e6 + 1e6), 4096 / 4.0, 0).withPrefill(prefill);
        SimResult simulated = Simulator.simulate(Schedules.generation(2, 2, 3), known);
        assertThat(predicted.simulated().makespan()).isCloseTo(simulated.makespan(), within(NANOS));
        assertThat(predicted.bubble()).isCloseTo(simulated.bubble(), within(1e-12));
        double overhead = planner.overheadNanos(2);
        assertThat(predicted.tokensPerSecond()).isCloseTo(4 * 4 * 1e9 / (simulated.makespan() + overhead), within(1e-9));
        assertThat(overhead + simulated.makespan()).as("two runs, two forward counts: the overhead line passes both")
                .isCloseTo(90_000_000, within(1e-3));
    }

    /** One run: the overhead is a cost per forward, so at M 1 (half the forwards of M 2) it is half the traced one. */
    @Test
    void overhead_oneRun_scalesWithTheForwards() {
        List<TracedRun> runs = TracedRun.read("m2", SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 90_000_000));
        Planner planner = Planner.of(CostFit.fit(runs), runs);
        double simulated = planner.traced(runs.getFirst()).predicted().simulated().makespan();

        assertThat(planner.overheadNanos(2)).isCloseTo(90_000_000 - simulated, within(1e-3));
        assertThat(planner.overheadNanos(1)).isCloseTo((90_000_000 - simulated) / 2, within(1e-3));
    }

    /** The same configuration traced twice, once at half the speed (load): one fit reproduces neither. */
    @Test
    void disagreeing_tracesOfOneConfigurationAtTwoSpeeds_bothNamed() {
        // spans longer than the simulated makespans (about 70 and 76 ms), so that every overhead is positive
        List<TracedRun> agreeing = new ArrayList<>();
        for (String name : List.of("m2", "m2 again")) {
            agreeing.addAll(TracedRun.read(name, SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 200_000_000)));
        }
        agreeing.addAll(TracedRun.read("m1", SyntheticTrace.run(COSTS, SPLIT, 4, 1, 8, 3, 150_000_000)));
        List<TracedRun> slowed = new ArrayList<>(agreeing.subList(0, 1));
        slowed.addAll(TracedRun.read("m2 slow", SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 400_000_000)));
        slowed.add(agreeing.get(2));

        assertThat(Planner.of(CostFit.fit(agreeing), agreeing).disagreeing(agreeing, 0.15)).isEmpty();
        List<Planner.Traced> named = Planner.of(CostFit.fit(slowed), slowed).disagreeing(slowed, 0.15);
        assertThat(named).extracting(t -> t.run().source()).containsExactlyInAnyOrder("m2", "m2 slow");
    }

    /** A head as slow as three layers: the measured split gives the last rank fewer layers, and is faster. */
    @Test
    void candidates_slowHead_measuredSplitBeatsBalanced() {
        TreeMap<Integer, CostFit.StageCosts> perToken = new TreeMap<>(Map.of(8, new CostFit.StageCosts(1_000, 3_000)));
        TreeMap<Integer, CostFit.StageCosts> perForward = new TreeMap<>(Map.of(8, new CostFit.StageCosts(1e6, 3e6)));
        CostFit fit = new CostFit(SyntheticTrace.TOY, perToken, perForward, 0, 0, 0, Contention.NONE);
        List<TracedRun> traced = TracedRun.read("m2", SyntheticTrace.run(new SyntheticTrace.Costs(
                Map.of(8, perToken.get(8)), Map.of(8, perForward.get(8)), 0, 0, 0), SPLIT, 8, 1, 8, 3, 0));
        Planner planner = Planner.of(fit, traced);

        assertThat(planner.measuredSplit(2, 1).toString()).isEqualTo("6,2");
        List<Planner.Candidate> candidates = planner.candidates(2);
        Planner.Candidate measured = candidates.stream().filter(c -> c.splitKind() == Planner.SplitKind.measured
                && c.microBatches() == 4).findFirst().orElseThrow();
        Planner.Candidate balanced = candidates.stream().filter(c -> c.stages() == 2
                && c.splitKind() == Planner.SplitKind.balanced && c.microBatches() == 4).findFirst().orElseThrow();
        assertThat(measured.split().toString()).isEqualTo("6,2");
        assertThat(measured.tokensPerSecond()).isGreaterThan(balanced.tokensPerSecond());
        for (int i = 1; i < candidates.size(); i++) {
            assertThat(candidates.get(i).tokensPerSecond()).isLessThanOrEqualTo(candidates.get(i - 1).tokensPerSecond());
        }
    }

    @Test
    void read_traceWithoutItsConfiguration_namesTheAttribute() {
        List<SpanRecord> spans = SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 1).stream()
                .map(s -> new SpanRecord(s.name(), s.startNanos(), s.endNanos(), s.attributes(),
                        Map.of("host.name", "host")))
                .toList();

        assertThatThrownBy(() -> TracedRun.read("--input t.jsonl", spans))
                .isInstanceOf(PlanInputException.class)
                .hasMessage("--input t.jsonl: no resource attribute ppexec.model; allowed: a trace written by ppexec run"
                        + " (it records the run's configuration)");
    }

    @Test
    void fit_tracesOfTwoModels_isRefusedNamingBoth() {
        List<TracedRun> runs = new ArrayList<>(runs());
        List<SpanRecord> tiny = SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 1).stream()
                .map(s -> {
                    Map<String, Object> resource = new HashMap<>(s.resource());
                    resource.put(SpanContract.RUN_MODEL.name(), "tiny");
                    resource.put(SpanContract.RUN_SPLIT.name(), "2,2");
                    return new SpanRecord(s.name(), s.startNanos(), s.endNanos(), s.attributes(), resource);
                })
                .toList();
        runs.addAll(TracedRun.read("--input b.jsonl", tiny));

        assertThatThrownBy(() -> CostFit.fit(runs))
                .isInstanceOf(PlanInputException.class)
                .hasMessage("--input b.jsonl: model tiny differs from m2's toy; allowed: traces of one model");
    }

    private static void assertStage(CostFit.StageCosts actual, CostFit.StageCosts expected, String what) {
        assertThat(actual.layerNanos()).as(what + ": layer").isCloseTo(expected.layerNanos(), within(NANOS));
        assertThat(actual.headNanos()).as(what + ": head").isCloseTo(expected.headNanos(), within(NANOS));
    }
}
