package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.cuda.StubDriver;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@link CudaPipelineContract} in CI: the whole CUDA backend (bindings, launches, streams, events,
 * host callbacks, copies between ranks) on the stub driver, whose kernels are the project's own
 * compiled for the host; and what only the stub can count: graph replays, and a capture the driver refuses.
 */
class CudaPipelineEmulatedTest extends CudaPipelineContract {

    @Override
    Device openDevice() {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        return StubDriver.platform().open(List.of(0), false).getFirst();
    }

    @Test
    void decodeGraphs_replayOncePerRankSlotAndStep_andAreDestroyedWithTheRun() {
        int stages = 2, microBatches = 3, steps = 10;
        long replays = StubDriver.counter("graph_launches");
        int live = ((CudaDevice) gpu()).liveResources();
        try (Pipeline p = Pipeline.builder().model(TINY).stages(stages).microBatches(microBatches).devices(List.of(gpu()))
                .build()) {
            assertThat(p.decodeGraphs()).isTrue();
            p.generate(Workload.generated(TINY, 6, 4, steps));
        }
        assertThat(StubDriver.counter("graph_launches") - replays).as("ranks x micro-batches x decode steps")
                .isEqualTo((long) stages * microBatches * steps);
        assertThat(StubDriver.counter("live_graph_execs")).isZero();
        assertThat(StubDriver.counter("live_graphs")).isZero();
        assertThat(((CudaDevice) gpu()).liveResources()).as("what the run made is freed").isEqualTo(live);
    }

    @Test
    void refusedCapture_endsTheRunWithTheDriversMessage_andLeaksNothing() {
        int live = ((CudaDevice) gpu()).liveResources();
        try (Pipeline p = Pipeline.builder().model(TINY).stages(2).microBatches(2).devices(List.of(gpu())).build()) {
            StubDriver.failNext("cuStreamBeginCapture_v2", 900);
            assertThatThrownBy(() -> p.generate(Workload.generated(TINY, 2, 3, 2))).isInstanceOf(PipelineException.class)
                    .hasMessage("rank 0: capture of the decode graph of micro-batch 0 failed: cuStreamBeginCapture_v2"
                            + " failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (operation not permitted when stream is"
                            + " capturing)");
            assertThat(p.generate(Workload.generated(TINY, 2, 3, 2)).tokens()).as("the next run captures and runs")
                    .hasDimensions(2, 3);
        }
        assertThat(StubDriver.counter("live_graph_execs")).isZero();
        assertThat(((CudaDevice) gpu()).liveResources()).isEqualTo(live);
    }
}
