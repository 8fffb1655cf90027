package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * Note [cpu fused launches]: each fused CPU launch against the unfused launches it replaces, on seeded random inputs
 * and shapes, launched on a real stream. Tolerance: none, the bits must be equal; a failure names the case and the
 * first mismatching index.
 */
class FusedKernelsTest {

    private static final int CASES = 24;
    private static final float EPS = 1e-5f;

    private final CpuDevice device = new CpuDevice();
    private final Kernels k = device.kernels();
    private final Stream stream = device.createStream("test");
    private final Random random = new Random(20261129);

    @AfterEach
    void close() {
        device.close();
    }

    private float[] randoms(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = random.nextFloat() * 2 - 1;
        }
        return a;
    }

    /** 1..20 rows: every tile and remainder of MatMul, and the decode shapes up to StageProgram's fused limit. */
    private int rows() {
        return 1 + random.nextInt(20);
    }

    /** Widths that are and are not multiples of a vector or a panel. */
    private int width() {
        return new int[] {8, 40, 64, 72, 136}[random.nextInt(5)];
    }

    private void run(Launch launch, int tokens, int startPos) {
        stream.launch(launch, tokens, startPos);
        stream.synchronize();
    }

    private static float[] data(Buffer b) {
        return ((CpuBuffer) b).floats;
    }

    private Buffer zeros(int n) {
        return device.allocate(Buffer.Type.FLOAT32, n);
    }

    private Buffer step(int tokens, int startPos) {
        Buffer step = device.allocate(Buffer.Type.INT32, 2);
        run(k.setStep("t", step), tokens, startPos);
        return step;
    }

    static void assertBitIdentical(String what, float[] fused, float[] unfused, int n) {
        for (int i = 0; i < n; i++) {
            if (Float.floatToRawIntBits(fused[i]) != Float.floatToRawIntBits(unfused[i])) {
                fail(what + ": first mismatch at index " + i + ": fused " + fused[i] + ", unfused " + unfused[i]
                        + " (bit-identical expected)");
            }
        }
    }

    @Test
    void setStep_writesTokensAndStartPos_fromItsLaunch() {
        Buffer step = step(3, 17);
        org.assertj.core.api.Assertions.assertThat(((CpuBuffer) step).ints).containsExactly(3, 17);
    }

    @Test
    void normMatmul_equalsRmsnormThenMatmul_bitForBit() {
        for (int c = 0; c < CASES; c++) {
            int rows = rows(), in = width(), out = width();
            Buffer x = device.upload(randoms(rows * in));
            Buffer norm = device.upload(randoms(in));
            Matrix w = device.uploadMatrix(randoms(in * out), in, out);
            Buffer h = zeros(rows * in);
            Buffer unfused = zeros(rows * out);
            Buffer fused = zeros(rows * out);
            run(k.rmsnorm("t", x, norm, h, rows, in, EPS), 1, 0);
            run(k.matmul("t", h, w, unfused, rows), 1, 0);
            run(k.normMatmul("t", x, norm, EPS, w, fused, rows), 1, 0);
            assertBitIdentical("normMatmul rows " + rows + " [" + in + ", " + out + "]", data(fused), data(unfused), rows * out);
        }
    }

    @Test
    void matmulAdd_equalsMatmulThenAdd_bitForBit() {
        for (int c = 0; c < CASES; c++) {
            int batch = 1 + random.nextInt(4), tokens = 1 + random.nextInt(5), in = width(), out = width();
            int rows = batch * tokens;
            Buffer a = device.upload(randoms(rows * in));
            Matrix w = device.uploadMatrix(randoms(in * out), in, out);
            float[] x0 = randoms(rows * out);
            Buffer unfused = device.upload(x0);
            Buffer fused = device.upload(x0);
            Buffer proj = zeros(rows * out);
            run(k.matmul("t", a, w, proj, batch), tokens, 0);
            run(k.add("t", unfused, proj, batch, out), tokens, 0);
            run(k.matmulAdd("t", a, w, fused, batch), tokens, 0);
            assertBitIdentical("matmulAdd rows " + rows + " [" + in + ", " + out + "]", data(fused), data(unfused), rows * out);
        }
    }

    /** The packed product against the launches the model ran before [G]: rmsnorm, h·w1, h·w3, silu_mul. */
    @Test
    void normGateUp_andItsUnfusedList_equalSeparateW1W3ThenSiluMul_bitForBit() {
        for (int c = 0; c < CASES; c++) {
            int rows = rows(), dim = width(), ffn = width();
            float[] w1 = randoms(dim * ffn);
            float[] w3 = randoms(dim * ffn);
            float[] w13 = new float[dim * 2 * ffn];
            for (int r = 0; r < dim; r++) {
                System.arraycopy(w1, r * ffn, w13, r * 2 * ffn, ffn);
                System.arraycopy(w3, r * ffn, w13, r * 2 * ffn + ffn, ffn);
            }
            Buffer x = device.upload(randoms(rows * dim));
            Buffer norm = device.upload(randoms(dim));
            Matrix packed = device.uploadMatrix(w13, dim, 2 * ffn);
            Buffer h = zeros(rows * dim);
            Buffer up = zeros(rows * ffn);
            Buffer gate = zeros(rows * ffn);
            run(k.rmsnorm("t", x, norm, h, rows, dim, EPS), 1, 0);
            run(k.matmul("t", h, device.uploadMatrix(w1, dim, ffn), up, rows), 1, 0);
            run(k.matmul("t", h, device.uploadMatrix(w3, dim, ffn), gate, rows), 1, 0);
            run(k.siluMul("t", up, gate, rows, ffn), 1, 0);

            Buffer fused = zeros(rows * ffn);
            run(k.normGateUp("t", x, norm, EPS, packed, fused, rows), 1, 0);
            String shape = "rows " + rows + " dim " + dim + " ffn " + ffn;
            assertBitIdentical("normGateUp " + shape, data(fused), data(up), rows * ffn);

            Buffer upGate = zeros(rows * 2 * ffn);
            Buffer gated = zeros(rows * ffn);
            run(k.matmul("t", h, packed, upGate, rows), 1, 0);
            run(k.siluGate("t", upGate, gated, rows, ffn), 1, 0);
            assertBitIdentical("matmul(w1|w3) + siluGate " + shape, data(gated), data(up), rows * ffn);
        }
    }

    /** rope q, rope k, kv_append (the launches before [G]) against one ropeKvAppend reading its positions from step. */
    @Test
    void ropeKvAppend_equalsRopeQRopeKThenKvAppend_bitForBit_atThePositionsOfTheStepBuffer() {
        for (int c = 0; c < CASES; c++) {
            int heads = 1 + random.nextInt(4), headDim = 2 * (1 + random.nextInt(8)), dim = heads * headDim;
            int batch = 1 + random.nextInt(3), tokens = 1 + random.nextInt(4), capacity = 12;
            int startPos = random.nextInt(capacity - tokens + 1);
            int rows = batch * tokens;
            float[] qkv = randoms(rows * 3 * dim);
            float[] q = new float[rows * dim], kk = new float[rows * dim], v = new float[rows * dim];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(qkv, r * 3 * dim, q, r * dim, dim);
                System.arraycopy(qkv, r * 3 * dim + dim, kk, r * dim, dim);
                System.arraycopy(qkv, r * 3 * dim + 2 * dim, v, r * dim, dim);
            }
            float[] cache0 = randoms(batch * capacity * dim);
            Buffer qBuf = device.upload(q), kBuf = device.upload(kk), vBuf = device.upload(v);
            Buffer kc = device.upload(cache0), vc = device.upload(cache0);
            run(k.rope("t", qBuf, batch, heads, headDim, 10000.0, capacity), tokens, startPos);
            run(k.rope("t", kBuf, batch, heads, headDim, 10000.0, capacity), tokens, startPos);
            run(k.kvAppend("t", kBuf, vBuf, kc, vc, batch, dim, capacity), tokens, startPos);

            Buffer fusedQ = zeros(rows * dim);
            Buffer fusedKc = device.upload(cache0), fusedVc = device.upload(cache0);
            // the launch's own arguments are not what it reads: the step buffer is
            run(k.ropeKvAppend("t", device.upload(qkv), fusedQ, fusedKc, fusedVc, step(tokens, startPos), batch, heads,
                    headDim, 10000.0, capacity), 99, 99);
            String shape = "batch " + batch + " tokens " + tokens + " from " + startPos + ", " + heads + "x" + headDim;
            assertBitIdentical("q " + shape, data(fusedQ), data(qBuf), rows * dim);
            assertBitIdentical("kCache " + shape, data(fusedKc), data(kc), cache0.length);
            assertBitIdentical("vCache " + shape, data(fusedVc), data(vc), cache0.length);
        }
    }

    @Test
    void attentionWithStep_equalsAttentionWithTheSamePositions_bitForBit() {
        for (int c = 0; c < CASES; c++) {
            int heads = 1 + random.nextInt(4), headDim = 2 * (1 + random.nextInt(8)), dim = heads * headDim;
            int batch = 1 + random.nextInt(3), tokens = 1 + random.nextInt(4), capacity = 12;
            int startPos = random.nextInt(capacity - tokens + 1);
            int rows = batch * tokens;
            Buffer q = device.upload(randoms(rows * dim));
            Buffer kc = device.upload(randoms(batch * capacity * dim));
            Buffer vc = device.upload(randoms(batch * capacity * dim));
            Buffer unfused = zeros(rows * dim);
            Buffer fused = zeros(rows * dim);
            run(k.attention("t", q, kc, vc, unfused, batch, heads, headDim, capacity), tokens, startPos);
            run(k.attention("t", q, kc, vc, step(tokens, startPos), fused, batch, heads, headDim, capacity), 1, 0);
            assertBitIdentical("attention batch " + batch + " tokens " + tokens + " from " + startPos, data(fused),
                    data(unfused), rows * dim);
        }
    }

    @Test
    void ropeKvAppend_pastTheCapacityInTheStepBuffer_failsOnTheStream() {
        Buffer kc = zeros(4 * 8);
        stream.launch(k.ropeKvAppend("t", device.upload(randoms(2 * 3 * 8)), zeros(2 * 8), kc, zeros(4 * 8), step(2, 3), 1,
                1, 8, 10000.0, 4), 2, 0);
        assertThatThrownBy(stream::synchronize).hasMessageContaining("KV cache overflow: positions 3..4 but capacity is 4");
    }
}
