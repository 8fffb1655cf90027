package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import dev.ppexec.io.TestFiles;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.ActionHook;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.PipelineException;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.schedule.ActionKind;
import io.opentelemetry.api.common.Attributes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The run's metrics read back from the OTLP-JSON metrics file: each counter equals the run's own
 * figures (its --report), a short interval exports more than once, a failed run still makes its
 * last export, and bad input is refused with one line.
 */
@Timeout(120)
class MetricsTest {

    static final int REQUESTS = 3;
    static final int PROMPT = 4;
    static final int DECODE = 2;
    static final String[] SMALL_RUN = {"run", "--model", "tiny", "--device", "cpu", "--requests", "" + REQUESTS,
            "--micro-batches", "2", "--prompt-len", "" + PROMPT, "--decode-steps", "" + DECODE, "--warmup", "0",
            "--no-progress", "--print-tokens", "0"};
    /** The report gives milliseconds with 6 decimals: nanoseconds. The counters add seconds as doubles. */
    static final double SECONDS_TOLERANCE = 1e-8;
    private static final ObjectMapper JSON = new ObjectMapper();
    static final ModelConfig TINY = ModelConfig.preset("tiny", 11);

    @Test
    void metricsFile_countersEqualTheRunsOwnFigures(@TempDir Path dir) throws Exception {
        Path metrics = dir.resolve("m.jsonl");
        Path report = dir.resolve("r.json");
        CliRun run = CliRun.of(with("--metrics-file", metrics.toString(), "--report", report.toString()));
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isZero();
        assertThat(run.out()).containsPattern("metrics: \\d+ exports? to " + Pattern.quote(metrics.toString()));

        List<String> lines = Files.readAllLines(metrics);
        assertThat(lines).isNotEmpty();
        MetricLines last = MetricLines.parse(lines.getLast());
        assertEqualsReport(last, JSON.readTree(report.toFile()), TINY.dim());
        assertThat(last.resource()).containsEntry("service.name", "ppexec").containsEntry("ppexec.model", "tiny")
                .containsEntry("ppexec.requests", "" + REQUESTS);
    }

    /** Every instrument of the last export against the run's --report (its config, figures and per-rank figures). */
    static void assertEqualsReport(MetricLines m, JsonNode report, int dim) {
        int requests = report.at("/config/requests").asInt();
        int prompt = report.at("/config/promptLength").asInt();
        int decode = report.at("/config/decodeSteps").asInt();
        JsonNode ranks = report.get("ranks");
        long tokens = 0;
        for (JsonNode r : ranks) {
            long rank = r.get("rank").asLong();
            String device = r.get("device").asText();
            long forwards = r.get("forwards").asLong();
            double cpuSeconds = r.get("cpuLaunchMs").asDouble() / 1e3;
            double busySeconds = r.get("deviceBusyMs").asDouble() / 1e3;
            assertThat(m.point("ppexec.rank.forwards", rank).value()).as("forwards of rank %d", rank).isEqualTo(forwards);
            assertThat(m.point("ppexec.rank.forwards", rank).device()).isEqualTo(device);
            assertThat(m.point("ppexec.rank.cpu.launch", rank).value()).as("cpu launch s of rank %d", rank)
                    .isCloseTo(cpuSeconds, within(SECONDS_TOLERANCE));
            assertThat(m.point("ppexec.rank.device.busy", rank).value()).as("device busy s of rank %d", rank)
                    .isCloseTo(busySeconds, within(SECONDS_TOLERANCE));
            MetricLines.Point cpu = m.point("ppexec.rank.run_batch_cpu.duration", rank);
            MetricLines.Point device0 = m.point("ppexec.rank.run_batch_device.duration", rank);
            assertThat(cpu.count()).isEqualTo(forwards);
            assertThat(cpu.sum()).isCloseTo(cpuSeconds, within(SECONDS_TOLERANCE));
            assertThat(device0.count()).isEqualTo(forwards);
            assertThat(device0.sum()).isCloseTo(busySeconds, within(SECONDS_TOLERANCE));
            List<Double> bounds = JSON.convertValue(cpu.bounds(), JSON.getTypeFactory().constructCollectionType(List.class, Double.class));
            assertThat(bounds).isEqualTo(MetricsListener.DURATION_BUCKETS_SECONDS);
            // rank 0 receives next-token ids (one int32 per request and decode step); the others hidden states
            long bytes = rank == 0 ? (long) requests * decode * 4
                    : (long) requests * (prompt + decode) * dim * 4;
            assertThat(m.point("ppexec.rank.transfer.bytes", rank).value()).as("bytes into rank %d", rank).isEqualTo(bytes);
            if (m.points().get("ppexec.rank.tokens").containsKey(rank)) {
                tokens += (long) m.point("ppexec.rank.tokens", rank).value();
                assertThat(rank).as("only the last rank generates tokens").isEqualTo(ranks.size() - 1);
            }
        }
        assertThat(tokens).isEqualTo(report.at("/figures/generatedTokens").asLong()).isEqualTo((long) requests * (decode + 1));
        assertThat(m.point("ppexec.pipeline.bubble", -1).value()).as("bubble of a run shorter than the window")
                .isCloseTo(report.at("/figures/measuredBubble").asDouble(), within(1e-9));
        assertThat(m.units()).containsEntry("ppexec.rank.cpu.launch", "s").containsEntry("ppexec.rank.device.busy", "s")
                .containsEntry("ppexec.rank.forwards", "{forward}").containsEntry("ppexec.rank.transfer.bytes", "By")
                .containsEntry("ppexec.rank.tokens", "{token}").containsEntry("ppexec.pipeline.bubble", "1")
                .containsEntry("ppexec.rank.run_batch_cpu.duration", "s").containsEntry("ppexec.rank.run_batch_device.duration", "s");
    }

