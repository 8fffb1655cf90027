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
                rmsnormRows(x, w, out, batch * tokens, dim, eps);
            }
        };
    }

    /** out[rows, dim] = x / sqrt(mean(x²) + eps) · w, row by row. */
    private static void rmsnormRows(float[] x, float[] w, float[] out, int rows, int dim, float eps) {
        for (int r = 0; r < rows; r++) {
            int o = r * dim;
            float meanSquare = VectorMath.dot(x, o, x, o, dim) / dim;
            float scale = (float) (1.0 / Math.sqrt(meanSquare + eps));
            VectorMath.scaleMul(x, o, scale, w, out, o, dim);
        }
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

    private record RopeKey(int headDim, double theta, int positions) {
    }

    /** cos and sin per (position, pair), computed in double and rounded once; shared by the launches of one shape. */
    private static final class RopeTable {
        final int headDim;
        final float[] cos;
        final float[] sin;

        RopeTable(RopeKey key) {
            headDim = key.headDim();
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

        /**
         * dst[di ..][0, heads·headDim) = src[si ..] with the pairs (2i, 2i+1) of each head rotated for position p;
         * src and dst may be the same row.
         */
        void rotate(float[] src, int si, float[] dst, int di, int p, int heads) {
            int half = headDim / 2;
            for (int h = 0; h < heads; h++) {
                int s0 = si + h * headDim;
                int d0 = di + h * headDim;
                for (int i = 0; i < half; i++) {
                    float c = cos[p * half + i];
                    float s = sin[p * half + i];
                    float x0 = src[s0 + 2 * i];
                    float x1 = src[s0 + 2 * i + 1];
                    dst[d0 + 2 * i] = x0 * c - x1 * s;
                    dst[d0 + 2 * i + 1] = x0 * s + x1 * c;
                }
            }
        }
    }

    /** Causal attention of q[batch·tokens, heads·headDim] over cache positions 0..p of each row's request. */
    private static void attend(float[] q, float[] kc, float[] vc, float[] out, float[] scores, int batch, int heads,
                               int headDim, int capacity, int tokens, int startPos) {
        int dim = heads * headDim;
        float scale = (float) (1.0 / Math.sqrt(headDim));
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

    // ---- Note [unfused reference]: the launches the fused ones replaced (Note [fused launches] in Kernels) ----
    // No program runs them any more; they stay here, outside the Kernels interface, as the plain sequence the fused
    // launches are checked against: CpuKernelsTest on this backend, CudaKernelsContract on the CUDA backend's
    // kernels, and CpuKernelBench.

    /**
     * The unfused reference of ropeKvAppend's rotation: x[rows, heads·headDim] rotated in place for positions
     * startPos.. (a launch past {@code positions} fails).
     */
    public Launch rope(String label, Buffer xBuf, int batch, int heads, int headDim, double theta, int positions) {
        float[] x = floats(xBuf, "x");
        int dim = heads * headDim;
        RopeTable table = ropeTables.computeIfAbsent(new RopeKey(headDim, theta, positions), RopeTable::new);
        return new Kernel(named("rope", label)) {
            @Override
            void compute(int tokens, int startPos) {
                if (startPos + tokens > positions) {
                    throw new IllegalArgumentException("rope past its table: positions up to " + (startPos + tokens)
                            + " but the stage was built for " + positions);
                }
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < tokens; t++) {
                        int row = (b * tokens + t) * dim;
                        table.rotate(x, row, x, row, startPos + t, heads);
                    }
                }
            }
        };
    }

    /**
     * The unfused reference of ropeKvAppend's append: k, v [rows, dim] copied into the caches [batch, capacity, dim]
     * at positions startPos..
     */
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

    /**
     * The unfused reference of the step attention: causal attention of q[rows, heads·headDim] over cache positions
     * 0..p of its request, out[rows, dim], at the positions the launch is run with (no step buffer).
     */
    public Launch attention(String label, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf, Buffer outBuf, int batch, int heads,
                            int headDim, int capacity) {
        float[] q = floats(qBuf, "q");
        float[] kc = floats(kCacheBuf, "kCache");
        float[] vc = floats(vCacheBuf, "vCache");
        float[] out = floats(outBuf, "out");
        float[] scores = new float[capacity];
        return new Kernel(named("attention", label)) {
            @Override
            void compute(int tokens, int startPos) {
                attend(q, kc, vc, out, scores, batch, heads, headDim, capacity, tokens, startPos);
            }
        };
    }

    /**
     * The unfused reference of siluGate and normGateUp's epilogue: a[rows, n] = silu(a) ⊙ b. Vectorised with
     * VectorMath's own exp (Note [deterministic exp]): the same bits however it runs.
     */
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

    /** The unfused reference of matmulAdd's residual: x[rows, dim] += delta. */
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

    // ---- Note [cpu fused launches]: the fused launches of Note [fused launches] (in Kernels) run, on the CPU, the
    // unfused sequence they replace inside one launch, through scratch rows of the stream's worker thread (grown to
    // the largest pass seen, then reused: nothing allocated per launch). Their results are therefore bit-identical
    // to the launches they replace (Note [matmul reduction order]: a column's chain does not depend on the matrix's
    // other columns, so the packed wq|wk|wv and w1|w3 products equal the separate ones), and the tokens and logits do
    // not move; what they save on the CPU is the stream's per-launch hand-off. The launches that take a step buffer
    // read the pass's tokens and startPos from it (written by setStep), as a captured CUDA graph's kernels do.

    /** Per worker thread: [0] normed rows, [1] product rows, of the fused launch running on it. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    /** This thread's scratch {@code which} (0: normed rows, 1: products), at least {@code length} floats. */
    private static float[] scratch(int which, int length) {
        float[][] all = SCRATCH.get();
        if (all[which].length < length) {
            all[which] = new float[length];
        }
        return all[which];
    }

    @Override
    public Launch setStep(String label, Buffer stepBuf) {
        int[] step = ints(stepBuf, "step");
        if (step.length < 2) {
            throw new IllegalArgumentException("step buffer of " + step.length + " ints: must hold 2 (tokens, startPos)");
        }
        return new Kernel(named("set_step", label)) {
            @Override
            void compute(int tokens, int startPos) {
                step[0] = tokens;
                step[1] = startPos;
            }
        };
    }

    @Override
    public Launch normMatmul(String label, Buffer xBuf, Buffer normBuf, float eps, Matrix w, Buffer yBuf, int batch) {
        float[] x = floats(xBuf, "x");
        float[] norm = floats(normBuf, "norm");
        float[] y = floats(yBuf, "y");
        PackedMatrix packed = ((CpuMatrix) w).packed();
        int in = packed.k();
        return new Kernel(named("norm_matmul", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int rows = batch * tokens;
                float[] h = scratch(0, rows * in);
                rmsnormRows(x, norm, h, rows, in, eps);
                MatMul.matmul(h, 0, packed, y, 0, rows);
            }
        };
    }

    @Override
    public Launch matmulAdd(String label, Buffer aBuf, Matrix w, Buffer xBuf, int batch) {
        float[] a = floats(aBuf, "a");
        float[] x = floats(xBuf, "x");
        PackedMatrix packed = ((CpuMatrix) w).packed();
        int out = packed.n();
        return new Kernel(named("matmul_add", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int rows = batch * tokens;
                float[] product = scratch(1, rows * out);
                MatMul.matmul(a, 0, packed, product, 0, rows);
                VectorMath.addInPlace(x, product, rows * out);
            }
        };
    }

    @Override
    public Launch normGateUp(String label, Buffer xBuf, Buffer normBuf, float eps, Matrix w13, Buffer outBuf, int batch) {
        float[] x = floats(xBuf, "x");
        float[] norm = floats(normBuf, "norm");
        float[] out = floats(outBuf, "out");
        PackedMatrix packed = ((CpuMatrix) w13).packed();
        int in = packed.k();
        int n = packed.n() / 2;
        return new Kernel(named("norm_gate_up", label)) {
            @Override
            void compute(int tokens, int startPos) {
                int rows = batch * tokens;
                float[] h = scratch(0, rows * in);
                float[] upGate = scratch(1, rows * 2 * n);
                rmsnormRows(x, norm, h, rows, in, eps);
                MatMul.matmul(h, 0, packed, upGate, 0, rows);
                siluGateRows(upGate, out, rows, n);
            }
        };
    }

    @Override
    public Launch siluGate(String label, Buffer upGateBuf, Buffer outBuf, int batch, int n) {
        float[] upGate = floats(upGateBuf, "upGate");
        float[] out = floats(outBuf, "out");
        return new Kernel(named("silu_gate", label)) {
            @Override
            void compute(int tokens, int startPos) {
                siluGateRows(upGate, out, batch * tokens, n);
            }
        };
    }

    /** out[r, 0..n) = silu(upGate[r, 0..n)) ⊙ upGate[r, n..2n) for r in [0, rows). */
    private static void siluGateRows(float[] upGate, float[] out, int rows, int n) {
        for (int r = 0; r < rows; r++) {
            VectorMath.siluMul(upGate, 2 * r * n, upGate, (2 * r + 1) * n, out, r * n, n);
        }
    }

    @Override
    public Launch ropeKvAppend(String label, Buffer qkvBuf, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf,
                               Buffer stepBuf, int batch, int heads, int headDim, double theta, int capacity) {
        float[] qkv = floats(qkvBuf, "qkv");
        float[] q = floats(qBuf, "q");
        float[] kc = floats(kCacheBuf, "kCache");
        float[] vc = floats(vCacheBuf, "vCache");
        int[] step = ints(stepBuf, "step");
        int dim = heads * headDim;
        RopeTable table = ropeTables.computeIfAbsent(new RopeKey(headDim, theta, capacity), RopeTable::new);
        return new Kernel(named("rope_kv_append", label)) {
            @Override
            void compute(int ignoredTokens, int ignoredStartPos) {
                int tokens = step[0];
                int startPos = step[1];
                checkStep(tokens, startPos, capacity);
                for (int b = 0; b < batch; b++) {
                    for (int t = 0; t < tokens; t++) {
                        int row = b * tokens + t;
                        int p = startPos + t;
                        int cache = (b * capacity + p) * dim;
                        table.rotate(qkv, row * 3 * dim, q, row * dim, p, heads);
                        table.rotate(qkv, row * 3 * dim + dim, kc, cache, p, heads);
                        System.arraycopy(qkv, row * 3 * dim + 2 * dim, vc, cache, dim);
                    }
                }
            }
        };
    }

    /** A step buffer's positions must lie in the KV cache; StageProgram checks them on the host before the launch. */
    private static void checkStep(int tokens, int startPos, int capacity) {
        if (startPos < 0 || tokens < 1 || startPos + tokens > capacity) {
            throw new IllegalArgumentException("KV cache overflow: positions " + startPos + ".." + (startPos + tokens - 1)
                    + " but capacity is " + capacity);
        }
    }

    @Override
    public Launch attention(String label, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf, Buffer stepBuf, Buffer outBuf,
                            int batch, int heads, int headDim, int capacity) {
        float[] q = floats(qBuf, "q");
        float[] kc = floats(kCacheBuf, "kCache");
        float[] vc = floats(vCacheBuf, "vCache");
        int[] step = ints(stepBuf, "step");
        float[] out = floats(outBuf, "out");
        float[] scores = new float[capacity];
        return new Kernel(named("attention", label)) {
            @Override
            void compute(int ignoredTokens, int ignoredStartPos) {
                int tokens = step[0];
                int startPos = step[1];
                checkStep(tokens, startPos, capacity);
                attend(q, kc, vc, out, scores, batch, heads, headDim, capacity, tokens, startPos);
            }
        };
    }
}
