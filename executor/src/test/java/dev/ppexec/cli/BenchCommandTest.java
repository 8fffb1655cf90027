package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static dev.ppexec.cli.RunCommandTest.cli;
import static org.assertj.core.api.Assertions.assertThat;

@Timeout(300)
class BenchCommandTest {

    @TempDir
    Path dir;

    @Test
    void quickSweep_hasEveryPointWithPositiveFigures() throws IOException {
        CliRun o = cli("bench", "--quick", "--no-progress", "--out", dir.toString());
        assertThat(o.status()).as(o.err()).isZero();

        JsonNode root = new ObjectMapper().readTree(dir.resolve("bench.json").toFile());
        assertThat(root.get("model").asText()).isEqualTo("tiny");
        Set<String> seen = new HashSet<>();
        for (JsonNode p : root.get("points")) {
            int ranks = p.get("ranks").asInt();
            int m = p.get("microBatches").asInt();
            String phase = p.get("phase").asText();
            seen.add(ranks + "/" + m + "/" + phase);
            assertThat(p.get("tokensPerSecond")).hasSize(2);
            p.get("tokensPerSecond").forEach(t -> assertThat(t.asDouble()).as("%s", p).isPositive());
            assertThat(p.get("measuredBubble").asDouble()).isBetween(0.0, 1.0);
            assertThat(p.get("idealBubble").asDouble()).isBetween(0.0, 1.0);
            assertThat(p.get("efficiency").asDouble()).isPositive();
            assertThat(p.get("meanRunBatchCpuMicros")).hasSize(ranks);
            assertThat(p.get("meanRunBatchDeviceMicros")).hasSize(ranks);
            p.get("meanRunBatchDeviceMicros").forEach(t -> assertThat(t.asDouble()).isPositive());
            assertThat(p.get("tracedOverUntraced").asDouble()).as("traced/untraced of %s", p).isPositive();
        }
        Set<String> expected = new HashSet<>();
        int[][] grid = {{1, 1}, {1, 2}, {1, 4}, {2, 1}, {2, 2}, {2, 4}, {2, 8}, {4, 1}, {4, 4}, {4, 8}, {4, 16}};
        for (int[] g : grid) {
            expected.add(g[0] + "/" + g[1] + "/prefill");
            expected.add(g[0] + "/" + g[1] + "/decode");
        }
        assertThat(seen).isEqualTo(expected);

        String table = Files.readString(dir.resolve("bench.md"));
        assertThat(table.lines().filter(l -> l.startsWith("| ") && !l.startsWith("| P"))).hasSize(expected.size());
        for (String png : new String[]{"tokens_per_s.png", "bubble.png"}) {
            BufferedImage img = ImageIO.read(dir.resolve(png).toFile());
            assertThat(img).as(png).isNotNull();
            assertThat(img.getWidth()).isEqualTo(800);
        }
        assertThat(o.out()).contains("wrote " + dir.resolve("bench.json"));
        assertThat(dir.resolve(".bench-trace.jsonl")).as("the scratch trace is removed").doesNotExist();
    }

    @Test
    void badInput_exits2_withOneLine() {
        CliRun few = cli("bench", "--ranks", "4", "--requests", "8");
        assertThat(few.status()).isEqualTo(2);
        assertThat(few.err().strip()).isEqualTo("bench: --requests 8 is fewer than M = 4P = 16; allowed: at least 16");
        CliRun ranks = cli("bench", "--model", "tiny", "--ranks", "1,5");
        assertThat(ranks.status()).isEqualTo(2);
        assertThat(ranks.err().strip()).isEqualTo("bench: --ranks 5 is out of range; allowed: 1..4 (model tiny has 4 layers)");
        CliRun repeats = cli("bench", "--quick", "--repeats", "0");
        assertThat(repeats.err().strip()).isEqualTo("bench: --repeats 0 is not positive; allowed: an integer >= 1");
    }
}
