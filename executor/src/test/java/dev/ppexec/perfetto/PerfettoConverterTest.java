package dev.ppexec.perfetto;

import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.perfetto.ChromeTrace.Flow;
import dev.ppexec.perfetto.ChromeTrace.Slice;
import dev.ppexec.perfetto.ChromeTrace.Thread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The converter on hand-written traces. p2-m2.jsonl is a P=2, M=2 run of 3 requests (rids 0 and
 * 1 in micro-batch 0, rid 2 in micro-batch 1), prefill and one decode step, times in round
 * microseconds after 1700000000000000000 ns, written per the span contract in JSON lines.
 */
class PerfettoConverterTest {

    static final long T0 = 1_700_000_000_000_000_000L;

    static ChromeTrace convert(String fixture, Path dir) throws IOException {
        Path out = dir.resolve("out.json");
        PerfettoConverter.convert(resource(fixture), out, false, m -> {
            throw new AssertionError("nothing may be skipped: " + m);
        });
        return ChromeTrace.read(out);
    }

    @Test
    void p2Trace_convertsToNestedSlicesPairedFlowsAndACpuAndStreamTrackPerRank(@TempDir Path dir) throws IOException {
        ChromeTrace t = convert("p2-m2.jsonl", dir);

        for (Slice s : t.slices()) {
            assertThat(s.ts()).as("ts of %s", s).isNotNegative();
            assertThat(s.dur()).as("dur of %s", s).isNotNegative();
        }
        assertSlicesNestOnEveryThread(t);
        assertEveryFlowStartHasExactlyOneFinish(t);

        assertThat(t.processes().values()).contains("testhost:Scheduler-PP0", "testhost:Scheduler-PP1");
        for (String rank : List.of("PP0", "PP1")) {
            int pid = t.pid("testhost:Scheduler-" + rank);
            assertThat(t.threads().entrySet().stream().filter(e -> e.getKey().pid() == pid).map(Map.Entry::getValue))
                    .as("tracks of %s", rank).contains("CPU").anyMatch(n -> n.matches("cpu stream \\d+"));
        }
        assertThat(t.thread(t.pid("testhost:Scheduler-PP0"), "cpu stream 1")).isNotNull();
        assertThat(t.thread(t.pid("testhost:Scheduler-PP1"), "cpu stream 3")).isNotNull();

        List<Flow> launches = t.flows().stream().filter(f -> f.phase().equals("s") && f.name().equals("launch")).toList();
        assertThat(launches).as("one launch arrow per rank, micro-batch and step").hasSize(8);
        for (Flow start : launches) {
            Flow finish = finishOf(t, start);
            Slice cpu = t.boundSlice(start);
            Slice device = t.boundSlice(finish);
            assertThat(cpu.name()).isEqualTo("run_batch_cpu");
            assertThat(device.name()).isEqualTo("run_batch_device");
            assertThat(device.args().get("pp_mb_id")).isEqualTo(cpu.args().get("pp_mb_id"));
            assertThat(device.args().get("step")).isEqualTo(cpu.args().get("step"));
            assertThat(device.ts()).as("device start of %s vs its launch %s", device, cpu).isGreaterThanOrEqualTo(cpu.ts());
        }
        List<Flow> transfers = t.flows().stream().filter(f -> f.phase().equals("s") && f.name().equals("pp transfer")).toList();
        assertThat(transfers).as("one send->recv arrow per micro-batch and step").hasSize(4);
        for (Flow start : transfers) {
            Slice send = t.boundSlice(start);
            Slice recv = t.boundSlice(finishOf(t, start));
            assertThat(send.name()).isEqualTo("pp_send");
            assertThat(recv.name()).isEqualTo("pp_recv");
            assertThat(t.processes().get(send.pid())).endsWith("-PP0");
            assertThat(t.processes().get(recv.pid())).endsWith("-PP1");
            assertThat(recv.args().get("pp_mb_id")).isEqualTo(send.args().get("pp_mb_id"));
        }
    }

