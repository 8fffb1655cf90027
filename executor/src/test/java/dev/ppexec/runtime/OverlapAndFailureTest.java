package dev.ppexec.runtime;

import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.schedule.ActionKind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class OverlapAndFailureTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 42);

    /**
     * Each layer's first kernel sleeps, so a stage of two layers takes a fixed ~2·SLEEP whatever
     * the free cores: the check does not depend on the machine being idle.
     */
    @Test
    @Timeout(60)
    void prefill_P2_M8_makespanIsNearFillDrainIdeal_notSerial() {
        long sleepMillis = 15;
        CpuDevice device = new CpuDevice(launch -> {
            if (launch.endsWith(".attn_norm")) {
                Thread.sleep(sleepMillis);
            }
        });
        int p = 2, m = 8;
        try (device; Pipeline pipe = Pipeline.builder().model(TINY).stages(p).microBatches(m).devices(List.of(device)).build()) {
            pipe.generate(Workload.generated(TINY, m, 4, 0)); // warm-up: JIT
            // The best of three runs: the claim is that ranks overlap, not how quiet the machine is.
            long span = Long.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                span = Math.min(span, pipe.generate(Workload.generated(TINY, m, 4, 0)).pipelineSpanNanos());
            }
            double stageNanos = 2 * TimeUnit.MILLISECONDS.toNanos(sleepMillis);
            double ideal = (m + p - 1) * stageNanos;
            double serial = p * m * stageNanos;
            // Fill-drain overlap puts the makespan near the ideal; without overlap it would be the serial sum.
            assertThat((double) span)
                    .as("makespan %.1f ms vs ideal %.1f ms, serial %.1f ms", span / 1e6, ideal / 1e6, serial / 1e6)
                    .isBetween(ideal * 0.95, (ideal + serial) / 2);
        }
    }

    @Test
    @Timeout(60)
    void failureOnOneRank_stopsAllRanks_namesRankMicroBatchAndAction_andASecondRunWorks() {
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        CpuDevice device = new CpuDevice();
        ActionHook failOnRank1 = (rank, action) -> {
            if (rank == 1 && action.kind() == ActionKind.FORWARD && action.microBatch() == 2 && action.step() == 3) {
                throw new IllegalStateException("injected fault");
            }
        };
        try (device; Pipeline pipe = Pipeline.builder().model(TINY).stages(3).microBatches(4).devices(List.of(device))
                .actionHook(failOnRank1).build()) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> pipe.generate(Workload.generated(TINY, 8, 4, 10)))
                    .isInstanceOf(PipelineException.class)
                    .hasMessageContaining("rank 1: action F2@3 (micro-batch 2, step 3) failed: injected fault")
                    .satisfies(e -> assertThat(((PipelineException) e).rank()).isEqualTo(1));
            assertThat(System.nanoTime() - t0).as("bounded stop").isLessThan(TimeUnit.SECONDS.toNanos(20));
            assertThat(device.liveStreamThreads()).as("stream threads after the failed run").isZero();
            assertNoSchedulerThreads(before);
        }
        try (Pipeline pipe = Pipeline.builder().model(TINY).stages(3).microBatches(4).build()) {
            assertThat(pipe.generate(Workload.generated(TINY, 8, 4, 10)).tokens()).hasNumberOfRows(8);
        }
    }

    @Test
    @Timeout(60)
    void kernelFault_namesRankKernelAndStream() {
        CpuDevice device = new CpuDevice(launch -> {
            if (launch.equals("matmul_add layers.3.w2")) {
                throw new ArithmeticException("injected kernel fault");
            }
        });
        try (device; Pipeline pipe = Pipeline.builder().model(TINY).stages(2).microBatches(2).devices(List.of(device)).build()) {
            assertThatThrownBy(() -> pipe.generate(Workload.generated(TINY, 4, 4, 3)))
                    .isInstanceOf(PipelineException.class)
                    .hasMessageContaining("rank 1: kernel 'matmul_add layers.3.w2' on cpu stream")
                    .hasMessageContaining("injected kernel fault");
        }
    }

    @Test
    @Timeout(60)
    void transferFault_stopsEveryRank_namesTheTransferAndCopyStream_andTheDeviceServesAnotherRun() {
        boolean[] armed = {true};
        CpuDevice device = new CpuDevice(launch -> {
            if (armed[0] && launch.equals("copy pp_recv rank 1 mb1")) {
                throw new java.io.IOException("injected transfer fault");
            }
        });
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        try (device; Pipeline pipe = Pipeline.builder().model(TINY).stages(2).microBatches(2).devices(List.of(device)).build()) {
            assertThatThrownBy(() -> pipe.generate(Workload.generated(TINY, 4, 4, 3)))
                    .isInstanceOf(PipelineException.class)
                    .hasMessageContaining("rank 1: kernel 'copy pp_recv rank 1 mb1' on cpu stream")
                    .hasMessageContaining("(PP1 copy)")
                    .hasMessageContaining("injected transfer fault");
            assertNoSchedulerThreads(before);
            assertThat(device.liveStreamThreads()).as("the failed run's streams are closed").isZero();
            armed[0] = false;
            assertThat(pipe.generate(Workload.generated(TINY, 4, 4, 3)).tokens()).hasNumberOfRows(4);
        }
    }

    private static void assertNoSchedulerThreads(Set<Thread> before) {
        assertThat(Thread.getAllStackTraces().keySet()).filteredOn(t -> !before.contains(t) && t.isAlive())
                .extracting(Thread::getName).noneMatch(n -> n.startsWith("Scheduler [PP") || n.startsWith("cpu stream"));
    }
}
