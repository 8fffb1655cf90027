package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Graph;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.StreamFailure;
import dev.ppexec.backend.cpu.CpuDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * CUDA graphs (Note [graph capture] in CudaGraph) against the stub driver's capture emulation: captured work runs
 * only when replayed, a kernel node keeps its captured arguments, a call illegal during capture fails it with the
 * driver's error, event records and cuBLAS products become nodes, and every graph is destroyed.
 */
@Timeout(60)
class CudaGraphStubTest {

    private static final long MEMORY = 64L << 20;

    private CudaDevice device;
    private final List<StreamFailure> failures = new CopyOnWriteArrayList<>();

    @BeforeEach
    void open() {
        StubDriver.library();
        StubDriver.reset(1, MEMORY);
        device = (CudaDevice) StubDriver.platform(Optional.of("none")).open(List.of(0), false).getFirst();
        device.onFailure(failures::add);
    }

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
    }

    private float[] read(Buffer b, int n) {
        float[] out = new float[n];
        device.download(b, out);
        return out;
    }

    /** x[1, n] += d: matmulAdd of a = [1, 0] and w = [d; 0] ([2, n]), a kernel of the decode path. */
    private Launch accumulate(String label, Buffer x, float[] d) {
        float[] w = new float[2 * d.length];
        System.arraycopy(d, 0, w, 0, d.length);
        return device.kernels().matmulAdd(label, device.upload(new float[] {1, 0}), device.uploadMatrix(w, 2, d.length),
                x, 1);
    }

    private int[] readInts(Buffer b, int n) {
        int[] out = new int[n];
        device.download(b, out);
        return out;
    }

    private static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = scale * i;
        }
        return v;
    }

    @Test
    void capturedWork_runsOnlyWhenReplayed_andReplaysEqualEagerLaunches() {
        int n = 300;
        Buffer graphX = device.upload(ramp(n, 1));
        Buffer eagerX = device.upload(ramp(n, 1));
        Stream s = device.createStream("PP0 compute");
        Launch graphAdd = accumulate("g", graphX, ramp(n, 0.25f));
        Launch eagerAdd = accumulate("e", eagerX, ramp(n, 0.25f));
        long launches = StubDriver.counter("launches");

        Graph g = s.capture("decode PP0 slot 0", () -> s.launch(graphAdd, 1, 0));
        assertThat(StubDriver.counter("launches")).as("a captured launch runs nothing").isEqualTo(launches);
        assertThat(read(graphX, n)).as("x untouched by the capture").containsExactly(ramp(n, 1));

        int steps = 20;
        for (int step = 0; step < steps; step++) {
            s.launch(g);
            s.launch(eagerAdd, 1, 0);
        }
        s.synchronize();
        assertThat(StubDriver.counter("graph_launches")).isEqualTo(steps);
        assertThat(read(graphX, n)).containsExactly(read(eagerX, n));
        assertThat(read(graphX, n)[4]).as("x[4] = 4 + 20 * 1").isEqualTo(24f);
        assertThat(failures).isEmpty();
    }

    @Test
    void kernelNode_keepsTheArgumentsItWasCapturedWith_soABakedPositionIsReplayed() {
        Stream s = device.createStream("c");
        Buffer step = device.upload(new int[2]);
        Launch setStep = device.kernels().setStep("step", step);
        Graph atSeven = s.capture("set_step at 7", () -> s.launch(setStep, 1, 7));
        assertThat(readInts(step, 2)).as("nothing ran at capture").containsExactly(0, 0);
        s.launch(setStep, 3, 9); // rewrites the launch's argument block: 3 tokens from position 9
        assertThat(readInts(step, 2)).containsExactly(3, 9);
        s.launch(atSeven);
        assertThat(readInts(step, 2)).as("the replay writes the captured values, not the block's latest")
                .containsExactly(1, 7);
    }

    @Test
    void synchronizeDuringCapture_failsWithTheDriversError_invalidatesTheCapture_andLeavesTheStreamUsable() {
        int n = 64;
        Buffer x = device.upload(ramp(n, 1));
        Stream s = device.createStream("PP1 compute");
        Launch add = accumulate("a", x, ramp(n, 1));

        assertThatThrownBy(() -> s.capture("decode PP1 slot 0", () -> {
            s.launch(add, 1, 0);
            s.synchronize();
        })).hasMessage("capture of graph 'decode PP1 slot 0' on cuda:0 stream 1 (PP1 compute) failed: cuda:0 stream 1"
                + " (PP1 compute): cuStreamSynchronize failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (operation not"
                + " permitted when stream is capturing); cuStreamEndCapture: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"
                + " (operation failed due to a previous error during capture)");
        assertThat(StubDriver.counter("live_graphs")).as("the invalidated graph is gone").isZero();
        assertThat(StubDriver.counter("live_graph_execs")).isZero();
        assertThat(read(x, n)[3]).as("the captured add never ran").isEqualTo(3f);

        s.launch(add, 1, 0);
        s.synchronize();
        assertThat(read(x, n)[3]).as("the stream still runs eager work").isEqualTo(6f);
        assertThat(failures).isEmpty();
    }

    @Test
    void synchronousCopyDuringCapture_isAnUnsafeCall_thatFailsTheCapture() {
        Stream s = device.createStream("c");
        Buffer x = device.upload(new float[4]);
        assertThatThrownBy(() -> s.capture("g", () -> device.download(x, new float[4])))
                .hasMessageContaining("cuCtxSynchronize failed: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED")
                .hasMessageEndingWith("cuStreamEndCapture: CUDA_ERROR_STREAM_CAPTURE_INVALIDATED (operation failed due"
                        + " to a previous error during capture)");
        assertThat(StubDriver.counter("live_graphs")).isZero();
    }

    @Test
    void refusedLaunchDuringCapture_failsTheCapture_namingTheLaunch_notTheStream() {
        Stream s = device.createStream("c");
        Launch add = device.kernels().setStep("PP0 mb0", device.upload(new int[2]));
        StubDriver.failNext("cuLaunchKernel", 719);
        assertThatThrownBy(() -> s.capture("g", () -> s.launch(add, 1, 0)))
                .hasMessage("capture of graph 'g' on cuda:0 stream 1 (c) failed: " + add.name() + ":"
                        + " cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (unspecified launch failure)");
        assertThat(failures).as("a capture failure is the capture's, not the stream's").isEmpty();
        assertThat(StubDriver.counter("live_graphs")).isZero();
        s.launch(add, 1, 0);
        s.synchronize();
    }

    @Test
    void eventRecordsInACapture_areNodes_recordedAtEachReplay() {
        Stream s = device.createStream("c");
        Buffer step = device.upload(new int[2]);
        Event start = device.createEvent();
        Event end = device.createEvent();
        Graph g = s.capture("marked", () -> {
            s.record(start);
            s.launch(device.kernels().setStep("step", step), 1, 0);
            s.record(end);
        });
        assertThatThrownBy(end::isDone).as("its latest record is a node of the capture")
                .hasMessage("cuEventQuery failed: CUDA_ERROR_CAPTURED_EVENT (operation not permitted on an event last"
                        + " recorded in a capturing stream)");
        s.launch(g);
        s.synchronize();
        assertThat(end.isDone()).isTrue();
        assertThat(end.elapsedNanosSince(start)).isNotNegative();
    }

    @Test
    void waitingForWorkOutsideTheCapture_isAnIsolationError() {
        Stream s = device.createStream("c");
        Stream other = device.createStream("copy");
        Event sent = device.createEvent();
        other.record(sent);
        assertThatThrownBy(() -> s.capture("g", () -> s.waitFor(sent)))
                .hasMessageStartingWith("capture of graph 'g' on cuda:0 stream 1 (c) failed: cuStreamWaitEvent failed:"
                        + " CUDA_ERROR_STREAM_CAPTURE_ISOLATION");
    }

    @Test
    void closingAGraph_orTheDevice_destroysIt_andAClosedGraphFailsTheStream() {
        Stream s = device.createStream("c");
        Launch add = device.kernels().setStep("step", device.upload(new int[2]));
        Graph first = s.capture("first", () -> s.launch(add, 1, 0));
        s.capture("second", () -> s.launch(add, 1, 0));
        assertThat(StubDriver.counter("live_graph_execs")).isEqualTo(2);
        assertThat(StubDriver.counter("live_graphs")).as("each graph freed once instantiated").isZero();
        assertThat(device.liveResources()).isEqualTo(1 + 1 + 2);
        first.close();
        first.close();
        assertThat(StubDriver.counter("live_graph_execs")).isEqualTo(1);
        s.launch(first);
        assertThat(failures).singleElement().satisfies(f -> assertThat(f.cause())
                .hasMessage("graph 'first' on cuda:0 is closed"));
        device.close();
        assertThat(StubDriver.counter("live_graph_execs")).isZero();
        assertThat(device.liveResources()).isZero();
    }

    @Test
    void cublasProduct_inACapture_isANode_withAWorkspaceSetBeforeTheCapture_thatLivesWithTheHandle() {
        long allocations = StubDriver.counter("live_allocations");
        try (CudaDevice d = (CudaDevice) StubDriver.platform().open(List.of(0), false).getFirst()) {
            Stream s = d.createStream("c");
            Buffer x = d.upload(new float[] {1, 2});                       // [1, 2]
            Buffer y = d.allocate(Buffer.Type.FLOAT32, 3);                  // [1, 3]
            Launch product = d.kernels().matmul("w", x, d.uploadMatrix(new float[] {1, 0, 2, 0, 1, 3}, 2, 3), y, 1);
            Graph g = s.capture("gemm", () -> s.launch(product, 1, 0));
            assertThat(StubDriver.cublasLastGemm()[6]).as("workspace bytes (compute capability 9: 32 MiB)")
                    .isEqualTo(32L << 20);
            float[] out = new float[3];
            d.download(y, out);
            assertThat(out).as("nothing ran at capture").containsOnly(0f);
            s.launch(g);
            d.download(y, out);
            assertThat(out).containsExactly(1, 2, 8);
            Stream copy = d.createStream("copy");
            copy.launch(d.kernels().copy("x", d.upload(new float[] {3, 1}), x, 1, 2), 1, 0);
            s.launch(g);
            d.download(y, out);
            assertThat(out).as("a node reads its matrices when it runs").containsExactly(3, 1, 9);
            assertThat(StubDriver.counter("live_allocations")).as("x, y, w, the copy's source and the workspace")
                    .isEqualTo(allocations + 5);
            s.close();
            Stream next = d.createStream("next");
            next.capture("gemm again", () -> next.launch(product, 1, 0)).close();
            assertThat(StubDriver.cublasLastGemm()[6]).isEqualTo(32L << 20);
            assertThat(StubDriver.counter("live_allocations"))
                    .as("the workspace stays with the handle, which the next stream takes (Note [spare cuBLAS handles])")
                    .isEqualTo(allocations + 5);
        }
        assertThat(StubDriver.cublasLiveHandles()).isZero();
        assertThat(StubDriver.counter("live_allocations")).as("freed with the device, workspace too").isEqualTo(allocations);
    }

    @Test
    void cpuDevice_hasNoGraphs_andSaysSo() {
        try (CpuDevice cpu = new CpuDevice()) {
            assertThat(cpu.supportsGraphs()).isFalse();
            assertThat(device.supportsGraphs()).isTrue();
            Stream s = cpu.createStream("compute");
            assertThatThrownBy(() -> s.capture("g", () -> {})).isInstanceOf(UnsupportedOperationException.class)
                    .hasMessage("cpu cannot capture graphs (stream 1, compute)");
        }
    }
}
