package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import io.opentelemetry.sdk.common.export.GrpcSenderProvider;
import io.opentelemetry.sdk.common.export.HttpSenderProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.assertj.core.api.Assertions.assertThat;

@Timeout(120)
class TracingTest {

    static CliRun cli(String... args) {
        return CliRun.of(args);
    }

    static final List<String> SMALL_RUN = List.of("run", "--model", "tiny", "--device", "cpu", "--requests", "4",
            "--micro-batches", "2", "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress");

    static String[] run(String... extra) {
        List<String> args = new ArrayList<>(SMALL_RUN);
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    @Test
    void collectorDown_runFinishesWithExit0_andSaysHowManySpansWereLost() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        CliRun o = cli(run("--otlp-endpoint", "http://127.0.0.1:" + closedPort));

        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("request 0:").contains("trace: OTLP http/protobuf http://127.0.0.1:" + closedPort
                + "/v1/traces: 120 of 120 spans lost (120 not delivered: ");
        assertThat(o.err()).doesNotContain("\tat ");
    }

    @Test
    void tinyExportQueue_theFileWaitsInsteadOfDropping_andHoldsEverySpan(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.jsonl");
        System.setProperty("otel.bsp.max.queue.size", "8");
        CliRun o;
        try {
            o = cli(run("--trace-file", file.toString()));
        } finally {
            System.clearProperty("otel.bsp.max.queue.size");
        }

        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("trace: 120 spans (level 4) to " + file).doesNotContain("lost");
        long written = 0;
        int lines = 0;
        for (String line : Files.readAllLines(file)) {
            lines++;
            for (JsonNode rs : new ObjectMapper().readTree(line).get("resourceSpans")) {
                written += rs.at("/scopeSpans/0/spans").size();
            }
        }
        assertThat(written).isEqualTo(120);
        assertThat(lines).as("batches of at most 8 spans").isGreaterThanOrEqualTo(15);
    }

    @Test
    void traceFileAlone_defaultsToLevelFour_andWritesEverySpan(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("out/t.jsonl");
        CliRun o = cli(run("--trace-file", file.toString()));

        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("trace: 120 spans (level 4) to " + file);
        assertThat(Files.readString(file)).contains("\"run_batch_device\"").contains("\"pp_recv\"");
    }

    @Test
    void noTracingOption_tracesNothing(@TempDir Path dir) {
        CliRun o = cli(run("--report", dir.resolve("r.json").toString()));

        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).doesNotContain("trace:");
        assertThat(dir.toFile().list()).containsExactly("r.json");
    }

    @Test
    void traceLevelZero_withAFile_writesNothing(@TempDir Path dir) {
        CliRun o = cli(run("--trace-file", dir.resolve("t.jsonl").toString(), "--trace-level", "0"));

        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).doesNotContain("trace:");
        assertThat(dir.toFile().list()).isEmpty();
    }

    @Test
    void badOtelValue_exits2WithOneLineNamingIt(@TempDir Path dir) {
        System.setProperty("otel.bsp.max.queue.size", "lots");
        CliRun o;
        try {
            o = cli(run("--trace-file", dir.resolve("t.jsonl").toString()));
        } finally {
            System.clearProperty("otel.bsp.max.queue.size");
        }

        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().strip().lines()).hasSize(1);
        assertThat(o.err().strip()).isEqualTo("run: system property otel.bsp.max.queue.size='lots' is not a whole number; "
                + "allowed: a whole number 1..16777216");
        assertThat(dir.toFile().list()).as("no trace file, no temporary file").isEmpty();
    }

    @Test
    void traceFileThatCannotBeCreated_failsBeforeTheRun_namingTheFile(@TempDir Path dir) throws Exception {
        Path notAFolder = Files.writeString(dir.resolve("plain"), "x");
        CliRun o = cli(run("--trace-file", notAFolder.resolve("t.jsonl").toString()));

        assertThat(o.status()).isEqualTo(2);
        assertThat(o.out()).doesNotContain("request 0:");
        assertThat(o.err()).startsWith("run: --trace-file " + notAFolder.resolve("t.jsonl") + ": cannot write: "
                + notAFolder + ": Not a directory");
        assertThat(o.err().strip().lines()).hasSize(1);
    }

    @Test
    void httpSender_isTheJdkOne_althoughOkHttpIsOnTheClassPath_grpcSender_isOkHttp() {
        var loader = OtlpSenders.jdkHttp(getClass().getClassLoader());
        List<String> http = new ArrayList<>();
        loader.load(HttpSenderProvider.class).forEach(p -> http.add(p.getClass().getName()));
        List<String> grpc = new ArrayList<>();
        loader.load(GrpcSenderProvider.class).forEach(p -> grpc.add(p.getClass().getName()));
        List<String> all = new ArrayList<>();
        io.opentelemetry.common.ComponentLoader.forClassLoader(getClass().getClassLoader())
                .load(HttpSenderProvider.class).forEach(p -> all.add(p.getClass().getName()));

        assertThat(all).as("both HTTP senders are on the class path").hasSize(2);
        assertThat(http).containsExactly(OtlpSenders.JDK_HTTP_SENDER);
        assertThat(grpc).containsExactly("io.opentelemetry.exporter.sender.okhttp.internal.OkHttpGrpcSenderProvider");
    }

    @Test
    void environmentNamesCollector_byEitherEndpointVariableOrProperty() {
        Properties none = new Properties();
        assertThat(Tracing.environmentNamesCollector(Map.of(), none)).isFalse();
        assertThat(Tracing.environmentNamesCollector(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", " "), none)).isFalse();
        assertThat(Tracing.environmentNamesCollector(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), none)).isTrue();
        assertThat(Tracing.environmentNamesCollector(Map.of("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces"),
                none)).isTrue();
        Properties property = new Properties();
        property.setProperty("otel.exporter.otlp.endpoint", "http://c:4317");
        assertThat(Tracing.environmentNamesCollector(Map.of(), property)).isTrue();
    }

    @Test
    void tracesEndpoint_httpAppendsTheTracesPathOnce_grpcKeepsTheUrl() {
        assertThat(Tracing.tracesEndpoint(URI.create("http://c:4318"), "http/protobuf")).isEqualTo("http://c:4318/v1/traces");
        assertThat(Tracing.tracesEndpoint(URI.create("http://c:4318/"), "http/protobuf")).isEqualTo("http://c:4318/v1/traces");
        assertThat(Tracing.tracesEndpoint(URI.create("http://c:4318/v1/traces"), "http/protobuf"))
                .isEqualTo("http://c:4318/v1/traces");
        assertThat(Tracing.tracesEndpoint(URI.create("http://c:4317"), "grpc")).isEqualTo("http://c:4317");
    }
}
