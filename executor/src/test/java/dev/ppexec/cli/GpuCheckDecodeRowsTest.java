package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code gpu-check decode-rows} on a real run's report and level-4 trace (made here on the CPU). */
@Timeout(120)
class GpuCheckDecodeRowsTest {

    @TempDir
    Path dir;

    @Test
    void decodeRows_ofARunAndAPyTorchFileWithItsTokens_passWithEveryFigure() throws Exception {
        Path report = dir.resolve("r.json");
        Path trace = dir.resolve("t.jsonl");
        CliRun run = CliRun.of("run", "--device", "cpu", "--model", "tiny", "--stages", "2", "--micro-batches", "1",
                "--requests", "3", "--prompt-len", "4", "--decode-steps", "5", "--trace-level", "4", "--trace-file",
                trace.toString(), "--report", report.toString(), "--no-progress");
        assertThat(run.status()).as(run.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        JsonNode tokens = json.readTree(report.toFile()).path("tokens");
        ObjectNode torch = json.createObjectNode().put("model", "tiny");
        torch.putArray("runs").addObject().put("requests", 3).put("mode", "graph").put("decode_step_ms", 0.25)
                .set("tokens", tokens);
        Path torchFile = dir.resolve("torch.json");
        json.writeValue(torchFile.toFile(), torch);

        CliRun rows = CliRun.of("gpu-check", "decode-rows", "--peak-gbps", "4916.7", "--torch", torchFile.toString(),
                "--row", "decode tiny b3=tiny:3:" + report + ":" + trace);
        assertThat(rows.status()).as(rows.out() + rows.err()).isZero();
        assertThat(rows.out()).startsWith("summary: decode tiny b3 | PASS | step ")
                .contains("tok/s, HBM floor ", "% (1.1 MB at 4916.7 GB/s)", "PP0 ", " PP1 ",
                        "; PyTorch graph 0.250 ms (ppexec ", "; tokens 3/3 = graph");
    }

    @Test
    void decodeRows_withAMissingTrace_failThatRow_andAMalformedRowIsBadInput() throws Exception {
        Path report = dir.resolve("r.json");
        Files.writeString(report, "{\"tokens\": [[1, 2]]}");
        CliRun missing = CliRun.of("gpu-check", "decode-rows", "--row", "x=toy:1:" + report + ":" + dir.resolve("none.jsonl"));
        assertThat(missing.status()).isEqualTo(1);
        assertThat(missing.out()).contains("summary: x | FAIL | no none.jsonl (the run failed or was not made");
        CliRun malformed = CliRun.of("gpu-check", "decode-rows", "--row", "x=toy:eight:r.json:t.jsonl");
        assertThat(malformed.status()).isEqualTo(2);
        assertThat(malformed.err()).contains("--row 'x=toy:eight:r.json:t.jsonl' is malformed; allowed: "
                + "LABEL=MODEL:BATCH:REPORT.json:TRACE.jsonl");
    }
}
