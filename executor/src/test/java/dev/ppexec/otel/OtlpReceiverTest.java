package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import dev.ppexec.cli.Main;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A real OTLP receiver over loopback ({@link MockOtlpReceiver}): spans of a small run arrive over
 * OTLP/HTTP and OTLP/gRPC, configured by options or by OTEL_* variables, and a trace file's lines
 * posted as OTLP/JSON decode to the same spans; a run's metrics arrive over both protocols and equal
 * its own figures.
 */
@Timeout(300)
class OtlpReceiverTest {

    private static final Duration PRINT_BOUND = Duration.ofSeconds(30);
    private static final String[] SMALL_RUN = {"run", "--model", "tiny", "--device", "cpu", "--requests", "3",
            "--micro-batches", "2", "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress",
            "--print-tokens", "0"};
    private static final ObjectMapper JSON = new ObjectMapper();

    private static MockOtlpReceiver receiver;

    @BeforeAll
    static void startReceiver() throws Exception {
        receiver = MockOtlpReceiver.start();
    }

    @AfterAll
    static void stopReceiver() {
        if (receiver != null) {
            receiver.close();
        }
    }

    record Received(String name, String start, String end, Map<String, String> resource) {}

    /** Spans the receiver printed as trace-json lines, by span id. */
    static Map<String, Received> printedSpans(List<String> lines) throws Exception {
        Map<String, Received> spans = new HashMap<>();
        for (String line : lines) {
            if (!line.startsWith("{\"resourceSpans\"")) {
                continue;
            }
            for (JsonNode rs : JSON.readTree(line).get("resourceSpans")) {
                Map<String, String> resource = new HashMap<>();
                rs.at("/resource/attributes").properties().forEach(e -> resource.put(e.getKey(), e.getValue().asText()));
                for (JsonNode ss : rs.get("scopeSpans")) {
                    for (JsonNode s : ss.get("spans")) {
                        spans.put(s.get("spanId").asText(), new Received(s.get("name").asText(),
                                s.get("startTimeUnixNano").asText(), s.get("endTimeUnixNano").asText(), resource));
                    }
                }
            }
        }
        return spans;
    }

