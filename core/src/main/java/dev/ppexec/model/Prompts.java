package dev.ppexec.model;

/** Deterministic prompts: request i draws from SplitMix64 seeded with {@code seed XOR fnv1a64("prompt." + i)}. */
public final class Prompts {

    private Prompts() {}

    /** Token ids of request {@code index}: each {@code (x >>> 33) mod vocab}. */
    public static int[] prompt(long seed, int index, int length, int vocab) {
        SplitMix64 rng = SplitMix64.forName(seed, "prompt." + index);
        int[] tokens = new int[length];
        for (int t = 0; t < length; t++) {
            tokens[t] = (int) Long.remainderUnsigned(rng.nextLong() >>> 33, vocab);
        }
        return tokens;
    }

    /** Prompts for requests 0..count-1. */
    public static int[][] prompts(long seed, int count, int length, int vocab) {
        int[][] all = new int[count][];
        for (int i = 0; i < count; i++) {
            all[i] = prompt(seed, i, length, vocab);
        }
        return all;
    }
}
