package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

/**
 * The model's kernels on a CUDA device: the project's own ({@code src/main/cuda/*.cu}, one fatbin)
 * and cuBLAS for matrix products, or the project's tiled matmul kernel when cuBLAS could not be
 * opened. Launch shapes are documented beside each kernel in its {@code .cu} file; numerics follow
 * the CPU backend (see {@code common.cuh}).
 */
final class CudaKernels implements Kernels {

    /** Every kernel the backend looks up in the fatbin (a test checks the fatbin has them all). */
    static final List<String> FUNCTIONS = List.of("ppexec_embed", "ppexec_rmsnorm", "ppexec_gather_last",
            "ppexec_argmax", "ppexec_matmul", "ppexec_set_step", "ppexec_norm_matmul", "ppexec_matmul_add",
            "ppexec_norm_gate_up", "ppexec_silu_gate", "ppexec_rope_kv_append", "ppexec_attention_step");

    /**
     * The most rows a fused product runs with the decode kernels (GEMV_ROWS in fused.cu): matmulAdd runs a GEMM on
     * larger passes, normMatmul and normGateUp refuse them (StageProgram.FUSED_MAX_BATCH must not exceed this).
     */
    static final int FUSED_ROWS = 16;
    /** Output columns per block of a decode product (GEMV_TN), and of each half for the packed w1|w3. */
    private static final int GEMV_COLUMNS = 64;
    /** Weight rows per block of a decode product: at most GEMV_KC, in multiples of its k lanes (GEMV_TY). */
    private static final int GEMV_MAX_CHUNK = 256;
    private static final int GEMV_MIN_CHUNK = 64;
    private static final int GEMV_LANES = 16;
    /**
     * Blocks a decode product aims for, splitting the weight rows where the output is too narrow: two resident blocks
     * (at most 128 registers x 256 threads each, __launch_bounds__) on each of the 132 SMs of an H100 SXM or H200.
     */
    private static final int GEMV_TARGET_BLOCKS = 2 * 132;
    private static final int STEP_BLOCK = 32;

    /** Host floats {1, 1}: cuBLAS's alpha and beta for a product accumulated into its output. */
    private static final long ALPHA_ONE_BETA_ONE;

    static {
        MemorySegment ones = Arena.global().allocate(ValueLayout.JAVA_FLOAT, 2);
        ones.setAtIndex(ValueLayout.JAVA_FLOAT, 0, 1.0f);
        ones.setAtIndex(ValueLayout.JAVA_FLOAT, 1, 1.0f);
        ALPHA_ONE_BETA_ONE = ones.address();
    }

    private static final int BLOCK = 256;
    private static final int ATTENTION_BLOCK = 128;
    private static final int TILE = 16;
    /** Shared memory a kernel may use without opting in. */
    private static final int MAX_SHARED_BYTES = 48 * 1024;

    private final CudaDevice device;
    private final Map<String, Long> functions;

    CudaKernels(CudaDevice device, Map<String, Long> functions) {
        this.device = device;
        this.functions = Map.copyOf(functions);
    }

    private long function(String name) {
        Long f = functions.get(name);
        if (f == null) {
            throw new IllegalStateException("kernel " + name + " is not loaded on " + device.name());
        }
        return f;
    }

    /** Names a launch for errors and traces, as the CPU backend does. */
    private static String named(String kernel, String what) {
        return what == null || what.isEmpty() ? kernel : kernel + " " + what;
    }

    private CudaBuffer buffer(Buffer b, Buffer.Type type, String what) {
        if (!(b instanceof CudaBuffer c)) {
            throw new IllegalArgumentException(what + " is not a CUDA buffer");
        }
        if (c.device() != device) {
            throw new IllegalArgumentException(what + " is on " + c.device().name() + ", the kernel runs on "
                    + device.name());
        }
        if (c.type() != type) {
            throw new IllegalArgumentException(what + " must be a " + type + " buffer, got " + c.type());
        }
        return c;
    }

    private CudaBuffer floats(Buffer b, String what) {
        return buffer(b, Buffer.Type.FLOAT32, what);
    }

    private CudaBuffer ints(Buffer b, String what) {
        return buffer(b, Buffer.Type.INT32, what);
    }

