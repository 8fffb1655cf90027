package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.opentest4j.TestAbortedException;

import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Every CUDA kernel against the CPU backend on random inputs, shapes chosen off the block sizes.
 * Tolerances, relative to max(1, |expected|): 1e-5 for element-wise kernels, norms and RoPE; 1e-4
 * for matrix products and attention, whose sums run in another order; exact for copies, gathers
 * and argmax. Failures report the first mismatching index. Run on a GPU ({@link CudaKernelsGpuTest})
 * and, in CI, on the stub driver's host emulation of the same kernels ({@link CudaKernelsEmulatedTest}).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(120)
abstract class CudaKernelsContract {

    private static final double ELEMENTWISE = 1e-5;
    private static final double SUMS = 1e-4;

    private Device gpu;
    private Device gpuWithoutCublas;
    private CpuDevice cpu;
    private final Random random = new Random(2024);

    /** Two CUDA devices: with the platform's matmul (cuBLAS when present), and with the tiled kernel. */
    abstract List<Device> openDevices();

    private TestAbortedException unavailable;

    @BeforeAll
    void open() {
        try {
            List<Device> devices = openDevices();
            gpu = devices.get(0);
            gpuWithoutCublas = devices.get(1);
        } catch (TestAbortedException e) {
            unavailable = e;
        }
        cpu = new CpuDevice();
    }

    /** Each test is skipped, with the reason, where there is no device (not the class as a whole, which reports run 0). */
    @BeforeEach
    void requireDevices() {
        if (unavailable != null) {
            throw unavailable;
        }
    }

    @AfterAll
    void close() {
        for (Device d : new Device[] {gpu, gpuWithoutCublas, cpu}) {
            if (d != null) {
                d.close();
            }
        }
    }

    /** The same data on the CPU and on a GPU. */
    private record Twin(Buffer cpu, Buffer gpu) {
        Buffer on(Device d) {
            return d instanceof CpuDevice ? cpu : gpu;
        }
    }

    private Twin floats(Device g, float[] values) {
        return new Twin(cpu.upload(values), g.upload(values));
    }

    private Twin ints(Device g, int[] values) {
        return new Twin(cpu.upload(values), g.upload(values));
    }

    private Twin zeros(Device g, Buffer.Type type, int n) {
        return new Twin(cpu.allocate(type, n), g.allocate(type, n));
    }

    private float[] randoms(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = random.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** Builds the launch on each device, runs it there, waits. */
    private void run(Device g, Function<Device, Launch> launch, int tokens, int startPos) {
        for (Device d : new Device[] {cpu, g}) {
            Stream s = d.createStream("test");
            s.launch(launch.apply(d), tokens, startPos);
            s.synchronize();
            s.close();
        }
    }

    private void assertClose(String what, Device g, Twin t, int n, double tolerance) {
        float[] expected = new float[n];
        float[] actual = new float[n];
        cpu.download(t.cpu(), expected);
        g.download(t.gpu(), actual);
        for (int i = 0; i < n; i++) {
            double scale = Math.max(1.0, Math.abs(expected[i]));
            if (!(Math.abs(actual[i] - expected[i]) <= tolerance * scale)) {
                fail(what + ": first mismatch at index " + i + ": cuda " + actual[i] + ", cpu " + expected[i]
                        + " (tolerance " + tolerance + " relative)");
            }
        }
    }

    private void assertSameInts(String what, Device g, Twin t, int n) {
        int[] expected = new int[n];
        int[] actual = new int[n];
        cpu.download(t.cpu(), expected);
        g.download(t.gpu(), actual);
        for (int i = 0; i < n; i++) {
            if (actual[i] != expected[i]) {
                fail(what + ": first mismatch at index " + i + ": cuda " + actual[i] + ", cpu " + expected[i]);
            }
        }
    }

    @Test
    void embed() {
        int vocab = 50, dim = 37, batch = 3, tokens = 4;
        int[] ids = new int[batch * tokens];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(vocab);
        }
        ids[0] = 0;
        ids[1] = vocab - 1;
        Twin idsT = ints(gpu, ids);
        Twin table = floats(gpu, randoms(vocab * dim));
        Twin x = zeros(gpu, Buffer.Type.FLOAT32, ids.length * dim);
        run(gpu, d -> d.kernels().embed("t", idsT.on(d), table.on(d), x.on(d), batch, dim), tokens, 0);
        assertClose("embed", gpu, x, ids.length * dim, 0);
    }

