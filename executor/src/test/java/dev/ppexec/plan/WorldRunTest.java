package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A world's rank files read as one run (Note [world runs] in TracedRun): a single-process synthetic trace split by
 * pp_rank into rank files as a world's rank processes write them (rank 0's holds the Req roots; each file has its own
 * host, pid, world rank and clock) plans as the unsplit trace does.
 */
class WorldRunTest {

    private static final Partition SPLIT = Partition.parse("5,3", 8);
    private static final SyntheticTrace.Costs COSTS = new SyntheticTrace.Costs(
            Map.of(2, new CostFit.StageCosts(1_000, 500), 4, new CostFit.StageCosts(800, 300)),
            Map.of(2, new CostFit.StageCosts(2_000_000, 1_000_000), 4, new CostFit.StageCosts(3_000_000, 1_200_000)),
            256, 10_000, 20_000);

    @Test
    void read_rankFilesOfOneWorld_oneRunWhoseFitAndCandidatesEqualTheUnsplitTraces() {
        List<SpanRecord> unsplit = SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 90_000_000);
        List<TracedRun> one = TracedRun.read("--input t.jsonl", unsplit);

        List<TracedRun> world = TracedRun.read(rankFiles("t", unsplit, 0));

        assertThat(world).hasSize(1);
        assertThat(world.getFirst().source()).isEqualTo("--input t.rank0.jsonl, t.rank1.jsonl");
        assertThat(world.getFirst().slices()).hasSameSizeAs(one.getFirst().slices());
        CostFit fit = CostFit.fit(world);
        assertThat(fit).isEqualTo(CostFit.fit(one));
        assertThat(table(Planner.of(fit, world).candidates(4)))
                .isEqualTo(table(Planner.of(CostFit.fit(one), one).candidates(4)));
        assertThat(world.getFirst().measured()).isEqualTo(one.getFirst().measured());
    }

    @Test
    void read_twoWorldsOfOneConfigurationAndASingleProcessRun_threeRuns() {
        List<SpanRecord> first = SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 90_000_000);
        List<SpanRecord> second = SyntheticTrace.run(COSTS, SPLIT, 4, 2, 8, 3, 80_000_000);
        List<TracedRun.Input> inputs = new ArrayList<>(rankFiles("a", first, 0));
        inputs.addAll(rankFiles("b", second, 5));
        inputs.add(new TracedRun.Input("--input c.jsonl", SyntheticTrace.run(COSTS, SPLIT, 4, 1, 8, 3, 60_000_000)));

        List<TracedRun> runs = TracedRun.read(inputs);

        assertThat(runs).extracting(TracedRun::source).containsExactly("--input a.rank0.jsonl, a.rank1.jsonl",
                "--input b.rank0.jsonl, b.rank1.jsonl", "--input c.jsonl");
        assertThat(runs).extracting(r -> r.measured().requestSpanNanos()).containsExactly(90_000_000L, 80_000_000L,
                60_000_000L);
        assertThat(runs).extracting(TracedRun::microBatches).containsExactly(2, 2, 1);
    }

    /** One line per candidate: what the plan table prints of it, at full precision. */
    private static List<String> table(List<Planner.Candidate> candidates) {
        return candidates.stream().map(c -> c.split() + " " + c.splitKind() + " M " + c.microBatches() + " "
                + c.tokensPerSecond() + " " + c.bubble() + " " + c.rowsObserved()).toList();
    }

    /** {@code NAME.rank{r}.jsonl} for r = 0, 1: the spans of pp_rank r (Req roots on rank 0) under rank r's resource. */
    private static List<TracedRun.Input> rankFiles(String name, List<SpanRecord> spans, long pidBase) {
        List<TracedRun.Input> files = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            Map<String, Object> resource = new HashMap<>(spans.getFirst().resource());
            resource.put("service.instance.id", name + r);
            resource.putAll(Map.of(SpanContract.HOST_NAME.name(), "r" + r + "host",
                    SpanContract.PROCESS_PID.name(), pidBase + 1000 + r, SpanContract.WORLD_RANK.name(), (long) r,
                    SpanContract.WORLD_SIZE.name(), 2L, SpanContract.CLOCK_OFFSET_NS.name(), r * 7_000_000L,
                    SpanContract.CLOCK_RTT_NS.name(), r * 50_000L));
            int rank = r;
            List<SpanRecord> mine = spans.stream()
                    .filter(s -> {
                        Integer pp = s.intAttribute(SpanContract.PP_RANK.name());
                        return (pp == null ? 0 : pp) == rank;
                    })
                    .map(s -> new SpanRecord(s.name(), s.startNanos(), s.endNanos(), s.attributes(), resource))
                    .toList();
            files.add(new TracedRun.Input("--input " + name + ".rank" + r + ".jsonl", mine));
        }
        return files;
    }
}
