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

    /**
     * One decoder layer's tensors on the device: {@code wqkv} is wq|wk|wv packed side by side ([dim, 3·dim]) and
     * {@code w13} is w1|w3 ([dim, 2·ffn]), so that each is one product (Note [fused launches] in Kernels).
     */
    public record Layer(int index, Buffer attnNorm, Matrix wqkv, Matrix wo, Buffer mlpNorm, Matrix w13, Matrix w2) {}

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
                        packed(device, seed, dim, dim, Weights.layer(i, "wq"), Weights.layer(i, "wk"), Weights.layer(i, "wv")),
                        matrix(device, seed, Weights.layer(i, "wo"), dim, dim),
                        own(device.upload(Weights.norm(dim))),
                        packed(device, seed, dim, ffn, Weights.layer(i, "w1"), Weights.layer(i, "w3")),
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

    /**
     * The matrices {@code names}, each [in, out], side by side: row r of the result is row r of each in turn
     * ([in, names.length·out]). Only the packed copy goes to the device.
     */
    private Matrix packed(Device device, long seed, int in, int out, String... names) {
        int width = names.length * out;
        float[] side = new float[Math.multiplyExact(in, width)];
        for (int m = 0; m < names.length; m++) {
            float[] w = Weights.matrix(seed, names[m], in, out);
            for (int r = 0; r < in; r++) {
                System.arraycopy(w, r * out, side, r * width + m * out, out);
            }
        }
        return own(device.uploadMatrix(side, in, width));
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
