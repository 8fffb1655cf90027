package dev.ppexec.stage;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Matrix;
import dev.ppexec.backend.Stream;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;

import java.util.ArrayList;
import java.util.List;

/**
 * One stage's forward pass for one micro-batch slot, as lists of prepared launches. Buffers and
 * the KV cache are allocated here, once; {@link #launchForward} allocates nothing.
 *
 * <p>Per pass: {@code rows = batch · tokens}, row {@code b·tokens + t} at position {@code startPos + t}.
 *
 * <p>Two lists, chosen by the pass's shape (Note [fused launches] in Kernels): a pass of one token per request runs
 * the one-token list, fused (6 launches per layer) when {@code batch <= }{@link #FUSED_MAX_BATCH}, else unfused
 * without gather_last; any other pass (prefill) runs the unfused list of 9 per layer. Both read the pass's positions
 * from the program's step buffer, written by {@link #launchStep}; the rest of the forward is {@link #launchBody}.
 */
public final class StageProgram implements AutoCloseable {

    /** The largest batch whose one-token passes run the fused launches (decode-sized: a weight read once for all rows). */
    public static final int FUSED_MAX_BATCH = 16;
    /** Launches per layer of a fused pass. */
    public static final int FUSED_LAYER_LAUNCHES = 6;
    /** Launches per layer of any other pass. */
    public static final int LAYER_LAUNCHES = 9;

    private final Buffer x;         // [batch·maxTokens, dim] residual stream: a stage's input and output
    private final Buffer inputIds;  // [batch·maxTokens] first stage only
    private final Buffer nextIds;   // [batch] last stage only
    private final Buffer step;      // INT32[2]: tokens, startPos of the pass (Kernels.setStep)
    private final Launch setStep;
    private final int batch;
    private final int capacity;
    private final Body prefill;     // passes of more than one token per request
    private final Body oneToken;    // passes of one token per request (decode)
    private final Forwards forwards;
    private final Launch tokensToHost;
    private final List<Buffer> owned = new ArrayList<>();

