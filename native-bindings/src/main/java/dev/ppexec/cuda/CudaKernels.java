package dev.ppexec.cuda;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;

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
    static final List<String> FUNCTIONS = List.of("ppexec_embed", "ppexec_rmsnorm", "ppexec_rope", "ppexec_kv_append",
            "ppexec_attention", "ppexec_silu_mul", "ppexec_add", "ppexec_gather_last", "ppexec_argmax",
            "ppexec_matmul");

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
        if (!(w instanceof CudaMatrix m) || m.buffer().device() != device) {
            throw new IllegalArgumentException("matrix of " + label + " is not on " + device.name());
        }
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer y = floats(yBuf, "y");
        String name = named("matmul", label);
        if (device.cublas().isPresent()) {
            return new GemmLaunch(name, device.cublas().get(), x, m, y, batch, device.alphaBeta());
        }
        int in = m.in();
        int out = m.out();
        // ppexec_matmul(x, w, y, rows, in, out)
        KernelLaunch k = new KernelLaunch(name, function("ppexec_matmul"), 6, batch,
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
                .setInt(4, in).setInt(5, out);
        return k;
    }

    @Override
    public Launch rope(String label, Buffer xBuf, int batch, int heads, int headDim, double theta, int positions) {
        CudaBuffer x = floats(xBuf, "x");
        long pairsPerRow = (long) heads * (headDim / 2);
        // ppexec_rope(x, rows, tokens, startPos, heads, headDim, theta): angles computed on the device, no table
        KernelLaunch k = new KernelLaunch(named("rope", label), function("ppexec_rope"), 7, batch,
                rowsIn(x, (long) heads * headDim), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                if (startPos + tokens > positions) {
                    throw new IllegalArgumentException("rope past its table: positions up to " + (startPos + tokens)
                            + " but the stage was built for " + positions);
                }
                int rows = batch * tokens;
                params.setInt(1, rows).setInt(2, tokens).setInt(3, startPos);
                gridX = blocks(rows * pairsPerRow, BLOCK);
            }
        };
        k.params.setPointer(0, x.pointer()).setInt(4, heads).setInt(5, headDim).setDouble(6, theta);
        return k;
    }

    @Override
    public Launch kvAppend(String label, Buffer kBuf, Buffer vBuf, Buffer kCacheBuf, Buffer vCacheBuf, int batch, int dim,
                           int capacity) {
        CudaBuffer k = floats(kBuf, "k");
        CudaBuffer v = floats(vBuf, "v");
        CudaBuffer kc = floats(kCacheBuf, "kCache");
        CudaBuffer vc = floats(vCacheBuf, "vCache");
        requireCache(kc, vc, batch, capacity, dim);
        // ppexec_kv_append(k, v, kCache, vCache, tokens, startPos, dim, capacity)
        KernelLaunch launch = new KernelLaunch(named("kv_append", label), function("ppexec_kv_append"), 8, batch,
                min(rowsIn(k, dim), rowsIn(v, dim)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                requireCapacity(startPos, tokens, capacity);
                params.setInt(4, tokens).setInt(5, startPos);
                gridX = batch * tokens;
            }
        };
        launch.params.setPointer(0, k.pointer()).setPointer(1, v.pointer()).setPointer(2, kc.pointer())
                .setPointer(3, vc.pointer()).setInt(6, dim).setInt(7, capacity);
        return launch;
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
    public Launch attention(String label, Buffer qBuf, Buffer kCacheBuf, Buffer vCacheBuf, Buffer outBuf, int batch,
                            int heads, int headDim, int capacity) {
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
        // ppexec_attention(q, kCache, vCache, out, tokens, startPos, heads, headDim, capacity, scale)
        KernelLaunch k = new KernelLaunch(named("attention", label), function("ppexec_attention"), 10, batch,
                min(rowsIn(q, dim), rowsIn(out, dim)), ATTENTION_BLOCK, 1, (int) shared) {
            @Override
            void prepare(int tokens, int startPos) {
                requireCapacity(startPos, tokens, capacity);
                params.setInt(4, tokens).setInt(5, startPos);
                gridX = batch * tokens;
                gridY = heads;
            }
        };
        k.params.setPointer(0, q.pointer()).setPointer(1, kc.pointer()).setPointer(2, vc.pointer())
                .setPointer(3, out.pointer()).setInt(6, heads).setInt(7, headDim).setInt(8, capacity)
                .setFloat(9, scale);
        return k;
    }

    @Override
    public Launch siluMul(String label, Buffer aBuf, Buffer bBuf, int batch, int n) {
        CudaBuffer a = floats(aBuf, "a");
        CudaBuffer b = floats(bBuf, "b");
        return elementwise(named("silu_mul", label), "ppexec_silu_mul", a, b, batch, n);
    }

    @Override
    public Launch add(String label, Buffer xBuf, Buffer deltaBuf, int batch, int dim) {
        CudaBuffer x = floats(xBuf, "x");
        CudaBuffer d = floats(deltaBuf, "delta");
        return elementwise(named("add", label), "ppexec_add", x, d, batch, dim);
    }

    /** {@code kernel(a, b, count)} over {@code rows · n} elements. */
    private Launch elementwise(String name, String kernel, CudaBuffer a, CudaBuffer b, int batch, int n) {
        KernelLaunch k = new KernelLaunch(name, function(kernel), 3, batch, min(rowsIn(a, n), rowsIn(b, n)), BLOCK, 1, 0) {
            @Override
            void prepare(int tokens, int startPos) {
                long count = (long) batch * tokens * n;
                params.setLong(2, count);
                gridX = blocks(count, BLOCK);
            }
        };
        k.params.setPointer(0, a.pointer()).setPointer(1, b.pointer());
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
