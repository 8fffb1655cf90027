package dev.ppexec.perfetto;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.ppexec.cli.CliRun;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.perfetto.ChromeTrace.Flow;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

import static dev.ppexec.perfetto.PerfettoConverterTest.assertEveryFlowStartHasExactlyOneFinish;
import static dev.ppexec.perfetto.PerfettoConverterTest.assertSlicesNestOnEveryThread;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The rank files of a world, read as one trace (Note [merged world] in TraceFiles). The files are
 * made here from one in-process P=2 run, split by rank as a world's ranks write them: rank 0's
 * file holds the Req roots and PP0's subtrees, rank 1's only PP1's; each has its own host and pid
 * and the world attributes.
 */
class MergedWorldTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long RTT1_NANOS = 50_000;

    @TempDir
    static Path shared;
    static Path original;

    @BeforeAll
    static void tracedRun() {
        original = shared.resolve("orig.jsonl");
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--stages", "2", "--micro-batches", "2",
                "--requests", "4", "--prompt-len", "4", "--decode-steps", "3", "--warmup", "0", "--no-progress",
                "--trace-level", "4", "--trace-file", original.toString());
        assertThat(run.status()).as(run.err()).isZero();
    }

    @Test
    void convert_twoRankFiles_sameSlicesFlowsAndTracksAsOneFile_aProcessPerRankFile(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> Map.of());
        Path one = dir.resolve("one.json");
        Path merged = dir.resolve("merged.json");
        assertThat(CliRun.of("convert", "--input", original.toString(), "--output", one.toString()).status()).isZero();
        CliRun o = CliRun.of("convert", "--input", ranks.get(0).toString(), "--input", ranks.get(1).toString(),
                "--output", merged.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).doesNotContain("warning");

        ChromeTrace a = ChromeTrace.read(one);
        ChromeTrace b = ChromeTrace.read(merged);
        assertThat(slices(a)).isNotEmpty();
        assertThat(slices(b)).containsExactlyInAnyOrderElementsOf(slices(a));
        assertThat(flows(b)).containsExactlyInAnyOrderElementsOf(flows(a));
        assertThat(tracks(b)).containsExactlyInAnyOrderElementsOf(tracks(a));
        assertThat(b.processes().values()).contains("r0host:Scheduler-PP0", "r1host:Scheduler-PP1", "r0host:Requests");
        assertSlicesNestOnEveryThread(b);
        assertEveryFlowStartHasExactlyOneFinish(b);
        List<Flow> transfers = b.flows().stream().filter(f -> f.name().equals("pp transfer")).toList();
        assertThat(transfers).as("pp transfer arrows").isNotEmpty();
        for (Flow f : transfers) {
            assertThat(b.processes().get(f.pid())).as("%s", f)
                    .isEqualTo(f.phase().equals("s") ? "r0host:Scheduler-PP0" : "r1host:Scheduler-PP1");
        }
    }

    @Test
    void report_twoRankFiles_sameFiguresAsOneFile_andEachRanksClockUncertainty(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> Map.of());
        JsonNode one = reportJson("--input", original.toString());
        JsonNode merged = reportJson("--input", ranks.get(0).toString(), "--input", ranks.get(1).toString());
        assertThat(merged.get("run")).isEqualTo(one.get("run"));
        assertThat(merged.get("warnings")).isEmpty();
        assertThat(merged.get("ranks")).hasSize(2);
        for (int r = 0; r < 2; r++) {
            ObjectNode row = ((ObjectNode) merged.get("ranks").get(r)).deepCopy();
            assertThat(row.remove("host").asText()).isEqualTo("r" + r + "host");
            assertThat(row.remove("clockRttUs").asDouble()).isEqualTo(r == 0 ? 0.0 : RTT1_NANOS / 1e3);
            ObjectNode expected = ((ObjectNode) one.get("ranks").get(r)).deepCopy();
            expected.remove("host");
            expected.remove("clockRttUs");
            assertThat(row).isEqualTo(expected);
        }
        CliRun text = CliRun.of("report", "--input", ranks.get(0).toString(), "--input", ranks.get(1).toString());
        assertThat(text.out()).contains("clock: merged onto rank 0's clock within r0host:PP0 0.0 us, r1host:PP1 50.0 us "
                + "(ppexec.clock_rtt_ns)").doesNotContain("warning");
        assertThat(CliRun.of("report", "--input", original.toString()).out()).doesNotContain("clock:");
    }

    @Test
    void glob_expandsSorted_andAFileNamedTwiceCountsOnce(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> Map.of());
        JsonNode listed = reportJson("--input", ranks.get(1).toString(), "--input", ranks.get(0).toString());
        JsonNode globbed = reportJson("--input", dir.resolve("t.rank*.jsonl").toString());
        JsonNode twice = reportJson("--input", dir.resolve("t.rank?.jsonl").toString(), "--input",
                dir.resolve(".").resolve("t.rank1.jsonl").toString(), "--input", ranks.get(0).toString());
        assertThat(globbed).isEqualTo(listed);
        assertThat(twice).isEqualTo(listed);

        Path out = dir.resolve("o.json");
        CliRun none = CliRun.of("convert", "--input", dir.resolve("u.rank*.jsonl").toString(), "--output", out.toString());
        assertThat(none.status()).isEqualTo(2);
        assertThat(none.err().strip()).isEqualTo("convert: --input " + dir.resolve("u.rank*.jsonl")
                + ": no file matches; allowed: a glob that matches OTLP-JSON trace files, or a file");
        CliRun intoInput = CliRun.of("convert", "--input", dir.resolve("t.rank*.jsonl").toString(), "--output",
                ranks.get(1).toString());
        assertThat(intoInput.status()).isEqualTo(2);
        assertThat(intoInput.err()).contains("--input " + ranks.get(1) + " and --output " + ranks.get(1) + " name one file");
        assertThat(out).doesNotExist();
    }

    @Test
    void filesOfDifferentRuns_exit2_namingBothFilesTheFieldAndBothValues(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> r == 1 ? Map.of(SpanContract.RUN_SEED.name(), 8L) : Map.of());
        for (String command : new String[] {"convert", "report"}) {
            CliRun o = command.equals("convert")
                    ? CliRun.of("convert", "--input", ranks.get(0).toString(), "--input", ranks.get(1).toString(),
                    "--output", dir.resolve("o.json").toString())
                    : CliRun.of("report", "--input", ranks.get(0).toString(), "--input", ranks.get(1).toString());
            assertThat(o.status()).as(o.err()).isEqualTo(2);
            assertThat(o.err().strip()).startsWith(command + ": " + ranks.get(1) + ": ppexec.seed is 8, but "
                    + seed() + " in " + ranks.get(0) + "; allowed: the files of one run").doesNotContain("\n");
        }
        assertThat(dir.resolve("o.json")).doesNotExist();
    }

    @Test
    void aSpanInTwoFiles_exit2_andTwoFilesOfOneRank_exit2(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> Map.of());
        CliRun dup = CliRun.of("report", "--input", original.toString(), "--input", ranks.get(1).toString());
        assertThat(dup.status()).isEqualTo(2);
        assertThat(dup.err().strip()).matches("report: " + ranks.get(1) + ": span id [0-9a-f]{16} is also in "
                + original + "; allowed: each span in one file \\(the files of one run, each given once\\)");

        List<Path> again = split(dir, "u", 0, r -> Map.of(SpanContract.WORLD_RANK.name(), 0L));
        CliRun sameRank = CliRun.of("report", "--input", again.get(0).toString(), "--input", again.get(1).toString());
        assertThat(sameRank.status()).isEqualTo(2);
        assertThat(sameRank.err().strip()).isEqualTo("report: " + again.get(1) + ": holds world rank 0 "
                + "(ppexec.world.rank), as " + again.get(0) + " does; allowed: one file per rank of the world");
    }

    @Test
    void aWorldWithoutARanksFile_warnsNamingTheRank(@TempDir Path dir) throws IOException {
        List<Path> ranks = split(dir, "t", 0, r -> Map.of());
        CliRun report = CliRun.of("report", "--input", ranks.get(0).toString());
        assertThat(report.status()).as(report.err()).isZero();
        assertThat(report.out()).contains("warning: the trace holds spans of 1 of the run's 2 ranks (ppexec.stages); missing: PP1");
        CliRun convert = CliRun.of("convert", "--input", ranks.get(0).toString(), "--output", dir.resolve("o.json").toString());
        assertThat(convert.status()).as(convert.err()).isZero();
        assertThat(convert.out()).contains("warning: the trace files hold 1 of the world's 2 ranks (ppexec.world.size); missing: rank 1");
    }

    @Test
    void aFileSkewedByMoreThanItsRtt_warnsCountingTheTransfers_lessThanItsRtt_doesNot(@TempDir Path dir) throws IOException {
        long expected = transfersEarlierThan(RTT1_NANOS + 1_000);
        assertThat(expected).as("transfers in the run").isPositive();
        List<Path> skewed = split(dir, "t", RTT1_NANOS + 1_000, r -> Map.of());
        JsonNode report = reportJson("--input", dir.resolve("t.rank*.jsonl").toString());
        assertThat(report.get("warnings")).hasSize(1);
        assertThat(report.get("warnings").get(0).asText()).startsWith(expected + " pp_recv slices start before their "
                + "pp_send by more than the clock uncertainty they were merged with (ppexec.clock_rtt_ns of both ranks)");
        assertThat(skewed).hasSize(2);

        long within = transfersEarlierThan(RTT1_NANOS - 1_000);
        split(dir, "u", RTT1_NANOS - 1_000, r -> Map.of());
        assertThat(reportJson("--input", dir.resolve("u.rank*.jsonl").toString()).get("warnings"))
                .hasSize(within == 0 ? 0 : 1);
    }

    /** Pairs of PP0's pp_send and PP1's pp_recv whose receive starts before the send by more than RTT1 once shifted. */
    private static long transfersEarlierThan(long shiftNanos) {
        Map<List<Integer>, Long> sends = new HashMap<>();
        Map<List<Integer>, Long> recvs = new HashMap<>();
        OtlpJsonReader.read(original, false, (SpanRecord s) -> {
            List<Integer> key = List.of(s.intAttribute("pp_mb_id") == null ? -1 : s.intAttribute("pp_mb_id"),
                    s.intAttribute("step") == null ? -1 : s.intAttribute("step"));
            if (s.name().equals("pp_send")) {
                sends.put(key, s.startNanos());
            } else if (s.name().equals("pp_recv")) {
                recvs.put(key, s.startNanos());
            }
        }, m -> { });
        return sends.entrySet().stream().filter(e -> recvs.containsKey(e.getKey())
                && e.getValue() - (recvs.get(e.getKey()) - shiftNanos) > RTT1_NANOS).count();
    }

    private static JsonNode reportJson(String... inputs) throws IOException {
        List<String> args = new ArrayList<>(List.of("report", "--format", "json"));
        args.addAll(List.of(inputs));
        CliRun o = CliRun.of(args.toArray(String[]::new));
        assertThat(o.status()).as(o.err()).isZero();
        return JSON.readTree(o.out());
    }

    private static long seed() throws IOException {
        JsonNode line = JSON.readTree(Files.readAllLines(original).getFirst());
        for (JsonNode a : line.at("/resourceSpans/0/resource/attributes")) {
            if (a.get("key").asText().equals(SpanContract.RUN_SEED.name())) {
                return a.at("/value/intValue").asLong();
            }
        }
        throw new AssertionError("no seed in " + original);
    }

    /**
     * Writes {@code DIR/NAME.rank{r}.jsonl} for r = 0, 1 from the original run: each span goes to
     * its pp_rank's file (a Req root, without one, to rank 0's); rank 1's times are shifted
     * {@code rank1EarlierNanos} earlier; {@code extra} adds resource attributes per rank.
     */
    private static List<Path> split(Path dir, String name, long rank1EarlierNanos, IntFunction<Map<String, Object>> extra)
            throws IOException {
        List<Path> files = List.of(dir.resolve(name + ".rank0.jsonl"), dir.resolve(name + ".rank1.jsonl"));
        List<StringBuilder> out = List.of(new StringBuilder(), new StringBuilder());
        for (String text : Files.readAllLines(original)) {
            if (text.isBlank()) {
                continue;
            }
            JsonNode line = JSON.readTree(text);
            for (int r = 0; r < 2; r++) {
                ObjectNode copy = line.deepCopy();
                int rank = r;
                boolean any = false;
                for (JsonNode rs : copy.get("resourceSpans")) {
                    ArrayNode attributes = (ArrayNode) rs.at("/resource/attributes");
                    Map<String, Object> set = new HashMap<>(Map.of(SpanContract.HOST_NAME.name(), "r" + r + "host",
                            SpanContract.PROCESS_PID.name(), 1000L + r, SpanContract.WORLD_RANK.name(), (long) r,
                            SpanContract.WORLD_SIZE.name(), 2L, SpanContract.CLOCK_OFFSET_NS.name(), r == 0 ? 0L : 7_000_000L,
                            SpanContract.CLOCK_RTT_NS.name(), r == 0 ? 0L : RTT1_NANOS));
                    set.putAll(extra.apply(r));
                    for (int i = attributes.size() - 1; i >= 0; i--) {
                        if (set.containsKey(attributes.get(i).get("key").asText())) {
                            attributes.remove(i);
                        }
                    }
                    set.forEach((k, v) -> {
                        ObjectNode kv = attributes.addObject().put("key", k);
                        if (v instanceof Long n) {
                            kv.putObject("value").put("intValue", Long.toString(n));
                        } else {
                            kv.putObject("value").put("stringValue", v.toString());
                        }
                    });
                    for (JsonNode scope : rs.get("scopeSpans")) {
                        ArrayNode spans = (ArrayNode) scope.get("spans");
                        for (int i = spans.size() - 1; i >= 0; i--) {
                            if (rankOf(spans.get(i)) != rank) {
                                spans.remove(i);
                            } else if (rank == 1) {
                                shift((ObjectNode) spans.get(i), rank1EarlierNanos);
                            }
                        }
                        any |= !spans.isEmpty();
                    }
                }
                if (any) {
                    out.get(r).append(JSON.writeValueAsString(copy)).append('\n');
                }
            }
        }
        for (int r = 0; r < 2; r++) {
            Files.writeString(files.get(r), out.get(r));
        }
        return files;
    }

    private static int rankOf(JsonNode span) {
        for (JsonNode a : span.path("attributes")) {
            if (a.get("key").asText().equals(SpanContract.PP_RANK.name())) {
                return a.at("/value/intValue").asInt();
            }
        }
        return 0;
    }

    private static void shift(ObjectNode span, long earlierNanos) {
        for (String field : new String[] {"startTimeUnixNano", "endTimeUnixNano"}) {
            span.put(field, Long.toString(Long.parseLong(span.get(field).asText()) - earlierNanos));
        }
    }

    /** A slice as both pictures must hold it: its process named without the host. */
    private static List<String> slices(ChromeTrace t) {
        return t.slices().stream().map(s -> s.name() + " " + track(t, s.pid(), s.tid()) + " " + s.ts() + " " + s.dur()
                + " " + s.args()).toList();
    }

    private static List<String> flows(ChromeTrace t) {
        return t.flows().stream().map(f -> f.phase() + " " + f.name() + " " + track(t, f.pid(), f.tid()) + " " + f.ts()).toList();
    }

    private static List<String> tracks(ChromeTrace t) {
        return t.threads().keySet().stream().map(th -> track(t, th.pid(), th.tid())).toList();
    }

    private static String track(ChromeTrace t, int pid, int tid) {
        String process = t.processes().get(pid);
        return process.substring(process.indexOf(':') + 1) + "/" + t.threads().get(new ChromeTrace.Thread(pid, tid));
    }
}