    @Test
    void rmsnorm() {
        int dim = 300, batch = 3, tokens = 5;
        Twin x = floats(gpu, randoms(batch * tokens * dim));
        Twin w = floats(gpu, randoms(dim));
        Twin out = zeros(gpu, Buffer.Type.FLOAT32, batch * tokens * dim);
        run(gpu, d -> d.kernels().rmsnorm("t", x.on(d), w.on(d), out.on(d), batch, dim, 1e-5f), tokens, 0);
        assertClose("rmsnorm", gpu, out, batch * tokens * dim, ELEMENTWISE);
    }

    private void matmul(Device g, String what) {
        int in = 129, out = 70, batch = 3, tokens = 7;
        float[] weights = randoms(in * out);
        Twin x = floats(g, randoms(batch * tokens * in));
        var wCpu = cpu.uploadMatrix(weights, in, out);
        var wGpu = g.uploadMatrix(weights, in, out);
        Twin y = zeros(g, Buffer.Type.FLOAT32, batch * tokens * out);
        run(g, d -> d.kernels().matmul("t", x.on(d), d instanceof CpuDevice ? wCpu : wGpu, y.on(d), batch), tokens, 0);
        assertClose(what, g, y, batch * tokens * out, SUMS);
        run(g, d -> d.kernels().matmul("t", x.on(d), d instanceof CpuDevice ? wCpu : wGpu, y.on(d), batch), 1, 0);
        assertClose(what + " (one row per request)", g, y, batch * out, SUMS);
    }

    @Test
    void matmul_cublas() {
        matmul(gpu, "matmul (cuBLAS)");
    }

    @Test
    void matmul_tiledKernel() {
        matmul(gpuWithoutCublas, "matmul (tiled kernel)");
    }

    @Test
    void rope() {
        int heads = 3, headDim = 8, batch = 2, tokens = 5;
        Twin x = floats(gpu, randoms(batch * tokens * heads * headDim));
        run(gpu, d -> d.kernels().rope("q", x.on(d), batch, heads, headDim, 10000.0, 11 + tokens), tokens, 11);
        assertClose("rope", gpu, x, batch * tokens * heads * headDim, ELEMENTWISE);
    }

    @Test
    void kvAppend_thenAttention_prefillAndDecode() {
        int heads = 3, headDim = 16, dim = heads * headDim, capacity = 40, batch = 2;
        Twin kc = floats(gpu, randoms(batch * capacity * dim));
        Twin vc = floats(gpu, randoms(batch * capacity * dim));
        int tokens = 5, start = 20;
        Twin k = floats(gpu, randoms(batch * tokens * dim));
        Twin v = floats(gpu, randoms(batch * tokens * dim));
        run(gpu, d -> d.kernels().kvAppend("kv", k.on(d), v.on(d), kc.on(d), vc.on(d), batch, dim, capacity), tokens, start);
        assertClose("kv_append k cache", gpu, kc, batch * capacity * dim, 0);
        assertClose("kv_append v cache", gpu, vc, batch * capacity * dim, 0);

        Twin q = floats(gpu, randoms(batch * tokens * dim));
        Twin out = zeros(gpu, Buffer.Type.FLOAT32, batch * tokens * dim);
        run(gpu, d -> d.kernels().attention("a", q.on(d), kc.on(d), vc.on(d), out.on(d), batch, heads, headDim, capacity),
                tokens, start);
        assertClose("attention (prefill)", gpu, out, batch * tokens * dim, SUMS);
        run(gpu, d -> d.kernels().attention("a", q.on(d), kc.on(d), vc.on(d), out.on(d), batch, heads, headDim, capacity),
                1, capacity - 1);
        assertClose("attention (decode at the last position)", gpu, out, batch * dim, SUMS);
    }

