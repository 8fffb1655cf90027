package dev.ppexec.perfetto;

import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.perfetto.ChromeTrace.Slice;
import dev.ppexec.report.TraceReport;
import dev.ppexec.report.TraceReport.RankStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * ppexec's tools on a trace of sglang's own schema (../shared reference: sglang's trace.py and its
 * converter). sglang-pp2.json is written by hand to that schema: two requests (req-aaaa,
 * req-bbbb) on two PP ranks, both with DP rank 1 and TP rank 2 on host_id 0123456789abcdef
 * (thread ids 4101 and 4202); per request and rank a thread span under the root (module
 * sglang::request), prefill_forward and decode_forward below it, and below each a level-4
 * run_batch_cpu with pp_mb_id and no step; a tokenizer thread span without ranks (pid 4000) with a
 * {@code tokenize} slice 900-950 per request; the roots' parents are spans of an {@code smg}
 * resource. Slices come before their parents in the file, as a batch exporter writes them.
 * Times in microseconds after 1700000000000000000 ns:
 *
 * <pre>
 * run_batch_cpu   PP0: both prefill 1000-1300 (mb 0), req-aaaa decode 2000-2100 (mb 0), req-bbbb decode 2200-2350 (mb 1)
 *                 PP1: both prefill 1400-1800 (mb 0), req-aaaa decode 2150-2200 (mb 0), req-bbbb decode 2400-2600 (mb 1)
 * prefill_forward PP0 1000-1350, PP1 1400-1850 (each request); decode_forward PP0 a 2000-2150, b 2200-2400;
 *                 PP1 a 2150-2250, b 2400-2650
 * </pre>
 */
class SglangTraceTest {

    static final String PP0 = "01234567:Scheduler-PP0-DP1-TP2";
    static final String PP1 = "01234567:Scheduler-PP1-DP1-TP2";

    @Test
    void sglangTrace_convertsWithSglangsProcessNamesACpuTrackAndRequestSlots(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out.json");
        PerfettoConverter.convert(resource("sglang-pp2.json"), out, false, m -> {
            throw new AssertionError("nothing may be skipped: " + m);
        });
        ChromeTrace t = ChromeTrace.read(out);

        // sglang's converter: host_id[:8] + ":" + thread_label + "-PP{pp}-DP{dp}-TP{tp}"; smg spans in "smg".
        assertThat(t.processes().values()).containsExactlyInAnyOrder(PP0, PP1, "01234567:Tokenizer", "smg",
                "01234567:Requests");
        for (String rank : List.of(PP0, PP1)) {
            int pid = t.pid(rank);
            Map<String, List<Slice>> byThread = t.slices().stream().filter(s -> s.pid() == pid)
                    .collect(Collectors.groupingBy(s -> t.threads().get(s.thread())));
            assertThat(byThread.keySet()).as("tracks of %s", rank).containsExactlyInAnyOrder("CPU", "req slot 1", "req slot 2");
            // Two requests' copies of the prefill launch merge: 3 launches, not 4.
            assertThat(byThread.get("CPU")).extracting(Slice::name).containsExactly("run_batch_cpu", "run_batch_cpu",
                    "run_batch_cpu");
            assertThat(byThread.get("CPU").getFirst().args().get("pp_mb_id").asInt()).isZero();
            assertThat(byThread.get("CPU").getFirst().args().get("rids").toString()).isEqualTo("[\"req-aaaa\",\"req-bbbb\"]");
            assertThat(byThread.get("CPU").getFirst().args().has("step")).as("sglang's run_batch_cpu has no step").isFalse();
            assertThat(byThread.get("CPU").getLast().args().get("pp_mb_id").asInt()).isEqualTo(1);
            // Each request keeps its slot: req-aaaa's prefill and decode on slot 1, req-bbbb's on slot 2.
            for (String slot : List.of("req slot 1", "req slot 2")) {
                assertThat(byThread.get(slot)).extracting(Slice::name).containsExactly("prefill_forward", "decode_forward");
                assertThat(byThread.get(slot)).extracting(s -> s.args().get("rid").asText()).containsOnly(
                        slot.endsWith("1") ? "req-aaaa" : "req-bbbb");
            }
        }
        assertThat(t.slices().stream().filter(s -> s.pid() == t.pid("smg"))).extracting(Slice::name)
                .containsExactly("smg_request", "smg_request");
        assertThat(t.slices().stream().filter(s -> s.pid() == t.pid("01234567:Requests"))).hasSize(2);
        int tokenizer = t.pid("01234567:Tokenizer");
        assertThat(t.slices().stream().filter(s -> s.pid() == tokenizer).map(s -> t.threads().get(s.thread())))
                .as("the two requests' tokenize slices overlap: two slots").containsExactlyInAnyOrder("req slot 1", "req slot 2");
        assertThat(t.slices()).as("6 launches, 8 request slices, 2 tokenize, 2 roots, 2 smg spans").hasSize(20);
    }

    @Test
    void sglangTrace_reportsPerRankCpuFiguresAndSaysItHoldsNoDeviceTime() {
        TraceReport.Builder b = TraceReport.builder();
        OtlpJsonReader.read(resource("sglang-pp2.json"), false, b, m -> {
            throw new AssertionError("nothing may be skipped: " + m);
        });
        TraceReport report = b.build();

        assertThat(report.ranks()).extracting(r -> r.rank().label()).containsExactly("PP0-DP1-TP2", "PP1-DP1-TP2");
        RankStats pp0 = report.ranks().get(0);
        RankStats pp1 = report.ranks().get(1);
        // PP0: 300 + 100 + 150 us; PP1: 400 + 50 + 200 us; micro-batches 0 and 1 on each.
        assertThat(pp0.forwards()).isEqualTo(3);
        assertThat(pp0.microBatches()).isEqualTo(2);
        assertThat(pp0.cpuTotalNanos()).isEqualTo(550_000);
        assertThat(pp0.cpuMeanNanos()).isCloseTo(550_000 / 3.0, within(1e-6));
        assertThat(pp1.forwards()).isEqualTo(3);
        assertThat(pp1.microBatches()).isEqualTo(2);
        assertThat(pp1.cpuTotalNanos()).isEqualTo(650_000);
        assertThat(pp1.deviceSlices()).isZero();
        assertThat(report.run().requests()).isEqualTo(2);
        assertThat(report.run().requestSpanNanos()).as("first root start 900 to last root end 2700 us").isEqualTo(1_800_000);

        StringWriter text = new StringWriter();
        report.printText(new PrintWriter(text, true));
        assertThat(text.toString()).contains("device: the trace holds no device time for PP0-DP1-TP2, PP1-DP1-TP2")
                .contains("throughput: 2 requests in 1.800 ms; the trace holds no output_tokens")
                .contains("bubble: measured -, ideal - (the trace holds neither ppexec.decode_steps nor output_tokens)")
                .doesNotContain("0.000");
        Map<String, Object> json = report.toJson();
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) json.get("ranks");
        assertThat(rows.getFirst()).containsEntry("cpuTotalMs", 0.55).containsEntry("deviceTotalMs", null)
                .containsEntry("dp", 1).containsEntry("tp", 2);
    }
}
