package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cuda.CudaPlatform;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

@Timeout(120)
class RunCommandTest {

    static CliRun cli(String... args) {
        return CliRun.of(args);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "--model huge                              | --model 'huge' is not a preset; allowed: tiny, toy, small",
            "--requests 0                              | --requests 0 is not positive; allowed: an integer >= 1",
            "--requests 0 --micro-batches 1            | --requests 0 is not positive; allowed: an integer >= 1",
            "--prompt-len 0                            | --prompt-len 0 is not positive; allowed: an integer >= 1",
            "--prompt-len -3                           | --prompt-len -3 is not positive",
            "--decode-steps -1                         | --decode-steps -1 is negative; allowed: an integer >= 0",
            "--prompt-len 100 --decode-steps 29        | --prompt-len 100 + --decode-steps 29 = 129; allowed: at most 128 (maxSeq of model tiny)",
            "--seed abc                                | Invalid value for option '--seed': 'abc' is not a whole number",
            "--stages 5                                | --stages 5 is out of range; allowed: 1..4 (model tiny has 4 layers)",
            "--stages 0                                | --stages 0 is out of range; allowed: 1..4",
            "--split 2,1                               | --split '2,1' sums to 3; allowed: layer counts summing to 4",
            "--split 4,0                               | --split '4,0' has a stage of 0 layers",
            "--stages 2 --split 2,2                    | --stages 2 and --split 2,2 both given; allowed: one of them",
            "--micro-batches 0                         | --micro-batches 0 is out of range; allowed: 1..8",
            "--micro-batches 9                         | --micro-batches 9 is out of range; allowed: 1..8 (at most --requests)",
            "--device tpu                              | Invalid value for option '--device': expected one of [cpu, cuda, auto] (case-sensitive) but was 'tpu'",
            "--warmup -1                               | --warmup -1 is out of range; allowed: 0..100",
            "--cuda-graphs maybe                       | Invalid value for option '--cuda-graphs': expected one of [on, off] (case-sensitive) but was 'maybe'",
            "--tf32                                    | --tf32 applies to CUDA matmul; allowed with --device cuda or auto",
            "--devices 0,1                             | --devices 0,1 applies to CUDA devices; allowed with --device cuda or auto",
            "--devices 0,x                             | Invalid value for option '--devices' (0,1): 'x' is not a whole number; allowed: ASCII digits 0-9",
            "--frobnicate                              | unknown option or argument '--frobnicate'; allowed options: --attr, --cuda-graphs, --decode-steps",
            "--trace-level 6 --trace-file t.jsonl      | --trace-level 6 is out of range; allowed: 0..5",
            "--trace-level x                           | Invalid value for option '--trace-level': 'x' is not a whole number; allowed: ASCII digits 0-9",
            "--trace-level 2                           | --trace-level 2 without a trace destination; allowed: with --trace-file FILE.jsonl, --perfetto OUT.json or --otlp-endpoint URL",
            "--otlp-endpoint localhost:4318            | --otlp-endpoint 'localhost:4318' is not a URL; allowed: http://HOST[:PORT][/PATH] or https://...",
            "--otlp-endpoint ftp://c:21                | --otlp-endpoint 'ftp://c:21' is not a URL; allowed: http://HOST[:PORT]",
            "--otlp-endpoint http://c:1 --otlp-protocol http/json | --otlp-protocol 'http/json' is not supported; allowed: http/protobuf, grpc",
            "--otlp-protocol grpc                      | --otlp-protocol 'grpc' without a collector; allowed: with --otlp-endpoint URL",
            "--trace-file t.jsonl --attr team          | --attr 'team' is not KEY=VALUE; allowed: KEY=VALUE with a non-empty key outside ppexec.*",
            "--trace-file t.jsonl --attr ppexec.model=x | --attr 'ppexec.model=x': key 'ppexec.model' is set by the run; allowed: a non-empty key outside ppexec.*",
    })
    void badInput_exits2_withOneLineNamingOptionValueAndAllowed(String args, String message) {
        String base = args.contains("--model") ? "run --device cpu --no-progress " : "run --model tiny --device cpu --no-progress ";
        CliRun o = cli((base + args).trim().split("\\s+"));
        assertThat(o.status()).as("exit status; stderr: %s", o.err()).isEqualTo(2);
        assertThat(o.err()).contains(message);
        assertThat(o.err().strip().lines()).as("one line").hasSize(1);
        assertThat(o.err()).doesNotContain("\tat ").doesNotContain("Exception");
    }

    @Test
    void devices_withoutAGpu_saysWhyThereAreNone() {
        Optional<String> reason = CudaPlatform.detect().unavailableReason();
        assumeTrue(reason.isPresent(), "this machine has a usable GPU");
        CliRun o = cli("devices");
        assertThat(o.status()).isZero();
        assertThat(o.out()).contains("no CUDA devices: " + reason.get()).contains("cpu: always available")
                .contains("matmul tile " + dev.ppexec.backend.cpu.MatMulTile.selected() + ": ");
    }

    @Test
    void deviceCuda_withoutAGpu_exits2WithTheReason() {
        CliRun o = cli("run", "--model", "tiny", "--device", "cuda");
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err()).contains("--device cuda: ").contains("allowed here: cpu, auto");
    }

    @Test
    void run_printsTokensAndSummary_andWritesReport(@TempDir Path dir) throws Exception {
        Path report = dir.resolve("r.json");
        CliRun o = cli("run", "--model", "tiny", "--device", "auto", "--stages", "2", "--micro-batches", "2",
                "--requests", "3", "--prompt-len", "5", "--decode-steps", "4", "--no-progress", "--report", report.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.err()).contains("device auto: using cpu: no CUDA driver");
        assertThat(o.out()).contains("request 0:").contains("tokens/s").contains("PP0").contains("PP1")
                .contains("bubble: measured").contains("decode: CUDA graphs off (cpu has no graphs): launched kernel by kernel");
        JsonNode json = new ObjectMapper().readTree(report.toFile());
        assertThat(json.at("/config/split").asText()).isEqualTo("2,2");
        assertThat(json.at("/tokens")).hasSize(3);
        assertThat(json.at("/tokens/0")).hasSize(5);
        String firstLine = o.out().lines().filter(l -> l.startsWith("request 0:")).findFirst().orElseThrow();
        StringBuilder fromJson = new StringBuilder("request 0:");
        json.at("/tokens/0").forEach(t -> fromJson.append(' ').append(t.asInt()));
        assertThat(firstLine).isEqualTo(fromJson.toString());
        assertThat(json.at("/ranks")).hasSize(2);
        assertThat(json.at("/figures/tokensPerSecond").asDouble()).isPositive();
        assertThat(dir.toFile().list()).as("no temporary file left").containsExactly("r.json");
    }

    @Test
    void cudaGraphsOff_isSaidInTheSummary() {
        CliRun o = cli("run", "--model", "tiny", "--device", "cpu", "--requests", "1", "--prompt-len", "2",
                "--decode-steps", "1", "--warmup", "0", "--no-progress", "--cuda-graphs", "off");
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("decode: CUDA graphs off (--cuda-graphs off): launched kernel by kernel");
    }

    @Test
    void reportToAMissingFolder_createsTheFolder(@TempDir Path dir) {
        Path report = dir.resolve("missing/r.json");
        CliRun o = cli("run", "--model", "tiny", "--device", "cpu", "--requests", "2", "--micro-batches", "1",
                "--prompt-len", "3", "--decode-steps", "1", "--no-progress", "--report", report.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("request 0:").contains("report: " + report);
        assertThat(report).isRegularFile();
    }
}
