package dev.ppexec.stage;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Matrix;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Weights;

import java.util.ArrayList;
import java.util.List;

/** The weights of one stage, uploaded to its device once. Immutable after construction. */
public final class StageWeights implements AutoCloseable {

    /** One decoder layer's tensors on the device. */
    public record Layer(int index, Buffer attnNorm, Matrix wq, Matrix wk, Matrix wv, Matrix wo,
                        Buffer mlpNorm, Matrix w1, Matrix w3, Matrix w2) {}

    final ModelConfig config;
    final int firstLayer;
    final int endLayer;
    final boolean first;
    final boolean last;
    final Buffer embed;      // [vocab, dim], first stage only
    final List<Layer> layers;
    final Buffer finalNorm;  // [dim], last stage only
    final Matrix lmHead;     // [dim, vocab], last stage only
    private final List<AutoCloseable> owned = new ArrayList<>();

    public StageWeights(Device device, ModelConfig config, int firstLayer, int endLayer) {
        this.config = config;
        this.firstLayer = firstLayer;
        this.endLayer = endLayer;
        this.first = firstLayer == 0;
        this.last = endLayer == config.layers();
        // A failure half-way (out of device memory) frees what was already uploaded.
        try {
            long seed = config.seed();
            int dim = config.dim();
            int ffn = config.ffn();
            this.embed = first ? own(device.upload(Weights.embedding(seed, config.vocab(), dim))) : null;
            List<Layer> ls = new ArrayList<>();
            for (int i = firstLayer; i < endLayer; i++) {
                ls.add(new Layer(i,
                        own(device.upload(Weights.norm(dim))),
                        matrix(device, seed, Weights.layer(i, "wq"), dim, dim),
                        matrix(device, seed, Weights.layer(i, "wk"), dim, dim),
                        matrix(device, seed, Weights.layer(i, "wv"), dim, dim),
                        matrix(device, seed, Weights.layer(i, "wo"), dim, dim),
                        own(device.upload(Weights.norm(dim))),
                        matrix(device, seed, Weights.layer(i, "w1"), dim, ffn),
                        matrix(device, seed, Weights.layer(i, "w3"), dim, ffn),
                        matrix(device, seed, Weights.layer(i, "w2"), ffn, dim)));
            }
            this.layers = List.copyOf(ls);
            this.finalNorm = last ? own(device.upload(Weights.norm(dim))) : null;
            this.lmHead = last ? matrix(device, seed, "lm_head", dim, config.vocab()) : null;
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private Matrix matrix(Device device, long seed, String name, int in, int out) {
        return own(device.uploadMatrix(Weights.matrix(seed, name, in, out), in, out));
    }

    private <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    public boolean isFirst() {
        return first;
    }

    public boolean isLast() {
        return last;
    }

    @Override
    public void close() {
        for (AutoCloseable c : owned.reversed()) {
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing stage weights", e);
            }
        }
        owned.clear();
    }
}
