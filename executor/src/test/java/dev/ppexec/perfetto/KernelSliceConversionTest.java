package dev.ppexec.perfetto;

import dev.ppexec.cli.CliRun;
import dev.ppexec.perfetto.ChromeTrace.Slice;
import dev.ppexec.trace.SpanContract;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import static dev.ppexec.perfetto.PerfettoConverterTest.assertSlicesNestOnEveryThread;
import static org.assertj.core.api.Assertions.assertThat;

/** A level-5 run converted to Perfetto: every kernel slice nests under a run_batch_device on its stream track. */
@Timeout(180)
class KernelSliceConversionTest {

    @Test
    void levelFiveRun_kernelSlicesNestUnderTheirRunBatchDevice_onTheStreamTrack(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("k.perfetto.json");
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--stages", "2", "--micro-batches", "2",
                "--requests", "4", "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress",
                "--trace-level", "5", "--perfetto", out.toString());
        assertThat(run.status()).as(run.err()).isZero();

        ChromeTrace t = ChromeTrace.read(out);
        assertSlicesNestOnEveryThread(t);
        List<Slice> kernels = t.slices().stream().filter(s -> SpanContract.isKernelSlice(s.name())).toList();
        List<Slice> devices = t.slices().stream().filter(s -> s.name().equals("run_batch_device")).toList();
        assertThat(kernels).as("micro-batches x (prefill's 19 launches on PP0 + 22 on PP1, then 2 decode passes of 13 + 14)")
                .hasSize(2 * (19 + 22) + 2 * 2 * (13 + 14));
        assertThat(devices).hasSize(2 * 2 * 3);
        for (Slice k : kernels) {
            List<Slice> parents = devices.stream().filter(d -> d.thread().equals(k.thread())
                    && d.ts().compareTo(k.ts()) <= 0 && d.end().compareTo(k.end()) >= 0).toList();
            assertThat(parents).as("run_batch_device around %s", k).hasSize(1);
            assertThat(t.threads().get(k.thread())).as("track of %s", k).matches("cpu stream \\d+");
            assertThat(k.args().get("kernel").asText()).isEqualTo(k.name().split(" ")[0]);
            assertThat(k.args().get("rows").asLong()).isPositive();
        }
    }
}