    private static long rowsIn(CudaBuffer b, long rowLength) {
        return b.length() / rowLength;
    }

    private static long min(long... values) {
        long m = Long.MAX_VALUE;
        for (long v : values) {
            m = Math.min(m, v);
        }
        return m;
    }

    @Override
    public Launch embed(String label, Buffer idsBuf, Buffer tableBuf, Buffer xBuf, int batch, int dim) {
        CudaBuffer ids = ints(idsBuf, "ids");
        CudaBuffer table = floats(tableBuf, "table");
        CudaBuffer x = floats(xBuf, "x");
        int vocab = Math.toIntExact(table.length() / dim);
        // ppexec_embed(ids, table, x, dim, vocab)
        KernelLaunch k = new KernelLaunch(named("embed", label), function("ppexec_embed"), 5, batch,
                min(ids.length(), rowsIn(x, dim)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                gridX = batch * tokens;
            }
        };
        k.params.setPointer(0, ids.pointer()).setPointer(1, table.pointer()).setPointer(2, x.pointer())
                .setInt(3, dim).setInt(4, vocab);
        return k;
    }

    @Override
    public Launch rmsnorm(String label, Buffer xBuf, Buffer weightBuf, Buffer outBuf, int batch, int dim, float eps) {
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer w = floats(weightBuf, "weight");
        CudaBuffer out = floats(outBuf, "out");
        // ppexec_rmsnorm(x, weight, out, dim, eps)
        KernelLaunch k = new KernelLaunch(named("rmsnorm", label), function("ppexec_rmsnorm"), 5, batch,
                min(rowsIn(x, dim), rowsIn(out, dim)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                gridX = batch * tokens;
            }
        };
        k.params.setPointer(0, x.pointer()).setPointer(1, w.pointer()).setPointer(2, out.pointer()).setInt(3, dim)
                .setFloat(4, eps);
        return k;
    }

    @Override
    public Launch matmul(String label, Buffer xBuf, Matrix w, Buffer yBuf, int batch) {
        return product(named("matmul", label), floats(xBuf, "x"), matrix(w, label), floats(yBuf, "y"), batch, false);
    }

    private CudaMatrix matrix(Matrix w, String label) {
        if (!(w instanceof CudaMatrix m) || m.buffer().device() != device) {
            throw new IllegalArgumentException("matrix of " + label + " is not on " + device.name());
        }
        return m;
    }

