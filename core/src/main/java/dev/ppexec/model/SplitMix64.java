package dev.ppexec.model;

/** Standard SplitMix64 (Steele, Lea, Flood 2014): the generator DESIGN.md fixes for weights and prompts. */
public final class SplitMix64 {

    private long state;

    public SplitMix64(long seed) {
        this.state = seed;
    }

    public long nextLong() {
        long z = (state += 0x9E3779B97F4A7C15L);
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** FNV-1a 64-bit over the UTF-8 bytes of {@code text}. */
    public static long fnv1a64(String text) {
        long hash = 0xcbf29ce484222325L;
        for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            hash ^= (b & 0xff);
            hash *= 0x100000001b3L;
        }
        return hash;
    }

    /** The generator of a named stream: seeded with {@code seed XOR fnv1a64(name)}. */
    public static SplitMix64 forName(long seed, String name) {
        return new SplitMix64(seed ^ fnv1a64(name));
    }
}
