package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.ppexec.backend.cpu.CpuBuffer.floats;
import static dev.ppexec.backend.cpu.CpuBuffer.ints;

/**
 * The model's kernels in plain Java. Each row is computed with a fixed reduction order that does
 * not depend on how many rows a launch has, so a request's results are bit-identical alone or
 * batched, and whatever the stage split (the PP tests rely on this).
 */
public final class CpuKernels implements Kernels {

    /** Test hooks: called on the stream's worker before each launch runs; may sleep or throw. */
    @FunctionalInterface
    public interface Hooks {
        Hooks NONE = launch -> {};

        void beforeLaunch(String launchName) throws Exception;
    }

    private final Hooks hooks;
    /** Built by the thread that builds a stage, never by a stream's worker. */
    private final Map<RopeKey, RopeTable> ropeTables = new ConcurrentHashMap<>();

    CpuKernels(Hooks hooks) {
        this.hooks = hooks;
    }

    /** Wraps a kernel body with the hooks; allocation-free when no hook is set. */
    private abstract class Kernel extends CpuLaunch {
        Kernel(String name) {
            super(name);
        }

        @Override
        final void run(int tokens, int startPos) {
            if (hooks != Hooks.NONE) {
                try {
                    hooks.beforeLaunch(name());
                } catch (RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
            compute(tokens, startPos);
        }

        abstract void compute(int tokens, int startPos);
    }

    /**
     * Runs a CPU launch's kernel on the calling thread, outside any stream: for benchmarks that time one kernel
     * without a stream's hand-off. The launch must come from a {@link CpuDevice}'s kernels.
     */
    public static void runOnCallingThread(Launch launch, int tokens, int startPos) {
        ((CpuLaunch) launch).run(tokens, startPos);
    }

    /** Names a launch for errors and traces: callers pass e.g. "layers.3.wq". */
    public static String named(String kernel, String what) {
        return what == null || what.isEmpty() ? kernel : kernel + " " + what;
    }

    @Override
    public Launch embed(String label, Buffer idsBuf, Buffer tableBuf, Buffer xBuf, int batch, int dim) {
        int[] ids = ints(idsBuf, "ids");
        float[] table = floats(tableBuf, "table");
        float[] x = floats(xBuf, "x");
        int vocab = table.length / dim;
        return new Kernel(named("embed", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int rows = batch * tokens;
                for (int r = 0; r < rows; r++) {
                    int id = ids[r];
                    if (id < 0 || id >= vocab) {
                        throw new IllegalArgumentException("token id " + id + " at row " + r + " is outside [0, " + vocab + ")");
                    }
                    System.arraycopy(table, id * dim, x, r * dim, dim);
                }
            }
        };
    }

    @Override
    public Launch rmsnorm(String label, Buffer xBuf, Buffer weightBuf, Buffer outBuf, int batch, int dim, float eps) {
        float[] x = floats(xBuf, "x");
        float[] w = floats(weightBuf, "weight");
        float[] out = floats(outBuf, "out");
        return new Kernel(named("rmsnorm", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int rows = batch * tokens;
                for (int r = 0; r < rows; r++) {
                    int o = r * dim;
                    float meanSquare = VectorMath.dot(x, o, x, o, dim) / dim;
                    float scale = (float) (1.0 / Math.sqrt(meanSquare + eps));
                    VectorMath.scaleMul(x, o, scale, w, out, o, dim);
                }
            }
        };
    }

    @Override
    public Launch matmul(String label, Buffer xBuf, Matrix w, Buffer yBuf, int batch) {
        float[] x = floats(xBuf, "x");
        float[] y = floats(yBuf, "y");
        PackedMatrix packed = ((CpuMatrix) w).packed();
        return new Kernel(named("matmul", label)) {
            @Override
            void compute(int tokens, int startPos) {
                MatMul.matmul(x, 0, packed, y, 0, batch * tokens);
            }
        };
    }

    @Override
    public Launch rope(String label, Buffer xBuf, int batch, int heads, int headDim, double theta, int positions) {
        float[] x = floats(xBuf, "x");
        int half = headDim / 2;
        int dim = heads * headDim;
        RopeTable table = ropeTables.computeIfAbsent(new RopeKey(headDim, theta, positions), RopeTable::new);
        float[] cos = table.cos;
        float[] sin = table.sin;
        return new Kernel(named("rope", label)) {
            @Override
            void compute(int tokens, int startPos) {
                if (startPos + tokens > positions) {
                    throw new IllegalArgumentException("rope past its table: positions up to " + (startPos + tokens)
                            + " but the stage was built for " + positions);
                }
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < tokens; t++) {
                        int p = startPos + t;
                        int row = (b * tokens + t) * dim;
                        for (int h = 0; h < heads; h++) {
                            int base = row + h * headDim;
                            for (int i = 0; i < half; i++) {
                                float c = cos[p * half + i];
                                float s = sin[p * half + i];
                                float x0 = x[base + 2 * i];
                                float x1 = x[base + 2 * i + 1];
                                x[base + 2 * i] = x0 * c - x1 * s;
                                x[base + 2 * i + 1] = x0 * s + x1 * c;
                            }
                        }
                    }
                }
            }
        };
    }