    /** y = x·w, or y += x·w: cuBLAS when the device has it, else the tiled kernel. */
    private CudaLaunch product(String name, CudaBuffer x, CudaMatrix m, CudaBuffer y, int batch, boolean accumulate) {
        if (device.cublas().isPresent()) {
            return new GemmLaunch(name, device.cublas().get(), x, m, y, batch,
                    accumulate ? ALPHA_ONE_BETA_ONE : device.alphaBeta());
        }
        int in = m.in();
        int out = m.out();
        // ppexec_matmul(x, w, y, rows, in, out, accumulate)
        KernelLaunch k = new KernelLaunch(name, function("ppexec_matmul"), 7, batch,
                min(rowsIn(x, in), rowsIn(y, out)), TILE, TILE, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                int rows = batch * tokens;
                params.setInt(3, rows);
                gridX = blocks(out, TILE);
                gridY = blocks(rows, TILE);
            }
        };
        k.params.setPointer(0, x.pointer()).setPointer(1, m.buffer().pointer()).setPointer(2, y.pointer())
                .setInt(4, in).setInt(5, out).setInt(6, accumulate ? 1 : 0);
        return k;
    }

    private static void requireCache(CudaBuffer kc, CudaBuffer vc, int batch, int capacity, int dim) {
        long needed = (long) batch * capacity * dim;
        if (kc.length() < needed || vc.length() < needed) {
            throw new IllegalArgumentException("KV cache holds " + Math.min(kc.length(), vc.length())
                    + " floats; allowed: at least batch x capacity x dim = " + needed);
        }
    }

    private static void requireCapacity(int startPos, int tokens, int capacity) {
        if (startPos < 0 || (long) startPos + tokens > capacity) {
            throw new IllegalArgumentException("KV cache overflow: positions up to " + ((long) startPos + tokens)
                    + " but capacity is " + capacity);
        }
    }

    @Override
    public Launch attention(String label, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf, Buffer stepBuf, Buffer outBuf,
                            int batch, int heads, int headDim, int capacity) {
        CudaBuffer step = step(stepBuf);
        CudaBuffer q = floats(qBuf, "q");
        CudaBuffer kc = floats(kCacheBuf, "kCache");
        CudaBuffer vc = floats(vCacheBuf, "vCache");
        CudaBuffer out = floats(outBuf, "out");
        int dim = heads * headDim;
        requireCache(kc, vc, batch, capacity, dim);
        long shared = ((long) headDim + capacity + 32) * Float.BYTES;
        if (shared > MAX_SHARED_BYTES) {
            throw new IllegalArgumentException("attention over " + capacity + " positions needs " + shared
                    + " bytes of shared memory; allowed: at most " + MAX_SHARED_BYTES + " (fewer positions)");
        }
        float scale = (float) (1.0 / Math.sqrt(headDim));
        // ppexec_attention_step(q, kCache, vCache, out, step, tokens, heads, headDim, capacity, scale)
        KernelLaunch k = new KernelLaunch(named("attention", label), function("ppexec_attention_step"), 10, batch,
                min(rowsIn(q, dim), rowsIn(out, dim)), ATTENTION_BLOCK, 1, (int) shared) {
            @Override
            void prepare(int tokens, int startPos) {
                requireCapacity(startPos, tokens, capacity);
                params.setInt(5, tokens);
                gridX = batch * tokens;
                gridY = heads;
            }
        };
        k.params.setPointer(0, q.pointer()).setPointer(1, kc.pointer()).setPointer(2, vc.pointer())
                .setPointer(3, out.pointer()).setPointer(4, step.pointer()).setInt(6, heads).setInt(7, headDim)
                .setInt(8, capacity).setFloat(9, scale);
        return k;
    }

    @Override
    public Launch gatherLast(String label, Buffer xBuf, Buffer outBuf, int batch, int dim) {
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer out = floats(outBuf, "out");
        if (rowsIn(out, dim) < batch) {
            throw new IllegalArgumentException("gather_last " + label + ": out holds " + rowsIn(out, dim)
                    + " rows; allowed: at least batch = " + batch);
        }
        // ppexec_gather_last(x, out, tokens, dim)
        KernelLaunch k = new KernelLaunch(named("gather_last", label), function("ppexec_gather_last"), 4, batch,
                rowsIn(x, dim), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                params.setInt(2, tokens);
                gridX = batch;
            }
        };
        k.params.setPointer(0, x.pointer()).setPointer(1, out.pointer()).setInt(3, dim);
        return k;
    }

    @Override
    public Launch argmax(String label, Buffer logitsBuf, Buffer idsBuf, int batch, int vocab) {
        CudaBuffer logits = floats(logitsBuf, "logits");
        CudaBuffer ids = ints(idsBuf, "ids");
        if (rowsIn(logits, vocab) < batch || ids.length() < batch) {
            throw new IllegalArgumentException("argmax " + label + ": buffers hold fewer than batch = " + batch + " rows");
        }
        // ppexec_argmax(logits, ids, vocab): one row per request, whatever tokens is
        KernelLaunch k = new KernelLaunch(named("argmax", label), function("ppexec_argmax"), 3, batch, Long.MAX_VALUE,
                BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                gridX = batch;
            }
        };
        k.params.setPointer(0, logits.pointer()).setPointer(1, ids.pointer()).setInt(2, vocab);
        return k;
    }

    @Override
    public Launch copy(String label, Buffer src, Buffer dst, int batch, int rowLength) {
        if (!(src instanceof CudaBuffer s) || !(dst instanceof CudaBuffer d)) {
            throw new IllegalArgumentException("copy " + label + ": both buffers must be CUDA buffers");
        }
        if (s.type() != d.type()) {
            throw new IllegalArgumentException("copy from " + s.type() + " to " + d.type());
        }
        return new CopyLaunch(named("copy", label), s, d, batch, rowLength);
    }

    @Override
    public Launch tokensToHost(String label, Buffer idsBuf, int[][] table, int[] requests) {
        return new TokensToHostLaunch(named("tokens_to_host", label), ints(idsBuf, "ids"), table, requests);
    }

    /** An INT32 buffer of at least 2: step[0] = tokens, step[1] = startPos. */
    private CudaBuffer step(Buffer b) {
        CudaBuffer step = ints(b, "step");
        if (step.length() < 2) {
            throw new IllegalArgumentException("step holds " + step.length() + " ints; allowed: at least 2");
        }
        return step;
    }

    @Override
    public Launch setStep(String label, Buffer stepBuf) {
        CudaBuffer step = step(stepBuf);
        // ppexec_set_step(step, tokens, startPos)
        KernelLaunch k = new KernelLaunch(named("set_step", label), function("ppexec_set_step"), 3, 1, Long.MAX_VALUE,
                STEP_BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                params.setInt(1, tokens).setInt(2, startPos);
                gridX = 1;
            }
        };
        k.params.setPointer(0, step.pointer());
        return k;
    }

    @Override
    public Launch normMatmul(String label, Buffer xBuf, Buffer normBuf, float eps, Matrix w, Buffer yBuf, int batch) {
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer norm = floats(normBuf, "norm");
        CudaBuffer y = floats(yBuf, "y");
        CudaMatrix m = matrix(w, label);
        String name = named("norm_matmul", label);
        // Larger passes run rmsnorm and matmul (StageProgram's unfused list): a GEMM here would need a buffer of
        // rmsnorm's rows beside each layer's, as large as a prefill's activations, unused by decode passes.
        return new ByRowsLaunch(name, batch, decodeProduct(name, "ppexec_norm_matmul", false, x, norm, eps, m, y, batch),
                List.of(), "larger passes run rmsnorm and matmul");
    }

    @Override
    public Launch matmulAdd(String label, Buffer aBuf, Matrix w, Buffer xBuf, int batch) {
        CudaBuffer a = floats(aBuf, "a");
        CudaBuffer x = floats(xBuf, "x");
        CudaMatrix m = matrix(w, label);
        String name = named("matmul_add", label);
        return new ByRowsLaunch(name, batch, decodeProduct(name, "ppexec_matmul_add", false, a, null, 0f, m, x, batch),
                List.of(product(name, a, m, x, batch, true)), null);
    }

    @Override
    public Launch normGateUp(String label, Buffer xBuf, Buffer normBuf, float eps, Matrix w13, Buffer outBuf, int batch) {
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer norm = floats(normBuf, "norm");
        CudaBuffer out = floats(outBuf, "out");
        CudaMatrix m = matrix(w13, label);
        if (m.out() % 2 != 0) {
            throw new IllegalArgumentException("norm_gate_up " + label + ": w1|w3 has " + m.out()
                    + " columns; allowed: an even number (w1 and w3 side by side)");
        }
        String name = named("norm_gate_up", label);
        return new ByRowsLaunch(name, batch, decodeProduct(name, "ppexec_norm_gate_up", true, x, norm, eps, m, out,
                batch), List.of(), "larger passes run rmsnorm, matmul and siluGate");
    }

    /**
     * One of fused.cu's decode products (Note [decode products]), all with the arguments (x, norm, eps, w, y, partial,
     * counters, rows, in, out, kChunk, vectorized): the weight rows split into chunks so that the grid fills the
     * device, and the buffers the chunks meet in ({@link #scratch}).
     */
    private KernelLaunch decodeProduct(String name, String kernel, boolean gateUp, CudaBuffer x, CudaBuffer norm,
                                       float eps, CudaMatrix m, CudaBuffer y, int batch) {
        int in = m.in();
        int out = m.out();
        int yColumns = gateUp ? out / 2 : out;
        int tiles = KernelLaunch.blocks(yColumns, gateUp ? GEMV_COLUMNS / 2 : GEMV_COLUMNS);
        int chunks = Math.max(KernelLaunch.blocks(in, GEMV_MAX_CHUNK),
                Math.min(KernelLaunch.blocks(GEMV_TARGET_BLOCKS, tiles), KernelLaunch.blocks(in, GEMV_MIN_CHUNK)));
        int kChunk = KernelLaunch.blocks(KernelLaunch.blocks(in, chunks), GEMV_LANES) * GEMV_LANES;
        int splits = KernelLaunch.blocks(in, kChunk);
        long partial = 0;
        long counters = 0;
        if (splits > 1) {
            partial = scratch(y, Buffer.Type.FLOAT32, (long) tiles * splits * FUSED_ROWS * GEMV_COLUMNS).pointer();
            counters = scratch(y, Buffer.Type.INT32, tiles).pointer();
        }
        boolean vectorized = out % 4 == 0 && yColumns % 4 == 0 && m.buffer().pointer() % 16 == 0;
        long maxRows = min(rowsIn(x, in), rowsIn(y, yColumns), FUSED_ROWS);
        KernelLaunch k = new KernelLaunch(name, function(kernel), 12, batch, maxRows, BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                params.setInt(7, batch * tokens);
                gridX = tiles;
                gridY = splits;
            }
        };
        k.params.setPointer(0, x.pointer()).setPointer(1, norm == null ? 0 : norm.pointer()).setFloat(2, eps)
                .setPointer(3, m.buffer().pointer()).setPointer(4, y.pointer()).setPointer(5, partial)
                .setPointer(6, counters).setInt(8, in).setInt(9, out).setInt(10, kChunk).setInt(11, vectorized ? 1 : 0);
        return k;
    }

    /**
     * A zeroed buffer of a launch, freed with the buffer the launch writes ({@code output}): a stage that closes its
     * buffers leaves nothing behind on a device kept open for the next run.
     */
    private CudaBuffer scratch(CudaBuffer output, Buffer.Type type, long length) {
        CudaBuffer b = (CudaBuffer) device.allocate(type, length);
        output.onClose(b::close);
        return b;
    }

    @Override
    public Launch siluGate(String label, Buffer upGateBuf, Buffer outBuf, int batch, int n) {
        CudaBuffer upGate = floats(upGateBuf, "upGate");
        CudaBuffer out = floats(outBuf, "out");
        // ppexec_silu_gate(upGate, out, n, count)
        KernelLaunch k = new KernelLaunch(named("silu_gate", label), function("ppexec_silu_gate"), 4, batch,
                min(rowsIn(upGate, 2L * n), rowsIn(out, n)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                long count = (long) batch * tokens * n;
                params.setLong(3, count);
                gridX = blocks(count, BLOCK);
            }
        };
        k.params.setPointer(0, upGate.pointer()).setPointer(1, out.pointer()).setInt(2, n);
        return k;
    }

    @Override
    public Launch ropeKvAppend(String label, Buffer qkvBuf, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf,
                               Buffer stepBuf, int batch, int heads, int headDim, double theta, int capacity) {
        CudaBuffer qkv = floats(qkvBuf, "qkv");
        CudaBuffer q = floats(qBuf, "q");
        CudaBuffer kc = floats(kCacheBuf, "kCache");
        CudaBuffer vc = floats(vCacheBuf, "vCache");
        CudaBuffer step = step(stepBuf);
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("rope_kv_append " + label + ": headDim " + headDim
                    + "; allowed: an even number (RoPE rotates pairs)");
        }
        int dim = heads * headDim;
        requireCache(kc, vc, batch, capacity, dim);
        // ppexec_rope_kv_append(qkv, q, kCache, vCache, step, tokens, heads, headDim, capacity, theta): angles computed
        // on the device (rope_angle in common.cuh), no table
        KernelLaunch k = new KernelLaunch(named("rope_kv_append", label), function("ppexec_rope_kv_append"), 10, batch,
                min(rowsIn(qkv, 3L * dim), rowsIn(q, dim)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                requireCapacity(startPos, tokens, capacity);
                params.setInt(5, tokens);
                gridX = batch * tokens;
            }
        };
        k.params.setPointer(0, qkv.pointer()).setPointer(1, q.pointer()).setPointer(2, kc.pointer())
                .setPointer(3, vc.pointer()).setPointer(4, step.pointer()).setInt(6, heads).setInt(7, headDim)
                .setInt(8, capacity).setDouble(9, theta);
        return k;
    }
}