    @Test
    void shortInterval_exportsMoreThanOnce_eachLineHoldingTheTotalsSoFar(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.jsonl");
        RunResult result;
        Metrics metrics = Metrics.start(new MetricsOptions(file, false, null, null, Duration.ofMillis(100), Map.of()),
                Attributes.empty());
        try (Pipeline pipeline = Pipeline.builder().model(TINY).stages(2).microBatches(2).build()) {
            result = pipeline.generate(Workload.generated(TINY, 4, 4, 8), s -> {}, List.of(metrics.listener()));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (metrics.exportsSoFar() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(metrics.exportsSoFar()).as("periodic exports before the end").isGreaterThanOrEqualTo(2);
        } finally {
            assertThat(metrics.shutdown()).singleElement().asString().startsWith("metrics: ").contains(" exports to " + file);
        }
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).as("periodic exports and the last one").hasSizeGreaterThanOrEqualTo(3);
        long previous = 0;
        for (String line : lines) {
            MetricLines m = MetricLines.parse(line);
            long forwards = m.points().containsKey("ppexec.rank.forwards") ? (long) m.point("ppexec.rank.forwards", 1).value() : 0;
            assertThat(forwards).as("cumulative").isGreaterThanOrEqualTo(previous);
            previous = forwards;
        }
        assertThat(previous).isEqualTo(result.ranks().get(1).forwards());
    }

