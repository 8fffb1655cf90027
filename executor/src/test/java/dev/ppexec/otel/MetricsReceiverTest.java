package dev.ppexec.otel;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A run's metrics arrive at a real OTLP receiver over loopback ({@link MockOtlpReceiver}), over
 * OTLP/HTTP and OTLP/gRPC, and the counters it printed equal the run's own figures (its --report).
 */
@Timeout(300)
class MetricsReceiverTest {

    private static final Duration PRINT_BOUND = Duration.ofSeconds(30);
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

    @ParameterizedTest(name = "{0}")
    @CsvSource({"http/protobuf, 7, /v1/metrics", "grpc, 8, ''"})
    void metricsOfASmallRun_arrive_andEqualTheRunsFigures(String protocol, String seed, String path, @TempDir Path dir)
            throws Exception {
        int port = protocol.equals("grpc") ? receiver.grpcPort() : receiver.httpPort();
        Path report = dir.resolve("r.json");
        int mark = receiver.mark();
        CliRun run = CliRun.of(MetricsTest.with("--seed", seed, "--trace-level", "0", "--report", report.toString(),
                "--otlp-endpoint", "http://127.0.0.1:" + port, "--otlp-protocol", protocol));
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isZero();
        assertThat(run.out()).containsPattern("metrics: \\d+ exports? to OTLP " + protocol + " http://127\\.0\\.0\\.1:" + port
                + path + "\n");

        // This run's exports are told apart by the seed in their resource; the last one holds the totals.
        List<String> printed = receiver.awaitLines(mark, ls -> !ofThisRun(ls, seed).isEmpty(), PRINT_BOUND);
        List<String> mine = ofThisRun(printed, seed);
        MetricLines last = MetricLines.parse(mine.getLast());
        MetricsTest.assertEqualsReport(last, JSON.readTree(report.toFile()), MetricsTest.TINY.dim());
        assertThat(last.resource()).containsEntry("service.name", "ppexec").containsEntry("ppexec.model", "tiny");
    }

    private static List<String> ofThisRun(List<String> lines, String seed) {
        return lines.stream().filter(l -> l.startsWith("{\"resourceMetrics\""))
                .filter(l -> seed.equals(MetricLines.parse(l).resource().get("ppexec.seed"))).toList();
    }
}
