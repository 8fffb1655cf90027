package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.backend.cpu.CpuKernels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.opentest4j.TestAbortedException;

import java.util.Arrays;
import java.util.List;
import java.util.OptionalLong;
import java.util.Random;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
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

    /** Kernels launched so far on the devices, where the driver can tell (the stub counts them; a GPU cannot). */
    OptionalLong kernelLaunches() {
        return OptionalLong.empty();
    }

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

    /** The CPU backend's kernels with the unfused launches the fused ones are checked against (Note [unfused reference]). */
    private CpuKernels unfused() {
        return (CpuKernels) cpu.kernels();
    }

    /** Builds the launch on each device, runs it there, waits. */
    private void run(Device g, Function<Device, Launch> launch, int tokens, int startPos) {
        for (Device d : new Device[] {cpu, g}) {
            runOn(d, tokens, startPos, launch.apply(d));
        }
    }

    /** Runs {@code launches} in order on one stream of {@code d}, each with (tokens, startPos), and waits. */
    private static void runOn(Device d, int tokens, int startPos, Launch... launches) {
        Stream s = d.createStream("test");
        for (Launch l : launches) {
            s.launch(l, tokens, startPos);
        }
        s.synchronize();
        s.close();
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
    void gatherLast() {
        int n = 333, batch = 2, tokens = 3;
        Twin x = floats(gpu, randoms(batch * tokens * n));
        Twin last = zeros(gpu, Buffer.Type.FLOAT32, batch * n);
        run(gpu, d -> d.kernels().gatherLast("g", x.on(d), last.on(d), batch, n), tokens, 0);
        assertClose("gather_last", gpu, last, batch * n, 0);
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

    // ---- the fused launches (Note [fused launches]) against the CPU backend's unfused launches (unfused()) ----

    /** Passes of 1, 3 and 16 rows (decode kernels, also 16 rows of 2 x 8 positions) and of 17 and 32 (GEMMs). */
    private static final int[][] PASSES = {{1, 1}, {3, 1}, {16, 1}, {2, 8}, {17, 1}, {4, 8}};

    /** Both CUDA devices: cuBLAS (the stub's, or the real one on a GPU) and the tiled kernel. */
    private List<Device> bothDevices() {
        return List.of(gpu, gpuWithoutCublas);
    }

    private static String pass(Device g, int batch, int tokens) {
        return batch + " x " + tokens + " rows on " + ((CudaDevice) g).matmul();
    }

    /** Matrices [in, width] side by side: [in, parts · width] (w1 | w3, wq | wk | wv). */
    private static float[] sideBySide(int in, int width, float[]... parts) {
        float[] packed = new float[in * parts.length * width];
        for (int k = 0; k < in; k++) {
            for (int i = 0; i < parts.length; i++) {
                System.arraycopy(parts[i], k * width, packed, (k * parts.length + i) * width, width);
            }
        }
        return packed;
    }

    private interface ProductCheck {
        void run(Device g, int in, int out, Matrix wCpu, Matrix wGpu, int batch, int tokens);
    }

    /** Runs {@code check} for each shape [in, out] on each device (random weights, the same on the CPU) and each pass. */
    private void forEachProduct(int[][] shapes, ProductCheck check) {
        for (int[] shape : shapes) {
            int in = shape[0], out = shape[1];
            float[] weights = randoms(in * out);
            Matrix wCpu = cpu.uploadMatrix(weights, in, out);
            for (Device g : bothDevices()) {
                Matrix wGpu = g.uploadMatrix(weights, in, out);
                for (int[] p : PASSES) {
                    check.run(g, in, out, wCpu, wGpu, p[0], p[1]);
                }
            }
        }
    }

    /** normMatmul = rmsnorm then matmul, for a vectorised shape (out % 4 == 0) and a ragged one split over in. */
    @Test
    void normMatmul_equalsRmsnormThenMatmul() {
        forEachProduct(new int[][] {{64, 192}, {130, 70}}, (g, in, out, wCpu, wGpu, batch, tokens) -> {
            int rows = batch * tokens;
            if (rows > CudaKernels.FUSED_ROWS) {
                return;
            }
            Twin x = floats(g, randoms(rows * in));
            Twin norm = floats(g, randoms(in));
            Twin h = zeros(g, Buffer.Type.FLOAT32, rows * in);
            Twin y = zeros(g, Buffer.Type.FLOAT32, rows * out);
            runOn(cpu, tokens, 0, unfused().rmsnorm("n", x.cpu(), norm.cpu(), h.cpu(), batch, in, 1e-5f),
                    unfused().matmul("m", h.cpu(), wCpu, y.cpu(), batch));
            runOn(g, tokens, 0, g.kernels().normMatmul("nm", x.gpu(), norm.gpu(), 1e-5f, wGpu, y.gpu(), batch));
            assertClose("normMatmul " + in + "x" + out + ", " + pass(g, batch, tokens), g, y, rows * out, SUMS);
        });
    }

    /** matmulAdd = matmul then add, with the weight rows split into chunks (in = 144, 130) and not (in = 64). */
    @Test
    void matmulAdd_equalsMatmulThenAdd() {
        forEachProduct(new int[][] {{144, 64}, {64, 64}, {130, 70}}, (g, in, out, wCpu, wGpu, batch, tokens) -> {
            int rows = batch * tokens;
            Twin a = floats(g, randoms(rows * in));
            Twin x = floats(g, randoms(rows * out));
            Twin t = zeros(g, Buffer.Type.FLOAT32, rows * out);
            runOn(cpu, tokens, 0, unfused().matmul("m", a.cpu(), wCpu, t.cpu(), batch),
                    unfused().add("r", x.cpu(), t.cpu(), batch, out));
            Launch fused = g.kernels().matmulAdd("ma", a.gpu(), wGpu, x.gpu(), batch);
            runOn(g, tokens, 0, fused);
            assertClose("matmulAdd " + in + "x" + out + ", " + pass(g, batch, tokens), g, x, rows * out, SUMS);
            // Again with the same launch: the chunks' counters were left at 0 for the next pass (a replay).
            runOn(cpu, tokens, 0, unfused().add("r", x.cpu(), t.cpu(), batch, out));
            runOn(g, tokens, 0, fused);
            assertClose("matmulAdd twice " + in + "x" + out + ", " + pass(g, batch, tokens), g, x, rows * out, SUMS);
        });
    }

    /** normGateUp = rmsnorm, matmul w1, matmul w3, siluMul; decode passes only (rows <= 16). */
    @Test
    void normGateUp_equalsRmsnormMatmulsAndSiluMul() {
        for (int[] shape : new int[][] {{64, 144}, {130, 35}}) {
            int in = shape[0], ffn = shape[1];
            float[] w1 = randoms(in * ffn);
            float[] w3 = randoms(in * ffn);
            var w1Cpu = cpu.uploadMatrix(w1, in, ffn);
            var w3Cpu = cpu.uploadMatrix(w3, in, ffn);
            Device g = gpu;
            var w13 = g.uploadMatrix(sideBySide(in, ffn, w1, w3), in, 2 * ffn);
            for (int[] p : PASSES) {
                int batch = p[0], tokens = p[1], rows = batch * tokens;
                if (rows > CudaKernels.FUSED_ROWS) {
                    continue;
                }
                Twin x = floats(g, randoms(rows * in));
                Twin norm = floats(g, randoms(in));
                Twin h = zeros(g, Buffer.Type.FLOAT32, rows * in);
                Twin gate = zeros(g, Buffer.Type.FLOAT32, rows * ffn);
                Twin up = zeros(g, Buffer.Type.FLOAT32, rows * ffn);
                runOn(cpu, tokens, 0, unfused().rmsnorm("n", x.cpu(), norm.cpu(), h.cpu(), batch, in, 1e-5f),
                        unfused().matmul("w1", h.cpu(), w1Cpu, gate.cpu(), batch),
                        unfused().matmul("w3", h.cpu(), w3Cpu, up.cpu(), batch),
                        unfused().siluMul("s", gate.cpu(), up.cpu(), batch, ffn));
                runOn(g, tokens, 0, g.kernels().normGateUp("gu", x.gpu(), norm.gpu(), 1e-5f, w13, gate.gpu(), batch));
                assertClose("normGateUp " + in + "x" + ffn + ", " + pass(g, batch, tokens), g, gate, rows * ffn, SUMS);
            }
        }
    }

    @Test
    void normProducts_refuseALargerPass_namingTheLimit() {
        int in = 16, ffn = 8, batch = 17;
        Buffer x = gpu.upload(randoms(batch * in));
        Buffer norm = gpu.upload(randoms(in));
        Buffer out = gpu.allocate(Buffer.Type.FLOAT32, batch * 2 * ffn);
        var w13 = gpu.uploadMatrix(randoms(in * 2 * ffn), in, 2 * ffn);
        for (Launch l : new Launch[] {gpu.kernels().normGateUp("layers.0.w13", x, norm, 1e-5f, w13, out, batch),
                gpu.kernels().normMatmul("layers.0.qkv", x, norm, 1e-5f, w13, out, batch)}) {
            Stream s = gpu.createStream("t");
            s.launch(l, 1, 0);
            assertThat(catchThrowable(s::synchronize)).as(l.name())
                    .hasMessageContaining(l.name() + ": 17 x 1 rows; allowed: at most 16");
            s.close();
        }
    }

    @Test
    void siluGate_equalsSiluMulOfTheTwoHalves() {
        int n = 333;
        for (int[] p : PASSES) {
            int batch = p[0], tokens = p[1], rows = batch * tokens;
            float[] upGate = randoms(rows * 2 * n);
            float[] a = new float[rows * n];
            float[] b = new float[rows * n];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(upGate, r * 2 * n, a, r * n, n);
                System.arraycopy(upGate, r * 2 * n + n, b, r * n, n);
            }
            Twin ug = floats(gpu, upGate);
            Twin gate = floats(gpu, a);
            Twin up = floats(gpu, b);
            runOn(cpu, tokens, 0, unfused().siluMul("s", gate.cpu(), up.cpu(), batch, n));
            runOn(gpu, tokens, 0, gpu.kernels().siluGate("sg", ug.gpu(), gate.gpu(), batch, n));
            assertClose("siluGate " + batch + " x " + tokens, gpu, gate, rows * n, ELEMENTWISE);
        }
    }

    /**
     * ropeKvAppend then attention(step) against rope q, rope k, kvAppend, attention, at the position of the step
     * buffer. The CUDA launches are built once; the second pass rewrites only the step buffer and launches them with
     * the first pass's startPos (as a replayed graph does), so a launch that baked startPos gives the wrong answer.
     */
    @Test
    void ropeKvAppend_andAttention_readThePositionFromTheStepBuffer() {
        int heads = 4, headDim = 16, dim = heads * headDim, capacity = 40;
        double theta = 10000.0;
        for (int[] p : PASSES) {
            int batch = p[0], tokens = p[1], rows = batch * tokens;
            Twin kc = floats(gpu, randoms(batch * capacity * dim));
            Twin vc = floats(gpu, randoms(batch * capacity * dim));
            Twin out = zeros(gpu, Buffer.Type.FLOAT32, rows * dim);
            Buffer qGpu = gpu.allocate(Buffer.Type.FLOAT32, rows * dim);
            Buffer qkvGpu = gpu.allocate(Buffer.Type.FLOAT32, rows * 3L * dim);
            Buffer step = gpu.allocate(Buffer.Type.INT32, 2);
            Launch ropeKv = gpu.kernels().ropeKvAppend("rkv", qkvGpu, qGpu, kc.gpu(), vc.gpu(), step, batch, heads,
                    headDim, theta, capacity);
            Launch attention = gpu.kernels().attention("a", qGpu, kc.gpu(), vc.gpu(), step, out.gpu(), batch, heads,
                    headDim, capacity);
            int firstStart = 5;
            for (int start : new int[] {firstStart, capacity - tokens}) {
                float[] qs = randoms(rows * dim);
                float[] ks = randoms(rows * dim);
                float[] vs = randoms(rows * dim);
                Twin q = new Twin(cpu.upload(qs), qGpu);
                Buffer kCpu = cpu.upload(ks);
                Buffer vCpu = cpu.upload(vs);
                runOn(cpu, tokens, start,
                        unfused().rope("q", q.cpu(), batch, heads, headDim, theta, capacity),
                        unfused().rope("k", kCpu, batch, heads, headDim, theta, capacity),
                        unfused().kvAppend("kv", kCpu, vCpu, kc.cpu(), vc.cpu(), batch, dim, capacity),
                        unfused().attention("a", q.cpu(), kc.cpu(), vc.cpu(), out.cpu(), batch, heads, headDim,
                                capacity));
                Buffer qkvNow = gpu.upload(sideBySide(rows, dim, qs, ks, vs));
                runOn(gpu, rows * 3 * dim, 0, gpu.kernels().copy("in", qkvNow, qkvGpu, 1, 1));
                runOn(gpu, tokens, start, gpu.kernels().setStep("step", step));
                runOn(gpu, tokens, firstStart, ropeKv, attention);
                String what = batch + " x " + tokens + " rows at position " + start;
                assertClose("rope of q, " + what, gpu, q, rows * dim, ELEMENTWISE);
                assertClose("k cache, " + what, gpu, kc, batch * capacity * dim, ELEMENTWISE);
                assertClose("v cache, " + what, gpu, vc, batch * capacity * dim, 0);
                assertClose("attention(step), " + what, gpu, out, rows * dim, SUMS);
            }
        }
    }

    /** A weight matrix [in, out] scaled by 1/sqrt(in), as the model's are (activations stay near 1 through a layer). */
    private float[] weights(int in, int out) {
        float[] w = randoms(in * out);
        float scale = (float) (1.0 / Math.sqrt(in));
        for (int i = 0; i < w.length; i++) {
            w[i] *= scale;
        }
        return w;
    }

    /**
     * One decoder layer (DESIGN.md's forward) through the fused launches as StageProgram runs them (Note [fused
     * launches]) against the CPU's unfused launches: decode passes of 1, 3 and 16 requests in 6 kernel launches,
     * larger passes in 9 launches (GEMMs through cuBLAS where the device has it), each after one setStep.
     */
    @Test
    void decodeAndLargerLayers_equalTheUnfusedLayer_inSixAndNineLaunches() {
        int heads = 4, headDim = 16, dim = heads * headDim, ffn = 144, capacity = 40;
        float eps = 1e-5f;
        double theta = 10000.0;
        float[] wq = weights(dim, dim), wk = weights(dim, dim), wv = weights(dim, dim), wo = weights(dim, dim);
        float[] w1 = weights(dim, ffn), w3 = weights(dim, ffn), w2 = weights(ffn, dim);
        float[] attnNorm = randoms(dim), mlpNorm = randoms(dim);
        CpuKernels c = unfused();
        var cq = cpu.uploadMatrix(wq, dim, dim);
        var ck = cpu.uploadMatrix(wk, dim, dim);
        var cv = cpu.uploadMatrix(wv, dim, dim);
        var co = cpu.uploadMatrix(wo, dim, dim);
        var c1 = cpu.uploadMatrix(w1, dim, ffn);
        var c3 = cpu.uploadMatrix(w3, dim, ffn);
        var c2 = cpu.uploadMatrix(w2, ffn, dim);
        Buffer cAttnNorm = cpu.upload(attnNorm), cMlpNorm = cpu.upload(mlpNorm);
        for (Device g : bothDevices()) {
            var k = g.kernels();
            var gqkv = g.uploadMatrix(sideBySide(dim, dim, wq, wk, wv), dim, 3 * dim);
            var go = g.uploadMatrix(wo, dim, dim);
            var g13 = g.uploadMatrix(sideBySide(dim, ffn, w1, w3), dim, 2 * ffn);
            var g2 = g.uploadMatrix(w2, ffn, dim);
            Buffer gAttnNorm = g.upload(attnNorm), gMlpNorm = g.upload(mlpNorm);
            for (int[] p : new int[][] {{1, 1, 7}, {3, 1, 7}, {16, 1, capacity - 1}, {4, 8, 0}, {17, 1, 7}}) {
                int batch = p[0], tokens = p[1], start = p[2], rows = batch * tokens;
                Twin x = floats(g, randoms(rows * dim));
                Twin kc = floats(g, randoms(batch * capacity * dim));
                Twin vc = floats(g, randoms(batch * capacity * dim));
                Buffer h = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer q = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer kk = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer vv = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer att = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer t = cpu.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer gate = cpu.allocate(Buffer.Type.FLOAT32, rows * ffn);
                Buffer up = cpu.allocate(Buffer.Type.FLOAT32, rows * ffn);
                runOn(cpu, tokens, start, c.rmsnorm("n", x.cpu(), cAttnNorm, h, batch, dim, eps),
                        c.matmul("wq", h, cq, q, batch), c.matmul("wk", h, ck, kk, batch),
                        c.matmul("wv", h, cv, vv, batch),
                        c.rope("q", q, batch, heads, headDim, theta, capacity),
                        c.rope("k", kk, batch, heads, headDim, theta, capacity),
                        c.kvAppend("kv", kk, vv, kc.cpu(), vc.cpu(), batch, dim, capacity),
                        c.attention("a", q, kc.cpu(), vc.cpu(), att, batch, heads, headDim, capacity),
                        c.matmul("wo", att, co, t, batch), c.add("r", x.cpu(), t, batch, dim),
                        c.rmsnorm("n", x.cpu(), cMlpNorm, h, batch, dim, eps),
                        c.matmul("w1", h, c1, gate, batch), c.matmul("w3", h, c3, up, batch),
                        c.siluMul("s", gate, up, batch, ffn),
                        c.matmul("w2", gate, c2, t, batch), c.add("r", x.cpu(), t, batch, dim));

                Buffer step = g.allocate(Buffer.Type.INT32, 2);
                Buffer gh = g.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer qkv = g.allocate(Buffer.Type.FLOAT32, rows * 3L * dim);
                Buffer gq = g.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer gAtt = g.allocate(Buffer.Type.FLOAT32, rows * dim);
                Buffer upGate = g.allocate(Buffer.Type.FLOAT32, rows * 2L * ffn);
                Buffer gGate = g.allocate(Buffer.Type.FLOAT32, rows * ffn);
                boolean decode = rows <= CudaKernels.FUSED_ROWS;
                Launch[] attention = {
                        k.ropeKvAppend("rkv", qkv, gq, kc.gpu(), vc.gpu(), step, batch, heads, headDim, theta, capacity),
                        k.attention("a", gq, kc.gpu(), vc.gpu(), step, gAtt, batch, heads, headDim, capacity),
                        k.matmulAdd("wo", gAtt, go, x.gpu(), batch)};
                Launch[] layer = decode
                        ? new Launch[] {k.normMatmul("qkv", x.gpu(), gAttnNorm, eps, gqkv, qkv, batch),
                                attention[0], attention[1], attention[2],
                                k.normGateUp("w13", x.gpu(), gMlpNorm, eps, g13, gGate, batch),
                                k.matmulAdd("w2", gGate, g2, x.gpu(), batch)}
                        : new Launch[] {k.rmsnorm("n", x.gpu(), gAttnNorm, gh, batch, dim, eps),
                                k.matmul("qkv", gh, gqkv, qkv, batch), attention[0], attention[1], attention[2],
                                k.rmsnorm("n", x.gpu(), gMlpNorm, gh, batch, dim, eps),
                                k.matmul("w13", gh, g13, upGate, batch), k.siluGate("s", upGate, gGate, batch, ffn),
                                k.matmulAdd("w2", gGate, g2, x.gpu(), batch)};
                runOn(g, tokens, start, k.setStep("step", step));
                OptionalLong before = kernelLaunches();
                runOn(g, tokens, start, layer);
                String what = "layer of " + pass(g, batch, tokens) + " at position " + start;
                assertClose("x after the " + what, g, x, rows * dim, SUMS);
                assertClose("k cache after the " + what, g, kc, batch * capacity * dim, SUMS);
                assertClose("v cache after the " + what, g, vc, batch * capacity * dim, SUMS);
                assertThat(layer).hasSize(decode ? 6 : 9);
                if (before.isPresent()) {
                    boolean cublas = ((CudaDevice) g).cublas().isPresent();
                    long kernels = kernelLaunches().getAsLong() - before.getAsLong();
                    // a larger pass on cuBLAS: its 4 products are GEMMs, not kernels of the project
                    assertThat(kernels).as(what).isEqualTo(decode ? 6 : cublas ? 5 : 9);
                }
            }
        }
    }

    @Test
    void fusedProducts_freeTheirBuffersWithTheBufferTheyWrite() {
        CudaDevice d = (CudaDevice) gpu;
        int in = 130, out = 70, batch = 32;
        Buffer x = d.upload(randoms(batch * in));
        Buffer norm = d.upload(randoms(in));
        var w = d.uploadMatrix(randoms(in * out), in, out);
        Buffer y = d.allocate(Buffer.Type.FLOAT32, batch * out);
        int before = d.liveResources();
        d.kernels().normMatmul("nm", x, norm, 1e-5f, w, y, batch);  // in = 130 in 3 chunks: their sums and counters
        d.kernels().matmulAdd("ma", x, w, y, batch);
        assertThat(d.liveResources()).isEqualTo(before + 4);
        y.close();
        assertThat(d.liveResources()).isEqualTo(before - 1);
    }

    @Test
    void setStep_writesTokensAndStartPos() {
        Buffer step = gpu.allocate(Buffer.Type.INT32, 2);
        runOn(gpu, 3, 77, gpu.kernels().setStep("step", step));
        int[] got = new int[2];
        gpu.download(step, got);
        assertThat(got).containsExactly(3, 77);
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