    @Test
    void siluMul_add_gatherLast() {
        int n = 333, batch = 2, tokens = 3;
        Twin a = floats(gpu, randoms(batch * tokens * n));
        Twin b = floats(gpu, randoms(batch * tokens * n));
        run(gpu, d -> d.kernels().siluMul("s", a.on(d), b.on(d), batch, n), tokens, 0);
        assertClose("silu_mul", gpu, a, batch * tokens * n, ELEMENTWISE);
        run(gpu, d -> d.kernels().add("r", a.on(d), b.on(d), batch, n), tokens, 0);
        assertClose("add", gpu, a, batch * tokens * n, ELEMENTWISE);
        Twin last = zeros(gpu, Buffer.Type.FLOAT32, batch * n);
        run(gpu, d -> d.kernels().gatherLast("g", a.on(d), last.on(d), batch, n), tokens, 0);
        assertClose("gather_last", gpu, last, batch * n, ELEMENTWISE); // copies silu_mul+add output, which differs by ulps
    }

    @Test
    void argmax_takesTheLowestIndexOnTies() {
        for (int vocab : new int[] {1000, 4096, 8192}) {
            int batch = 4;
            float[] logits = randoms(batch * vocab);
            java.util.Arrays.fill(logits, 0, vocab, 0.25f);                // row 0: all equal -> 0
            logits[vocab + 500] = 3f;                                       // row 1: tie at 500 and 999 -> 500
            logits[vocab + vocab - 1] = 3f;
            logits[2 * vocab + vocab - 1] = 5f;                              // row 2: the last index
            Twin l = floats(gpu, logits);
            Twin ids = zeros(gpu, Buffer.Type.INT32, batch);
            run(gpu, d -> d.kernels().argmax("n", l.on(d), ids.on(d), batch, vocab), 1, 0);
            assertSameInts("argmax vocab " + vocab, gpu, ids, batch);
            int[] got = new int[batch];
            gpu.download(ids.gpu(), got);
            assertThat(got[0]).isZero();
            assertThat(got[1]).isEqualTo(500);
            assertThat(got[2]).isEqualTo(vocab - 1);
        }
    }

    @Test
    void copy_andTokensToHost() {
        Twin src = ints(gpu, new int[] {5, 6, 7, 8, 9, 10});
        Twin dst = zeros(gpu, Buffer.Type.INT32, 6);
        run(gpu, d -> d.kernels().copy("c", src.on(d), dst.on(d), 2, 1), 3, 0);
        assertSameInts("copy", gpu, dst, 6);
        int[][] table = new int[4][3];
        Stream s = gpu.createStream("t");
        s.launch(gpu.kernels().tokensToHost("next", src.gpu(), table, new int[] {3, 0}), 1, 1);
        s.launch(gpu.kernels().tokensToHost("next", dst.gpu(), table, new int[] {1}), 1, 2);
        s.synchronize();
        assertThat(table[3][1]).isEqualTo(5);
        assertThat(table[0][1]).isEqualTo(6);
        assertThat(table[1][2]).isEqualTo(5);
        s.close();
    }

    @Test
    void events_measureTheTimeBetweenTwoRecords_inNanoseconds() throws InterruptedException {
        Stream s = gpu.createStream("timed");
        Event start = gpu.createEvent();
        Event end = gpu.createEvent();
        long hostBefore = System.nanoTime();
        s.record(start);
        Thread.sleep(5);
        s.record(end);
        end.synchronize();
        long hostInterval = System.nanoTime() - hostBefore;
        assertThat(end.isDone()).isTrue();
        // The idle stream reaches each record as it is made: about 5 ms apart, within what the host saw.
        assertThat(end.elapsedNanosSince(start)).isBetween(4_000_000L, hostInterval + 1_000_000L);
        s.close();
    }
}
