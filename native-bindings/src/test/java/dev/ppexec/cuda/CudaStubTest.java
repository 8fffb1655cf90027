package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.StreamFailure;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.stage.StageWeights;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The binding layer against a stub libcuda built with gcc (see {@link StubDriver}): signatures and
 * parameter blocks, the error check, context binding per thread, failures reaching the listener,
 * out-of-memory handling and the release of everything a device owned. The kernels' numerics are
 * {@link CudaKernelsEmulatedTest}'s.
 */
@Timeout(60)
class CudaStubTest {

    private static final long MEMORY = 64L << 20;

    private CudaDevice device;

    @BeforeEach
    void open() {
        StubDriver.library();
        StubDriver.reset(1, MEMORY);
        device = (CudaDevice) StubDriver.platform(Optional.of("none")).open(List.of(0), false).getFirst();
    }

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
    }

    private static void assertEverythingReleased() {
        for (String counter : List.of("live_allocations", "live_host", "live_streams", "live_events", "context_refs",
                "modules")) {
            assertThat(StubDriver.counter(counter)).as(counter + " after close").isZero();
        }
    }

    @Test
    void detect_describesTheStubDevice_andTheMatmulFallback() {
        CudaPlatform p = StubDriver.platform(Optional.of("none"));
        assertThat(p.unavailableReason()).isEmpty();
        assertThat(p.devices()).containsExactly(new CudaPlatform.DeviceInfo(0, "Stub GPU 0", MEMORY, 9, 0, 1000000, 256));
        assertThat(p.devices().getFirst().describe()).isEqualTo("cuda:0  Stub GPU 0  0.1 GiB  compute capability 9.0");
        assertThat(p.driver()).contains("CUDA driver 13.0 (" + StubDriver.library() + ")");
        assertThat(p.matmul()).isEqualTo("the project's tiled kernel: cuBLAS disabled");
        assertThat(device.matmul()).isEqualTo("the project's tiled kernel: cuBLAS disabled");
        assertThat(device.name()).isEqualTo("cuda:0");
    }

    @Test
    void detect_givesTheFirstMissingPiece() {
        String stub = StubDriver.library().toString();
        StubDriver.reset(0, MEMORY);
        assertThat(CudaPlatform.detect(new CudaPlatform.Config(stub, Optional.empty(), Optional.of(new byte[1])))
                .unavailableReason())
                .contains("no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected))");
        StubDriver.reset(1, MEMORY);
        StubDriver.failNext("cuInit", 12345);
        assertThat(CudaPlatform.detect(new CudaPlatform.Config(stub, Optional.empty(), Optional.of(new byte[1])))
                .unavailableReason()).contains("CUDA driver unusable (cuInit: CUresult 12345)");
        CudaPlatform noKernels = CudaPlatform.detect(new CudaPlatform.Config(stub, Optional.empty(), Optional.empty()));
        assertThat(noKernels.unavailableReason()).contains(CudaPlatform.NO_KERNELS);
        assertThat(noKernels.devices()).hasSize(1);
        assertThatThrownBy(() -> noKernels.open(List.of(0), false)).hasMessage(CudaPlatform.NO_KERNELS);
        assertThatThrownBy(() -> StubDriver.platform().open(List.of(1), false))
                .hasMessage("device ordinal 1 names no device; allowed: 0..0 (1 CUDA device(s))");
    }

    @Test
    void uploadAndDownload_roundTrip_andAllocateZeroes() {
        float[] floats = {1.5f, -2f, 3.25f};
        int[] ints = {7, -8, 9, 10};
        float[] f = new float[3];
        int[] i = new int[4];
        device.download(device.upload(floats), f);
        device.download(device.upload(ints), i);
        assertThat(f).containsExactly(floats);
        assertThat(i).containsExactly(ints);
        Buffer zeros = device.allocate(Buffer.Type.FLOAT32, 5);
        float[] z = {9, 9, 9, 9, 9};
        device.download(zeros, z);
        assertThat(z).containsOnly(0f);
        assertThat(StubDriver.counter("live_allocations")).isEqualTo(3);
    }

    @Test
    void kernelArguments_reachTheKernel_pointersIntsLongsAndDoubles() {
        Kernels k = device.kernels();
        Stream s = device.createStream("test");
        int batch = 3, tokens = 2, n = 100, rows = batch * tokens;
        float[] upGate = new float[rows * 2 * n];
        for (int j = 0; j < upGate.length; j++) {
            upGate[j] = (float) Math.sin(j + 1.0);
        }
        // silu_gate(upGate, out, int n, long count)
        Buffer gate = device.allocate(Buffer.Type.FLOAT32, rows * n);
        s.launch(k.siluGate("t", device.upload(upGate), gate, batch, n), tokens, 0);
        s.synchronize();
        assertThat(StubDriver.counter("last_grid_x")).as("ceil(600 / 256) blocks").isEqualTo(3);
        float[] gated = new float[rows * n];
        device.download(gate, gated);

        float[] table = {0, 0, 1, 1, 2, 2, 3, 3};  // [vocab 4, dim 2]
        Buffer ids = device.upload(new int[] {3, 1, 0, 2});
        Buffer out = device.allocate(Buffer.Type.FLOAT32, 8);
        s.launch(k.embed("e", ids, device.upload(table), out, 2, 2), 2, 0);
        float[] embedded = new float[8];
        device.download(out, embedded);
        assertThat(embedded).containsExactly(3, 3, 1, 1, 0, 0, 2, 2);

        // RoPE of q and k with a double argument (theta), at the position of a step buffer.
        int heads = 2, headDim = 4, dim = heads * headDim, capacity = 7 + tokens;
        float[] qkv = new float[rows * 3 * dim];
        for (int j = 0; j < qkv.length; j++) {
            qkv[j] = (float) Math.cos(j + 1.0);
        }
        Buffer step = device.allocate(Buffer.Type.INT32, 2);
        Buffer q = device.allocate(Buffer.Type.FLOAT32, rows * dim);
        Buffer cache = device.allocate(Buffer.Type.FLOAT32, batch * capacity * dim);
        s.launch(k.setStep("step", step), tokens, 7);
        s.launch(k.ropeKvAppend("kv", device.upload(qkv), q, cache, cache, step, batch, heads, headDim, 500.0,
                capacity), tokens, 7);
        float[] rotated = new float[rows * dim];
        device.download(q, rotated);

        try (CpuDevice cpu = new CpuDevice()) {
            Kernels c = cpu.kernels();
            Stream cs = cpu.createStream("ref");
            Buffer cGate = cpu.allocate(Buffer.Type.FLOAT32, rows * n);
            Buffer cStep = cpu.allocate(Buffer.Type.INT32, 2);
            Buffer cq = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
            Buffer cCache = cpu.allocate(Buffer.Type.FLOAT32, batch * capacity * dim);
            cs.launch(c.siluGate("t", cpu.upload(upGate), cGate, batch, n), tokens, 0);
            cs.launch(c.setStep("step", cStep), tokens, 7);
            cs.launch(c.ropeKvAppend("kv", cpu.upload(qkv), cq, cCache, cCache, cStep, batch, heads, headDim, 500.0,
                    capacity), tokens, 7);
            cs.synchronize();
            float[] expectedGate = new float[rows * n];
            float[] expectedQ = new float[rows * dim];
            cpu.download(cGate, expectedGate);
            cpu.download(cq, expectedQ);
            for (int j = 0; j < expectedGate.length; j++) {
                assertThat(gated[j]).as("silu_gate[%d] (tolerance 1e-6)", j).isCloseTo(expectedGate[j], within(1e-6f));
            }
            for (int j = 0; j < expectedQ.length; j++) {
                assertThat(rotated[j]).as("rope of q[%d] (tolerance 1e-6)", j).isCloseTo(expectedQ[j], within(1e-6f));
            }
        }
    }

    @Test
    void tokensToHost_fillsTheTableAtSynchronize_withoutAHostCallback() {
        Stream s = device.createStream("last");
        int[][] table = new int[5][3];
        Buffer ids = device.upload(new int[] {41, 42});
        Launch next = device.kernels().tokensToHost("next", ids, table, new int[] {4, 1});
        s.launch(next, 1, 2);
        device.upload(new int[] {7, 8}); // unrelated work
        s.launch(next, 1, 0);
        s.synchronize();
        assertThat(table[4][2]).isEqualTo(41);
        assertThat(table[1][2]).isEqualTo(42);
        assertThat(table[4][0]).isEqualTo(41);
        assertThat(table[0]).containsOnly(0);
        // Note [tokens to the host]: no driver thread ever calls into the JVM (it would hang its exit).
        assertThat(StubDriver.counter("host_functions")).isZero();
    }

    @Test
    void failedLaunch_reachesTheListener_skipsLaterLaunches_andSynchronizeRethrows() {
        List<StreamFailure> failures = new CopyOnWriteArrayList<>();
        device.onFailure(failures::add);
        Stream s = device.createStream("PP0 compute");
        Buffer upGate = device.allocate(Buffer.Type.FLOAT32, 8);
        var silu = device.kernels().siluGate("layers.0.silu", upGate, device.allocate(Buffer.Type.FLOAT32, 4), 1, 4);
        long before = StubDriver.counter("launches");
        StubDriver.failNext("cuLaunchKernel", 719);
        s.launch(silu, 1, 0);
        s.launch(silu, 1, 0);
        assertThat(StubDriver.counter("launches")).as("the failed launch and the skipped one ran nothing").isEqualTo(before);
        assertThat(failures).hasSize(1);
        assertThat(failures.getFirst().stream()).isSameAs(s);
        assertThat(failures.getFirst().launch()).isEqualTo("silu_gate layers.0.silu");
        assertThat(failures.getFirst().cause()).hasMessage(
                "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (unspecified launch failure)");
        Event e = device.createEvent();
        s.record(e);
        assertThat(e.isDone()).as("records still complete after a failure").isTrue();
        assertThatThrownBy(s::synchronize).hasMessage("cuda:0 stream 1 (PP0 compute) failed: "
                + "cuLaunchKernel failed: CUDA_ERROR_LAUNCH_FAILED (unspecified launch failure)");
    }

    @Test
    void kvCacheOverflow_failsTheStream_likeTheCpuBackend() {
        List<StreamFailure> failures = new CopyOnWriteArrayList<>();
        device.onFailure(failures::add);
        Stream s = device.createStream("c");
        Buffer qkv = device.allocate(Buffer.Type.FLOAT32, 2 * 3 * 4);
        Buffer q = device.allocate(Buffer.Type.FLOAT32, 2 * 4);
        Buffer cache = device.allocate(Buffer.Type.FLOAT32, 2 * 3 * 4);
        Buffer step = device.allocate(Buffer.Type.INT32, 2);
        s.launch(device.kernels().ropeKvAppend("kv", qkv, q, cache, cache, step, 2, 1, 4, 10000.0, 3), 1, 3);
        assertThat(failures).singleElement().satisfies(f -> assertThat(f.cause())
                .hasMessage("KV cache overflow: positions up to 4 but capacity is 3"));
    }

    @Test
    void deviceErrors_nameTheCallTheErrorAndTheStream() {
        Stream s = device.createStream("copy");
        StubDriver.failNext("cuStreamSynchronize", 700);
        assertThatThrownBy(s::synchronize).isInstanceOf(CudaException.class).hasMessage("cuda:0 stream 1 (copy): "
                + "cuStreamSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS (an illegal memory access was encountered)");
        StubDriver.failNext("cuEventSynchronize", 999);
        Event e = device.createEvent();
        assertThatThrownBy(e::synchronize).hasMessage("cuEventSynchronize failed: CUresult 999");
    }

    @Test
    void outOfMemory_namesDeviceBytesAndFree_andFreesWhatAHalfBuiltStageHeld() {
        device.close();
        StubDriver.reset(1, 1L << 20);
        device = (CudaDevice) StubDriver.platform(Optional.of("none")).open(List.of(0), false).getFirst();
        device.allocate(Buffer.Type.FLOAT32, 1024);
        assertThatThrownBy(() -> device.allocate(Buffer.Type.FLOAT32, 1L << 19))
                .isInstanceOf(CudaOutOfMemoryException.class)
                .hasMessage("cuda:0 (Stub GPU 0): out of memory: asked for 2,097,152 bytes, 1,044,480 bytes free of 1,048,576");
        // tiny's stage needs ~1.2 MB: it fails half-way, after the embedding and a few layers were uploaded.
        ModelConfig tiny = ModelConfig.preset("tiny", 42);
        long uploadsBefore = StubDriver.counter("live_allocations");
        assertThatThrownBy(() -> new StageWeights(device, tiny, 0, tiny.layers()))
                .isInstanceOf(CudaOutOfMemoryException.class);
        assertThat(StubDriver.counter("live_allocations")).as("the half-built stage freed its buffers")
                .isEqualTo(uploadsBefore);
        device.close();
        assertEverythingReleased();
    }

    @Test
    void everyThread_makesTheContextCurrentBeforeCallingTheDriver() throws Exception {
        Stream s = device.createStream("s");
        Buffer x = device.upload(new float[] {1, 2});
        Buffer last = device.allocate(Buffer.Type.FLOAT32, 2);
        var gather = device.kernels().gatherLast("t", x, last, 1, 2);
        long binds = StubDriver.counter("set_current");
        Thread t = Thread.ofPlatform().start(() -> {
            s.launch(gather, 1, 0);
            s.synchronize();
        });
        t.join();
        assertThat(StubDriver.counter("set_current")).as("the new thread set the context once").isEqualTo(binds + 1);
        float[] out = new float[2];
        device.download(last, out);
        assertThat(out).as("the stub refuses a launch without a current context").containsExactly(1, 2);
    }

    @Test
    void events_measureElapsedTimeInNanoseconds() throws Exception {
        Stream s = device.createStream("s");
        Event start = device.createEvent();
        Event end = device.createEvent();
        s.record(start);
        Thread.sleep(5);
        s.record(end);
        end.synchronize();
        assertThat(end.isDone()).isTrue();
        assertThat(end.elapsedNanosSince(start)).isGreaterThanOrEqualTo(4_000_000L);
        try (CpuDevice cpu = new CpuDevice()) {
            Event other = cpu.createEvent();
            assertThatThrownBy(() -> end.elapsedNanosSince(other)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void close_releasesStreamsEventsBuffersHostMemoryModuleAndContext() {
        Stream a = device.createStream("a");
        device.createStream("b");
        device.createEvent();
        Buffer ids = device.upload(new int[] {1});
        a.launch(device.kernels().tokensToHost("next", ids, new int[1][1], new int[] {0}), 1, 0);
        device.kernels().matmul("w", device.allocate(Buffer.Type.FLOAT32, 6),
                device.uploadMatrix(new float[6], 3, 2), device.allocate(Buffer.Type.FLOAT32, 4), 2);
        assertThat(StubDriver.counter("live_host")).isEqualTo(1);
        assertThat(device.liveResources()).isEqualTo(2 + 1 + 4);
        device.close();
        device.close();
        assertThat(device.liveResources()).isZero();
        assertEverythingReleased();
        assertThatThrownBy(() -> device.createStream("late")).hasMessage("cuda:0 is closed");
    }

    @Test
    void cublas_rowMajorProductIsOneColumnMajorCall_withTheMathModeAsked_andAHandlePerStream() {
        for (boolean tf32 : new boolean[] {false, true}) {
            try (CudaDevice d = (CudaDevice) StubDriver.platform().open(List.of(0), tf32).getFirst()) {
                assertThat(d.matmul()).isEqualTo("cuBLAS " + StubDriver.cublasLibrary() + (tf32 ? " with TF32" : " in fp32"));
                Stream s = d.createStream("c");
                Buffer x = d.allocate(Buffer.Type.FLOAT32, 5 * 3);
                Buffer y = d.allocate(Buffer.Type.FLOAT32, 5 * 7);
                s.launch(d.kernels().matmul("w", x, d.uploadMatrix(new float[3 * 7], 3, 7), y, 5), 1, 0);
                s.synchronize();
                // y[5, 7] = x[5, 3] . w[3, 7]: sgemm(m = out, n = rows, k = in, lda = out, ldb = in, ldc = out)
                assertThat(StubDriver.cublasLastGemm()).containsExactly(7, 5, 3, 7, 3, 7, 0);
                assertThat(StubDriver.cublasLastMathMode()).isEqualTo(tf32 ? 3 : 0);
                d.createStream("other").launch(d.kernels().matmul("w", x, d.uploadMatrix(new float[21], 3, 7), y, 5), 1, 0);
                assertThat(StubDriver.cublasLiveHandles()).as("one handle per stream that ran a product").isEqualTo(2);
            }
            assertThat(StubDriver.cublasLiveHandles()).as("handles destroyed with their streams").isZero();
        }
    }

    @Test
    void cublas_handleOfAClosedStream_servesTheNextStream_andIsDestroyedWithTheDevice() {
        try (CudaDevice d = (CudaDevice) StubDriver.platform().open(List.of(0), false).getFirst()) {
            assertThat(StubDriver.cublasLiveHandles()).as("the start-up probe's handle, kept as a spare").isEqualTo(1);
            Buffer x = d.allocate(Buffer.Type.FLOAT32, 2 * 3);
            Buffer y = d.allocate(Buffer.Type.FLOAT32, 2 * 4);
            for (int run = 0; run < 3; run++) {
                try (Stream s = d.createStream("run " + run)) {
                    s.launch(d.kernels().matmul("w", x, d.uploadMatrix(new float[3 * 4], 3, 4), y, 2), 1, 0);
                    s.synchronize();
                    assertThat(StubDriver.cublasLiveHandles()).as("run %d reuses the spare", run).isEqualTo(1);
                }
            }
            assertThat(StubDriver.cublasLastGemm()).containsExactly(4, 2, 3, 4, 3, 4, 0);
        }
        assertThat(StubDriver.cublasLiveHandles()).as("spares destroyed with the device").isZero();
    }

    @Test
    void cublas_thatCannotStartOnTheDevice_givesWayToTheTiledKernel() {
        StubDriver.failCublasCreate(3);
        try (CudaDevice d = (CudaDevice) StubDriver.platform().open(List.of(0), false).getFirst()) {
            assertThat(d.matmul()).isEqualTo("the project's tiled kernel: cuBLAS " + StubDriver.cublasLibrary()
                    + " unusable here (cublasCreate_v2 failed: CUBLAS_STATUS_ALLOC_FAILED)");
            long launches = StubDriver.counter("launches");
            Stream s = d.createStream("c");
            s.launch(d.kernels().matmul("w", d.allocate(Buffer.Type.FLOAT32, 4), d.uploadMatrix(new float[4], 2, 2),
                    d.allocate(Buffer.Type.FLOAT32, 4), 2), 1, 0);
            s.synchronize();
            assertThat(StubDriver.counter("launches")).as("the tiled kernel ran").isEqualTo(launches + 1);
        }
    }

    @Test
    void errorCheck_namesTheCallAndFallsBackToTheNumber() {
        CudaDriver driver = CudaDriver.open(StubDriver.library().toString());
        assertThatThrownBy(() -> driver.check(2, "cuMemAlloc_v2"))
                .hasMessage("cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)");
        assertThatThrownBy(() -> driver.check(4242, "cuFoo")).hasMessage("cuFoo failed: CUresult 4242");
    }
}
