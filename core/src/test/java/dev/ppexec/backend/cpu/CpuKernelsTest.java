package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * Each CPU kernel, launched on a real stream, against a plain scalar implementation written here
 * (double accumulation). Tolerance: relative 1e-5 of the magnitude, stated in each failure.
 */
class CpuKernelsTest {

    private static final double TOLERANCE = 1e-5;

    private final CpuDevice device = new CpuDevice();
    /** With the unfused reference launches (Note [unfused reference]) beside the Kernels interface's. */
    private final CpuKernels k = (CpuKernels) device.kernels();
    private final Stream stream = device.createStream("test");
    private final Random random = new Random(1234);

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

    private void run(Launch launch, int tokens, int startPos) {
        stream.launch(launch, tokens, startPos);
        stream.synchronize();
    }

    private static float[] data(Buffer b) {
        return ((CpuBuffer) b).floats;
    }

    static void assertClose(String what, float[] actual, double[] expected) {
        for (int i = 0; i < expected.length; i++) {
            double scale = Math.max(1.0, Math.abs(expected[i]));
            if (!(Math.abs(actual[i] - expected[i]) <= TOLERANCE * scale)) {
                fail(what + ": first mismatch at index " + i + ": got " + actual[i] + ", expected " + expected[i]
                        + " (tolerance " + TOLERANCE + " relative)");
            }
        }
    }