    @Test
    void p2Trace_timesAreMicrosecondsSinceTheEpoch(@TempDir Path dir) throws IOException {
        ChromeTrace t = convert("p2-m2.jsonl", dir);
        Slice first = t.slicesNamed("run_batch_device").stream()
                .filter(s -> s.pid() == t.pid("testhost:Scheduler-PP1") && s.args().get("step").asInt() == 1
                        && s.args().get("pp_mb_id").asInt() == 1)
                .findFirst().orElseThrow();
        // The fixture's PP1 decode device slice of micro-batch 1: 362 us .. 402 us after T0.
        assertThat(first.ts()).isEqualByComparingTo(new BigDecimal(T0 / 1000 + 362));
        assertThat(first.dur()).isEqualByComparingTo("40");
    }

    @Test
    void p2Trace_perRequestCopiesOfALevel4SliceBecomeOneSliceListingTheirRids(@TempDir Path dir) throws IOException {
        ChromeTrace t = convert("p2-m2.jsonl", dir);
        List<Slice> cpu = t.slicesNamed("run_batch_cpu");
        assertThat(cpu).as("2 ranks x 2 micro-batches x 2 steps").hasSize(8);
        for (Slice s : cpu) {
            List<String> rids = new ArrayList<>();
            s.args().get("rids").forEach(r -> rids.add(r.asText()));
            assertThat(rids).as("rids of %s", s).isEqualTo(s.args().get("pp_mb_id").asInt() == 0 ? List.of("0", "1") : List.of("2"));
        }
        assertThat(t.slicesNamed("run_batch_device")).hasSize(8);
        assertThat(t.slicesNamed("pp_send")).hasSize(4);
        assertThat(t.slicesNamed("pp_recv")).hasSize(4);
    }

    @Test
    void p2Trace_eachRequestKeepsOneSlotPerRank_andRequestsOfOneMicroBatchGetTheirOwn(@TempDir Path dir) throws IOException {
        ChromeTrace t = convert("p2-m2.jsonl", dir);
        int pp0 = t.pid("testhost:Scheduler-PP0");
        Map<String, List<Thread>> threadsByRid = t.slices().stream()
                .filter(s -> s.pid() == pp0 && s.args().has("rid"))
                .collect(Collectors.groupingBy(s -> s.args().get("rid").asText(),
                        Collectors.mapping(Slice::thread, Collectors.toList())));
        assertThat(threadsByRid).containsOnlyKeys("0", "1", "2");
        threadsByRid.forEach((rid, threads) -> {
            assertThat(threads).as("slices of rid %s: waiting, prefill, decode, decode loop", rid).hasSize(4);
            assertThat(threads.stream().distinct()).as("slots of rid %s", rid).hasSize(1);
            assertThat(t.threads().get(threads.getFirst())).startsWith("req slot ");
        });
        assertThat(threadsByRid.get("0").getFirst()).isNotEqualTo(threadsByRid.get("1").getFirst());
    }

    @Test
    void collectorArray_twoResourcesScopesAndUnknownSpans_convertAsSpecified(@TempDir Path dir) throws IOException {
        ChromeTrace t = convert("collector-array.json", dir);
        assertSlicesNestOnEveryThread(t);
        assertEveryFlowStartHasExactlyOneFinish(t);
        int pp0 = t.pid("hostaaaa:Scheduler-PP0");
        int pp1 = t.pid("hostbbbb:Scheduler-PP1");
        int worker = t.pid("hostbbbb:ppexec-worker pid 22");
        t.pid("hostaaaa:Requests");

        Slice gc = t.slicesNamed("gc_pause").getFirst();
        assertThat(gc.thread()).as("a span of no rank stays on its thread's track").isEqualTo(t.thread(worker, "GC"));
        assertThat(gc.args().at("/collector/name").asText()).isEqualTo("G1 Young");
        assertThat(gc.args().at("/regions/1").asLong()).isEqualTo(5);
        assertThat(gc.args().get("ratio").asDouble()).isEqualTo(0.25);
        assertThat(gc.args().get("concurrent").asBoolean()).isFalse();

        Slice schedule = t.slicesNamed("schedule_batch").getFirst();
        assertThat(schedule.thread()).as("an unknown span of a rank goes to its scheduler thread's (CPU) track")
                .isEqualTo(t.thread(pp0, "CPU"));
        assertThat(schedule.args().get("queue_depth").asLong()).isEqualTo(3);
        assertThat(t.slicesNamed("run_batch_cpu").stream().filter(s -> s.pid() == pp0).findFirst().orElseThrow().thread())
                .as("the launch nests inside it on the same track").isEqualTo(schedule.thread());

        assertThat(t.slicesNamed("run_batch_device").stream().map(s -> t.threads().get(s.thread())))
                .containsExactlyInAnyOrder("cuda:0 stream 7", "cuda:1 stream 2");
        Flow transfer = t.flows().stream().filter(f -> f.phase().equals("s") && f.name().equals("pp transfer")).findFirst().orElseThrow();
        assertThat(t.boundSlice(transfer).pid()).isEqualTo(pp0);
        assertThat(t.boundSlice(finishOf(t, transfer)).pid()).as("the send pairs with the next rank's receive on another host")
                .isEqualTo(pp1);
        assertThat(t.slicesNamed("decode_forward").getFirst().pid()).isEqualTo(pp1);
        assertThat(t.slicesNamed("Req 7").getFirst().args().get("output_tokens").asLong()).isEqualTo(1);
    }

