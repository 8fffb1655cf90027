package dev.ppexec.backend.cpu;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU matrix multiply {@code y = x·W} against a {@link PackedMatrix}, vectorised with the Vector API
 * ({@link FloatVector#SPECIES_PREFERRED}).
 *
 * <p>Kernel: for each column panel of {@code W} ({@link PackedMatrix#PANEL} = 4 vectors wide), the rows
 * of {@code x} are taken four at a time into a register tile of 4 rows × 4 vectors (16 accumulators;
 * 4×64 with AVX-512). Each step {@code kk} loads the four {@code W} vectors of packed row {@code kk},
 * broadcasts {@code x[i][kk]} for each of the four rows and issues 16 fused multiply-adds. The last
 * {@code rows mod 4} rows use tiles of 3, 2 or 1 row with the same structure. The packed panels are
 * zero-padded to full width, so the tail panel is computed with full vectors and stored with masks.
 * Panels are the outer loop, so a panel stays in cache while every row tile passes over it.
 *
 * <p><b>Note [matmul reduction order].</b> Every output element is computed as the one sequential chain
 * <pre>{@code
 * float acc = 0.0f;
 * for (int kk = 0; kk < k; kk++) acc = Math.fma(x[i][kk], W[kk][j], acc);
 * y[i][j] = acc;
 * }</pre>
 * in increasing {@code kk}, one rounding per step, with no splitting of {@code k} into partial sums
 * that are added together later. Each vector lane is exactly one such chain ({@code w.fma(xBroadcast,
 * acc)} rounds {@code w·x + acc} once, like {@link Math#fma}, and the product is commutative), and each
 * accumulator lives in a register for the whole {@code kk} loop. Hence a row's result is bit-identical
 * whatever {@code rows} is, whichever tile (the 4-row tile or a 1–3 row remainder tile) computes it,
 * whichever panel position or tail mask its column falls in, and on any machine whose preferred species
 * differs (the lane count changes the tiling, not the chain). A scalar reference written with
 * {@code Math.fma} in the same order reproduces the output bit for bit. Any future change (K-blocking
 * for cache, a different tile) must keep this chain: an accumulator may be parked in memory and
 * reloaded between {@code kk} blocks, but partial sums must never be re-added.
 *
 * <p>The kernel is single-threaded (it runs on the caller's thread) and allocates nothing: it keeps no
 * state, so concurrent calls on distinct outputs are safe, and its vector temporaries are scalarised
 * into registers by the JIT.
 */
public final class MatMul {

    private static final VectorSpecies<Float> S = PackedMatrix.SPECIES;
    private static final int L = PackedMatrix.LANES;
    private static final int P = PackedMatrix.PANEL;

    private MatMul() {}

    /**
     * {@code y[rows, n] = x[rows, k] · W}: row {@code i} of {@code x} is {@code x[xOffset + i·k ..][0, k)}
     * and row {@code i} of {@code y} is {@code y[yOffset + i·n ..][0, n)}, with {@code [k, n]} the shape
     * of {@code w}. Overwrites those {@code rows·n} elements of {@code y} and nothing else. See
     * Note [matmul reduction order] in the class comment for the exact arithmetic.
     *
     * @throws IllegalArgumentException if {@code rows < 0}
     * @throws IndexOutOfBoundsException if either range falls outside its array
     */
    public static void matmul(float[] x, int xOffset, PackedMatrix w, float[] y, int yOffset, int rows) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(w, "w");
        Objects.requireNonNull(y, "y");
        if (rows < 0) {
            throw new IllegalArgumentException("rows = " + rows + " out of range: must be >= 0");
        }
        final int k = w.k();
        final int n = w.n();
        Objects.checkFromIndexSize(xOffset, Math.multiplyExact(rows, k), x.length);
        Objects.checkFromIndexSize(yOffset, Math.multiplyExact(rows, n), y.length);
        if (rows == 0) {
            return;
        }
        final float[] wp = w.data();
        final int panels = w.panels();
        final int mainRows = rows & ~3;
        final int rest = rows - mainRows;
        for (int p = 0; p < panels; p++) {
            final int col0 = p * P;
            final int width = Math.min(P, n - col0);
            final int wo = p * k * P;
            int r = 0;
            for (; r < mainRows; r += 4) {
                tile4(x, xOffset + r * k, k, wp, wo, y, yOffset + r * n + col0, n, width);
            }
            switch (rest) {
                case 3 -> tile3(x, xOffset + r * k, k, wp, wo, y, yOffset + r * n + col0, n, width);
                case 2 -> tile2(x, xOffset + r * k, k, wp, wo, y, yOffset + r * n + col0, n, width);
                case 1 -> tile1(x, xOffset + r * k, wp, wo, k, y, yOffset + r * n + col0, width);
                default -> { }
            }
        }
    }

    // ---- register tiles: xo = first x element of the tile's first row, wo = panel start in the packed
    // array, yo = first y element (row 0, panel column 0), width = valid columns of this panel (1..P).

    private static void tile4(float[] x, int xo, int k, float[] w, int wo, float[] y, int yo, int n, int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        final int x1 = xo + k, x2 = x1 + k, x3 = x2 + k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * P;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            final FloatVector b2 = FloatVector.fromArray(S, w, wi + 2 * L);
            final FloatVector b3 = FloatVector.fromArray(S, w, wi + 3 * L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            c02 = b2.fma(a, c02);
            c03 = b3.fma(a, c03);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            c12 = b2.fma(a, c12);
            c13 = b3.fma(a, c13);
            a = FloatVector.broadcast(S, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            c22 = b2.fma(a, c22);
            c23 = b3.fma(a, c23);
            a = FloatVector.broadcast(S, x[x3 + kk]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            c32 = b2.fma(a, c32);
            c33 = b3.fma(a, c33);
        }
        store(y, yo, width, c00, c01, c02, c03);
        store(y, yo + n, width, c10, c11, c12, c13);
        store(y, yo + 2 * n, width, c20, c21, c22, c23);
        store(y, yo + 3 * n, width, c30, c31, c32, c33);
    }

    private static void tile3(float[] x, int xo, int k, float[] w, int wo, float[] y, int yo, int n, int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        final int x1 = xo + k, x2 = x1 + k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * P;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            final FloatVector b2 = FloatVector.fromArray(S, w, wi + 2 * L);
            final FloatVector b3 = FloatVector.fromArray(S, w, wi + 3 * L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            c02 = b2.fma(a, c02);
            c03 = b3.fma(a, c03);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            c12 = b2.fma(a, c12);
            c13 = b3.fma(a, c13);
            a = FloatVector.broadcast(S, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            c22 = b2.fma(a, c22);
            c23 = b3.fma(a, c23);
        }
        store(y, yo, width, c00, c01, c02, c03);
        store(y, yo + n, width, c10, c11, c12, c13);
        store(y, yo + 2 * n, width, c20, c21, c22, c23);
    }

    private static void tile2(float[] x, int xo, int k, float[] w, int wo, float[] y, int yo, int n, int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        final int x1 = xo + k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * P;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            final FloatVector b2 = FloatVector.fromArray(S, w, wi + 2 * L);
            final FloatVector b3 = FloatVector.fromArray(S, w, wi + 3 * L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            c02 = b2.fma(a, c02);
            c03 = b3.fma(a, c03);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            c12 = b2.fma(a, c12);
            c13 = b3.fma(a, c13);
        }
        store(y, yo, width, c00, c01, c02, c03);
        store(y, yo + n, width, c10, c11, c12, c13);
    }

    private static void tile1(float[] x, int xo, float[] w, int wo, int k, float[] y, int yo, int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * P;
            final FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = FloatVector.fromArray(S, w, wi).fma(a, c00);
            c01 = FloatVector.fromArray(S, w, wi + L).fma(a, c01);
            c02 = FloatVector.fromArray(S, w, wi + 2 * L).fma(a, c02);
            c03 = FloatVector.fromArray(S, w, wi + 3 * L).fma(a, c03);
        }
        store(y, yo, width, c00, c01, c02, c03);
    }

    /** Stores the first {@code width} (1..P) columns of one tile row; lanes past {@code width} are dropped. */
    private static void store(float[] y, int off, int width,
            FloatVector v0, FloatVector v1, FloatVector v2, FloatVector v3) {
        if (width == P) {
            v0.intoArray(y, off);
            v1.intoArray(y, off + L);
            v2.intoArray(y, off + 2 * L);
            v3.intoArray(y, off + 3 * L);
        } else {
            storePart(v0, y, off, width);
            storePart(v1, y, off + L, width - L);
            storePart(v2, y, off + 2 * L, width - 2 * L);
            storePart(v3, y, off + 3 * L, width - 3 * L);
        }
    }

    private static void storePart(FloatVector v, float[] y, int off, int count) {
        if (count >= L) {
            v.intoArray(y, off);
        } else if (count > 0) {
            v.intoArray(y, off, S.indexInRange(0, count));
        }
    }
}
