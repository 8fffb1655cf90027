package dev.ppexec.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * OTEL_* variables as the SDK really reads them, in a child JVM's own environment (the test JVM's
 * is never changed): a bad value is refused in one line before anything starts, and the values the
 * validation allows are the ones the SDK then runs with.
 */
@Timeout(120)
class OtelEnvironmentProcessTest {

    @TempDir
    Path dir;

    @Test
    void badVariable_inTheRealEnvironment_exits2InOneLine_beforeTheDeviceLine() throws Exception {
        Path trace = dir.resolve("t.jsonl");
        Result r = run(Map.of("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"), "--trace-file", trace.toString());
        assertThat(r.status()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).isEqualTo("run: OTEL_EXPORTER_OTLP_PROTOCOL='carrier-pigeon' is not supported; allowed: "
                + "http/protobuf, grpc");
        assertThat(trace).doesNotExist();
    }

    @Test
    void allowedVariables_runWithTheSdk_andTracesExporterNoneKeepsTheEnvironmentsCollectorOff() throws Exception {
        Path trace = dir.resolve("t.jsonl");
        Result r = run(Map.ofEntries(
                Map.entry("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"),
                Map.entry("OTEL_TRACES_EXPORTER", "none"),
                Map.entry("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                Map.entry("OTEL_EXPORTER_OTLP_TIMEOUT", "5s"),
                Map.entry("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                Map.entry("OTEL_BSP_SCHEDULE_DELAY", "100"),
                Map.entry("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
                Map.entry("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "256"),
                Map.entry("OTEL_TRACES_SAMPLER", "parentbased_always_on"),
                Map.entry("OTEL_PROPAGATORS", "tracecontext,baggage"),
                Map.entry("OTEL_SDK_DISABLED", "false"),
                Map.entry("OTEL_SERVICE_NAME", "pp-env"),
                Map.entry("OTEL_RESOURCE_ATTRIBUTES", "team=pp%2Cq"),
                Map.entry("OTEL_METRICS_EXPORTER", "none")), "--trace-file", trace.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.err()).as("no export warnings: no collector for spans or metrics").doesNotContain("opentelemetry:");
        assertThat(r.out()).doesNotContain("OTLP grpc");
        String spans = Files.readString(trace);
        assertThat(spans).contains("{\"key\":\"service.name\",\"value\":{\"stringValue\":\"pp-env\"}}")
                .contains("{\"key\":\"team\",\"value\":{\"stringValue\":\"pp,q\"}}");
    }

    private record Result(int status, String out, String err) {}

    private Result run(Map<String, String> otel, String... args) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new java.util.ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.ppexec.cli.Main",
                "run", "--model", "tiny", "--no-progress", "--warmup", "0", "--requests", "2", "--prompt-len", "2",
                "--decode-steps", "1", "--trace-level", "1"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectError(dir.resolve("err.txt").toFile())
                .redirectOutput(dir.resolve("out.txt").toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("OTEL_"));
        pb.environment().putAll(otel);
        Process p = pb.start();
        assertThat(p.waitFor(90, TimeUnit.SECONDS)).as("exits").isTrue();
        String err = Files.readAllLines(dir.resolve("err.txt")).stream()
                .filter(l -> !l.startsWith("WARNING: Using incubator modules")).reduce("", (a, b) -> a.isEmpty() ? b : a + "\n" + b);
        return new Result(p.exitValue(), Files.readString(dir.resolve("out.txt")), err);
    }
}
