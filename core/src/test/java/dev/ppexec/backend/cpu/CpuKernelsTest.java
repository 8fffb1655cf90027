package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Each CPU kernel, launched on a real stream, against a plain scalar implementation written here
 * (double accumulation). Tolerance: relative 1e-5 of the magnitude, stated in each failure.
 */
class CpuKernelsTest {

    private static final double TOLERANCE = 1e-5;

    private final CpuDevice device = new CpuDevice();
    private final Kernels k = device.kernels();
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
}