    private record RopeKey(int headDim, double theta, int positions) {
    }

    /** cos and sin per (position, pair), computed in double and rounded once; shared by the launches of one shape. */
    private static final class RopeTable {
        final float[] cos;
        final float[] sin;

        RopeTable(RopeKey key) {
            int half = key.headDim() / 2;
            cos = new float[key.positions() * half];
            sin = new float[key.positions() * half];
            for (int p = 0; p < key.positions(); p++) {
                for (int i = 0; i < half; i++) {
                    double angle = p * Math.pow(key.theta(), -2.0 * i / key.headDim());
                    cos[p * half + i] = (float) Math.cos(angle);
                    sin[p * half + i] = (float) Math.sin(angle);
                }
            }
        }
    }

    @Override
    public Launch kvAppend(String label, Buffer kBuf, Buffer vBuf, Buffer kCacheBuf, Buffer vCacheBuf, int batch, int dim, int capacity) {
        float[] k = floats(kBuf, "k");
        float[] v = floats(vBuf, "v");
        float[] kc = floats(kCacheBuf, "kCache");
        float[] vc = floats(vCacheBuf, "vCache");
        return new Kernel(named("kv_append", label)) {
            @Override
            void compute(int tokens, int startPos) {
                if (startPos + tokens > capacity) {
                    throw new IllegalArgumentException("KV cache overflow: positions up to " + (startPos + tokens)
                            + " but capacity is " + capacity);
                }
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < tokens; t++) {
                        int src = (b * tokens + t) * dim;
                        int dst = (b * capacity + startPos + t) * dim;
                        System.arraycopy(k, src, kc, dst, dim);
                        System.arraycopy(v, src, vc, dst, dim);
                    }
                }
            }
        };
    }

    @Override
    public Launch attention(String label, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf, Buffer outBuf, int batch, int heads,
                            int headDim, int capacity) {
        float[] q = floats(qBuf, "q");
        float[] kc = floats(kCacheBuf, "kCache");
        float[] vc = floats(vCacheBuf, "vCache");
        float[] out = floats(outBuf, "out");
        int dim = heads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
        float[] scores = new float[capacity];
        return new Kernel(named("attention", label)) {
            @Override
            void compute(int tokens, int startPos) {
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < tokens; t++) {
                        int p = startPos + t;
                        int row = (b * tokens + t) * dim;
                        for (int h = 0; h < heads; h++) {
                            int qo = row + h * headDim;
                            float max = Float.NEGATIVE_INFINITY;
                            for (int j = 0; j <= p; j++) {
                                float s = VectorMath.dot(q, qo, kc, (b * capacity + j) * dim + h * headDim, headDim) * scale;
                                scores[j] = s;
                                max = Math.max(max, s);
                            }
                            float sum = 0f;
                            for (int j = 0; j <= p; j++) {
                                float e = (float) Math.exp(scores[j] - max);
                                scores[j] = e;
                                sum += e;
                            }
                            java.util.Arrays.fill(out, qo, qo + headDim, 0f);
                            float inv = 1f / sum;
                            for (int j = 0; j <= p; j++) {
                                VectorMath.axpy(scores[j] * inv, vc, (b * capacity + j) * dim + h * headDim, out, qo, headDim);
                            }
                        }
                    }
                }
            }
        };
    }

    /** Vectorised with VectorMath's own exp (Note [deterministic exp]): the same bits however it runs. */
    @Override
    public Launch siluMul(String label, Buffer aBuf, Buffer bBuf, int batch, int n) {
        float[] a = floats(aBuf, "a");
        float[] b = floats(bBuf, "b");
        return new Kernel(named("silu_mul", label)) {
            @Override
            void compute(int tokens, int startPos) {
                VectorMath.siluMul(a, b, batch * tokens * n);
            }
        };
    }

    @Override
    public Launch add(String label, Buffer xBuf, Buffer deltaBuf, int batch, int dim) {
        float[] x = floats(xBuf, "x");
        float[] d = floats(deltaBuf, "delta");
        return new Kernel(named("add", label)) {
            @Override
            void compute(int tokens, int startPos) {
                VectorMath.addInPlace(x, d, batch * tokens * dim);
            }
        };
    }

    @Override
    public Launch gatherLast(String label, Buffer xBuf, Buffer outBuf, int batch, int dim) {
        float[] x = floats(xBuf, "x");
        float[] out = floats(outBuf, "out");
        return new Kernel(named("gather_last", label)) {
            @Override
            void compute(int tokens, int startPos) {
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(x, (b * tokens + tokens - 1) * dim, out, b * dim, dim);
                }
            }
        };
    }

    @Override
    public Launch argmax(String label, Buffer logitsBuf, Buffer idsBuf, int batch, int vocab) {
        float[] logits = floats(logitsBuf, "logits");
        int[] ids = ints(idsBuf, "ids");
        return new Kernel(named("argmax", label)) {
            @Override
            void compute(int tokens, int startPos) {
                for (int b = 0; b < batch; b++) {
                    int o = b * vocab;
                    int best = 0;
                    for (int i = 1; i < vocab; i++) {
                        if (logits[o + i] > logits[o + best]) {
                            best = i;
                        }
                    }
                    ids[b] = best;
                }
            }
        };
    }

    @Override
    public Launch copy(String label, Buffer src, Buffer dst, int batch, int rowLength) {
        CpuBuffer s = (CpuBuffer) src;
        CpuBuffer d = (CpuBuffer) dst;
        if (s.type() != d.type()) {
            throw new IllegalArgumentException("copy from " + s.type() + " to " + d.type());
        }
        return new Kernel(named("copy", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int n = batch * tokens * rowLength;
                if (s.floats != null) {
                    System.arraycopy(s.floats, 0, d.floats, 0, n);
                } else {
                    System.arraycopy(s.ints, 0, d.ints, 0, n);
                }
            }
        };
    }

    @Override
    public Launch tokensToHost(String label, Buffer idsBuf, int[][] table, int[] requests) {
        int[] ids = ints(idsBuf, "ids");
        return new Kernel(named("tokens_to_host", label)) {
            @Override
            void compute(int tokens, int step) {
                for (int b = 0; b < requests.length; b++) {
                    table[requests[b]][step] = ids[b];
                }
            }
        };
    }

    // Placeholders until the [G] fused launches land (Note [fused launches] in Kernels).
    @Override public Launch setStep(String label, Buffer step) { throw notYet(label); }
    @Override public Launch normMatmul(String label, Buffer x, Buffer norm, float eps, dev.ppexec.backend.Matrix w, Buffer y, int batch) { throw notYet(label); }
    @Override public Launch matmulAdd(String label, Buffer a, dev.ppexec.backend.Matrix w, Buffer x, int batch) { throw notYet(label); }
    @Override public Launch normGateUp(String label, Buffer x, Buffer norm, float eps, dev.ppexec.backend.Matrix w13, Buffer out, int batch) { throw notYet(label); }
    @Override public Launch siluGate(String label, Buffer upGate, Buffer out, int batch, int n) { throw notYet(label); }
    @Override public Launch ropeKvAppend(String label, Buffer qkv, Buffer q, Buffer kCache, Buffer vCache, Buffer step, int batch, int heads, int headDim, double theta, int capacity) { throw notYet(label); }
    @Override public Launch attention(String label, Buffer q, Buffer kCache, Buffer vCache, Buffer step, Buffer out, int batch, int heads, int headDim, int capacity) { throw notYet(label); }

    private static UnsupportedOperationException notYet(String label) {
        return new UnsupportedOperationException(label + ": fused launches are not built yet");
    }
}