    @Test
    void deviceSliceStartingBeforeItsLaunch_getsNoArrow_andIsCounted(@TempDir Path dir) throws IOException {
        PerfettoConverter c = new PerfettoConverter();
        c.accept(batch("run_batch_cpu", 0, 100, 200, null));
        c.accept(batch("run_batch_device", 0, 50, 300, "cpu stream 1"));
        c.accept(batch("run_batch_cpu", 1, 300, 310, null));
        c.accept(batch("run_batch_device", 1, 310, 400, "cpu stream 1"));
        Path out = dir.resolve("skew.json");
        TraceCounts counts = c.write(out);
        assertThat(counts.flows()).isEqualTo(1);
        assertThat(counts.backwardFlows()).isEqualTo(1);
        ChromeTrace t = ChromeTrace.read(out);
        assertThat(t.flows()).hasSize(2);
        assertThat(t.boundSlice(t.flows().getFirst()).args().get("pp_mb_id").asInt()).isEqualTo(1);
    }

    @Test
    void slicesThatOverlapWithoutNesting_goToAnOverlapTrack(@TempDir Path dir) throws IOException {
        PerfettoConverter c = new PerfettoConverter();
        c.accept(batch("run_batch_device", 0, 0, 100, "cuda:0 stream 1"));
        c.accept(batch("run_batch_device", 1, 50, 150, "cuda:0 stream 1"));
        c.accept(batch("run_batch_device", 2, 100, 200, "cuda:0 stream 1"));
        Path out = dir.resolve("overlap.json");
        c.write(out);
        ChromeTrace t = ChromeTrace.read(out);
        assertSlicesNestOnEveryThread(t);
        int pid = t.pid("testhost:Scheduler-PP0");
        Map<Integer, String> laneOfMicroBatch = new HashMap<>();
        t.slices().forEach(s -> laneOfMicroBatch.put(s.args().get("pp_mb_id").asInt(), t.threads().get(s.thread())));
        assertThat(laneOfMicroBatch).containsEntry(0, "cuda:0 stream 1").containsEntry(1, "cuda:0 stream 1 (overlap 1)")
                .containsEntry(2, "cuda:0 stream 1");
        assertThat(t.thread(pid, "cuda:0 stream 1 (overlap 1)")).isNotNull();
    }

    @Test
    void processNames_addDpAndTpOnlyWhereTheyAreNotZero(@TempDir Path dir) throws IOException {
        PerfettoConverter c = new PerfettoConverter();
        c.accept(new SpanRecord("run_batch_cpu", T0, T0 + 1000, Map.of("pp_rank", 1L, "dp_rank", 1L, "tp_rank", 2L,
                "pp_mb_id", 0L, "step", 0L), Map.of("host.name", "longhostname.example")));
        c.accept(new SpanRecord("run_batch_cpu", T0, T0 + 1000, Map.of("pp_rank", 1L, "dp_rank", 0L, "tp_rank", 3L,
                "pp_mb_id", 0L, "step", 0L), Map.of("host.name", "longhostname.example")));
        c.accept(new SpanRecord("run_batch_cpu", T0, T0 + 1000, Map.of("pp_rank", 2L, "pp_mb_id", 0L, "step", 0L),
                Map.of("host.name", "longhostname.example")));
        Path out = dir.resolve("ranks.json");
        c.write(out);
        assertThat(ChromeTrace.read(out).processes().values()).containsExactlyInAnyOrder(
                "longhost:Scheduler-PP1-DP1-TP2", "longhost:Scheduler-PP1-TP3", "longhost:Scheduler-PP2");
    }

