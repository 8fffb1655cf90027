package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The fit from level 5's kernel slices (Note [per-layer costs] in CostFit) on a synthetic level-5 trace of known
 * per-layer costs: toy's 8 layers, layer 1 three times as slow as the others, a head and an embedding of their own.
 */
class PerLayerCostTest {

    private static final double NANOS = 1e-6;
    private static final Partition BALANCED = Partition.parse("4,4", 8);
    private static final CostFit.StageCosts PREFILL = CostFit.StageCosts.perLayer(
            layers(1_000, 3_000), 500, 100);
    private static final CostFit.StageCosts DECODE = CostFit.StageCosts.perLayer(
            layers(1_000_000, 3_000_000), 500_000, 100_000);
    private static final SyntheticTrace.Costs COSTS = new SyntheticTrace.Costs(Map.of(2, PREFILL), Map.of(2, DECODE),
            256, 10_000, 20_000);

    /** Eight layers of {@code nanos}, but layer 1 of {@code slowNanos}. */
    private static List<Double> layers(double nanos, double slowNanos) {
        List<Double> out = new ArrayList<>();
        for (int l = 0; l < 8; l++) {
            out.add(l == 1 ? slowNanos : nanos);
        }
        return out;
    }

    private static List<TracedRun> runs() {
        return TracedRun.read("--input k5.jsonl", SyntheticTrace.run(COSTS, BALANCED, 4, 2, 8, 3, 90_000_000));
    }

    @Test
    void fit_levelFiveTraceOfUnequalLayers_recoversEachLayerTheHeadAndTheEmbedding() {
        CostFit fit = CostFit.fit(runs());

        assertCosts(fit.prefillAt(2), PREFILL, "prefill");
        assertCosts(fit.decodeAt(2), DECODE, "decode");
        // rank 0: embedding and layers 0..3 (the slow one among them); rank 1: layers 4..7 and the head
        CostModel costs = fit.costModel(BALANCED, 4, 2, 8);
        assertThat(costs.forwardCost(0)).isCloseTo(100_000 + 6_000_000, within(NANOS));
        assertThat(costs.forwardCost(1)).isCloseTo(4_000_000 + 500_000, within(NANOS));
        assertThat(costs.prefill().forwardCost(0)).isCloseTo(16 * (100 + 6_000), within(NANOS));
    }

    /**
     * Balanced 4,4 puts the slow layer's 3 units and 3 more (and the embedding) on rank 0 against rank 1's 4 and the
     * head; the measured split 3,5 moves a layer off rank 0, and the simulator runs it faster.
     */
    @Test
    void candidates_oneSlowLayer_measuredSplitMovesLayersAwayFromItAndBeatsBalanced() {
        List<TracedRun> runs = runs();
        Planner planner = Planner.of(CostFit.fit(runs), runs);

        assertThat(planner.measuredSplit(2, 2).toString()).isEqualTo("3,5");
        Planner.Candidate measured = planner.predict(Partition.parse("3,5", 8), Planner.SplitKind.measured, 2);
        Planner.Candidate balanced = planner.predict(BALANCED, Planner.SplitKind.balanced, 2);
        assertThat(measured.simulated().makespan()).isLessThan(balanced.simulated().makespan());
        assertThat(measured.tokensPerSecond()).isGreaterThan(balanced.tokensPerSecond());
        assertThat(planner.candidates(2)).as("the measured split is among the candidates at M 2")
                .anyMatch(c -> c.splitKind() == Planner.SplitKind.measured && c.microBatches() == 2
                        && c.split().toString().equals("3,5"));
    }

    /** Without kernel slices (level 4) the same run is fitted as layers·L + last·H: one cost for every layer. */
    @Test
    void fit_levelFourTraceOfTheSameRun_solvesOneLayerCost() {
        List<TracedRun> levelFour = TracedRun.read("--input k4.jsonl",
                SyntheticTrace.run(COSTS, BALANCED, 4, 2, 8, 3, 90_000_000).stream()
                        .filter(s -> !s.attributes().containsKey("kernel")).toList());

        CostFit.StageCosts decode = CostFit.fit(levelFour).decodeAt(2);

        assertThat(decode.perLayerNanos()).isEmpty();
        assertThat(decode.layer(1)).isEqualTo(decode.layer(5));
    }

    @Test
    void read_kernelSliceOutsideAnyForwardOrOfNoLayer_isRefusedNamingIt() {
        List<SpanRecord> spans = SyntheticTrace.run(COSTS, BALANCED, 4, 2, 8, 3, 90_000_000);
        SpanRecord kernel = spans.stream().filter(s -> s.name().equals("matmul layers.1.wq")).findFirst().orElseThrow();
        Map<String, Object> elsewhere = new HashMap<>(kernel.attributes());
        elsewhere.put(SpanContract.STEP.name(), 99L);
        List<SpanRecord> orphan = new ArrayList<>(spans);
        orphan.add(new SpanRecord(kernel.name(), kernel.startNanos(), kernel.endNanos(), elsewhere, kernel.resource()));
        List<SpanRecord> noLayer = new ArrayList<>(spans);
        noLayer.add(new SpanRecord("matmul layers.8.wq", kernel.startNanos(), kernel.endNanos(), kernel.attributes(),
                kernel.resource()));

        assertThatThrownBy(() -> TracedRun.read("--input o.jsonl", orphan))
                .isInstanceOf(PlanInputException.class)
                .hasMessage("--input o.jsonl: kernel slice 'matmul layers.1.wq' has pp_rank 0, pp_mb_id 0, step 99, which "
                        + "name no run_batch_device span; allowed: kernel slices inside the run_batch_device of their "
                        + "forward (ppexec run --trace-level 5)");
        assertThatThrownBy(() -> CostFit.fit(TracedRun.read("--input l.jsonl", noLayer)))
                .isInstanceOf(PlanInputException.class)
                .hasMessage("--input l.jsonl: kernel slice 'matmul layers.8.wq' names no layer of the model (8 layers); "
                        + "allowed: layers.0..layers.7");
    }

    private static void assertCosts(CostFit.StageCosts actual, CostFit.StageCosts expected, String what) {
        assertThat(actual.perLayerNanos()).as(what + ": layers").hasSize(8);
        for (int l = 0; l < 8; l++) {
            assertThat(actual.perLayerNanos().get(l)).as(what + ": layer " + l)
                    .isCloseTo(expected.perLayerNanos().get(l), within(NANOS));
        }
        assertThat(actual.headNanos()).as(what + ": head").isCloseTo(expected.headNanos(), within(NANOS));
        assertThat(actual.embedNanos()).as(what + ": embedding").isCloseTo(expected.embedNanos(), within(NANOS));
    }
}
