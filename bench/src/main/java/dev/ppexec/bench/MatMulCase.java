package dev.ppexec.bench;

import dev.ppexec.backend.cpu.MatMul;
import dev.ppexec.backend.cpu.PackedMatrix;
import dev.ppexec.blas.OpenBlas;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

/**
 * One matmul shape {@code MxKxN} ({@code y[M, N] = x[M, K] · W[K, N]}) with the same random inputs for both
 * implementations: ppexec's {@link MatMul} on W packed once, and OpenBLAS {@code cblas_sgemm} on row-major
 * native copies, one thread. Checked at construction: both give the same product.
 */
final class MatMulCase implements AutoCloseable {

    final String shape;
    final int m;
    final int k;
    final int n;
    private final float[] x;          // [m, k]
    private final PackedMatrix w;     // [k, n]
    private final float[] y;          // [m, n]
    private final Arena arena = Arena.ofShared();
    private final MemorySegment a;    // x, native
    private final MemorySegment b;    // W, native, row-major
    private final MemorySegment c;    // [m, n]
    private final OpenBlas blas;

    MatMulCase(String shape) {
        int[] mkn = parseShape(shape);
        this.shape = shape;
        this.m = mkn[0];
        this.k = mkn[1];
        this.n = mkn[2];
        Random random = new Random(42);
        x = uniform(random, m * k);
        float[] wRowMajor = uniform(random, k * n);
        w = PackedMatrix.pack(wRowMajor, k, n);
        y = new float[m * n];
        a = arena.allocate((long) m * k * Float.BYTES, 64).copyFrom(MemorySegment.ofArray(x));
        b = arena.allocate((long) k * n * Float.BYTES, 64).copyFrom(MemorySegment.ofArray(wRowMajor));
        c = arena.allocate((long) m * n * Float.BYTES, 64);
        blas = OpenBlas.load();
        blas.setThreads(1);
        checkSameProduct();
    }

    /** Flops of one call: 2·M·K·N. */
    double flops() {
        return 2.0 * m * k * n;
    }

    float[] ppexec() {
        MatMul.matmul(x, 0, w, y, 0, m);
        return y;
    }

    MemorySegment openblas() {
        blas.sgemm(m, n, k, a, b, c);
        return c;
    }

    /** Which OpenBLAS, which kernels, and why (OPENBLAS_CORETYPE). */
    String openblasInfo() {
        return "OpenBLAS: " + blas.source() + "; core " + blas.coreName() + "; threads " + blas.threads() + "; config '"
                + blas.config() + "'; OPENBLAS_CORETYPE="
                + System.getenv().getOrDefault("OPENBLAS_CORETYPE", "(unset: OpenBLAS detects the CPU)");
    }

    /** Both products agree: max |difference| ≤ 1e-4 of max |y|. */
    private void checkSameProduct() {
        ppexec();
        openblas();
        double scale = 0;
        double worst = 0;
        for (int i = 0; i < y.length; i++) {
            scale = Math.max(scale, Math.abs(y[i]));
            worst = Math.max(worst, Math.abs(y[i] - c.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        }
        if (!(worst <= 1e-4 * scale)) {
            throw new IllegalStateException("ppexec and OpenBLAS products differ for " + shape + ": max |difference| "
                    + worst + " > 1e-4 x max |y| " + scale);
        }
    }

    @Override
    public void close() {
        arena.close();
    }

    /** {@code "MxKxN"} as {M, K, N}. */
    static int[] parseShape(String shape) {
        String[] parts = shape.split("x", -1);
        int[] out = new int[3];
        try {
            for (int i = 0; i < 3 && parts.length == 3; i++) {
                out[i] = Integer.parseInt(parts[i]);
            }
        } catch (NumberFormatException e) {
            out[0] = 0;
        }
        if (parts.length != 3 || out[0] < 1 || out[1] < 1 || out[2] < 1) {
            throw new IllegalArgumentException("shape '" + shape + "'; allowed: MxKxN with positive sizes, e.g. 512x512x512");
        }
        return out;
    }

    private static float[] uniform(Random random, int count) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) {
            v[i] = random.nextFloat() * 2f - 1f;
        }
        return v;
    }
}
