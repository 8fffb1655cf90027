package dev.ppexec.blas;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The OpenBLAS binding against a scalar double-precision product. Lives in bench, whose class path carries
 * the org.bytedeco:openblas jar, so it runs wherever the build does. Tolerance: 1e-5 relative to the
 * largest |element| of the expected product.
 */
class OpenBlasTest {

    private final OpenBlas blas = OpenBlas.load();

    @Test
    void load_reportsItsSourceAndCore_andHonoursOneThread() {
        assertThat(blas.source()).contains(OpenBlas.SONAME);
        assertThat(blas.coreName()).isNotBlank();
        assertThat(blas.config()).contains("OpenBLAS");
        blas.setThreads(1);
        assertThat(blas.threads()).isEqualTo(1);
        assertThat(OpenBlas.load()).isSameAs(blas);
    }

    @Test
    void sgemm_rowMajor_matchesScalarProduct_forOddShapes() {
        int[][] shapes = {{1, 1, 1}, {5, 7, 3}, {8, 64, 33}, {67, 130, 45}};
        Random random = new Random(7);
        for (int[] s : shapes) {
            int m = s[0];
            int k = s[1];
            int n = s[2];
            float[] a = new float[m * k];
            float[] b = new float[k * n];
            for (int i = 0; i < a.length; i++) {
                a[i] = random.nextFloat() * 2 - 1;
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = random.nextFloat() * 2 - 1;
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment c = arena.allocate((long) m * n * Float.BYTES);
                blas.sgemm(m, n, k, arena.allocateFrom(ValueLayout.JAVA_FLOAT, a),
                        arena.allocateFrom(ValueLayout.JAVA_FLOAT, b), c);
                double[] expected = new double[m * n];
                double scale = 0;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double acc = 0;
                        for (int kk = 0; kk < k; kk++) {
                            acc += (double) a[i * k + kk] * b[kk * n + j];
                        }
                        expected[i * n + j] = acc;
                        scale = Math.max(scale, Math.abs(acc));
                    }
                }
                for (int i = 0; i < expected.length; i++) {
                    float got = c.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                    if (!(Math.abs(got - expected[i]) <= 1e-5 * scale)) {
                        fail("[" + m + "x" + k + "x" + n + "] element " + i + ": got " + got + ", expected " + expected[i]
                                + " (tolerance 1e-5 x " + scale + ")");
                    }
                }
            }
        }
    }

    @Test
    void sgemm_rejectsSegmentsTooSmallOrOnTheHeap() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment small = arena.allocate(3 * Float.BYTES);
            MemorySegment four = arena.allocate(4 * Float.BYTES);
            assertThatThrownBy(() -> blas.sgemm(2, 2, 2, small, four, four))
                    .hasMessage("a holds 12 bytes; [2, 2] floats need 16");
            assertThatThrownBy(() -> blas.sgemm(2, 2, 2, MemorySegment.ofArray(new float[4]), four, four))
                    .hasMessage("a is a heap segment: must be native memory");
            assertThatThrownBy(() -> blas.sgemm(0, 2, 2, four, four, four))
                    .hasMessage("a shape [0, 2] out of range: both must be >= 1");
        }
    }
}
