package dev.ppexec.backend.cpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Every test that multiplies runs once per {@link MatMulTile}, forced, whatever this machine would choose. */
class MatMulTest {

    private static final int[] KS = {1, 3, 17, 64, 100};
    /** Widths with and without tails for 2- and 4-vector panels of 4, 8 and 16 lanes. */
    private static final int[] NS = {1, 5, 16, 63, 64, 65, 130, 256};
    private static final int MAX_ROWS = 13;

    /** Uniform in [-1, 1). */
    private static float[] random(Random rnd, int size) {
        float[] a = new float[size];
        for (int i = 0; i < size; i++) {
            a[i] = rnd.nextFloat() * 2f - 1f;
        }
        return a;
    }

    /** The contract of Note [matmul reduction order], spelled out in scalar code. */
    private static float[] reference(float[] x, float[] w, int rows, int k, int n) {
        float[] y = new float[rows * n];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                float acc = 0.0f;
                for (int kk = 0; kk < k; kk++) {
                    acc = Math.fma(x[i * k + kk], w[kk * n + j], acc);
                }
                y[i * n + j] = acc;
            }
        }
        return y;
    }

    /** Fails at the first element whose bits differ, naming (i, j) and both values. */
    private static void assertBitExact(String what, float[] expected, int expOff, float[] actual, int actOff,
            int rows, int n) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                float e = expected[expOff + i * n + j];
                float a = actual[actOff + i * n + j];
                if (Float.floatToRawIntBits(e) != Float.floatToRawIntBits(a)) {
                    fail("%s: first mismatch at (i=%d, j=%d): expected %s (0x%08x) but was %s (0x%08x)",
                            what, i, j, e, Float.floatToRawIntBits(e), a, Float.floatToRawIntBits(a));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(MatMulTile.class)
    void anyTile_matchesScalarFmaReferenceBitForBit(MatMulTile tile) {
        Random rnd = new Random(0x5EED_0001L);
        int cases = 0;
        for (int k : KS) {
            for (int n : NS) {
                float[] w = random(rnd, k * n);
                PackedMatrix packed = PackedMatrix.pack(w, k, n, tile);
                for (int rows = 1; rows <= MAX_ROWS; rows++) {
                    float[] x = random(rnd, rows * k);
                    float[] y = new float[rows * n];
                    Arrays.fill(y, Float.NaN);
                    MatMul.matmul(x, 0, packed, y, 0, rows);
                    assertBitExact(tile + " rows=" + rows + " k=" + k + " n=" + n, reference(x, w, rows, k, n), 0, y,
                            0, rows, n);
                    cases++;
                }
            }
        }
        assertThat(cases).isEqualTo(MAX_ROWS * KS.length * NS.length);
    }

    @Test
    void tilesPackTheirOwnPanelWidth() {
        float[] w = new float[3 * 100];
        for (MatMulTile tile : MatMulTile.values()) {
            PackedMatrix packed = PackedMatrix.pack(w, 3, 100, tile);
            assertThat(packed.tile()).isEqualTo(tile);
            assertThat(packed.panel()).as("panel of %s", tile).isEqualTo(tile.vectors() * PackedMatrix.LANES);
        }
    }

    @ParameterizedTest
    @EnumSource(MatMulTile.class)
    void anyTile_rowResultDoesNotDependOnHowManyRowsAreComputedTogether(MatMulTile tile) {
        Random rnd = new Random(0x5EED_0002L);
        int[][] shapes = {{100, 130}, {17, 65}, {64, 256}, {3, 5}};
        for (int[] shape : shapes) {
            int k = shape[0];
            int n = shape[1];
            PackedMatrix packed = PackedMatrix.pack(random(rnd, k * n), k, n, tile);
            for (int rowCount = 1; rowCount <= MAX_ROWS; rowCount++) {
                float[] x = random(rnd, rowCount * k);
                float[] together = new float[rowCount * n];
                MatMul.matmul(x, 0, packed, together, 0, rowCount);
                float[] alone = new float[rowCount * n];
                for (int i = 0; i < rowCount; i++) {
                    // Row i alone: offsets select it inside the same arrays.
                    MatMul.matmul(x, i * k, packed, alone, i * n, 1);
                }
                assertBitExact(tile + " R=" + rowCount + " k=" + k + " n=" + n + " (all rows at once vs each row alone)",
                        alone, 0, together, 0, rowCount, n);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(MatMulTile.class)
    void anyTile_honoursOffsetsAndLeavesTheRestOfTheOutputUntouched(MatMulTile tile) {
        Random rnd = new Random(0x5EED_0003L);
        int k = 37;
        int n = 70;
        float[] w = random(rnd, k * n);
        PackedMatrix packed = PackedMatrix.pack(w, k, n, tile);
        for (int rows : new int[] {1, 3, 4, 5, 6, 7, 8, 9, 13}) {
            int xOffset = 11;
            int yOffset = 23;
            int yTail = 19;
            float[] xRows = random(rnd, rows * k);
            float[] x = new float[xOffset + rows * k + 5];
            Arrays.fill(x, Float.NaN); // anything read outside [xOffset, xOffset + rows*k) would poison y
            System.arraycopy(xRows, 0, x, xOffset, xRows.length);
            float sentinel = -12345.5f;
            float[] y = new float[yOffset + rows * n + yTail];
            Arrays.fill(y, sentinel);

            MatMul.matmul(x, xOffset, packed, y, yOffset, rows);

            assertBitExact(tile + " rows=" + rows + " with xOffset=" + xOffset + " yOffset=" + yOffset,
                    reference(xRows, w, rows, k, n), 0, y, yOffset, rows, n);
            for (int i = 0; i < yOffset; i++) {
                assertThat(y[i]).as("y[%d] before yOffset=%d", i, yOffset).isEqualTo(sentinel);
            }
            for (int i = yOffset + rows * n; i < y.length; i++) {
                assertThat(y[i]).as("y[%d] after the output range [%d, %d)", i, yOffset, yOffset + rows * n)
                        .isEqualTo(sentinel);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(MatMulTile.class)
    void anyTile_staysBitExactOnceTheJitHasCompiledTheKernel(MatMulTile tile) {
        // The other tests mostly run the interpreter/C1 fallback; repeat until C2 has had a chance to
        // intrinsify the tiles, checking every call so a compiled-code difference cannot hide.
        Random rnd = new Random(0x5EED_0006L);
        int k = 100;
        int n = 130;
        float[] w = random(rnd, k * n);
        PackedMatrix packed = PackedMatrix.pack(w, k, n, tile);
        float[] x = random(rnd, MAX_ROWS * k);
        float[] expected = reference(x, w, MAX_ROWS, k, n);
        float[] y = new float[MAX_ROWS * n];
        for (int iter = 0; iter < 4000; iter++) {
            int rows = 1 + iter % MAX_ROWS;
            MatMul.matmul(x, 0, packed, y, 0, rows);
            if (!Arrays.equals(expected, 0, rows * n, y, 0, rows * n)) {
                assertBitExact(tile + " iteration " + iter + ", rows=" + rows, expected, 0, y, 0, rows, n);
            }
        }
    }

    @Test
    void zeroRowsIsANoOp() {
        PackedMatrix packed = PackedMatrix.pack(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        float[] y = {7f, 7f};
        MatMul.matmul(new float[0], 0, packed, y, 0, 0);
        assertThat(y).containsExactly(7f, 7f);
    }

    @Test
    void rejectsRangesOutsideTheArrays() {
        PackedMatrix packed = PackedMatrix.pack(new float[6], 2, 3);
        assertThatThrownBy(() -> MatMul.matmul(new float[3], 0, packed, new float[6], 0, 2))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> MatMul.matmul(new float[4], 0, packed, new float[6], 1, 2))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThatThrownBy(() -> MatMul.matmul(new float[4], 0, packed, new float[6], 0, -1))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("rows = -1");
    }

    @Test
    void packRejectsAWrongLengthArray() {
        assertThatThrownBy(() -> PackedMatrix.pack(new float[11], 3, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("w.length = 11")
                .hasMessageContaining("k*n = 12");
        assertThatThrownBy(() -> PackedMatrix.pack(new float[0], 0, 4))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("k = 0")
                .hasMessageContaining(">= 1");
        assertThatThrownBy(() -> PackedMatrix.pack(new float[0], 4, 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("n = 0")
                .hasMessageContaining(">= 1");
    }

    @ParameterizedTest
    @EnumSource(MatMulTile.class)
    void anyTile_packKeepsEveryElement(MatMulTile tile) {
        Random rnd = new Random(0x5EED_0004L);
        for (int[] shape : new int[][] {{1, 1}, {3, 65}, {17, 130}, {5, 16}}) {
            int k = shape[0];
            int n = shape[1];
            float[] w = random(rnd, k * n);
            PackedMatrix packed = PackedMatrix.pack(w, k, n, tile);
            assertThat(packed.k()).isEqualTo(k);
            assertThat(packed.n()).isEqualTo(n);
            for (int r = 0; r < k; r++) {
                for (int c = 0; c < n; c++) {
                    assertThat(packed.get(r, c)).as("W[%d][%d] of [%d, %d]", r, c, k, n).isEqualTo(w[r * n + c]);
                }
            }
            w[0] = 99f;
            assertThat(packed.get(0, 0)).as("pack copies its input").isNotEqualTo(99f);
        }
    }

    @Test
    void agreesWithADoubleReferenceAt256Cubed() {
        Random rnd = new Random(0x5EED_0005L);
        int m = 256;
        int k = 256;
        int n = 256;
        double tolerance = 1e-5;
        float[] x = random(rnd, m * k);
        float[] w = random(rnd, k * n);
        float[] y = new float[m * n];
        MatMul.matmul(x, 0, PackedMatrix.pack(w, k, n), y, 0, m);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double exact = 0;
                double magnitude = 0; // sum of |x·w|: the scale of the rounding error, immune to cancellation
                for (int kk = 0; kk < k; kk++) {
                    double term = (double) x[i * k + kk] * w[kk * n + j];
                    exact += term;
                    magnitude += Math.abs(term);
                }
                double error = Math.abs(y[i * n + j] - exact);
                if (error > tolerance * magnitude) {
                    fail("(i=%d, j=%d): float %s vs double %s: |error| %.3e exceeds relative tolerance %.0e"
                            + " of sum|x*w| = %.6f", i, j, y[i * n + j], exact, error, tolerance, magnitude);
                }
            }
        }
    }
}