    /** Spans of an OTLP-JSON lines file, by span id. */
    static Map<String, Received> fileSpans(Path file) throws Exception {
        Map<String, Received> spans = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            for (JsonNode rs : JSON.readTree(line).get("resourceSpans")) {
                Map<String, String> resource = OtlpJsonFileExporterTest.attributes(rs.at("/resource/attributes"));
                for (JsonNode s : rs.at("/scopeSpans/0/spans")) {
                    spans.put(s.get("spanId").asText(), new Received(s.get("name").asText(),
                            s.get("startTimeUnixNano").asText(), s.get("endTimeUnixNano").asText(), resource));
                }
            }
        }
        return spans;
    }

    static String cli(String... args) {
        CliRun run = CliRun.of(args);
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isZero();
        return run.out();
    }

    static String[] with(String... extra) {
        List<String> args = new ArrayList<>(List.of(SMALL_RUN));
        args.addAll(List.of(extra));
        return args.toArray(String[]::new);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"http/protobuf", "grpc"})
    void everySpanOfASmallRun_arrives(String protocol, @TempDir Path dir) throws Exception {
        Path file = dir.resolve("trace.jsonl");
        int port = protocol.equals("grpc") ? receiver.grpcPort() : receiver.httpPort();
        int mark = receiver.mark();
        String out = cli(with("--trace-file", file.toString(), "--otlp-endpoint", "http://127.0.0.1:" + port,
                "--otlp-protocol", protocol, "--attr", "experiment=receiver-" + protocol));

        Map<String, Received> sent = fileSpans(file);
        assertThat(sent).hasSize(3 * 30);
        assertThat(out).contains("trace: 90 spans (level 4) to OTLP " + protocol + " http://127.0.0.1:" + port);
        List<String> printed = receiver.awaitLines(mark, ls -> sizeOf(ls) >= sent.size(), PRINT_BOUND);
        Map<String, Received> got = printedSpans(printed);
        assertThat(got.keySet()).isEqualTo(sent.keySet());
        for (String id : sent.keySet()) {
            assertThat(got.get(id).name()).isEqualTo(sent.get(id).name());
            assertThat(got.get(id).start()).isEqualTo(sent.get(id).start());
            assertThat(got.get(id).end()).isEqualTo(sent.get(id).end());
            assertThat(got.get(id).resource()).containsEntry("service.name", "ppexec")
                    .containsEntry("experiment", "receiver-" + protocol).containsEntry("ppexec.model", "tiny");
        }
    }

    private static int sizeOf(List<String> lines) {
        try {
            return printedSpans(lines).size();
        } catch (Exception e) {
            return -1;
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"http/protobuf, 7, /v1/metrics", "grpc, 8, ''"})
    void metricsOfASmallRun_arrive_andEqualTheRunsFigures(String protocol, String seed, String path, @TempDir Path dir)
            throws Exception {
        int port = protocol.equals("grpc") ? receiver.grpcPort() : receiver.httpPort();
        Path report = dir.resolve("r.json");
        int mark = receiver.mark();
        String out = cli(MetricsTest.with("--seed", seed, "--trace-level", "0", "--report", report.toString(),
                "--otlp-endpoint", "http://127.0.0.1:" + port, "--otlp-protocol", protocol));
        assertThat(out).containsPattern("metrics: \\d+ exports? to OTLP " + protocol + " http://127\\.0\\.0\\.1:" + port
                + path + "\n");

        // This run's exports are told apart by the seed in their resource; the last one holds the totals.
        List<String> printed = receiver.awaitLines(mark, ls -> !metricsOfRun(ls, seed).isEmpty(), PRINT_BOUND);
        MetricLines last = MetricLines.parse(metricsOfRun(printed, seed).getLast());
        MetricsTest.assertEqualsReport(last, JSON.readTree(report.toFile()), MetricsTest.TINY.dim());
        assertThat(last.resource()).containsEntry("service.name", "ppexec").containsEntry("ppexec.model", "tiny");
    }

    /** The metrics requests the receiver printed (one JSON line each) whose resource has this seed. */
    private static List<String> metricsOfRun(List<String> lines, String seed) {
        return lines.stream().filter(l -> l.startsWith("{\"resourceMetrics\""))
                .filter(l -> seed.equals(MetricLines.parse(l).resource().get("ppexec.seed"))).toList();
    }

    @Test
    void otelVariables_chooseCollectorProtocolServiceAndResource(@TempDir Path dir) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(List.of(with("--attr", "sweep=a")));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("out.txt").toFile());
        pb.environment().put("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:" + receiver.grpcPort());
        pb.environment().put("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
        pb.environment().put("OTEL_SERVICE_NAME", "pp-experiment");
        pb.environment().put("OTEL_RESOURCE_ATTRIBUTES", "team=pp,run.id=7");
        int mark = receiver.mark();
        Process p = pb.start();
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("the run finished").isTrue();
        String out = Files.readString(dir.resolve("out.txt"));
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("trace: 90 spans (level 4) to OTLP grpc http://127.0.0.1:" + receiver.grpcPort());

        Map<String, Received> got = printedSpans(receiver.awaitLines(mark, ls -> sizeOf(ls) >= 90, PRINT_BOUND));
        assertThat(got).hasSize(90);
        assertThat(got.values()).allSatisfy(r -> assertThat(r.resource())
                .containsEntry("service.name", "pp-experiment").containsEntry("team", "pp").containsEntry("run.id", "7")
                .containsEntry("sweep", "a").containsEntry("ppexec.micro_batches", "2"));
    }

    @Test
    void traceFileLines_postedAsOtlpJson_printTheSameNamesDurationsAndService(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("trace.jsonl");
        cli(with("--trace-file", file.toString()));
        Map<String, Received> sent = fileSpans(file);

        int mark = receiver.mark();
        HttpClient http = HttpClient.newHttpClient();
        for (String line : Files.readAllLines(file)) {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + receiver.httpPort() + "/v1/traces"))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(line, StandardCharsets.UTF_8)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
        }
        // Wait for a waterfall line naming each span sent. Counting lines is not enough: the printer runs behind,
        // so waterfall lines of an earlier test's spans may still arrive after the mark.
        List<String> printed = receiver.awaitLines(mark, ls -> sizeOf(ls) >= sent.size()
                && sent.keySet().stream().allMatch(id -> ls.stream().anyMatch(
                        l -> waterfallLine(l) && plain(l).contains("span " + id.substring(0, 6) + " "))), PRINT_BOUND);

        assertThat(printed).as("printer errors").noneMatch(l -> l.contains("threw") || l.contains("\"level\":50"));
        Map<String, Received> decoded = printedSpans(printed);
        assertThat(decoded.keySet()).isEqualTo(sent.keySet());
        List<String> waterfall = printed.stream().filter(OtlpReceiverTest::waterfallLine)
                .map(OtlpReceiverTest::plain).toList();
        for (Map.Entry<String, Received> e : sent.entrySet()) {
            Received s = e.getValue();
            assertThat(decoded.get(e.getKey())).as("decoded span %s", e.getKey())
                    .isEqualTo(new Received(s.name(), s.start(), s.end(), decoded.get(e.getKey()).resource()));
            assertThat(decoded.get(e.getKey()).resource()).containsEntry("service.name", "ppexec");
            double ms = (Long.parseLong(s.end()) - Long.parseLong(s.start())) / 1e6;
            // The printer computes durations from epoch nanoseconds held as JavaScript numbers (about 256 ns apart
            // at today's epoch), so a duration within 0.001 ms of a rounding boundary may print either neighbour.
            List<String> shown = java.util.stream.Stream.of(ms - 0.001, ms + 0.001)
                    .map(v -> "span " + e.getKey().substring(0, 6) + " \"" + s.name() + "\" ("
                            + new BigDecimal(Math.max(0, v)).setScale(1, RoundingMode.HALF_UP).toPlainString() + "ms")
                    .distinct().toList();
            List<String> lines = waterfall.stream().filter(l -> l.contains("span " + e.getKey().substring(0, 6) + " ")).toList();
            assertThat(lines).as("waterfall line of %s, showing one of %s", s.name(), shown)
                    .anyMatch(l -> shown.stream().anyMatch(l::contains) && l.contains("service.name=ppexec"));
        }
    }

    /** The line without its ANSI colour codes. */
    private static String plain(String line) {
        return line.replaceAll("\u001B\\[[0-9;]*m", "");
    }

    /** A line of the printer's waterfall (one per span); its JSON dump of the request also names the span kind. */
    private static boolean waterfallLine(String line) {
        return line.contains("SPAN_KIND_INTERNAL") && !line.stripLeading().startsWith("{");
    }
}
