package dev.ppexec.backend.cpu;

import java.util.Objects;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The CPU matrix multiply {@code y = x·W} against a {@link PackedMatrix}, vectorised with the Vector API
 * ({@link FloatVector#SPECIES_PREFERRED}), with the register tile the matrix is packed for ({@link MatMulTile}).
 *
 * <p>4×4 tile (machines with 32 vector registers): for each column panel of {@code W} (4 vectors wide), the
 * rows of {@code x} are taken four at a time into a register tile of 4 rows × 4 vectors (16 accumulators;
 * 4×64 with AVX-512). Each step {@code kk} loads the four {@code W} vectors of packed row {@code kk},
 * broadcasts {@code x[i][kk]} for each of the four rows and issues 16 fused multiply-adds. The last
 * {@code rows mod 4} rows use tiles of 3, 2 or 1 row with the same structure.
 *
 * <p>6×2 tile (16 vector registers: AVX2): panels 2 vectors wide, 6 rows at a time (12 accumulators, 2 weight
 * vectors, 1 broadcast: 15 registers, no spill); the last {@code rows mod 6} rows use a 2-vector strip tile.
 *
 * <p>Few rows (the decode shape): up to a tile's rows, its remainder path already reads each weight once. The
 * 4×4 tile goes further: 5 to {@link MatMulTile#onePassRows() 8} rows run at once over each 2-vector strip of each
 * panel (16 accumulators, 19 registers), so every weight is read once for all rows instead of once per 4 rows. That
 * kernel reads {@code x} interleaved ({@code xt[kk·8 + i]}, a per-thread scratch): with 8 separate row indices it
 * ran out of general registers (0.79× the two 4-row passes at M=8, K=N=1024; interleaved, 1.02–1.03× of them,
 * measured in one JVM during development on the AVX-512 machine of docs/BENCHMARKS.md).
 * The 2-vector strip kernels for fewer rows than their own count repeat the last row (the same chain again,
 * stored to the same place with the same bits), so kernels of 1, 2, 4, 6 and 8 rows cover every count.
 *
 * <p>The packed panels are zero-padded to full width, so the tail panel is computed with full vectors and
 * stored with masks. Panels are the outer loop, so a panel stays in cache while every row tile passes over it.
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
 * whatever {@code rows} is, whichever tile (4×4, 6×2, a strip or a remainder tile) computes it,
 * whichever panel position or tail mask its column falls in, and on any machine whose preferred species
 * differs (the lane count changes the tiling, not the chain). A scalar reference written with
 * {@code Math.fma} in the same order reproduces the output bit for bit. Any future change (K-blocking
 * for cache, a different tile) must keep this chain: an accumulator may be parked in memory and
 * reloaded between {@code kk} blocks, but partial sums must never be re-added.
 *
 * <p>The kernel is single-threaded (it runs on the caller's thread) and allocates nothing once its thread's
 * interleave scratch has grown to the largest {@code 8·k} (a {@link ThreadLocal}): it keeps no other state, so
 * concurrent calls on distinct outputs are safe, and its vector temporaries are scalarised into registers by the
 * JIT.
 */
public final class MatMul {

    private static final VectorSpecies<Float> S = PackedMatrix.SPECIES;
    private static final int L = PackedMatrix.LANES;
    /** Panel width of the 4×4 tile. */
    private static final int P = 4 * L;
    /** Width of a strip: two vectors. */
    private static final int STRIP = 2 * L;
    /** Per thread: {@code x} interleaved for {@link #strip8}, grown to the largest {@code 8·k} seen. */
    private static final ThreadLocal<float[]> INTERLEAVED = ThreadLocal.withInitial(() -> new float[0]);

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
        if (rows > w.tile().rows() && rows <= w.tile().onePassRows()) {
            onePass(x, xOffset, w, y, yOffset, rows);
            return;
        }
        switch (w.tile()) {
            case ROWS4_VECTORS4 -> rows4x4(x, xOffset, w, y, yOffset, rows);
            case ROWS6_VECTORS2 -> rows6x2(x, xOffset, w, y, yOffset, rows);
        }
    }

    /** All {@code rows} (5..8) at once over every 2-vector strip of every (4-vector) panel. */
    private static void onePass(float[] x, int xo, PackedMatrix w, float[] y, int yo, int rows) {
        final float[] wp = w.data();
        final int k = w.k();
        final int n = w.n();
        final int panel = w.panel();
        final float[] xt = interleave8(x, xo, k, rows);
        for (int p = 0, panels = w.panels(); p < panels; p++) {
            final int col0 = p * panel;
            final int width = Math.min(panel, n - col0);
            for (int s = 0; s < width; s += STRIP) {
                strip8(rows, xt, k, wp, p * k * panel + s, panel, y, yo + col0 + s, n, Math.min(STRIP, width - s));
            }
        }
    }

    private static void rows4x4(float[] x, int xOffset, PackedMatrix w, float[] y, int yOffset, int rows) {
        final float[] wp = w.data();
        final int k = w.k();
        final int n = w.n();
        final int mainRows = rows & ~3;
        final int rest = rows - mainRows;
        for (int p = 0, panels = w.panels(); p < panels; p++) {
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

    private static void rows6x2(float[] x, int xOffset, PackedMatrix w, float[] y, int yOffset, int rows) {
        final float[] wp = w.data();
        final int k = w.k();
        final int n = w.n();
        final int mainRows = rows - rows % 6;
        for (int p = 0, panels = w.panels(); p < panels; p++) {
            final int col0 = p * STRIP;
            final int width = Math.min(STRIP, n - col0);
            final int wo = p * k * STRIP;
            int r = 0;
            for (; r < mainRows; r += 6) {
                strip6(6, x, xOffset + r * k, k, wp, wo, STRIP, y, yOffset + r * n + col0, n, width);
            }
            if (r < rows) {
                strip(rows - r, x, xOffset + r * k, k, wp, wo, STRIP, y, yOffset + r * n + col0, n, width);
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

    // ---- strip tiles: `rows` rows × 2 vectors, columns [wo, wo + 2L) of a panel whose packed rows are ws floats
    // apart; a kernel for R rows computes rows 1..R with row i >= rows repeating the last row (see the class
    // comment). xo, yo: first element of row 0 of x and y; width = valid columns of the strip (1..2L).

    private static void strip(int rows, float[] x, int xo, int k, float[] w, int wo, int ws, float[] y, int yo, int n,
            int width) {
        switch (rows) {
            case 1 -> strip1(x, xo, k, w, wo, ws, y, yo, width);
            case 2 -> strip2(x, xo, k, w, wo, ws, y, yo, n, width);
            case 3, 4 -> strip4(rows, x, xo, k, w, wo, ws, y, yo, n, width);
            case 5, 6 -> strip6(rows, x, xo, k, w, wo, ws, y, yo, n, width);
            default -> throw new AssertionError("strip of " + rows + " rows from x: at most 6");
        }
    }

    private static void strip1(float[] x, int xo, int k, float[] w, int wo, int ws, float[] y, int yo, int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * ws;
            final FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = FloatVector.fromArray(S, w, wi).fma(a, c00);
            c01 = FloatVector.fromArray(S, w, wi + L).fma(a, c01);
        }
        store2(y, yo, width, c00, c01);
    }

    private static void strip2(float[] x, int xo, int k, float[] w, int wo, int ws, float[] y, int yo, int n,
            int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
        final int x1 = xo + k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * ws;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
        }
        store2(y, yo, width, c00, c01);
        store2(y, yo + n, width, c10, c11);
    }

    private static void strip4(int rows, float[] x, int xo, int k, float[] w, int wo, int ws, float[] y, int yo, int n,
            int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        final int last = rows - 1;
        final int r1 = Math.min(1, last);
        final int r2 = Math.min(2, last);
        final int r3 = Math.min(3, last);
        final int x1 = xo + r1 * k, x2 = xo + r2 * k, x3 = xo + r3 * k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * ws;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(S, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(S, x[x3 + kk]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
        }
        store2(y, yo, width, c00, c01);
        store2(y, yo + r1 * n, width, c10, c11);
        store2(y, yo + r2 * n, width, c20, c21);
        store2(y, yo + r3 * n, width, c30, c31);
    }

    private static void strip6(int rows, float[] x, int xo, int k, float[] w, int wo, int ws, float[] y, int yo, int n,
            int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        final int last = rows - 1;
        final int r1 = Math.min(1, last);
        final int r2 = Math.min(2, last);
        final int r3 = Math.min(3, last);
        final int r4 = Math.min(4, last);
        final int r5 = Math.min(5, last);
        final int x1 = xo + r1 * k, x2 = xo + r2 * k, x3 = xo + r3 * k, x4 = xo + r4 * k;
        final int x5 = xo + r5 * k;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * ws;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            FloatVector a = FloatVector.broadcast(S, x[xo + kk]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(S, x[x1 + kk]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(S, x[x2 + kk]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(S, x[x3 + kk]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            a = FloatVector.broadcast(S, x[x4 + kk]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            a = FloatVector.broadcast(S, x[x5 + kk]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
        }
        store2(y, yo, width, c00, c01);
        store2(y, yo + r1 * n, width, c10, c11);
        store2(y, yo + r2 * n, width, c20, c21);
        store2(y, yo + r3 * n, width, c30, c31);
        store2(y, yo + r4 * n, width, c40, c41);
        store2(y, yo + r5 * n, width, c50, c51);
    }

    /** 8 rows × 2 vectors reading {@code x} interleaved ({@code xt[kk·8 + i]}, see {@link #interleave8}). */
    private static void strip8(int rows, float[] xt, int k, float[] w, int wo, int ws, float[] y, int yo, int n,
            int width) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00;
        FloatVector c20 = c00, c21 = c00, c30 = c00, c31 = c00;
        FloatVector c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        FloatVector c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        for (int kk = 0; kk < k; kk++) {
            final int wi = wo + kk * ws;
            final int xi = kk * 8;
            final FloatVector b0 = FloatVector.fromArray(S, w, wi);
            final FloatVector b1 = FloatVector.fromArray(S, w, wi + L);
            FloatVector a = FloatVector.broadcast(S, xt[xi]);
            c00 = b0.fma(a, c00);
            c01 = b1.fma(a, c01);
            a = FloatVector.broadcast(S, xt[xi + 1]);
            c10 = b0.fma(a, c10);
            c11 = b1.fma(a, c11);
            a = FloatVector.broadcast(S, xt[xi + 2]);
            c20 = b0.fma(a, c20);
            c21 = b1.fma(a, c21);
            a = FloatVector.broadcast(S, xt[xi + 3]);
            c30 = b0.fma(a, c30);
            c31 = b1.fma(a, c31);
            a = FloatVector.broadcast(S, xt[xi + 4]);
            c40 = b0.fma(a, c40);
            c41 = b1.fma(a, c41);
            a = FloatVector.broadcast(S, xt[xi + 5]);
            c50 = b0.fma(a, c50);
            c51 = b1.fma(a, c51);
            a = FloatVector.broadcast(S, xt[xi + 6]);
            c60 = b0.fma(a, c60);
            c61 = b1.fma(a, c61);
            a = FloatVector.broadcast(S, xt[xi + 7]);
            c70 = b0.fma(a, c70);
            c71 = b1.fma(a, c71);
        }
        final int last = rows - 1;
        store2(y, yo, width, c00, c01);
        store2(y, yo + Math.min(1, last) * n, width, c10, c11);
        store2(y, yo + Math.min(2, last) * n, width, c20, c21);
        store2(y, yo + Math.min(3, last) * n, width, c30, c31);
        store2(y, yo + Math.min(4, last) * n, width, c40, c41);
        store2(y, yo + Math.min(5, last) * n, width, c50, c51);
        store2(y, yo + Math.min(6, last) * n, width, c60, c61);
        store2(y, yo + Math.min(7, last) * n, width, c70, c71);
    }

    /**
     * {@code xt[kk·8 + i] = x[xo + min(i, rows − 1)·k + kk]} for {@code kk < k}, {@code i < 8}: the rows side by
     * side, so that {@link #strip8} reads its 8 broadcasts from one index (8 row indices would not fit the general
     * registers beside the loop's own, and the spills cost a quarter of its speed at M=8, K=N=1024).
     */
    private static float[] interleave8(float[] x, int xo, int k, int rows) {
        float[] xt = INTERLEAVED.get();
        if (xt.length < 8 * k) {
            xt = new float[8 * k];
            INTERLEAVED.set(xt);
        }
        for (int i = 0; i < 8; i++) {
            final int row = xo + Math.min(i, rows - 1) * k;
            for (int kk = 0; kk < k; kk++) {
                xt[kk * 8 + i] = x[row + kk];
            }
        }
        return xt;
    }

    /** Stores the first {@code width} (1..2L) columns of one strip row; lanes past {@code width} are dropped. */
    private static void store2(float[] y, int off, int width, FloatVector v0, FloatVector v1) {
        if (width == STRIP) {
            v0.intoArray(y, off);
            v1.intoArray(y, off + L);
        } else {
            storePart(v0, y, off, width);
            storePart(v1, y, off + L, width - L);
        }
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
