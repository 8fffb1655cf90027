package dev.ppexec.dist;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.ppexec.cli.CliRun;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.cuda.StubDriver;
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
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Rank processes on CUDA, on the stub driver's emulated device (the project's kernels compiled for the host, its
 * device memory shared between processes for CUDA IPC): {@code launch --nproc 2 -- run --device cuda} picks a device
 * by LOCAL_RANK, passes activations by CUDA IPC ({@code auto} on one host) or by host staging through page-locked
 * memory over gRPC ({@code --transport host}), and gives the CPU backend's tokens either way, in the measured run
 * after a warm-up run (the second run of a world reuses what CUDA IPC exported and mapped in the first).
 */
@Timeout(300)
class CudaWorldTest {

    static final String[] RUN = {"run", "--model", "tiny", "--requests", "4", "--micro-batches", "2", "--prompt-len",
            "5", "--decode-steps", "6", "--warmup", "1", "--no-progress"};

    @TempDir
    Path dir;

    private static List<String> requestLines(String out, String prefix) {
        return out.lines().filter(l -> l.startsWith(prefix + "request ")).map(l -> l.substring(prefix.length())).toList();
    }

    /** What {@code launch --nproc 2} printed, with the stub driver showing {@code devices} devices to the ranks. */
    private record Launched(String out, String err) {
    }

    private Launched launch(int devices, String... options) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "-D" + CudaPlatform.DRIVER_PROPERTY + "=" + StubDriver.library(),
                "-D" + CudaPlatform.CUBLAS_PROPERTY + "=" + StubDriver.cublasLibrary(),
                "-cp", System.getProperty("java.class.path"), "dev.ppexec.cli.Main", "launch", "--nproc", "2", "--"));
        cmd.addAll(Arrays.asList(RUN));
        cmd.addAll(List.of("--device", "cuda", "--print-tokens", "4"));
        cmd.addAll(Arrays.asList(options));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(dir.resolve("out").toFile())
                .redirectError(dir.resolve("err").toFile());
        pb.environment().put("PPEXEC_STUB_DEVICES", Integer.toString(devices));
        Process launcher = pb.start();
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
    }

    /** The {@code transport} attribute of every span named {@code name} in an OTLP-JSON lines file (one per span). */
    private static List<String> transports(Path file, String name) throws IOException {
        List<String> kinds = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(file)) {
            for (JsonNode span : json.readTree(line).findValues("spans").stream().flatMap(a -> a.valueStream()).toList()) {
                if (span.get("name").asText().equals(name)) {
                    kinds.add(span.get("attributes").valueStream().filter(a -> a.get("key").asText().equals("transport"))
                            .map(a -> a.at("/value/stringValue").asText()).findFirst().orElse("(none)"));
                }
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
