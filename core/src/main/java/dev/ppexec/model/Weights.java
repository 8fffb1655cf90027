package dev.ppexec.model;

/**
 * Deterministic, backend-independent weights (DESIGN.md, "Weight init"). Each tensor is drawn from
 * its own SplitMix64 stream, so any one tensor can be regenerated alone, by any implementation.
 */
public final class Weights {

    private Weights() {}

    /** Tensor names, as other implementations must spell them. */
    public static String layer(int layer, String tensor) {
        return "layers." + layer + "." + tensor;
    }

    /**
     * A matrix {@code [in, out]} in row-major order: element k = (2u − 1)·s with u = (x >>> 40)·2^-24,
     * s = 1/sqrt(in) (or {@code scale} when given), computed in double and rounded once to float.
     */
    public static float[] matrix(long seed, String name, int in, int out) {
        return draw(seed, name, Math.multiplyExact(in, out), 1.0 / Math.sqrt(in));
    }

    /** The embedding table {@code [vocab, dim]}, scale 1. */
    public static float[] embedding(long seed, int vocab, int dim) {
        return draw(seed, "embed", Math.multiplyExact(vocab, dim), 1.0);
    }

    /** Norm weights are all 1.0, not drawn. */
    public static float[] norm(int dim) {
        float[] w = new float[dim];
        java.util.Arrays.fill(w, 1.0f);
        return w;
    }

    static float[] draw(long seed, String name, int count, double scale) {
        SplitMix64 rng = SplitMix64.forName(seed, name);
        float[] values = new float[count];
        for (int k = 0; k < count; k++) {
            double u = (rng.nextLong() >>> 40) * 0x1.0p-24;
            values[k] = (float) ((2.0 * u - 1.0) * scale);
        }
        return values;
    }
}
