package dev.ppexec.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import dev.ppexec.otel.MetricLines;
import dev.ppexec.perfetto.ChromeTrace;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ranks as real processes on this host, over loopback: {@code ppexec launch} gives the in-process run's tokens,
 * a killed rank ends the others naming it, a mismatch exits 2 on every rank, and no rank outlives the launcher.
 * Every process a test starts is checked gone by its process id.
 */
@Timeout(120)
class LaunchTest {

    static final String[] TINY_RUN = {"run", "--model", "tiny", "--device", "cpu", "--requests", "6", "--micro-batches",
            "3", "--prompt-len", "8", "--decode-steps", "10", "--warmup", "0", "--no-progress"};
    /** Long enough on this machine to be killed mid-run: toy, 2 x 400 decode steps. */
    static final String[] LONG_RUN = {"run", "--model", "toy", "--device", "cpu", "--requests", "4", "--micro-batches",
            "2", "--prompt-len", "8", "--decode-steps", "400", "--warmup", "0", "--no-progress"};

    @TempDir
    Path dir;

    private static List<String> requestLines(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix + "request ")).map(l -> l.substring(prefix.length())).toList();
    }

    private static List<ProcessHandle> ranksOfThisJvm() {
        return ProcessHandle.current().descendants()
                .filter(h -> h.info().commandLine().orElse("").contains("dev.ppexec.cli.Main")).toList();
    }

    @Test
    void launch_twoProcesses_giveTheInProcessTokens_andLeaveNoProcess() throws IOException {
        Path threadsReport = dir.resolve("threads.json");
        CliRun threads = CliRun.of(concat(TINY_RUN, "--stages", "2", "--report", threadsReport.toString()));
        assertThat(threads.status()).as(threads.err()).isZero();
        Path report = dir.resolve("world.json");
        List<Path> portDirsBefore = launchPortDirectories();
        CliRun launched = CliRun.of(concat(concat(new String[] {"launch", "--nproc", "2", "--"}, TINY_RUN), "--report",
                report.toString()));
        assertThat(launched.status()).as(launched.err()).isZero();
        assertThat(launched.out()).contains("[PP 0] report: " + report).doesNotContain("[PP 1] report:");
        JsonNode world = new ObjectMapper().readTree(report.toFile()).get("tokens");
        assertThat(world).as("rank 0 owns --report: the tokens of every request").hasSize(6)
                .isEqualTo(new ObjectMapper().readTree(threadsReport.toFile()).get("tokens"));
        List<String> expected = requestLines(threads.out(), "");
        assertThat(expected).hasSize(6);
        assertThat(requestLines(launched.out(), "[PP 0] ")).isEqualTo(expected);
        assertThat(launched.out()).contains("[PP 1] rank 1 of 2: stage 1 (layers 2) done; rank 0 has the results")
                .contains("[PP 0] world: 2 ranks (torchrun), rank 0 at 127.0.0.1:")
                .contains("0 call(s) refused").doesNotContain(WorldToken.VARIABLE + "=");
        assertThat(launched.out()).as("Note [rank 0 binds first]: the port rank 0 bound, not the 0 it was given")
                .containsPattern("\\[PP 0\\] world: 2 ranks \\(torchrun\\), rank 0 at 127\\.0\\.0\\.1:[1-9][0-9]*;");
        assertThat(launched.err()).as("Note [rank 0 binds first]: rank 1 read that port")
                .containsPattern("\\[PP 1\\] world: rank 1 of 2 joined \\(rank 0 at 127\\.0\\.0\\.1:[1-9][0-9]*,");
        assertThat(launchPortDirectories()).as("the launcher removes the directory of rank 0's port")
                .isEqualTo(portDirsBefore);
        assertThat(ranksOfThisJvm()).as("no rank process outlives the launcher").isEmpty();
    }

    /** The launchers' port directories in the temporary directory (Note [rank 0 binds first] in World). */
    private static List<Path> launchPortDirectories() throws IOException {
        try (var entries = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return entries.filter(p -> p.getFileName().toString().startsWith("ppexec-launch-")).sorted().toList();
        }
    }

    /** One rank's trace file: its resource attributes and its spans (OTLP-JSON lines, read with Jackson). */
    private record RankTrace(Map<String, JsonNode> resource, List<JsonNode> spans) {

        static RankTrace read(Path file) throws IOException {
            Map<String, JsonNode> resource = new HashMap<>();
            List<JsonNode> spans = new ArrayList<>();
            ObjectMapper json = new ObjectMapper();
            for (String line : Files.readAllLines(file)) {
                for (JsonNode rs : json.readTree(line).get("resourceSpans")) {
                    rs.get("resource").get("attributes").forEach(a -> resource.put(a.get("key").asText(), a.get("value")));
                    for (JsonNode ss : rs.get("scopeSpans")) {
                        ss.get("spans").forEach(spans::add);
                    }
                }
            }
            return new RankTrace(resource, spans);
        }

        long resourceLong(String key) {
            return resource.get(key).get("intValue").asLong();
        }

        List<JsonNode> named(String prefix) {
            return spans.stream().filter(s -> s.get("name").asText().startsWith(prefix)).toList();
        }
    }

    private static String attribute(JsonNode span, String key) {
        for (JsonNode a : span.get("attributes")) {
            if (a.get("key").asText().equals(key)) {
                return a.get("value").elements().next().asText();
            }
        }
        return null;
    }

    /** pp_send or pp_recv spans (one per request) by "request/micro-batch/step". */
    private static Map<String, JsonNode> transfers(RankTrace t, String name) {
        Map<String, JsonNode> out = new HashMap<>();
        for (JsonNode s : t.named(name)) {
            assertThat(out.put(attribute(s, "rid") + "/" + attribute(s, "pp_mb_id") + "/" + attribute(s, "step"), s))
                    .as("one %s per request and step", name).isNull();
        }
        return out;
    }

    @Test
    void launch_traced_writesAFilePerRank_oneTracePerRequest_recvAfterSendOnRankZerosClock() throws IOException {
        Path trace = dir.resolve("t.jsonl");
        Path perfetto = dir.resolve("world.perfetto.json");
        CliRun launched = CliRun.of(concat(concat(new String[] {"launch", "--nproc", "2", "--perfetto", perfetto.toString(),
                "--"}, TINY_RUN), "--trace-file", trace.toString()));
        assertThat(launched.status()).as(launched.err()).isZero();
        assertThat(trace).doesNotExist();
        assertThat(launched.out()).contains("[PP 0] trace: ").contains(" to " + dir.resolve("t.rank0.jsonl"))
                .contains(" to " + dir.resolve("t.rank1.jsonl"));
        assertThat(launched.err()).containsPattern("\\[PP 1\\] world: rank 1 of 2 joined .*; clock offset to rank 0: "
                + "[+-]\\d+\\.\\d us \\(rtt \\d+ us\\)");
        RankTrace rank0 = RankTrace.read(dir.resolve("t.rank0.jsonl"));
        RankTrace rank1 = RankTrace.read(dir.resolve("t.rank1.jsonl"));
        assertThat(rank0.resourceLong("ppexec.world.rank")).isZero();
        assertThat(rank1.resourceLong("ppexec.world.rank")).isEqualTo(1);
        assertThat(rank1.resourceLong("ppexec.world.size")).isEqualTo(2);
        assertThat(rank0.resourceLong("ppexec.clock_offset_ns")).isZero();
        assertThat(rank0.resourceLong("ppexec.clock_rtt_ns")).isZero();
        long rttNanos = rank1.resourceLong("ppexec.clock_rtt_ns");
        assertThat(rttNanos).isPositive();
        assertThat(rank1.resource()).containsKeys("ppexec.clock_offset_ns", "host.name", "process.pid", "ppexec.model");

        // Rank 0 owns the roots; rank 1's thread spans hang below them, in the same traces.
        Map<String, JsonNode> roots = new HashMap<>();
        rank0.named("Req ").forEach(s -> roots.put(attribute(s, "rid"), s));
        assertThat(roots).hasSize(6);
        assertThat(rank1.named("Req ")).isEmpty();
        assertThat(rank1.named("Scheduler [PP 0]")).isEmpty();
        List<JsonNode> threads1 = rank1.named("Scheduler [PP 1]");
        assertThat(threads1).hasSize(6);
        Map<String, String> threadIdsByRid = new HashMap<>();
        for (JsonNode t : threads1) {
            String spanId = t.get("spanId").asText();
            JsonNode root = rank1.spans().stream().filter(s -> s.get("parentSpanId") != null
                    && s.get("parentSpanId").asText().equals(spanId) && attribute(s, "rid") != null).findFirst()
                    .map(s -> roots.get(attribute(s, "rid"))).orElseThrow();
            assertThat(t.get("traceId").asText()).isEqualTo(root.get("traceId").asText());
            assertThat(t.get("parentSpanId").asText()).isEqualTo(root.get("spanId").asText());
            threadIdsByRid.put(root.get("traceId").asText(), spanId);
        }
        assertThat(threadIdsByRid).as("one thread span per request's trace").hasSize(6);
        for (JsonNode t : rank0.named("Scheduler [PP 0]")) {
            assertThat(roots.values()).anySatisfy(r -> assertThat(t.get("parentSpanId").asText())
                    .isEqualTo(r.get("spanId").asText()));
        }

        // Every pp_recv of rank 1 starts after its pp_send on rank 0, on rank 0's clock, within the stated uncertainty.
        Map<String, JsonNode> sends = transfers(rank0, "pp_send");
        Map<String, JsonNode> recvs = transfers(rank1, "pp_recv");
        assertThat(recvs).hasSize(6 * 11);
        assertThat(sends.keySet()).isEqualTo(recvs.keySet());
        recvs.forEach((key, recv) -> assertThat(recv.get("startTimeUnixNano").asLong())
                .as("pp_recv %s", key).isGreaterThanOrEqualTo(sends.get(key).get("startTimeUnixNano").asLong() - rttNanos));

        // launch --perfetto merged both rank files into one picture: a process per rank, transfer arrows between them.
        assertThat(launched.out()).contains("perfetto: " + perfetto + " (").contains("2 rank files merged")
                .doesNotContain("warning:");
        ChromeTrace picture = ChromeTrace.read(perfetto);
        assertThat(picture.processes().values()).anyMatch(n -> n.endsWith(":Scheduler-PP0"))
                .anyMatch(n -> n.endsWith(":Scheduler-PP1"));
        List<ChromeTrace.Flow> arrows = picture.flows().stream().filter(f -> f.name().equals("pp transfer")).toList();
        long microBatchTransfers = sends.keySet().stream().map(k -> k.substring(k.indexOf('/') + 1)).distinct().count();
        assertThat(arrows).as("one arrow (start and finish) per micro-batch transfer").hasSize(2 * (int) microBatchTransfers);
        assertThat(arrows).allSatisfy(f -> assertThat(picture.processes().get(f.pid()))
                .endsWith(f.phase().equals("s") ? ":Scheduler-PP0" : ":Scheduler-PP1"));
    }

    @Test
    void launch_metricsFile_eachRankExportsItsOwnForwards_equalToRankZerosSummary() throws IOException {
        Path metrics = dir.resolve("m.jsonl");
        Path report = dir.resolve("world.json");
        CliRun launched = CliRun.of(concat(concat(new String[] {"launch", "--nproc", "2", "--"}, TINY_RUN),
                "--metrics-file", metrics.toString(), "--report", report.toString()));
        assertThat(launched.status()).as(launched.err()).isZero();
        assertThat(metrics).as("one file per rank, none for the world").doesNotExist();
        JsonNode ranks = new ObjectMapper().readTree(report.toFile()).get("ranks");
        assertThat(ranks).hasSize(2);
        for (int r = 0; r < 2; r++) {
            Path file = dir.resolve("m.rank" + r + ".jsonl");
            assertThat(launched.out()).containsPattern("\\[PP " + r + "\\] metrics: \\d+ exports? to "
                    + java.util.regex.Pattern.quote(file.toString()));
            MetricLines last = MetricLines.parse(Files.readAllLines(file).getLast());
            assertThat(last.points().get("ppexec.rank.forwards")).as("rank %d exports only its own rank", r)
                    .containsOnlyKeys((long) r);
            assertThat(last.point("ppexec.rank.forwards", r).value()).as("rank %d's forwards", r)
                    .isEqualTo(ranks.get(r).get("forwards").asDouble()).isPositive();
            assertThat(last.points()).as("no bubble: one rank's forwards cannot measure it")
                    .doesNotContainKey("ppexec.pipeline.bubble");
            assertThat(last.resource()).containsEntry("ppexec.world.rank", "" + r).containsEntry("ppexec.world.size", "2");
        }
    }

    /** run's options are parsed by launch before any rank starts: a typo is one line, and no rank runs. */
    @Test
    void launch_badRunOption_exits2InOneLine_beforeAnyRankStarts() {
        CliRun r = CliRun.of(concat(new String[] {"launch", "--nproc", "2", "--"}, concat(TINY_RUN, "--requets", "3")));
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().startsWith("launch: -- run: ")
                .contains("--requets");
        assertThat(r.out()).doesNotContain("[PP ");
        assertThat(ranksOfThisJvm()).isEmpty();
    }

    @Test
    void launchPerfetto_withoutATraceFile_exits2_namingWhatIsNeeded() {
        CliRun r = CliRun.of(concat(new String[] {"launch", "--nproc", "2", "--perfetto", dir.resolve("p.json").toString(),
                "--"}, TINY_RUN));
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err().lines().toList()).singleElement().asString().isEqualTo("launch: --perfetto "
                + dir.resolve("p.json") + ": the ranks write no trace file; allowed: with --trace-file DIR/t.jsonl in "
                + "the run command (rank r writes DIR/t.rank{r}.jsonl)");
        assertThat(dir.resolve("p.json")).doesNotExist();
    }

    @Test
    void launch_killedRank_isNamed_andTheOthersAreStoppedByPid() throws Exception {
        Launcher launcher = new Launcher();
        StringWriter err = new StringWriter();
        CompletableFuture<Launcher.Outcome> outcome = launchLongRun(launcher, err);
        awaitText(err::toString, "[PP 1] world: rank 1 of 2 joined");
        awaitText(err::toString, "[PP 0] world: rank 0 of 2 joined");
        Thread.sleep(1_500); // well into the run: building toy's weights, then decoding
        List<Long> pids = launcher.pids();
        assertThat(pids).hasSize(2);
        long killed = System.nanoTime();
        ProcessHandle.of(pids.get(1)).orElseThrow().destroyForcibly();
        Launcher.Outcome o = outcome.get(60, TimeUnit.SECONDS);
        long stopMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        System.out.printf("rank 1 killed: the world ended in %d ms%n", stopMillis);
        assertThat(o.status()).isNotZero();
        assertThat(o.failedRank()).isEqualTo(1);
        assertThat(o.failedStatus()).isEqualTo(137);
        assertThat(err.toString()).contains("launch: rank 1 (pid " + pids.get(1) + ") failed with exit status 137 "
                + "(signal 9); stopping the other ranks");
        assertThat(stopMillis).as("stopped within the launcher's bound (5 s) and a margin").isLessThan(15_000);
        for (long pid : pids) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid %d is gone", pid).isFalse();
        }
    }

    @Test
    void configurationMismatch_exits2OnEveryRank_namingRankFieldAndValues() throws Exception {
        List<Process> ranks = startRanks(TINY_RUN, r -> new String[] {"--seed", r == 0 ? "42" : "7"});
        try {
            for (int r = 0; r < 2; r++) {
                assertThat(ranks.get(r).waitFor(60, TimeUnit.SECONDS)).isTrue();
                assertThat(ranks.get(r).exitValue()).isEqualTo(2);
                List<String> lines = Files.readAllLines(dir.resolve("err" + r)).stream()
                        .filter(l -> !l.startsWith("WARNING: Using incubator")).toList();
                assertThat(lines).as("rank %d: one line", r).hasSize(1);
                assertThat(lines.getFirst()).isEqualTo("run: rendezvous: rank 1 runs --seed 7, rank 0 runs --seed 42; "
                        + "allowed: the same configuration on every rank");
            }
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    @Test
    void killedRank_isNoticedByRankZero_whichExitsNonZeroNamingIt() throws Exception {
        List<Process> ranks = startRanks(LONG_RUN, r -> new String[0]);
        try {
            awaitText(() -> read(dir.resolve("err1")), "world: rank 1 of 2 joined");
            awaitText(() -> read(dir.resolve("err0")), "world: rank 0 of 2 joined");
            Thread.sleep(1_500); // well into the run
            long killed = System.nanoTime();
            ranks.get(1).destroyForcibly();
            assertThat(ranks.get(0).waitFor(30, TimeUnit.SECONDS)).as("rank 0 ended").isTrue();
            long noticedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            System.out.printf("rank 1 killed: rank 0 ended in %d ms%n", noticedMillis);
            assertThat(ranks.get(0).exitValue()).isEqualTo(1);
            // Whichever rank 0 notices first: the store's lost watch, or a broken data stream either way.
            assertThat(read(dir.resolve("err0")).lines().filter(l -> l.startsWith("run: ")).toList()).singleElement()
                    .asString().matches("run: error: rank 0 stopped: the world was aborted: rank 1 went away: (its process "
                            + "ended without leaving the world|its stream to rank 0 broke \\(\\w+\\)|rank 0's stream to it "
                            + "broke \\(\\w+\\))");
            assertThat(noticedMillis).as("noticed within 5 s, plus the stop").isLessThan(10_000);
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    /** {@code launch --nproc 2 -- LONG_RUN} on another thread, its stderr (with the ranks') into {@code err}. */
    private static CompletableFuture<Launcher.Outcome> launchLongRun(Launcher launcher, StringWriter err) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return launcher.run(2, 0, List.of(LONG_RUN), new PrintWriter(new StringWriter(), true),
                        new PrintWriter(err, true));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** Note [heartbeats]: rank 1's pid gets SIGSTOP, alive but silent; its sockets stay open. */
    private static void stop(long pid) throws IOException, InterruptedException {
        assertThat(new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor()).isZero();
    }

    private static boolean hasKill() {
        return Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill"));
    }

    private static final String SILENT_RANK_1 = "the world was aborted: rank 1 went silent: no heartbeat for 4 s (its "
            + "process is stopped, hung or cut off)";

    @Test
    void stoppedRank_everyOtherRankExitsNonZeroNamingIt_whileItStillLives() throws Exception {
        assumeTrue(hasKill(), "needs kill(1)");
        List<Process> ranks = startRanks(3, LONG_RUN, r -> new String[0]);
        try {
            for (int r = 0; r < 3; r++) {
                int rank = r;
                awaitText(() -> read(dir.resolve("err" + rank)), "world: rank " + rank + " of 3 joined");
            }
            Thread.sleep(1_500); // well into the run
            long stopped = System.nanoTime();
            stop(ranks.get(1).pid());
            for (int r : new int[] {0, 2}) {
                assertThat(ranks.get(r).waitFor(60, TimeUnit.SECONDS)).as("rank %d ended", r).isTrue();
            }
            System.out.printf("rank 1 stopped: ranks 0 and 2 ended in %d ms%n",
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - stopped));
            assertThat(ranks.get(1).isAlive()).as("the silent rank was named, not lost: it still lives").isTrue();
            for (int r : new int[] {0, 2}) {
                assertThat(ranks.get(r).exitValue()).as("rank %d", r).isEqualTo(1);
                assertThat(read(dir.resolve("err" + r)).lines().filter(l -> l.startsWith("run: ")).toList())
                        .as("rank %d", r).singleElement().asString()
                        .isEqualTo("run: error: rank " + r + " stopped: " + SILENT_RANK_1);
            }
        } finally {
            ranks.forEach(Process::destroyForcibly); // SIGKILL ends a stopped process too
        }
        for (Process p : ranks) {
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("pid %d is gone", p.pid()).isTrue();
        }
    }

    @Test
    void stoppedRankZero_theOtherRankExitsNonZeroNamingIt_whileRankZeroStillLives() throws Exception {
        assumeTrue(hasKill(), "needs kill(1)");
        List<Process> ranks = startRanks(LONG_RUN, r -> new String[0]);
        try {
            awaitText(() -> read(dir.resolve("err1")), "world: rank 1 of 2 joined");
            awaitText(() -> read(dir.resolve("err0")), "world: rank 0 of 2 joined");
            Thread.sleep(1_500); // well into the run
            stop(ranks.get(0).pid());
            assertThat(ranks.get(1).waitFor(60, TimeUnit.SECONDS)).as("rank 1 ended").isTrue();
            assertThat(ranks.get(0).isAlive()).as("rank 0 was named, not lost: it still lives").isTrue();
            assertThat(ranks.get(1).exitValue()).isEqualTo(1);
            assertThat(read(dir.resolve("err1")).lines().filter(l -> l.startsWith("run: ")).toList()).singleElement()
                    .asString().matches("run: error: rank 1 stopped: the world was aborted: rank 0 went silent: no "
                            + "heartbeat of rank 1 answered for 4 s \\(DEADLINE_EXCEEDED; its process is stopped, hung or "
                            + "cut off\\)");
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
        for (Process p : ranks) {
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("pid %d is gone", p.pid()).isTrue();
        }
    }

    @Test
    void launch_stoppedRank_isNamedByRankZero_beforeTheLauncherReportsAndStopsIt() throws Exception {
        assumeTrue(hasKill(), "needs kill(1)");
        Launcher launcher = new Launcher();
        StringWriter err = new StringWriter();
        CompletableFuture<Launcher.Outcome> outcome = launchLongRun(launcher, err);
        List<Long> pids = List.of();
        try {
            awaitText(err::toString, "[PP 1] world: rank 1 of 2 joined");
            awaitText(err::toString, "[PP 0] world: rank 0 of 2 joined");
            Thread.sleep(1_500); // well into the run
            pids = launcher.pids();
            stop(pids.get(1));
            Launcher.Outcome o = outcome.get(60, TimeUnit.SECONDS);
            assertThat(o.failedRank()).as("rank 0 failed first, naming the silent rank").isZero();
            assertThat(o.status()).isEqualTo(1);
            String text = err.toString();
            int named = text.indexOf("[PP 0] run: error: rank 0 stopped: " + SILENT_RANK_1);
            int reported = text.indexOf("launch: rank 0 (pid " + pids.get(0) + ") failed with exit status 1; stopping "
                    + "the other ranks");
            assertThat(named).as(text).isNotNegative();
            assertThat(reported).as(text).isGreaterThan(named);
            for (long pid : pids) {
                assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("pid %d is gone", pid)
                        .isFalse();
            }
        } finally {
            pids.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        }
    }

    @Test
    void traced_killedRank_leavesTheSurvivorsTrace_withWhatItHad_cutShortAsErrors() throws Exception {
        Path trace = dir.resolve("t.jsonl");
        List<Process> ranks = startRanks(LONG_RUN, r -> new String[] {"--trace-file", trace.toString()});
        try {
            awaitText(() -> read(dir.resolve("err1")), "world: rank 1 of 2 joined");
            awaitText(() -> read(dir.resolve("err0")), "world: rank 0 of 2 joined");
            awaitText(() -> writtenSoFar(".t.rank0.jsonl.") > 0 ? "written" : "", "written"); // a first batch of spans
            ranks.get(1).destroyForcibly();
            assertThat(ranks.get(0).waitFor(30, TimeUnit.SECONDS)).as("rank 0 ended").isTrue();
            assertThat(ranks.get(0).exitValue()).isEqualTo(1);
            Path file = dir.resolve("t.rank0.jsonl");
            assertThat(read(dir.resolve("out0"))).containsPattern("trace: [\\d,]+ spans \\(level 4\\) to "
                    + java.util.regex.Pattern.quote(file.toString()));
            RankTrace rank0 = RankTrace.read(file);
            assertThat(rank0.resourceLong("ppexec.world.rank")).isZero();
            assertThat(rank0.named("run_batch_cpu")).as("the forwards rank 0 did before rank 1 died").isNotEmpty();
            assertThat(rank0.named("Req ")).as("every request's root, cut short").hasSize(4).allSatisfy(root -> {
                assertThat(root.get("status").get("code").asInt()).isEqualTo(2);
                assertThat(root.get("status").get("message").asText()).contains("rank 1 went away");
            });
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    /** Bytes in the test folder's files whose names start with {@code prefix}: a trace file while it is written. */
    private long writtenSoFar(String prefix) {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().startsWith(prefix)).mapToLong(f -> f.toFile().length())
                    .sum();
        } catch (IOException e) {
            return 0;
        }
    }

    /** Two rank processes of one world (the same token), each with its own extra arguments. */
    private List<Process> startRanks(String[] run, IntFunction<String[]> extra) throws IOException {
        return startRanks(2, run, extra);
    }

    private List<Process> startRanks(int worldSize, String[] run, IntFunction<String[]> extra) throws IOException {
        int port = Ports.free();
        String token = WorldToken.generate();
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < worldSize; r++) {
            ProcessBuilder pb = new ProcessBuilder(javaMain(concat(concat(run, extra.apply(r)), "--rank",
                    Integer.toString(r), "--world-size", Integer.toString(worldSize), "--master", "127.0.0.1:" + port, "--rendezvous-timeout",
                    "30"))).redirectOutput(dir.resolve("out" + r).toFile()).redirectError(dir.resolve("err" + r).toFile());
            pb.environment().put(WorldToken.VARIABLE, token);
            ranks.add(pb.start());
        }
        return ranks;
    }

    private static List<String> javaMain(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), "dev.ppexec.cli.Main"));
        cmd.addAll(Arrays.asList(args));
        return cmd;
    }

    @Test
    void sigintToTheLauncher_leavesNoRankBehind_norItsPortDirectory() throws Exception {
        assumeTrue(hasKill(), "needs kill(1)");
        Path err = dir.resolve("launcher.err");
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Process launcher = startLauncher(tmp, err);
        try {
            awaitText(() -> read(err), "[PP 1] world: rank 1 of 2 joined");
            awaitText(() -> read(err), "[PP 0] world: rank 0 of 2 joined");
            List<Long> pids = launcher.children().map(ProcessHandle::pid).toList();
            assertThat(pids).hasSize(2);
            assertOnePortDirectory(tmp);
            new ProcessBuilder("kill", "-INT", Long.toString(launcher.pid())).start().waitFor();
            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).as("the launcher stopped").isTrue();
            assertThat(launcher.exitValue()).isNotZero();
            for (long pid : pids) {
                assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("rank pid %d is gone", pid)
                        .isFalse();
            }
            try (var left = Files.list(tmp)) {
                assertThat(left).as("the launcher's shutdown hook removed its port directory").isEmpty();
            }
        } finally {
            launcher.descendants().forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
    }

    @Test
    void sigkillToTheLauncher_stillLeavesNoRankRunning_andNoPortFile() throws Exception {
        Path err = dir.resolve("launcher.err");
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Process launcher = startLauncher(tmp, err);
        List<ProcessHandle> ranks = List.of();
        try {
            awaitText(() -> read(err), "[PP 1] world: rank 1 of 2 joined");
            awaitText(() -> read(err), "[PP 0] world: rank 0 of 2 joined");
            ranks = launcher.children().toList();
            assertThat(ranks).hasSize(2);
            launcher.destroyForcibly();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (ranks.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            for (ProcessHandle h : ranks) {
                assertThat(h.isAlive()).as("rank pid %d ended after its launcher was killed", h.pid()).isFalse();
            }
            assertOnePortDirectory(tmp);
            try (var left = Files.walk(tmp)) {
                assertThat(left.filter(Files::isRegularFile)).as("Note [rank 0 binds first]: rank 0 removed the file "
                        + "of its port once both ranks had come; only the killed launcher's empty directory is left")
                        .isEmpty();
            }
        } finally {
            ranks.forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
    }

    /** {@code launch --nproc 2 -- LONG_RUN} as its own process, with {@code tmp} as its temporary directory. */
    private Process startLauncher(Path tmp, Path err) throws IOException {
        List<String> cmd = javaMain(concat(new String[] {"launch", "--nproc", "2", "--"}, LONG_RUN));
        cmd.add(1, "-Djava.io.tmpdir=" + tmp);
        return new ProcessBuilder(cmd).redirectError(err.toFile()).redirectOutput(dir.resolve("launcher.out").toFile())
                .start();
    }

    /** {@code tmp} holds the launcher's port directory and nothing else (Note [rank 0 binds first] in World). */
    private static void assertOnePortDirectory(Path tmp) throws IOException {
        try (var dirs = Files.list(tmp)) {
            assertThat(dirs.map(p -> p.getFileName().toString())).as("the launcher's port directory")
                    .singleElement().asString().startsWith("ppexec-launch-");
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }

    private static void awaitText(Supplier<String> text, String wanted) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!text.get().contains(wanted) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(text.get()).contains(wanted);
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
