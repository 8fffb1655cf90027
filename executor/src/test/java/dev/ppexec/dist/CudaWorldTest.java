package dev.ppexec.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.ppexec.cli.CliRun;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.cuda.StubDriver;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.StubNccl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Rank processes on CUDA, on the stub driver's emulated device (the project's kernels compiled for the host, its
 * device memory shared between processes for CUDA IPC) and the stub libnccl (Note [stub wire] in nccl_stub.c):
 * {@code launch --nproc 2 -- run --device cuda} picks a device by LOCAL_RANK, passes activations by CUDA IPC
 * ({@code auto} on one host), by NCCL between two devices ({@code --transport nccl}) or by host staging through
 * page-locked memory over gRPC ({@code --transport host}), and gives the CPU backend's tokens each way, in the measured
 * run after a warm-up run (the second run of a world reuses what CUDA IPC exported and mapped in the first). Traced,
 * every transfer is causal on rank 0's clock.
 */
@Timeout(300)
class CudaWorldTest {

    static final String[] RUN = {"run", "--model", "tiny", "--requests", "4", "--micro-batches", "2", "--prompt-len",
            "5", "--decode-steps", "6", "--warmup", "1", "--no-progress"};

    /** Long enough on the emulated devices to be killed mid-run. */
    static final String[] LONG_RUN = {"run", "--model", "tiny", "--requests", "4", "--micro-batches", "2",
            "--prompt-len", "5", "--decode-steps", "120", "--warmup", "2", "--no-progress"};

    @TempDir
    Path dir;
    private final String token = WorldToken.generate();

