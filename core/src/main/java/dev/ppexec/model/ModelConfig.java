package dev.ppexec.model;

import java.util.List;
import java.util.Locale;

/**
 * Shape of the Llama-shaped toy transformer (DESIGN.md, "The model"). Validated once, here.
 *
 * @param vocab  vocabulary size
 * @param dim    model width; {@code headDim = dim / heads}
 * @param heads  attention heads
 * @param layers decoder layers
 * @param ffn    MLP hidden width
 * @param maxSeq positions a request may use (prompt + decode steps)
 * @param seed   seed of the weight and prompt generators
 */
public record ModelConfig(String name, int vocab, int dim, int heads, int layers, int ffn, int maxSeq, long seed) {

    public static final float NORM_EPS = 1e-5f;
    public static final double ROPE_THETA = 10000.0;
    public static final List<String> PRESETS = List.of("tiny", "toy", "small");

    public ModelConfig {
        positive("vocab", vocab);
        positive("dim", dim);
        positive("heads", heads);
        positive("layers", layers);
        positive("ffn", ffn);
        positive("maxSeq", maxSeq);
        if (dim % heads != 0) {
            throw new IllegalArgumentException(
                    "dim " + dim + " is not divisible by heads " + heads + "; allowed: a dim that is a multiple of heads");
        }
        if ((dim / heads) % 2 != 0) {
            throw new IllegalArgumentException(
                    "head_dim " + (dim / heads) + " (dim/heads) is odd; allowed: an even head_dim (RoPE rotates pairs)");
        }
    }

    /** The named preset with the given seed. */
    public static ModelConfig preset(String name, long seed) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "tiny" -> new ModelConfig("tiny", 256, 64, 4, 4, 256, 128, seed);
            case "toy" -> new ModelConfig("toy", 4096, 512, 8, 8, 2048, 512, seed);
            case "small" -> new ModelConfig("small", 8192, 1024, 16, 16, 4096, 1024, seed);
            default -> throw new IllegalArgumentException(
                    "unknown model preset '" + name + "'; allowed: " + String.join(", ", PRESETS));
        };
    }

    public int headDim() {
        return dim / heads;
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " " + value + " is not positive; allowed: an integer >= 1");
        }
    }
}