    @Test
    void rmsnorm_matchesScalar() {
        int batch = 3, tokens = 2, dim = 40;
        float[] x = randoms(batch * tokens * dim);
        float[] w = randoms(dim);
        Buffer out = device.allocate(Buffer.Type.FLOAT32, x.length);
        run(k.rmsnorm("t", device.upload(x), device.upload(w), out, batch, dim, 1e-5f), tokens, 0);
        double[] expected = new double[x.length];
        for (int r = 0; r < batch * tokens; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) {
                ss += (double) x[r * dim + i] * x[r * dim + i];
            }
            double inv = 1 / Math.sqrt(ss / dim + 1e-5);
            for (int i = 0; i < dim; i++) {
                expected[r * dim + i] = x[r * dim + i] * inv * w[i];
            }
        }
        assertClose("rmsnorm", data(out), expected);
    }

    @Test
    void matmul_matchesScalar() {
        int batch = 2, tokens = 3, in = 33, outDim = 70;
        float[] x = randoms(batch * tokens * in);
        float[] w = randoms(in * outDim);
        Buffer y = device.allocate(Buffer.Type.FLOAT32, batch * tokens * outDim);
        run(k.matmul("t", device.upload(x), device.uploadMatrix(w, in, outDim), y, batch), tokens, 0);
        double[] expected = new double[batch * tokens * outDim];
        for (int r = 0; r < batch * tokens; r++) {
            for (int j = 0; j < outDim; j++) {
                double acc = 0;
                for (int i = 0; i < in; i++) {
                    acc += (double) x[r * in + i] * w[i * outDim + j];
                }
                expected[r * outDim + j] = acc;
            }
        }
        assertClose("matmul", data(y), expected);
    }

    @Test
    void rope_rotatesInterleavedPairsByPositionAngle() {
        int batch = 2, tokens = 3, heads = 2, hd = 8, startPos = 5;
        float[] x = randoms(batch * tokens * heads * hd);
        Buffer buf = device.upload(x);
        run(k.rope("t", buf, batch, heads, hd, 10000.0, startPos + tokens), tokens, startPos);
        double[] expected = new double[x.length];
        for (int b = 0; b < batch; b++) {
            for (int t = 0; t < tokens; t++) {
                int p = startPos + t;
                for (int h = 0; h < heads; h++) {
                    int base = ((b * tokens + t) * heads + h) * hd;
                    for (int i = 0; i < hd / 2; i++) {
                        double angle = p * Math.pow(10000.0, -2.0 * i / hd);
                        double x0 = x[base + 2 * i];
                        double x1 = x[base + 2 * i + 1];
                        expected[base + 2 * i] = x0 * Math.cos(angle) - x1 * Math.sin(angle);
                        expected[base + 2 * i + 1] = x0 * Math.sin(angle) + x1 * Math.cos(angle);
                    }
                }
            }
        }
        assertClose("rope", data(buf), expected);
    }

    @Test
    void kvAppendThenAttention_matchScalarCausalSoftmax() {
        int batch = 2, heads = 2, hd = 16, dim = heads * hd, capacity = 10, prompt = 4;
        Buffer kc = device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim);
        Buffer vc = device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim);
        // Prefill 4 positions, then one decode position.
        float[] k1 = randoms(batch * prompt * dim), v1 = randoms(batch * prompt * dim);
        run(k.kvAppend("t", device.upload(k1), device.upload(v1), kc, vc, batch, dim, capacity), prompt, 0);
        float[] k2 = randoms(batch * dim), v2 = randoms(batch * dim), q = randoms(batch * dim);
        run(k.kvAppend("t", device.upload(k2), device.upload(v2), kc, vc, batch, dim, capacity), 1, prompt);
        Buffer out = device.allocate(Buffer.Type.FLOAT32, batch * dim);
        run(k.attention("t", device.upload(q), kc, vc, out, batch, heads, hd, capacity), 1, prompt);

        double[] expected = new double[batch * dim];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                double[] scores = new double[prompt + 1];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= prompt; j++) {
                    double s = 0;
                    for (int i = 0; i < hd; i++) {
                        float kv = j < prompt ? k1[(b * prompt + j) * dim + h * hd + i] : k2[b * dim + h * hd + i];
                        s += (double) q[b * dim + h * hd + i] * kv;
                    }
                    scores[j] = s / Math.sqrt(hd);
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j <= prompt; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int i = 0; i < hd; i++) {
                    double acc = 0;
                    for (int j = 0; j <= prompt; j++) {
                        float vv = j < prompt ? v1[(b * prompt + j) * dim + h * hd + i] : v2[b * dim + h * hd + i];
                        acc += scores[j] / sum * vv;
                    }
                    expected[b * dim + h * hd + i] = acc;
                }
            }
        }
        assertClose("attention", data(out), expected);
    }

    @Test
    void siluMul_add_gatherLast_embed_matchScalar() {
        int batch = 2, tokens = 3, n = 20;
        float[] a = randoms(batch * tokens * n), b = randoms(batch * tokens * n);
        Buffer ab = device.upload(a);
        run(k.siluMul("t", ab, device.upload(b), batch, n), tokens, 0);
        double[] silu = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            silu[i] = a[i] / (1 + Math.exp(-a[i])) * b[i];
        }
        assertClose("silu_mul", data(ab), silu);

        Buffer xb = device.upload(a);
        run(k.add("t", xb, device.upload(b), batch, n), tokens, 0);
        double[] sum = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            sum[i] = (double) a[i] + b[i];
        }
        assertClose("add", data(xb), sum);

        Buffer last = device.allocate(Buffer.Type.FLOAT32, batch * n);
        run(k.gatherLast("t", device.upload(a), last, batch, n), tokens, 0);
        double[] gathered = new double[batch * n];
        for (int r = 0; r < batch; r++) {
            for (int i = 0; i < n; i++) {
                gathered[r * n + i] = a[(r * tokens + tokens - 1) * n + i];
            }
        }
        assertClose("gather_last", data(last), gathered);

        float[] table = randoms(7 * n);
        int[] ids = {6, 0, 3, 3, 1, 5};
        Buffer x = device.allocate(Buffer.Type.FLOAT32, ids.length * n);
        run(k.embed("t", device.upload(ids), device.upload(table), x, batch, n), tokens, 0);
        double[] rows = new double[ids.length * n];
        for (int r = 0; r < ids.length; r++) {
            for (int i = 0; i < n; i++) {
                rows[r * n + i] = table[ids[r] * n + i];
            }
        }
        assertClose("embed", data(x), rows);
    }

    @Test
    void argmax_takesLowestIndexOnTies() {
        float[] logits = {0, 3, 3, 1, /* row 2 */ -1, -1, -2, -1};
        Buffer ids = device.allocate(Buffer.Type.INT32, 2);
        run(k.argmax("t", device.upload(logits), ids, 2, 4), 5, 0);
        assertThat(((CpuBuffer) ids).ints).containsExactly(1, 0);
    }

    @Test
    void embed_rejectsIdOutsideVocabulary() {
        Buffer x = device.allocate(Buffer.Type.FLOAT32, 4);
        stream.launch(k.embed("t", device.upload(new int[] {9}), device.upload(new float[8]), x, 1, 4), 1, 0);
        org.assertj.core.api.Assertions.assertThatThrownBy(stream::synchronize)
                .hasMessageContaining("token id 9 at row 0 is outside [0, 2)");
    }

    @Test
    void rope_pastThePositionsItWasBuiltFor_failsInsteadOfGrowingOnTheWorker() {
        Buffer x = device.upload(randoms(2 * 8));
        stream.launch(k.rope("t", x, 1, 1, 8, 10000.0, 4), 2, 3);
        org.assertj.core.api.Assertions.assertThatThrownBy(stream::synchronize)
                .hasMessageContaining("rope past its table: positions up to 5 but the stage was built for 4");
    }

    /**
     * Note [cpu fused launches]: each fused launch against the unfused launches it replaces, on seeded random inputs and
     * shapes. Tolerance: none, the bits must be equal; a failure names the case and the first mismatching index.
     */
    @Nested
    class Fused {

        private static final int CASES = 24;
        private static final float EPS = 1e-5f;

        /** A random attention shape and a pass of {@code tokens} from {@code startPos} inside {@link #CAPACITY}. */
        record Positions(int heads, int headDim, int batch, int tokens, int startPos) {
            static final int CAPACITY = 12;
        }

        private Positions positions() {
            int tokens = 1 + random.nextInt(4);
            return new Positions(1 + random.nextInt(4), 2 * (1 + random.nextInt(8)), 1 + random.nextInt(3), tokens,
                    random.nextInt(Positions.CAPACITY - tokens + 1));
        }

        /** 1..20 rows: every tile and remainder of MatMul, and the decode shapes up to StageProgram's fused limit. */
        private int rows() {
            return 1 + random.nextInt(20);
        }

        /** Widths that are and are not multiples of a vector or a panel. */
        private int width() {
            return new int[] {8, 40, 64, 72, 136}[random.nextInt(5)];
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
            assertThat(((CpuBuffer) step).ints).containsExactly(3, 17);
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
                Positions pass = positions();
                int heads = pass.heads(), headDim = pass.headDim(), dim = heads * headDim, capacity = Positions.CAPACITY;
                int batch = pass.batch(), tokens = pass.tokens(), startPos = pass.startPos(), rows = batch * tokens;
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
                Positions pass = positions();
                int heads = pass.heads(), headDim = pass.headDim(), dim = heads * headDim, capacity = Positions.CAPACITY;
                int batch = pass.batch(), tokens = pass.tokens(), startPos = pass.startPos(), rows = batch * tokens;
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
}