    /**
     * @param prompts   [batch][maxTokens] prompt ids for the first stage, else null
     * @param requests  request index of each row of the batch
     * @param tokenLog  [requests][steps+1] the host table next tokens go to (last stage), else null
     * @param capacity  KV positions per request (prompt + decode steps)
     */
    public StageProgram(Device device, StageWeights w, Workspace ws, int[][] prompts, int[] requests,
                        int maxTokens, int capacity, int[][] tokenLog) {
        ModelConfig c = w.config;
        this.batch = requests.length;
        this.capacity = capacity;
        int dim = c.dim();
        Kernels k = device.kernels();
        // A failure half-way (out of device memory) frees what was already allocated.
        try {
            this.x = own(device.allocate(Buffer.Type.FLOAT32, (long) batch * maxTokens * dim));
            if (w.first) {
                int[] flat = new int[batch * maxTokens];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(prompts[b], 0, flat, b * maxTokens, maxTokens);
                }
                this.inputIds = own(device.upload(flat));
            } else {
                this.inputIds = null;
            }
            this.nextIds = w.last ? own(device.allocate(Buffer.Type.INT32, batch)) : null;
            this.step = own(device.allocate(Buffer.Type.INT32, 2));
            this.setStep = k.setStep("step", step);
            List<Buffer[]> caches = new ArrayList<>();
            for (int l = 0; l < w.layers.size(); l++) {
                caches.add(new Buffer[] {
                        own(device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim)), // [batch, capacity, dim]
                        own(device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim))});
            }
            this.prefill = body(k, w, ws, caches, false);
            this.oneToken = body(k, w, ws, caches, true);
            this.forwards = new Forwards(prefill.shapes, oneToken.shapes);
            assert prefill.launches.length + 1 == launchCount(w.layers.size(), w.first, w.last, batch, 2)
                    && oneToken.launches.length + 1 == launchCount(w.layers.size(), w.first, w.last, batch, 1)
                    : "launchCount is out of date";
            this.tokensToHost = w.last ? k.tokensToHost("next", nextIds, tokenLog, requests.clone()) : null;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The body of a forward: the launches after setStep, for one-token passes or for the others. */
    private Body body(Kernels k, StageWeights w, Workspace ws, List<Buffer[]> caches, boolean oneTokenPass) {
        ModelConfig c = w.config;
        int dim = c.dim();
        int heads = c.heads();
        int hd = c.headDim();
        float eps = ModelConfig.NORM_EPS;
        boolean fused = fuses(batch, oneTokenPass ? 1 : 2);
        Body b = new Body();
        if (w.first) {
            b.add(k.embed("embed", inputIds, w.embed, x, batch, dim), false, 0, dim);
        }
        for (int l = 0; l < w.layers.size(); l++) {
            StageWeights.Layer layer = w.layers.get(l);
            String p = "layers." + layer.index() + ".";
            Buffer kc = caches.get(l)[0];
            Buffer vc = caches.get(l)[1];
            Matrix qkv = layer.wqkv();
            Matrix w13 = layer.w13();
            // q | k | v = (rmsnorm(x)·attn_norm)·(wq | wk | wv)
            if (fused) {
                b.add(k.normMatmul(p + "qkv", x, layer.attnNorm(), eps, qkv, ws.qkv, batch), false, qkv.in(), qkv.out());
            } else {
                b.add(k.rmsnorm(p + "attn_norm", x, layer.attnNorm(), ws.h, batch, dim, eps), false, 0, dim);
                b.add(k.matmul(p + "qkv", ws.h, qkv, ws.qkv, batch), false, qkv.in(), qkv.out());
            }
            // RoPE on q and k; append k, v; causal attention over positions 0..p; x += attn·wo
            b.add(k.ropeKvAppend(p + "kv", ws.qkv, ws.q, kc, vc, step, batch, heads, hd, ModelConfig.ROPE_THETA, capacity),
                    false, 0, dim);
            b.add(k.attention(p + "attn", ws.q, kc, vc, step, ws.att, batch, heads, hd, capacity), false, 0, dim);
            b.add(k.matmulAdd(p + "wo", ws.att, layer.wo(), x, batch), false, layer.wo().in(), layer.wo().out());
            // up = silu(h·w1) ⊙ (h·w3), h = rmsnorm(x)·mlp_norm; x += up·w2
            if (fused) {
                b.add(k.normGateUp(p + "w13", x, layer.mlpNorm(), eps, w13, ws.up, batch), false, w13.in(), w13.out());
            } else {
                b.add(k.rmsnorm(p + "mlp_norm", x, layer.mlpNorm(), ws.h, batch, dim, eps), false, 0, dim);
                b.add(k.matmul(p + "w13", ws.h, w13, ws.upGate, batch), false, w13.in(), w13.out());
                b.add(k.siluGate(p + "silu", ws.upGate, ws.up, batch, c.ffn()), false, 0, c.ffn());
            }
            b.add(k.matmulAdd(p + "w2", ws.up, layer.w2(), x, batch), false, layer.w2().in(), layer.w2().out());
        }
        if (w.last) {
            // logits = (rmsnorm(x)·final_norm)·lm_head at each request's last position; next = argmax. A one-token
            // pass has one row per request already: no gather_last.
            if (fused) {
                b.add(k.normMatmul("lm_head", x, w.finalNorm, eps, w.lmHead, ws.logits, batch), true, w.lmHead.in(),
                        w.lmHead.out());
            } else {
                Buffer lastRows = x;
                if (!oneTokenPass) {
                    b.add(k.gatherLast("final", x, ws.last, batch, dim), false, 0, dim);
                    lastRows = ws.last;
                }
                b.add(k.rmsnorm("final_norm", lastRows, w.finalNorm, ws.lastH, batch, dim, eps), true, 0, dim);
                b.add(k.matmul("lm_head", ws.lastH, w.lmHead, ws.logits, batch), true, w.lmHead.in(), w.lmHead.out());
            }
            b.add(k.argmax("next", ws.logits, nextIds, batch, c.vocab()), true, 0, c.vocab());
        }
        return b.done();
    }

    /** A forward's body in order: its launches, which of them run on one row per request, and their shapes. */
    private static final class Body {
        private final List<Launch> list = new ArrayList<>();
        private final List<Boolean> per = new ArrayList<>();
        private final List<LaunchShape> shapeList = new ArrayList<>();
        Launch[] launches;
        boolean[] perRequest;
        List<LaunchShape> shapes;

        void add(Launch launch, boolean perRequest, int k, int n) {
            list.add(launch);
            per.add(perRequest);
            shapeList.add(new LaunchShape(launch.name(), k, n, perRequest));
        }

        Body done() {
            launches = list.toArray(Launch[]::new);
            perRequest = new boolean[per.size()];
            for (int i = 0; i < perRequest.length; i++) {
                perRequest[i] = per.get(i);
            }
            shapes = List.copyOf(shapeList);
            return this;
        }
    }

    /**
     * One launch of the forward as a trace names it: its {@link Launch#name()} ({@code "matmul layers.3.qkv"}), the
     * product's {@code [k, n]} for a launch that multiplies by a matrix (k = 0 for other kernels, n the width of
     * their output rows). {@code perRequest}: it runs on one row per request (after gather_last).
     */
    public record LaunchShape(String name, int k, int n, boolean perRequest) {

        /** The kernel, the first word of the name ({@code "matmul"}). */
        public String kernel() {
            int space = name.indexOf(' ');
            return space < 0 ? name : name.substring(0, space);
        }

        /** Rows of the launch in a pass of {@code tokens} positions per request over {@code batch} requests. */
        public int rows(int batch, int tokens) {
            return perRequest ? batch : batch * tokens;
        }
    }

    /**
     * The bodies of a program's two lists, as level 5 and run_batch_cpu's {@code launches} read them: {@code prefill}
     * for passes of more than one token per request, {@code oneToken} for the others.
     */
    public record Forwards(List<LaunchShape> prefill, List<LaunchShape> oneToken) {

        /** The body a pass of {@code tokens} positions per request runs, in order (its kernel slices at level 5). */
        public List<LaunchShape> of(int tokens) {
            return tokens == 1 ? oneToken : prefill;
        }

        /** The host launches of such a forward: setStep and the body. */
        public int launchCount(int tokens) {
            return 1 + of(tokens).size();
        }
    }

    /**
     * Launches of one pass of {@code tokens} per request through every stage of {@code partition} for a micro-batch of
     * {@code batch} requests: what one micro-batch launches per step.
     */
    public static int launchCount(Partition partition, int batch, int tokens) {
        int n = 0;
        for (int r = 0; r < partition.stages(); r++) {
            n += launchCount(partition.size(r), r == 0, r == partition.stages() - 1, batch, tokens);
        }
        return n;
    }

    /** Whether a pass of {@code tokens} per request over {@code batch} requests runs the fused list. */
    public static boolean fuses(int batch, int tokens) {
        return tokens == 1 && batch <= FUSED_MAX_BATCH;
    }

    /**
     * Level 5's kernel slices of such a pass through every stage: its launches but each stage's setStep (whose time
     * falls in the first slice of its forward).
     */
    public static int kernelSlices(Partition partition, int batch, int tokens) {
        return launchCount(partition, batch, tokens) - partition.stages();
    }

    /**
     * Launches of one forward of a stage of {@code layers} layers (setStep, embed on the first, the head on the last)
     * in a pass of {@code tokens} per request over {@code batch} requests.
     */
    public static int launchCount(int layers, boolean first, boolean last, int batch, int tokens) {
        boolean fused = fuses(batch, tokens);
        int head = fused ? 2 : tokens == 1 ? 3 : 4;
        return 1 + (first ? 1 : 0) + (fused ? FUSED_LAYER_LAUNCHES : LAYER_LAUNCHES) * layers + (last ? head : 0);
    }

    private Buffer own(Buffer b) {
        owned.add(b);
        return b;
    }

    /**
     * Enqueues setStep alone: the pass's tokens and startPos to the step buffer the body reads. A pass past the KV
     * capacity fails here, on the host, before anything is enqueued.
     */
    public void launchStep(Stream stream, int tokens, int startPos) {
        if (tokens < 1 || startPos < 0 || startPos + tokens > capacity) {
            throw new IllegalArgumentException("a pass of " + tokens + " tokens from position " + startPos
                    + " does not fit the KV cache of " + capacity + " positions per request");
        }
        stream.launch(setStep, tokens, startPos);
    }

    /** Enqueues the forward's body (everything after setStep) for a pass of {@code tokens} per request. */
    public void launchBody(Stream stream, int tokens, int startPos) {
        Body body = body(tokens);
        for (int i = 0; i < body.launches.length; i++) {
            stream.launch(body.launches[i], body.perRequest[i] ? 1 : tokens, startPos);
        }
    }

    /**
     * Level 5: as {@link #launchBody}, and records {@code marks[i]} after launch {@code i} for every launch but the
     * last, so that launch i runs between marks[i−1] (or the forward's start event) and marks[i] (or its end event).
     * {@code marks} holds at least {@code launches(tokens).size() − 1} events (one array serves both lists): the ones
     * past those are recorded after the last launch, so that every mark of the array has a time.
     */
    public void launchBodyMarked(Stream stream, int tokens, int startPos, Event[] marks) {
        Body body = body(tokens);
        int last = body.launches.length - 1;
        for (int i = 0; i < last; i++) {
            stream.launch(body.launches[i], body.perRequest[i] ? 1 : tokens, startPos);
            stream.record(marks[i]);
        }
        stream.launch(body.launches[last], body.perRequest[last] ? 1 : tokens, startPos);
        for (int i = last; i < marks.length; i++) {
            stream.record(marks[i]);
        }
    }

    /** Enqueues the stage's forward on {@code stream} and returns at once (the run_batch launch): step, then body. */
    public void launchForward(Stream stream, int tokens, int startPos) {
        launchStep(stream, tokens, startPos);
        launchBody(stream, tokens, startPos);
    }

    /** Level 5: {@link #launchStep} then {@link #launchBodyMarked}; setStep's time falls in the first body slice. */
    public void launchForwardMarked(Stream stream, int tokens, int startPos, Event[] marks) {
        launchStep(stream, tokens, startPos);
        launchBodyMarked(stream, tokens, startPos, marks);
    }

    private Body body(int tokens) {
        return tokens == 1 ? oneToken : prefill;
    }

    /** The body of a pass of {@code tokens} per request, with shapes: what level 5 slices. */
    public List<LaunchShape> launches(int tokens) {
        return forwards.of(tokens);
    }

    /** The host launches of a forward of {@code tokens} per request (setStep and the body): what it enqueues. */
    public int launchCount(int tokens) {
        return forwards.launchCount(tokens);
    }

    /** Both lists' shapes: what a trace reads for any pass of this program. */
    public Forwards forwards() {
        return forwards;
    }

    /** Enqueues the copy of this step's next tokens to the host table (last stage only). */
    public void launchTokensToHost(Stream stream, int step) {
        stream.launch(tokensToHost, 1, step);
    }

    /** The residual stream [batch·tokens, dim]: what a non-last stage sends and a non-first stage receives. */
    public Buffer hidden() {
        return x;
    }

    /** Token ids the first stage embeds; decode steps overwrite the first {@code batch} entries. */
    public Buffer inputIds() {
        return inputIds;
    }

    /** The last stage's argmax [batch]. */
    public Buffer nextIds() {
        return nextIds;
    }

    @Override
    public void close() {
        owned.forEach(Buffer::close);
        owned.clear();
    }
}
