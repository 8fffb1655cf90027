package dev.ppexec.stage;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Kernels;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;

import java.util.ArrayList;
import java.util.List;

/**
 * One stage's forward pass for one micro-batch slot, as a list of prepared launches. Buffers and
 * the KV cache are allocated here, once; {@link #launchForward} allocates nothing.
 *
 * <p>Per pass: {@code rows = batch · tokens}, row {@code b·tokens + t} at position {@code startPos + t}.
 */
public final class StageProgram implements AutoCloseable {

    private final Buffer x;         // [batch·maxTokens, dim] residual stream: a stage's input and output
    private final Buffer inputIds;  // [batch·maxTokens] first stage only
    private final Buffer nextIds;   // [batch] last stage only
    private final Launch[] launches;
    private final boolean[] perRequest; // true: runs on one row per request (after gather_last)
    private final List<LaunchShape> shapes;
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
        int batch = requests.length;
        int dim = c.dim();
        int heads = c.heads();
        int hd = c.headDim();
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

            List<Launch> ls = new ArrayList<>();
            List<Boolean> per = new ArrayList<>();
            List<LaunchShape> sh = new ArrayList<>();
            if (w.first) {
                add(ls, per, sh, k.embed("embed", inputIds, w.embed, x, batch, dim), false, 0, dim);
            }
            for (StageWeights.Layer l : w.layers) {
                String p = "layers." + l.index() + ".";
                Buffer kc = own(device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim)); // [batch, capacity, dim]
                Buffer vc = own(device.allocate(Buffer.Type.FLOAT32, (long) batch * capacity * dim));
                // h = rmsnorm(x)·attn_norm; q, k, v = h·wq, h·wk, h·wv
                add(ls, per, sh, k.rmsnorm(p + "attn_norm", x, l.attnNorm(), ws.h, batch, dim, ModelConfig.NORM_EPS), false, 0, dim);
                add(ls, per, sh, k.matmul(p + "wq", ws.h, l.wq(), ws.q, batch), false, l.wq().in(), l.wq().out());
                add(ls, per, sh, k.matmul(p + "wk", ws.h, l.wk(), ws.k, batch), false, l.wk().in(), l.wk().out());
                add(ls, per, sh, k.matmul(p + "wv", ws.h, l.wv(), ws.v, batch), false, l.wv().in(), l.wv().out());
                // RoPE on q and k; append k, v; causal attention over positions 0..p
                add(ls, per, sh, k.rope(p + "q", ws.q, batch, heads, hd, ModelConfig.ROPE_THETA, capacity), false, 0, dim);
                add(ls, per, sh, k.rope(p + "k", ws.k, batch, heads, hd, ModelConfig.ROPE_THETA, capacity), false, 0, dim);
                add(ls, per, sh, k.kvAppend(p + "kv", ws.k, ws.v, kc, vc, batch, dim, capacity), false, 0, dim);
                add(ls, per, sh, k.attention(p + "attn", ws.q, kc, vc, ws.att, batch, heads, hd, capacity), false, 0, dim);
                // x += attn·wo
                add(ls, per, sh, k.matmul(p + "wo", ws.att, l.wo(), ws.proj, batch), false, l.wo().in(), l.wo().out());
                add(ls, per, sh, k.add(p + "attn_residual", x, ws.proj, batch, dim), false, 0, dim);
                // h = rmsnorm(x)·mlp_norm; x += (silu(h·w1) ⊙ (h·w3))·w2
                add(ls, per, sh, k.rmsnorm(p + "mlp_norm", x, l.mlpNorm(), ws.h, batch, dim, ModelConfig.NORM_EPS), false, 0, dim);
                add(ls, per, sh, k.matmul(p + "w1", ws.h, l.w1(), ws.up, batch), false, l.w1().in(), l.w1().out());
                add(ls, per, sh, k.matmul(p + "w3", ws.h, l.w3(), ws.gate, batch), false, l.w3().in(), l.w3().out());
                add(ls, per, sh, k.siluMul(p + "silu", ws.up, ws.gate, batch, c.ffn()), false, 0, c.ffn());
                add(ls, per, sh, k.matmul(p + "w2", ws.up, l.w2(), ws.proj, batch), false, l.w2().in(), l.w2().out());
                add(ls, per, sh, k.add(p + "mlp_residual", x, ws.proj, batch, dim), false, 0, dim);
            }
            if (w.last) {
                // logits = (rmsnorm(x)·final_norm)·lm_head at each request's last position; next = argmax
                add(ls, per, sh, k.gatherLast("final", x, ws.last, batch, dim), false, 0, dim);
                add(ls, per, sh, k.rmsnorm("final_norm", ws.last, w.finalNorm, ws.lastH, batch, dim, ModelConfig.NORM_EPS), true, 0, dim);
                add(ls, per, sh, k.matmul("lm_head", ws.lastH, w.lmHead, ws.logits, batch), true, w.lmHead.in(), w.lmHead.out());
                add(ls, per, sh, k.argmax("next", ws.logits, nextIds, batch, c.vocab()), true, 0, c.vocab());
                this.tokensToHost = k.tokensToHost("next", nextIds, tokenLog, requests.clone());
            } else {
                this.tokensToHost = null;
            }
            this.launches = ls.toArray(Launch[]::new);
            this.shapes = List.copyOf(sh);
            assert launches.length == launchCount(w.layers.size(), w.first, w.last) : "launchCount is out of date";
            this.perRequest = new boolean[per.size()];
            for (int i = 0; i < perRequest.length; i++) {
                perRequest[i] = per.get(i);
            }
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private static void add(List<Launch> ls, List<Boolean> per, List<LaunchShape> shapes, Launch launch,
                            boolean perRequest, int k, int n) {
        ls.add(launch);
        per.add(perRequest);
        shapes.add(new LaunchShape(launch.name(), k, n, perRequest));
    }

    /**
     * One launch of the forward as a trace names it: its {@link Launch#name()} ({@code "matmul layers.3.wq"}), the
     * inner dimension {@code k} of a matmul (0 for other kernels) and the width {@code n} of its output rows.
     * {@code perRequest}: it runs on one row per request (after gather_last).
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

    /** Launches of one pass through every stage of {@code partition}: what one micro-batch launches per step. */
    public static int launchCount(Partition partition) {
        int n = 0;
        for (int r = 0; r < partition.stages(); r++) {
            n += launchCount(partition.size(r), r == 0, r == partition.stages() - 1);
        }
        return n;
    }

    /** Launches of one forward of a stage of {@code layers} layers: embed on the first, the head on the last. */
    public static int launchCount(int layers, boolean first, boolean last) {
        return (first ? 1 : 0) + 16 * layers + (last ? 4 : 0);
    }

    private Buffer own(Buffer b) {
        owned.add(b);
        return b;
    }

    /** Enqueues the stage's forward on {@code stream} and returns at once (the run_batch launch). */
    public void launchForward(Stream stream, int tokens, int startPos) {
        for (int i = 0; i < launches.length; i++) {
            stream.launch(launches[i], perRequest[i] ? 1 : tokens, startPos);
        }
    }

    /**
     * Level 5: as {@link #launchForward}, and records {@code marks[i]} after launch {@code i} for every launch but
     * the last, so that launch i runs between marks[i−1] (or the forward's start event) and marks[i] (or its end
     * event). {@code marks} holds {@link #launches()} − 1 events.
     */
    public void launchForwardMarked(Stream stream, int tokens, int startPos, Event[] marks) {
        int last = launches.length - 1;
        for (int i = 0; i < last; i++) {
            stream.launch(launches[i], perRequest[i] ? 1 : tokens, startPos);
            stream.record(marks[i]);
        }
        stream.launch(launches[last], perRequest[last] ? 1 : tokens, startPos);
    }

    /** The forward's launches in order, with their shapes; the same for every slot of a stage. */
    public List<LaunchShape> launches() {
        return shapes;
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
