package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code report --kernels} on a real level-5 trace, checked against the trace's own spans; and its bad input. */
@Timeout(180)
class ReportKernelsTest {

    static Path traced(Path dir, String level) {
        Path trace = dir.resolve("level" + level + ".jsonl");
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--stages", "2", "--micro-batches", "2",
                "--requests", "3", "--prompt-len", "4", "--decode-steps", "3", "--warmup", "0", "--no-progress",
                "--trace-level", level, "--trace-file", trace.toString());
        assertThat(run.status()).as(run.err()).isZero();
        return trace;
    }

    @Test
    void reportKernels_totalsCountsAndSharesAreThoseOfTheTracesKernelSlices(@TempDir Path dir) throws IOException {
        Path trace = traced(dir, "5");
        Map<String, long[]> slices = new HashMap<>(); // "PPr name" -> {count, total ns}
        Map<Long, Long> deviceNanos = new HashMap<>();
        Set<String> devices = new HashSet<>();
        OtlpJsonReader.read(trace, false, s -> {
            Integer rank = s.intAttribute(SpanContract.PP_RANK.name());
            long nanos = s.endNanos() - s.startNanos();
            if (s.stringAttribute(SpanContract.KERNEL.name()) != null) {
                long[] c = slices.computeIfAbsent("PP" + rank + " " + s.name(), k -> new long[2]);
                c[0]++;
                c[1] += nanos;
            } else if (s.name().equals("run_batch_device") && devices.add(rank + "/" + s.intAttribute("pp_mb_id") + "/"
                    + s.intAttribute("step"))) {
                deviceNanos.merge((long) rank, nanos, Long::sum);
            }
        }, skipped -> { throw new AssertionError(skipped); });
        assertThat(slices).as("33 launches on PP0, 36 on PP1, each name once per forward").hasSize(33 + 36);

        CliRun json = CliRun.of("report", "--input", trace.toString(), "--kernels", "--format", "json");
        assertThat(json.status()).as(json.err()).isZero();
        JsonNode ranks = new ObjectMapper().readTree(json.out()).get("ranks");
        assertThat(ranks).hasSize(2);
        int rows = 0;
        for (JsonNode rank : ranks) {
            String label = rank.get("rank").asText();
            long device = deviceNanos.get(Long.parseLong(label.substring(2)));
            assertThat(Math.round(rank.get("deviceTotalMs").asDouble() * 1e6)).as("device time of %s", label).isEqualTo(device);
            long kernelTotal = 0;
            for (JsonNode k : rank.get("kernels")) {
                long[] expected = slices.get(label + " " + k.get("name").asText());
                assertThat(expected).as("%s %s is in the trace", label, k.get("name")).isNotNull();
                assertThat(k.get("count").asLong()).as("count of %s", k.get("name")).isEqualTo(expected[0])
                        .as("2 micro-batches x 4 passes").isEqualTo(8);
                assertThat(Math.round(k.get("totalMs").asDouble() * 1e6)).as("total of %s", k.get("name")).isEqualTo(expected[1]);
                assertThat(k.get("deviceShare").asDouble()).isCloseTo((double) expected[1] / device,
                        org.assertj.core.data.Offset.offset(1e-12));
                assertThat(k.get("kernel").asText()).isEqualTo(k.get("name").asText().split(" ")[0]);
                kernelTotal += expected[1];
                rows++;
            }
            assertThat(Math.round(rank.get("kernelTotalMs").asDouble() * 1e6)).isEqualTo(kernelTotal)
                    .as("the kernels tile the forwards").isEqualTo(device);
        }
        assertThat(rows).isEqualTo(slices.size());

        CliRun text = CliRun.of("report", "--input", trace.toString(), "--kernels");
        assertThat(text.status()).as(text.err()).isZero();
        List<String> lines = text.out().lines().toList();
        assertThat(lines.getFirst()).startsWith("rank   kernel").contains("count", "total ms", "mean us", "share of device");
        assertThat(lines).hasSize(1 + 33 + 1 + 36 + 1);
        assertThat(lines).filteredOn(l -> l.contains("all kernels")).hasSize(2)
                .allMatch(l -> l.contains("100.0%"), "kernels tile the device time");
        assertThat(lines).anyMatch(l -> l.startsWith("PP1") && l.contains("matmul lm_head") && l.contains(" 8 "));
    }

    @Test
    void reportKernels_onALevelFourTrace_exits2WithOneLine(@TempDir Path dir) {
        Path trace = traced(dir, "4");
        CliRun r = CliRun.of("report", "--input", trace.toString(), "--kernels");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().strip()).isEqualTo("report: --kernels: " + trace + " holds no kernel slices; allowed: a trace of "
                + "ppexec run --trace-level 5");
    }
}
