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
        // PP0: embed, and per layer the prefill list's 9 and decode's norm_matmul and norm_gate_up; PP1: 2 layers of
        // 11, and the head's gather_last, rmsnorm, matmul, argmax and decode's norm_matmul (Note [fused launches])
        assertThat(slices).as("23 launch names on PP0, 27 on PP1").hasSize(23 + 27);

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
                        .as("2 micro-batches x the passes of its lists").isEqualTo(forwardsRunning(k.get("name").asText()));
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
        assertThat(lines).hasSize(1 + 23 + 1 + 27 + 1);
        assertThat(lines).filteredOn(l -> l.contains("all kernels")).hasSize(2)
                .allMatch(l -> l.contains("100.0%"), "kernels tile the device time");
        assertThat(lines).anyMatch(l -> l.startsWith("PP1") && l.contains("norm_matmul lm_head") && l.contains(" 6 "));
    }

    /**
     * The forwards of the run above that launch {@code name}: 2 micro-batches x 4 passes for a launch of both lists;
     * prefill's 1 per micro-batch for the unfused norm, products, gate and gather; decode's 3 for the fused ones.
     */
    private static long forwardsRunning(String name) {
        String kernel = name.split(" ")[0];
        if (kernel.equals("norm_matmul") || kernel.equals("norm_gate_up")) {
            return 2 * 3;
        }
        return List.of("rmsnorm", "matmul", "silu_gate", "gather_last").contains(kernel) ? 2 : 2 * 4;
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