    @Test
    void nanosecondsAreWrittenExactly(@TempDir Path dir) throws IOException {
        PerfettoConverter c = new PerfettoConverter();
        c.accept(new SpanRecord("run_batch_cpu", T0 + 1, T0 + 1_000_002, Map.of("pp_rank", 0L, "pp_mb_id", 0L, "step", 0L),
                Map.of("host.name", "testhost")));
        Path out = dir.resolve("ns.json");
        c.write(out);
        Slice s = ChromeTrace.read(out).slices().getFirst();
        assertThat(s.ts()).isEqualByComparingTo("1700000000000000.001");
        assertThat(s.dur()).isEqualByComparingTo("1000.001");
    }

    static SpanRecord batch(String name, int microBatch, long startMicros, long endMicros, String stream) {
        Map<String, Object> attributes = new HashMap<>(Map.of("rid", String.valueOf(microBatch), "pp_rank", 0L,
                "pp_mb_id", (long) microBatch, "step", 0L));
        if (stream != null) {
            attributes.put("stream", stream);
        }
        return new SpanRecord(name, T0 + startMicros * 1000, T0 + endMicros * 1000, attributes, Map.of("host.name", "testhost"));
    }

    private static Flow finishOf(ChromeTrace t, Flow start) {
        List<Flow> finishes = t.flows().stream()
                .filter(f -> f.phase().equals("f") && f.id() == start.id() && f.name().equals(start.name())).toList();
        assertThat(finishes).as("finishes of %s", start).hasSize(1);
        return finishes.getFirst();
    }

    /** Any two slices on one (pid, tid) are disjoint or one contains the other. */
    static void assertSlicesNestOnEveryThread(ChromeTrace t) {
        Map<Thread, List<Slice>> byThread = t.slices().stream().collect(Collectors.groupingBy(Slice::thread));
        byThread.forEach((thread, slices) -> {
            for (Slice a : slices) {
                for (Slice b : slices) {
                    boolean disjoint = a.end().compareTo(b.ts()) <= 0 || b.end().compareTo(a.ts()) <= 0;
                    boolean aInB = a.ts().compareTo(b.ts()) >= 0 && a.end().compareTo(b.end()) <= 0;
                    boolean bInA = b.ts().compareTo(a.ts()) >= 0 && b.end().compareTo(a.end()) <= 0;
                    assertThat(disjoint || aInB || bInA).as("on %s (%s): %s and %s", thread, t.threads().get(thread), a, b)
                            .isTrue();
                }
            }
        });
    }

    /** Flow ids pair one start with one finish (same name and category), the finish bound to its enclosing slice. */
    static void assertEveryFlowStartHasExactlyOneFinish(ChromeTrace t) {
        Map<Long, List<Flow>> byId = t.flows().stream().collect(Collectors.groupingBy(Flow::id));
        assertThat(byId).isNotEmpty();
        byId.forEach((id, flows) -> {
            assertThat(flows).as("flow %d", id).hasSize(2);
            assertThat(flows.stream().map(Flow::phase)).as("flow %d", id).containsExactlyInAnyOrder("s", "f");
            assertThat(flows.stream().map(Flow::name).distinct()).as("flow %d", id).hasSize(1);
            assertThat(flows.stream().map(Flow::cat).distinct()).as("flow %d", id).hasSize(1);
            Flow f = flows.stream().filter(x -> x.phase().equals("f")).findFirst().orElseThrow();
            assertThat(f.bindingPoint()).isEqualTo("e");
        });
    }
}