    private static List<String> requestLines(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix + "request ")).map(l -> l.substring(prefix.length())).toList();
    }

    /** What {@code launch --nproc 2} printed, with the stub driver showing {@code devices} devices to the ranks. */
    private record Launched(String out, String err) {
    }

    private Launched launch(int devices, String... options) throws Exception {
        Process launcher = start(devices, List.of("launch", "--nproc", "2", "--"), RUN, List.of(options), "");
        try {
            assertThat(launcher.waitFor(240, TimeUnit.SECONDS)).as("launch ended").isTrue();
            Launched l = new Launched(Files.readString(dir.resolve("out")), Files.readString(dir.resolve("err")));
            assertThat(launcher.exitValue()).as(l.err + l.out).isZero();
            assertThat(requestLines(l.out, "[PP 0] ")).as("rank 0's tokens against the CPU backend's")
                    .isEqualTo(cpuTokens());
            return l;
        } finally {
            launcher.destroyForcibly();
        }
    }

    /**
     * {@code ppexec PREFIX RUN --device cuda --print-tokens 4 OPTIONS} on the stub driver showing {@code devices}
     * devices and the stub libnccl, its output into {@code out{suffix}} and {@code err{suffix}}.
     */
    private Process start(int devices, List<String> prefix, String[] run, List<String> options, String suffix)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "-D" + CudaPlatform.DRIVER_PROPERTY + "=" + StubDriver.library(),
                "-D" + CudaPlatform.CUBLAS_PROPERTY + "=" + StubDriver.cublasLibrary(),
                "-D" + Nccl.LIBRARY_PROPERTY + "=" + StubNccl.library(),
                "-cp", System.getProperty("java.class.path"), "dev.ppexec.cli.Main"));
        cmd.addAll(prefix);
        cmd.addAll(Arrays.asList(run));
        cmd.addAll(List.of("--device", "cuda", "--print-tokens", "4"));
        cmd.addAll(options);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(dir.resolve("out" + suffix).toFile())
                .redirectError(dir.resolve("err" + suffix).toFile());
        pb.environment().put("PPEXEC_STUB_DEVICES", Integer.toString(devices));
        pb.environment().put(WorldToken.VARIABLE, token); // one world's (launch makes its own for its ranks)
        return pb.start();
    }

    private static List<String> cpuTokens() {
        CliRun cpu = CliRun.of(concat(RUN, "--device", "cpu", "--stages", "2", "--print-tokens", "4"));
        assertThat(cpu.status()).as(cpu.err()).isZero();
        List<String> expected = requestLines(cpu.out(), "");
        assertThat(expected).hasSize(4);
        return expected;
    }

    /** The lines that say which device each rank took, in rank order. */
    private static List<String> deviceLines(Launched l) {
        return l.err.lines().filter(line -> line.contains("device cuda: local rank")).sorted().toList();
    }

    @ParameterizedTest(name = "--transport {0}")
    @CsvSource(delimiter = '|', textBlock = """
            auto | ipc to rank 1 and from rank 1 (auto: rank 1 is on this host, both on CUDA)  | ipc to rank 0 and from rank 0 (auto: rank 0 is on this host, both on CUDA)
            host | host to rank 1 and from rank 1 (--transport host)                            | host to rank 0 and from rank 0 (--transport host)
            """)
    void launch_twoRanksOnOneEmulatedDevice_giveTheCpuTokens(String transport, String rank0, String rank1)
            throws Exception {
        Launched l = launch(1, "--transport", transport, "--trace-file", dir.resolve("t.jsonl").toString());
        assertThat(l.out).contains("[PP 0] model tiny (4 layers, dim 64, vocab 256, seed 42); 2 rank(s), split 2,2, on cuda:0");
        assertThat(deviceLines(l)).as("LOCAL_RANK picks the device: rank r on cuda:(r mod 1)").satisfiesExactly(
                line -> assertThat(line).startsWith("[PP 0] device cuda: local rank 0 -> cuda:0 (local rank mod 1 "
                        + "device(s)): cuda:0  Stub GPU 0"),
                line -> assertThat(line).startsWith("[PP 1] device cuda: local rank 1 -> cuda:0 (local rank mod 1 "
                        + "device(s)): cuda:0  Stub GPU 0"));
        assertThat(l.err).contains("[PP 0] transport: " + rank0).contains("[PP 1] transport: " + rank1);
        String kind = rank0.substring(0, rank0.indexOf(' '));
        assertThat(transports(dir.resolve("t.rank0.jsonl"), "pp_send")).as("rank 0's pp_send spans").containsOnly(kind);
        assertThat(transports(dir.resolve("t.rank1.jsonl"), "pp_recv")).as("rank 1's pp_recv spans").containsOnly(kind);
        assertCausal();
    }

    @Test
    void launch_transportNccl_onTwoEmulatedDevices_givesTheCpuTokens_withDeviceTimedCausalTransfers() throws Exception {
        Launched l = launch(2, "--transport", "nccl", "--trace-file", dir.resolve("t.jsonl").toString());
        assertThat(deviceLines(l)).satisfiesExactly(
                line -> assertThat(line).startsWith("[PP 0] device cuda: local rank 0 -> cuda:0 (local rank mod 2 "),
                line -> assertThat(line).startsWith("[PP 1] device cuda: local rank 1 -> cuda:1 (local rank mod 2 "));
        assertThat(l.err).contains("[PP 0] transport: nccl to rank 1 and from rank 1 (--transport nccl)")
                .contains("[PP 1] transport: nccl to rank 0 and from rank 0 (--transport nccl)");
        assertThat(transports(dir.resolve("t.rank0.jsonl"), "pp_send")).as("rank 0's pp_send spans").containsOnly("nccl");
        assertThat(transports(dir.resolve("t.rank1.jsonl"), "pp_recv")).as("rank 1's pp_recv spans").containsOnly("nccl");
        assertCausal();
    }

    @Test
    void launch_transportNccl_twoRanksOnOneGpu_exits2OnBothRanks_namingNcclsRule() throws Exception {
        Process launcher = start(1, List.of("launch", "--nproc", "2", "--"), RUN, List.of("--transport", "nccl"), "");
        try {
            assertThat(launcher.waitFor(240, TimeUnit.SECONDS)).as("launch ended").isTrue();
            String err = Files.readString(dir.resolve("err"));
            assertThat(launcher.exitValue()).as(err).isEqualTo(2);
            for (int r = 0; r < 2; r++) {
                assertThat(err).contains("[PP " + r + "] run: --transport nccl: rank " + (1 - r) + " and this rank "
                        + "share cuda:0 of this host, and NCCL refuses two ranks of one communicator on one GPU; "
                        + "allowed: nccl between CUDA ranks on different GPUs, else --transport auto, ipc or host");
            }
        } finally {
            launcher.destroyForcibly();
        }
    }

    @Test
    void transportNccl_peerKilledMidRun_endsTheOtherRank_namingIt() throws Exception {
        List<Process> ranks = new ArrayList<>();
        try {
            startNcclPairIntoTheirRuns(ranks);
            long killed = System.nanoTime();
            ranks.get(1).destroyForcibly();
            long endedMillis = rankZeroFailed(ranks, killed, "killed");
            assertThat(rankZeroError()).startsWith("run: error: rank 0 stopped: ").contains("rank 1 went away");
            assertThat(endedMillis).as("a bounded end, no hang").isLessThan(30_000);
        } finally {
            ranks.forEach(Process::destroyForcibly);
        }
    }

    /**
     * Note [heartbeats] at world level with a device transport: a peer that is stopped (SIGSTOP: alive, sockets open,
     * its NCCL calls never answered) ends the other rank by its silence, even while that rank waits on NCCL.
     */
    @Test
    void transportNccl_peerStoppedMidRun_endsTheOtherRank_namingItsSilence() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")),
                "needs kill(1)");
        List<Process> ranks = new ArrayList<>();
        try {
            startNcclPairIntoTheirRuns(ranks);
            long stopped = System.nanoTime();
            assertThat(new ProcessBuilder("kill", "-STOP", Long.toString(ranks.get(1).pid())).start().waitFor()).isZero();
            long endedMillis = rankZeroFailed(ranks, stopped, "stopped");
            assertThat(ranks.get(1).isAlive()).as("the silent rank was named, not lost: it still lives").isTrue();
            assertThat(rankZeroError()).isEqualTo("run: error: rank 0 stopped: the world was aborted: rank 1 went "
                    + "silent: no heartbeat for 4 s (its process is stopped, hung or cut off)");
            assertThat(endedMillis).as("a bounded end, no hang").isLessThan(30_000);
        } finally {
            ranks.forEach(Process::destroyForcibly); // SIGKILL ends a stopped process too
        }
        for (Process p : ranks) {
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).as("pid %d is gone", p.pid()).isTrue();
        }
    }

    /** Starts two ranks of LONG_RUN over nccl (into {@code ranks}, for the caller to stop) and waits into their runs. */
    private void startNcclPairIntoTheirRuns(List<Process> ranks) throws IOException, InterruptedException {
        int port = Ports.free();
        for (int r = 0; r < 2; r++) {
            ranks.add(start(2, List.of(), LONG_RUN, List.of("--transport", "nccl", "--rank", Integer.toString(r),
                    "--world-size", "2", "--master", "127.0.0.1:" + port, "--rendezvous-timeout", "60"),
                    Integer.toString(r)));
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!read(dir.resolve("err0")).contains("transport: nccl") && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(read(dir.resolve("err0"))).contains("transport: nccl to rank 1");
        Thread.sleep(1_000); // into the runs
    }

    /** Rank 0 ended with status 1 after what was done to rank 1 at {@code sinceNanos}; the milliseconds that took. */
    private long rankZeroFailed(List<Process> ranks, long sinceNanos, String done) throws InterruptedException {
        assertThat(ranks.get(0).waitFor(60, TimeUnit.SECONDS)).as("rank 0 ended").isTrue();
        long endedMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sinceNanos);
        System.out.printf("nccl: rank 1 %s, rank 0 ended in %d ms%n", done, endedMillis);
        assertThat(ranks.get(0).exitValue()).as(read(dir.resolve("err0"))).isEqualTo(1);
        return endedMillis;
    }

    /** Rank 0's one error line. */
    private String rankZeroError() {
        List<String> lines = read(dir.resolve("err0")).lines().filter(l -> l.startsWith("run: ")).toList();
        assertThat(lines).hasSize(1);
        return lines.getFirst();
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            return "";
        }
    }

    /**
     * Note [device-timed transfers] in DeviceLinks: each of rank 0's pp_send spans starts no earlier than the launch
     * of the forward that produced it (its run_batch_cpu), and each of rank 1's pp_recv spans ends no earlier than
     * the matching pp_send started, within rank 1's clock uncertainty (both files are on rank 0's clock) and the
     * device clocks' anchoring: each process maps its device events through an anchor read when the host wakes from a
     * synchronisation (Note [device clock anchor] in DeviceClock), late by that wake-up, so the sender's times can
     * lie later than the receiver's by as much (a CI run saw 7 µs beyond the round trip).
     */
    private void assertCausal() throws IOException {
        Map<String, JsonNode> launches = byBatch(dir.resolve("t.rank0.jsonl"), "run_batch_cpu");
        Map<String, JsonNode> sends = byBatch(dir.resolve("t.rank0.jsonl"), "pp_send");
        Map<String, JsonNode> receives = byBatch(dir.resolve("t.rank1.jsonl"), "pp_recv");
        long rttNanos = resourceLong(dir.resolve("t.rank1.jsonl"), "ppexec.clock_rtt_ns");
        long anchorWakeUpNanos = 1_000_000;
        assertThat(sends).isNotEmpty();
        assertThat(receives.keySet()).as("a pp_recv per pp_send").isEqualTo(sends.keySet());
        sends.forEach((batch, send) -> {
            assertThat(nanos(send, "startTimeUnixNano")).as("pp_send %s after its forward's launch", batch)
                    .isGreaterThanOrEqualTo(nanos(launches.get(batch), "startTimeUnixNano"));
            assertThat(nanos(send, "endTimeUnixNano")).isGreaterThanOrEqualTo(nanos(send, "startTimeUnixNano"));
            assertThat(nanos(receives.get(batch), "endTimeUnixNano") + rttNanos + anchorWakeUpNanos).as("pp_recv %s ends after its send began", batch)
                    .isGreaterThanOrEqualTo(nanos(send, "startTimeUnixNano"));
        });
    }

    private static long nanos(JsonNode span, String field) {
        return Long.parseLong(span.get(field).asText());
    }

    /** The spans named {@code name} in an OTLP-JSON lines file, by {@code "mb/step"} (the first of each). */
    private static Map<String, JsonNode> byBatch(Path file, String name) throws IOException {
        Map<String, JsonNode> out = new HashMap<>();
        for (JsonNode span : spans(file)) {
            if (span.get("name").asText().equals(name)) {
                out.putIfAbsent(attribute(span, "pp_mb_id") + "/" + attribute(span, "step"), span);
            }
        }
        return out;
    }

    private static String attribute(JsonNode span, String key) {
        return span.get("attributes").valueStream().filter(a -> a.get("key").asText().equals(key))
                .map(a -> a.get("value").elements().next().asText()).findFirst().orElse("(none)");
    }

    private static long resourceLong(Path file, String key) throws IOException {
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(file)) {
            for (JsonNode rs : json.readTree(line).get("resourceSpans")) {
                for (JsonNode a : rs.get("resource").get("attributes")) {
                    if (a.get("key").asText().equals(key)) {
                        return Long.parseLong(a.get("value").elements().next().asText());
                    }
                }
            }
        }
        throw new AssertionError(key + " not in " + file);
    }

    private static List<JsonNode> spans(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> spans = new ArrayList<>();
        for (String line : Files.readAllLines(file)) {
            json.readTree(line).findValues("spans").forEach(a -> a.forEach(spans::add));
        }
        return spans;
    }

    /** The {@code transport} attribute of every span named {@code name} in an OTLP-JSON lines file (one per span). */
    private static List<String> transports(Path file, String name) throws IOException {
        List<String> kinds = new ArrayList<>();
        for (JsonNode span : spans(file)) {
            if (span.get("name").asText().equals(name)) {
                kinds.add(attribute(span, "transport"));
            }
        }
        assertThat(kinds).as("%s spans in %s", name, file).isNotEmpty();
        return kinds;
    }

    @Test
    void launch_onTwoEmulatedDevices_localRankPicksAmongDevicesGiven_andIpcCrossesThem() throws Exception {
        Launched l = launch(2, "--devices", "1,0");
        assertThat(deviceLines(l)).satisfiesExactly(
                line -> assertThat(line).startsWith("[PP 0] device cuda: local rank 0 -> cuda:1 (local rank mod 2 "
                        + "device(s) of --devices 1,0): cuda:1  Stub GPU 1"),
                line -> assertThat(line).startsWith("[PP 1] device cuda: local rank 1 -> cuda:0 (local rank mod 2 "
                        + "device(s) of --devices 1,0): cuda:0  Stub GPU 0"));
        assertThat(l.out).contains("2 rank(s), split 2,2, on cuda:1");
        assertThat(l.err).contains("[PP 0] transport: ipc to rank 1 and from rank 1 (auto: ");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
