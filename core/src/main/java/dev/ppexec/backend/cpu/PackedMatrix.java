package dev.ppexec.backend.cpu;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * An immutable weight matrix {@code W} of shape {@code [k, n]} (used as {@code y = x·W}), repacked
 * once, at load time, into the column-panel layout that {@link MatMul} reads, for one {@link MatMulTile}.
 *
 * <p>Layout: the columns are cut into panels of {@code PANEL} columns, the tile's width: its
 * {@link MatMulTile#vectors()} times the lane count of {@link FloatVector#SPECIES_PREFERRED} (64 floats for
 * the 4×4 tile with AVX-512, 16 for the 6×2 tile with AVX2). Panel {@code p} holds columns
 * {@code [p·PANEL, (p+1)·PANEL)} as {@code k} contiguous rows of {@code PANEL} floats, so the kernel
 * walks one panel front to back with unit stride while it steps through {@code kk}. The last panel is
 * padded with zero columns up to {@code PANEL}; the kernel computes those lanes and never stores
 * them, so the padding costs at most {@code PANEL − 1} columns of memory and never affects a result.
 */
public final class PackedMatrix {

    static final VectorSpecies<Float> SPECIES = FloatVector.SPECIES_PREFERRED;
    /** Lanes per vector of {@link #SPECIES}. */
    static final int LANES = SPECIES.length();

    private final MatMulTile tile;
    /** Columns per panel: the width of the tile, {@code tile.vectors()} vectors. */
    private final int panel;
    private final int k;
    private final int n;
    private final int panels;
    /** Panel-major data: {@code data[(p·k + kk)·panel + c] = W[kk][p·panel + c]}, zero past {@code n}. */
    private final float[] data;

    private PackedMatrix(MatMulTile tile, int k, int n, int panels, float[] data) {
        this.tile = tile;
        this.panel = tile.vectors() * LANES;
        this.k = k;
        this.n = n;
        this.panels = panels;
        this.data = data;
    }

    /** {@link #pack(float[], int, int, MatMulTile)} for {@link MatMulTile#selected()}, this machine's tile. */
    public static PackedMatrix pack(float[] w, int k, int n) {
        return pack(w, k, n, MatMulTile.selected());
    }

    /**
     * Packs a row-major {@code [k, n]} matrix ({@code w[kk·n + j] = W[kk][j]}) for {@code tile}. The input is
     * copied; later changes to {@code w} do not show through.
     *
     * @throws IllegalArgumentException if {@code k < 1}, {@code n < 1} or {@code w.length != k·n}
     */
    public static PackedMatrix pack(float[] w, int k, int n, MatMulTile tile) {
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(tile, "tile");
        if (k < 1) {
            throw new IllegalArgumentException("k = " + k + " out of range: must be >= 1");
        }
        if (n < 1) {
            throw new IllegalArgumentException("n = " + n + " out of range: must be >= 1");
        }
        long expected = (long) k * n;
        if (w.length != expected) {
            throw new IllegalArgumentException("w.length = " + w.length + " does not match the shape [k = " + k
                    + ", n = " + n + "]: must be k*n = " + expected);
        }
        final int panel = tile.vectors() * LANES;
        int panels = (n + panel - 1) / panel;
        long size = (long) panels * k * panel;
        if (size > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("packed size " + size + " floats for [k = " + k + ", n = " + n
                    + "] exceeds the largest Java array: must be <= " + (Integer.MAX_VALUE - 16));
        }
        float[] data = new float[(int) size];
        for (int p = 0; p < panels; p++) {
            int col0 = p * panel;
            int width = Math.min(panel, n - col0);
            for (int kk = 0; kk < k; kk++) {
                System.arraycopy(w, kk * n + col0, data, (p * k + kk) * panel, width);
            }
        }
        return new PackedMatrix(tile, k, n, panels, data);
    }

    /** Rows of {@code W}: the inner (reduction) dimension. */
    public int k() {
        return k;
    }

    /** Columns of {@code W}: the output width. */
    public int n() {
        return n;
    }

    /** {@code W[row][col]}, read back from the packed layout (for tests and debugging; not fast). */
    public float get(int row, int col) {
        Objects.checkIndex(row, k);
        Objects.checkIndex(col, n);
        return data[((col / panel) * k + row) * panel + col % panel];
    }

    /** The register tile this matrix is packed for. */
    public MatMulTile tile() {
        return tile;
    }

    /** Columns per panel. */
    int panel() {
        return panel;
    }

    int panels() {
        return panels;
    }

    /** The packed array itself; {@link MatMul} only reads it. */
    float[] data() {
        return data;
    }

    @Override
    public String toString() {
        return "PackedMatrix[k=" + k + ", n=" + n + ", tile=" + tile + ", panel=" + panel + "]";
    }
}
