package dev.ppexec.perfetto;

import dev.ppexec.cli.CliRun;
import dev.ppexec.perfetto.ChromeTrace.Flow;
import dev.ppexec.perfetto.ChromeTrace.Slice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.ppexec.perfetto.PerfettoConverterTest.assertEveryFlowStartHasExactlyOneFinish;
import static dev.ppexec.perfetto.PerfettoConverterTest.assertSlicesNestOnEveryThread;
import static org.assertj.core.api.Assertions.assertThat;

/** A real P=2 run traced and converted in one command ({@code run --perfetto}), checked structurally. */
class RealRunConversionTest {

    @Test
    void p2Run_convertsToNestedSlicesCausalArrowsAndACpuAndStreamTrackPerRank(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("run.perfetto.json");
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--stages", "2", "--micro-batches", "2",
                "--requests", "4", "--prompt-len", "4", "--decode-steps", "3", "--warmup", "0", "--no-progress",
                "--perfetto", out.toString());
        assertThat(run.status()).as(run.err()).isZero();
        assertThat(run.out()).contains("perfetto: " + out).contains("trace report:");
        assertThat(dir.toFile().list()).as("the temporary trace is removed").containsExactly("run.perfetto.json");

        ChromeTrace t = ChromeTrace.read(out);
        for (Slice s : t.slices()) {
            assertThat(s.ts()).as("ts of %s", s).isNotNegative();
            assertThat(s.dur()).as("dur of %s", s).isNotNegative();
        }
        assertSlicesNestOnEveryThread(t);
        assertEveryFlowStartHasExactlyOneFinish(t);

        List<String> ranks = t.processes().values().stream().filter(n -> n.contains(":Scheduler-PP")).sorted().toList();
        assertThat(ranks).hasSize(2);
        assertThat(ranks.get(0)).endsWith("-PP0");
        assertThat(ranks.get(1)).endsWith("-PP1");
        for (String rank : ranks) {
            int pid = t.pid(rank);
            assertThat(t.threads().entrySet().stream().filter(e -> e.getKey().pid() == pid).map(Map.Entry::getValue))
                    .as("tracks of %s", rank).contains("CPU").anyMatch(n -> n.matches("cpu stream \\d+"));
        }

        List<Flow> launches = t.flows().stream().filter(f -> f.phase().equals("s") && f.name().equals("launch")).toList();
        assertThat(launches).as("ranks x micro-batches x (prefill + 3 steps)").hasSize(2 * 2 * 4);
        for (Flow start : launches) {
            Flow finish = t.flows().stream().filter(f -> f.phase().equals("f") && f.id() == start.id()).findFirst()
                    .orElseThrow();
            Slice cpu = t.boundSlice(start);
            Slice device = t.boundSlice(finish);
            assertThat(cpu.name()).isEqualTo("run_batch_cpu");
            assertThat(device.name()).isEqualTo("run_batch_device");
            assertThat(device.ts()).as("device %s vs its launch %s", device, cpu).isGreaterThanOrEqualTo(cpu.ts());
        }
        long transfers = t.flows().stream().filter(f -> f.phase().equals("s") && f.name().equals("pp transfer")).count();
        assertThat(transfers).as("PP0 -> PP1 per micro-batch and step").isEqualTo(2 * 4);
    }
}
