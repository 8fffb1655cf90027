package dev.ppexec.stage;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * Scratch activations of one rank, shared by its micro-batch slots: a rank's compute stream runs
 * one slot's work at a time, so only the residual stream and the KV caches need a slot of their own.
 */
public final class Workspace implements AutoCloseable {

    final Buffer h;       // [rows, dim] normed input of a sublayer (passes that do not fuse the norm)
    final Buffer qkv;     // [rows, 3·dim] q | k | v side by side
    final Buffer q;       // [rows, dim] q after RoPE
    final Buffer att;     // [rows, dim] attention output
    final Buffer upGate;  // [rows, 2·ffn] h·w1 | h·w3 (passes that do not fuse the gate)
    final Buffer up;      // [rows, ffn] silu(h·w1) ⊙ (h·w3)
    final Buffer last;    // [batch, dim] last position of each request
    final Buffer lastH;   // [batch, dim]
    final Buffer logits;  // [batch, vocab]
    private final List<Buffer> all = new ArrayList<>();

    /** Sized for {@code maxBatch} requests of {@code maxTokens} positions per pass. */
    public Workspace(Device device, ModelConfig config, int maxBatch, int maxTokens, boolean last) {
        try {
            long rows = (long) maxBatch * maxTokens;
            int dim = config.dim();
            h = alloc(device, rows * dim);
            qkv = alloc(device, rows * 3 * dim);
            q = alloc(device, rows * dim);
            att = alloc(device, rows * dim);
            upGate = alloc(device, rows * 2 * config.ffn());
            up = alloc(device, rows * config.ffn());
            this.last = last ? alloc(device, (long) maxBatch * dim) : null;
            this.lastH = last ? alloc(device, (long) maxBatch * dim) : null;
            this.logits = last ? alloc(device, (long) maxBatch * config.vocab()) : null;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The last stage's logits [batch, vocab] of the latest pass; null on other stages. For checks against other backends. */
    public Buffer logits() {
        return logits;
    }

    private Buffer alloc(Device device, long length) {
        Buffer b = device.allocate(Buffer.Type.FLOAT32, length);
        all.add(b);
        return b;
    }

    @Override
    public void close() {
        all.forEach(Buffer::close);
        all.clear();
    }
}
