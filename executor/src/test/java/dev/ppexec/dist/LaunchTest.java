package dev.ppexec.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
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
import java.util.List;
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
        assertThat(ranksOfThisJvm()).as("no rank process outlives the launcher").isEmpty();
    }

    @Test
    void launch_killedRank_isNamed_andTheOthersAreStoppedByPid() throws Exception {
        Launcher launcher = new Launcher();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CompletableFuture<Launcher.Outcome> outcome = CompletableFuture.supplyAsync(() -> {
            try {
                return launcher.run(2, 0, List.of(LONG_RUN), new PrintWriter(out, true), new PrintWriter(err, true));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
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

    /** Two rank processes of one world (the same token), each with its own extra arguments. */
    private List<Process> startRanks(String[] run, IntFunction<String[]> extra) throws IOException {
        int port = Launcher.freePort();
        String token = WorldToken.generate();
        List<Process> ranks = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            ProcessBuilder pb = new ProcessBuilder(javaMain(concat(concat(run, extra.apply(r)), "--rank",
                    Integer.toString(r), "--world-size", "2", "--master", "127.0.0.1:" + port, "--rendezvous-timeout",
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
    void sigintToTheLauncher_leavesNoRankBehind() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")), "needs kill(1)");
        Path err = dir.resolve("launcher.err");
        Process launcher = new ProcessBuilder(javaMain(concat(new String[] {"launch", "--nproc", "2", "--"}, LONG_RUN)))
                .redirectError(err.toFile()).redirectOutput(dir.resolve("launcher.out").toFile()).start();
        try {
            awaitText(() -> read(err), "[PP 1] world: rank 1 of 2 joined");
            awaitText(() -> read(err), "[PP 0] world: rank 0 of 2 joined");
            List<Long> pids = launcher.children().map(ProcessHandle::pid).toList();
            assertThat(pids).hasSize(2);
            new ProcessBuilder("kill", "-INT", Long.toString(launcher.pid())).start().waitFor();
            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).as("the launcher stopped").isTrue();
            assertThat(launcher.exitValue()).isNotZero();
            for (long pid : pids) {
                assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).as("rank pid %d is gone", pid)
                        .isFalse();
            }
        } finally {
            launcher.descendants().forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
        }
    }

    @Test
    void sigkillToTheLauncher_stillLeavesNoRankRunning() throws Exception {
        Path err = dir.resolve("launcher.err");
        Process launcher = new ProcessBuilder(javaMain(concat(new String[] {"launch", "--nproc", "2", "--"}, LONG_RUN)))
                .redirectError(err.toFile()).redirectOutput(dir.resolve("launcher.out").toFile()).start();
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
        } finally {
            ranks.forEach(ProcessHandle::destroyForcibly);
            launcher.destroyForcibly();
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
