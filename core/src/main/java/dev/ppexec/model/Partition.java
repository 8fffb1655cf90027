package dev.ppexec.model;

import java.util.Arrays;

/**
 * Layers to stages: stage r owns layers [first(r), end(r)). The first stage also embeds; the last
 * also does the final norm, the LM head and argmax.
 */
public final class Partition {

    private final int[] sizes;
    private final int[] starts;

    private Partition(int[] sizes) {
        this.sizes = sizes.clone();
        this.starts = new int[sizes.length + 1];
        for (int r = 0; r < sizes.length; r++) {
            starts[r + 1] = starts[r] + sizes[r];
        }
    }

    /** Balanced: sizes differ by at most one; earlier stages take the extra layers (the last one also runs the LM head). */
    public static Partition balanced(int layers, int stages) {
        if (stages < 1 || stages > layers) {
            throw new IllegalArgumentException("stages " + stages + " is out of range; allowed: 1.." + layers
                    + " (the model has " + layers + " layers)");
        }
        int[] sizes = new int[stages];
        for (int r = 0; r < stages; r++) {
            sizes[r] = layers / stages + (r < layers % stages ? 1 : 0);
        }
        return new Partition(sizes);
    }

    /**
     * An explicit split such as {@code "3,3,2"}: ASCII digits and commas only, at most one stage per
     * layer, each stage at least one layer, summing to the layer count.
     */
    public static Partition parse(String split, int layers) {
        String[] parts = split.split(",", -1);
        String allowed = "; allowed: comma-separated layer counts >= 1 (ASCII digits, no spaces) summing to " + layers;
        if (parts.length > layers) {
            throw new IllegalArgumentException("split '" + split + "' has " + parts.length + " stages, more than the "
                    + layers + " layers" + allowed);
        }
        int[] sizes = new int[parts.length];
        for (int r = 0; r < parts.length; r++) {
            if (!parts[r].matches("[0-9]+")) {
                throw new IllegalArgumentException("split '" + split + "': '" + parts[r] + "' is not a whole number" + allowed);
            }
            if (parts[r].length() > 9 || Integer.parseInt(parts[r]) > layers) {
                throw new IllegalArgumentException("split '" + split + "' has a stage of " + parts[r] + " layers" + allowed);
            }
            sizes[r] = Integer.parseInt(parts[r]);
        }
        return of(sizes, layers, split);
    }

    public static Partition of(int[] sizes, int layers) {
        return of(sizes, layers, Arrays.toString(sizes));
    }

    private static Partition of(int[] sizes, int layers, String given) {
        long sum = 0; // a long: user numbers never overflow
        for (int s : sizes) {
            if (s < 1) {
                throw new IllegalArgumentException("split '" + given + "' has a stage of " + s
                        + " layers; allowed: every stage >= 1 layer, summing to " + layers);
            }
            sum += s;
        }
        if (sum != layers) {
            throw new IllegalArgumentException("split '" + given + "' sums to " + sum + "; allowed: layer counts summing to "
                    + layers + " (the model's layers)");
        }
        return new Partition(sizes);
    }

    public int stages() {
        return sizes.length;
    }

    public int first(int stage) {
        return starts[stage];
    }

    public int end(int stage) {
        return starts[stage + 1];
    }

    public int size(int stage) {
        return sizes[stage];
    }

    /** e.g. {@code "3,3,2"}. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < sizes.length; r++) {
            sb.append(r == 0 ? "" : ",").append(sizes[r]);
        }
        return sb.toString();
    }
}
