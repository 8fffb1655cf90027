package dev.ppexec.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The validation pass (Note [usage errors]): bad input before the device line, defaults that fit, usage apart from internal errors. */
@Timeout(120)
class ValidationTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "--requests 2147483647                        | --requests 2147483647 x (--prompt-len 32 + --decode-steps 32) positions of model tiny need",
            "--requests 100000000                         | --requests 100000000 x (--prompt-len 32 + --decode-steps 32) positions of model tiny need",
            "--split 2147483647,2147483647,2              | --split '2147483647,2147483647,2' has a stage of 2147483647 layers",
            "--split 1,1,1,1,0                            | --split '1,1,1,1,0' has 5 stages, more than the 4 layers",
            "--split 1,+3                                 | --split '1,+3': '+3' is not a whole number",
            "--split '2, 2'                               | --split '2, 2': ' 2' is not a whole number",
            "--requests ٣                                 | Invalid value for option '--requests': '٣' is not a whole number; allowed: ASCII digits 0-9",
            "--requests ' 3'                              | Invalid value for option '--requests': ' 3' is not a whole number",
            "--seed 99999999999999999999                  | Invalid value for option '--seed': '99999999999999999999' is out of range",
            "--warmup 2147483647                          | --warmup 2147483647 is out of range; allowed: 0..100",
            "--attr a=1                                   | --attr 'a=1' without a trace destination; allowed: with --trace-file FILE.jsonl",
            "--trace-file t.jsonl --attr a=1 --attr a=2   | --attr 'a=2' repeats key 'a' (given before as 'a=1'); allowed: each key once",
            "--trace-file t.jsonl --trace-level 0 --attr a=1 | --attr 'a=1' with --trace-level 0 (tracing off)",
            "--otlp-endpoint http://127.0.0.1:99999       | --otlp-endpoint 'http://127.0.0.1:99999' has port 99999; allowed:",
            "--otlp-endpoint http://127.0.0.1:0           | --otlp-endpoint 'http://127.0.0.1:0' has port 0",
            "--model-file m.json --model tiny             | --model-file m.json and --model tiny both given; allowed: one of them",
            "--stages 2 --stages 3                        | --stages 2 and --stages 3 both given; allowed: one of them",
            "--model 'tiny\u001b[31m'                     | --model 'tiny\\e[31m' is not a preset",
            "--requests 3 --micro-batches 4               | --micro-batches 4 is out of range; allowed: 1..3 (at most --requests)",
            "--prompt-len 129                             | --prompt-len 129 is more than 128 (maxSeq of model tiny); allowed: 1..128",
            "--decode-steps 128                           | --decode-steps 128 leaves no position of 128 (maxSeq of model tiny) for a prompt; allowed: 0..127",
            "--devices 0,0                                | --devices 0,0 repeats a device; allowed: distinct ordinals",
            "--devices -1                                 | --devices -1 has a negative ordinal",
    })
    void badInput_underDeviceAuto_isOneLine_withoutTheDeviceLine(String args, String message) {
        String base = args.contains("--model") ? "run --no-progress " : "run --model tiny --no-progress ";
        CliRun o = CliRun.withEnv(Map.of(), split(base + args));
        assertThat(o.status()).as(o.err()).isEqualTo(2);
        assertThat(o.err().strip()).startsWith("run: ").contains(message);
        assertThat(o.err().strip().lines()).as("one line, no device line").hasSize(1);
        assertThat(o.err()).doesNotContain("device auto").doesNotContain("\u001b");
        assertThat(o.out()).isEmpty();
    }

    @Test
    void otelVariable_isCheckedBeforeTheDeviceLine() {
        CliRun o = CliRun.withEnv(Map.of("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318",
                "OTEL_BSP_MAX_QUEUE_SIZE", "-1"), "run", "--model", "tiny", "--no-progress");
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().strip()).isEqualTo("run: OTEL_BSP_MAX_QUEUE_SIZE='-1' is out of range; allowed: a whole number 1..16777216");
    }

    @Test
    void otelVariables_areNotReadWhenTheRunTracesNothing() {
        CliRun o = CliRun.withEnv(Map.of("OTEL_BSP_MAX_QUEUE_SIZE", "-1"), "run", "--model", "tiny", "--no-progress",
                "--requests", "2", "--prompt-len", "2", "--decode-steps", "1", "--warmup", "0");
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("tokens/s");
    }

    @Test
    void defaults_fitTheGivenOptions() {
        CliRun three = run("--requests", "3", "--prompt-len", "4", "--decode-steps", "2");
        assertThat(three.status()).as(three.err()).isZero();
        assertThat(three.out()).contains("3 requests x (4 prompt + 2 decode) tokens, 3 micro-batches");
        CliRun longPrompt = run("--requests", "2", "--prompt-len", "120");
        assertThat(longPrompt.status()).as(longPrompt.err()).isZero();
        assertThat(longPrompt.out()).contains("2 requests x (120 prompt + 8 decode) tokens, 2 micro-batches");
        CliRun longDecode = run("--requests", "1", "--decode-steps", "124");
        assertThat(longDecode.status()).as(longDecode.err()).isZero();
        assertThat(longDecode.out()).contains("1 requests x (4 prompt + 124 decode) tokens, 1 micro-batches");
    }

    @Test
    void oneLayerModel_defaultsToOneStage_andRefusesTwoGiven() throws IOException {
        Path model = Files.writeString(dir.resolve("one.json"),
                "{\"name\": \"one\", \"vocab\": 64, \"dim\": 16, \"heads\": 2, \"layers\": 1, \"ffn\": 32, \"max_seq\": 16}");
        CliRun o = CliRun.withEnv(Map.of(), "run", "--model-file", model.toString(), "--device", "cpu", "--no-progress",
                "--requests", "2", "--warmup", "0");
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(o.out()).contains("1 rank(s), split 1").contains("(16 prompt + 0 decode)");
        CliRun two = CliRun.withEnv(Map.of(), "run", "--model-file", model.toString(), "--stages", "2");
        assertThat(two.err().strip()).isEqualTo("run: --stages 2 is out of range; allowed: 1..1 (model one has 1 layers)");
    }

    @Test
    void modelName_withAControlCharacter_isRefused() throws IOException {
        Path model = Files.writeString(dir.resolve("m.json"),
                "{\"name\": \"x\\u001b[2J\", \"vocab\": 64, \"dim\": 16, \"heads\": 2, \"layers\": 2, \"ffn\": 32, \"max_seq\": 16}");
        CliRun o = CliRun.withEnv(Map.of(), "run", "--model-file", model.toString());
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err()).contains("--model-file " + model + " line 1: name 'x\\e[2J' has a control character; allowed: "
                + "printable characters").doesNotContain("\u001b");
    }

    @Test
    void unexpectedIllegalArgument_isAnInternalError_notBadInput() {
        StringWriter err = new StringWriter();
        int status = Main.failed(new IllegalStateException("wrapped", new IllegalArgumentException("stages 0 is out of range")),
                "run", new PrintWriter(err, true));
        assertThat(status).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo("run: error: wrapped: stages 0 is out of range");
        err.getBuffer().setLength(0);
        status = Main.failed(new IllegalArgumentException("microBatches 9 is more than the workload's requests 8"),
                "run", new PrintWriter(err, true));
        assertThat(status).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo("run: internal error: IllegalArgumentException: microBatches 9 is more "
                + "than the workload's requests 8");
        err.getBuffer().setLength(0);
        status = Main.failed(new NullPointerException(), "run", new PrintWriter(err, true));
        assertThat(status).isEqualTo(1);
        assertThat(err.toString().strip()).isEqualTo("run: internal error: NullPointerException");
        err.getBuffer().setLength(0);
        status = Main.failed(new UsageException("--requests 0 is not positive\nsecond line"), "run", new PrintWriter(err, true));
        assertThat(status).isEqualTo(2);
        assertThat(err.toString().strip()).isEqualTo("run: --requests 0 is not positive\\nsecond line");
    }

    @Test
    void coreRefusal_isSaidWithTheOption_onlyWhenItNamesTheField() {
        IllegalArgumentException split = new IllegalArgumentException("split '2,1' sums to 3; allowed: ...");
        assertThat(UsageException.asOption(split, "split", "--split")).isInstanceOf(UsageException.class)
                .hasMessage("--split '2,1' sums to 3; allowed: ...");
        IllegalArgumentException other = new IllegalArgumentException("splitting failed");
        assertThat(UsageException.asOption(other, "split", "--split")).isSameAs(other);
    }

    @Test
    void bench_checksEverythingBeforeItsDeviceLine() {
        CliRun positions = CliRun.withEnv(Map.of(), "bench", "--quick", "--prompt-len", "128", "--out", dir.toString());
        assertThat(positions.status()).isEqualTo(2);
        assertThat(positions.err().strip()).isEqualTo("bench: --prompt-len 128 leaves no decode step in maxSeq 128 of "
                + "model tiny; allowed: 1..127");
        CliRun repeated = CliRun.withEnv(Map.of(), "bench", "--quick", "--ranks", "2,2", "--out", dir.toString());
        assertThat(repeated.err().strip()).isEqualTo("bench: --ranks 2,2 repeats a value; allowed: distinct P values");
        CliRun otel = CliRun.withEnv(Map.of("OTEL_BSP_SCHEDULE_DELAY", "-1"), "bench", "--quick", "--out", dir.toString());
        assertThat(otel.err().strip()).startsWith("bench: OTEL_BSP_SCHEDULE_DELAY='-1' is not a duration");
        CliRun huge = CliRun.withEnv(Map.of(), "bench", "--quick", "--requests", "2000000000", "--out", dir.toString());
        assertThat(huge.status()).isEqualTo(2);
        assertThat(huge.err().strip()).startsWith("bench: --requests 2000000000 x (--prompt-len 8 + --decode-steps 8) "
                + "positions of model tiny at P = 4, M = 1 need");
        for (CliRun o : new CliRun[]{positions, repeated, otel, huge}) {
            assertThat(o.err().strip().lines()).as(o.err()).hasSize(1);
        }
        assertThat(dir.toFile().list()).as("nothing written").isEmpty();
    }

    private static CliRun run(String... args) {
        List<String> all = new ArrayList<>(List.of("run", "--model", "tiny", "--no-progress", "--warmup", "0", "--print-tokens", "0"));
        all.addAll(List.of(args));
        return CliRun.withEnv(Map.of(), all.toArray(String[]::new));
    }

    /** Splits at spaces outside single quotes, as a shell does. */
    private static String[] split(String line) {
        List<String> words = new ArrayList<>();
        StringBuilder w = new StringBuilder();
        boolean quoted = false;
        boolean any = false;
        for (char c : line.toCharArray()) {
            if (c == '\'') {
                quoted = !quoted;
                any = true;
            } else if (c == ' ' && !quoted) {
                if (any) {
                    words.add(w.toString());
                }
                w.setLength(0);
                any = false;
            } else {
                w.append(c);
                any = true;
            }
        }
        if (any) {
            words.add(w.toString());
        }
        return words.toArray(String[]::new);
    }
}
