package dev.ppexec.sweep;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.StubDriver;
import dev.ppexec.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Note [devices across runs] on the stub driver: the runs of one sweep share the device the caller opened, so the
 * primary context and the kernels' module are made once per sweep, not once per run.
 */
class SweepDevicesTest {

    @Test
    void run_keepsOneContextAndModuleAcrossItsRuns() {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        long contexts = StubDriver.counter("context_refs");
        long modules = StubDriver.counter("modules");
        Device gpu = StubDriver.platform().open(List.of(0), false).getFirst();
        List<String> runs = new ArrayList<>();
        List<Long> contextsAfterRun = new ArrayList<>();
        List<Long> modulesAfterRun = new ArrayList<>();
        try {
            Sweep.Config c = new Sweep.Config(ModelConfig.preset("tiny", 42), List.of(1, 2), 8, 4, 2, 2, List.of(gpu),
                    null, List.of());
            List<SweepPoint> points = Sweep.run(c, (done, total, what) -> {
                runs.add(what);
                contextsAfterRun.add(StubDriver.counter("context_refs") - contexts);
                modulesAfterRun.add(StubDriver.counter("modules") - modules);
            });
            assertThat(points).hasSize(2 * (3 + 4)); // P=1: M 1, 2, 4; P=2: M 1, 2, 4, 8; two phases each
            // Closing a device after a run would drop the context to 0 and unload the module before the next run.
            assertThat(runs).hasSize(2 * 7); // two repeats of the 7 (P, M) points
            assertThat(contextsAfterRun).containsOnly(1L);
            assertThat(modulesAfterRun).containsOnly(1L);
            assertThat(gpu.createStream("after the sweep")).isNotNull(); // still open: the caller's to close
        } finally {
            gpu.close();
        }
        assertThat(StubDriver.counter("context_refs")).isEqualTo(contexts);
        assertThat(StubDriver.counter("modules")).isEqualTo(modules);
    }
}