    @Test
    void failedRun_lastExportHoldsTheForwardsResolvedBeforeTheFault(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.jsonl");
        ActionHook faultOnRank1 = (rank, action) -> {
            if (rank == 1 && action.kind() == ActionKind.FORWARD && action.step() == 6) {
                throw new IllegalStateException("injected fault");
            }
        };
        Metrics metrics = Metrics.start(new MetricsOptions(file, false, null, null, MetricsOptions.DEFAULT_INTERVAL, Map.of()),
                Attributes.empty());
        try (Pipeline pipeline = Pipeline.builder().model(TINY).stages(2).microBatches(2).actionHook(faultOnRank1).build()) {
            assertThatThrownBy(() -> pipeline.generate(Workload.generated(TINY, 4, 4, 12), s -> {}, List.of(metrics.listener())))
                    .isInstanceOf(PipelineException.class).hasMessageContaining("injected fault");
        } finally {
            metrics.shutdown();
        }
        MetricLines m = MetricLines.parse(Files.readAllLines(file).getLast());
        // rank 1 stopped before step 6 of either micro-batch; steps 0..4 of both had finished on its device
        assertThat(m.point("ppexec.rank.forwards", 1).value()).isBetween(10.0, 12.0);
        assertThat(m.point("ppexec.rank.tokens", 1).value()).isEqualTo(m.point("ppexec.rank.forwards", 1).value() * 2);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "--metrics-file m.jsonl --metrics-interval 0      | --metrics-interval 0 is out of range; allowed: seconds from 0.1 to 3600 (e.g. 10 or 0.5)",
            "--metrics-file m.jsonl --metrics-interval 0.05   | --metrics-interval 0.05 is out of range; allowed: seconds from 0.1 to 3600",
            "--metrics-file m.jsonl --metrics-interval 3601   | --metrics-interval 3601 is out of range; allowed: seconds from 0.1 to 3600",
            "--metrics-file m.jsonl --metrics-interval -1     | --metrics-interval -1 is out of range; allowed: seconds from 0.1 to 3600",
            "--metrics-file m.jsonl --metrics-interval NaN    | --metrics-interval NaN is out of range; allowed: seconds from 0.1 to 3600",
            "--metrics-file m.jsonl --metrics-interval ten    | --metrics-interval 'ten' is not a number; allowed: seconds from 0.1 to 3600",
            "--metrics-file m.jsonl --trace-file m.jsonl      | --trace-file m.jsonl and --metrics-file m.jsonl name one file; allowed: a different file for each output",
            "--metrics-interval 5                             | --metrics-interval 5 without a metrics destination; allowed: with --metrics-file FILE.jsonl or a collector",
    })
    void badInput_exits2_withOneLineNamingOptionValueAndAllowed(String args, String message) {
        CliRun run = CliRun.of(with(args.trim().split("\\s+")));
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isEqualTo(2);
        assertThat(run.err()).contains(message);
        assertThat(run.err().strip().lines()).as("one line").hasSize(1);
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '|', value = {
            "OTEL_METRICS_EXPORTER | prometheus | is not supported; allowed: otlp, none (otlp: to OTEL_EXPORTER_OTLP_ENDPOINT; none: only --metrics-file; ppexec writes no other exporter's format)",
            "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL | http/json | is not supported; allowed: http/protobuf, grpc",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT | localhost:4318 | is not a URL; allowed: http://HOST[:PORT][/PATH]",
            "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE | sometimes | is not supported; allowed: cumulative, delta, lowmemory",
    })
    void badMetricsVariable_exits2_namingTheVariable(String variable, String value, String message, @TempDir Path dir) {
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put(variable, value);
        CliRun run = CliRun.withEnv(env, with("--metrics-file", dir.resolve("m.jsonl").toString()));
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isEqualTo(2);
        assertThat(run.err().strip()).startsWith("run: " + variable + "='" + value + "' " + message);
        assertThat(run.err().strip().lines()).as("one line").hasSize(1);
        assertThat(dir.resolve("m.jsonl")).doesNotExist();
    }

    @Test
    void metricsExporterNone_sendsTheCollectorNoMetrics_butTheFileStillGetsThem(@TempDir Path dir) throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        Map<String, String> env = new HashMap<>(System.getenv());
        env.put("OTEL_METRICS_EXPORTER", "none");
        CliRun none = CliRun.withEnv(env, with("--otlp-endpoint", "http://127.0.0.1:" + closedPort, "--trace-level", "0"));
        assertThat(none.status()).as("stderr: %s", none.err()).isZero();
        assertThat(none.out()).doesNotContain("metrics:");

        Path file = dir.resolve("m.jsonl");
        CliRun withFile = CliRun.withEnv(env, with("--otlp-endpoint", "http://127.0.0.1:" + closedPort, "--trace-level", "0",
                "--metrics-file", file.toString()));
        assertThat(withFile.status()).as("stderr: %s", withFile.err()).isZero();
        assertThat(withFile.out().lines().filter(l -> l.startsWith("metrics:")).toList())
                .containsExactly("metrics: 1 export to " + file);
        assertThat(MetricLines.parse(Files.readAllLines(file).getLast()).point("ppexec.rank.forwards", 0).value()).isPositive();
    }

    @Test
    void benchSweep_countersAddUpEveryMeasuredRun(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.jsonl");
        CliRun run = CliRun.of("bench", "--quick", "--ranks", "1,2", "--repeats", "1", "--no-tracing-compare", "--no-progress",
                "--out", dir.resolve("bench").toString(), "--metrics-file", file.toString(), "--metrics-interval", "0.5");
        assertThat(run.status()).as("exit status; stderr: %s", run.err()).isZero();
        assertThat(run.out()).containsPattern("metrics: \\d+ exports? to " + Pattern.quote(file.toString()));
        MetricLines m = MetricLines.parse(Files.readAllLines(file).getLast());
        // --quick: 16 requests, 8 decode steps; P=1 runs M = 1, 2, 4 and P=2 runs M = 1, 2, 4, 8, each forward a
        // micro-batch's pass (prefill and 8 decode steps)
        int passes = 1 + 8;
        assertThat(m.point("ppexec.rank.forwards", 0).value()).isEqualTo((1 + 2 + 4 + 1 + 2 + 4 + 8) * passes);
        assertThat(m.point("ppexec.rank.forwards", 1).value()).isEqualTo((1 + 2 + 4 + 8) * passes);
        assertThat(m.point("ppexec.rank.tokens", 0).value()).as("P=1 runs").isEqualTo(3 * 16 * passes);
        assertThat(m.point("ppexec.rank.tokens", 1).value()).as("P=2 runs").isEqualTo(4 * 16 * passes);
        assertThat(m.resource()).containsEntry("ppexec.model", "tiny").containsEntry("ppexec.requests", "16");
    }

    @Test
    void fullDisk_failsTheRunAfterItsResults_withTheReason(@TempDir Path dir) throws Exception {
        Path full = TestFiles.fullDevice(dir);
        CliRun run = CliRun.of(with("--metrics-file", full.toString()));
        assertThat(run.status()).isEqualTo(1);
        assertThat(run.out()).contains("tokens/s").containsPattern("metrics: " + Pattern.quote(full.toString())
                + ": 0 of 1 exports delivered \\(.*No space left on device\\)");
        assertThat(run.err().strip()).isEqualTo("run: error: --metrics-file " + full + ": cannot write: No space left on device");
    }

    @Test
    void noDestination_startsNoMetrics() {
        CliRun run = CliRun.withEnv(Map.of(), SMALL_RUN);
        assertThat(run.status()).as("stderr: %s", run.err()).isZero();
        assertThat(run.out()).contains("bubble: measured").doesNotContain("metrics:");
    }

    static String[] with(String... extra) {
        return Stream.concat(Stream.of(SMALL_RUN), Stream.of(extra)).toArray(String[]::new);
    }
}
