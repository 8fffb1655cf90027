package dev.ppexec.backend.cpu;

import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Standalone throughput harness for {@link MatMul} (not a test; the suite does not run it). For each shape it
 * warms up every {@link MatMulTile}, then times 10 windows of at least 0.1 s per tile, the tiles alternating,
 * and prints each tile's best window in GFLOP/s (2·M·K·N flops per call), the bytes the calling thread
 * allocated per call, and whether the compiled result is bit-exact. Add {@code -XX:UseAVX=2} to see AVX2.
 *
 * <pre>
 * mvn -B -q -pl core test-compile
 * $JAVA_HOME/bin/java --add-modules jdk.incubator.vector -cp core/target/classes:core/target/test-classes \
 *     dev.ppexec.backend.cpu.MatMulTiming
 * </pre>
 */
public final class MatMulTiming {

    private static final int WINDOWS = 10;
    private static final long WINDOW_NANOS = 100_000_000L;

    private MatMulTiming() {}

    /** Arguments: shapes {@code MxKxN}; none: the benchmark's four and toy's decode-step matmuls (16 rows). */
    public static void main(String[] args) {
        System.out.println(CpuInfo.current().describe() + ", java " + Runtime.version());
        String[] shapes = args.length > 0 ? args : new String[] {"256x256x256", "512x512x512", "1024x1024x1024",
                "8x1024x1024", "16x512x512", "16x512x2048", "16x2048x512", "16x512x4096"};
        for (String s : shapes) {
            String[] mkn = s.split("x");
            run(Integer.parseInt(mkn[0]), Integer.parseInt(mkn[1]), Integer.parseInt(mkn[2]));
        }
    }

    /** Compares the first and last rows of the (JIT-compiled) result with a scalar Math.fma chain, bit for bit. */
    private static String checkJitted(float[] x, float[] w, float[] y, int m, int k, int n) {
        for (int i : new int[] {0, m - 1}) {
            for (int j = 0; j < n; j++) {
                float acc = 0.0f;
                for (int kk = 0; kk < k; kk++) {
                    acc = Math.fma(x[i * k + kk], w[kk * n + j], acc);
                }
                if (Float.floatToRawIntBits(acc) != Float.floatToRawIntBits(y[i * n + j])) {
                    return "MISMATCH at (" + i + ", " + j + "): " + y[i * n + j] + " vs reference " + acc;
                }
            }
        }
        return "bit-exact vs scalar fma";
    }

    /** Every tile on one shape, their windows alternating so that they meet the same disturbances. */
    private static void run(int m, int k, int n) {
        Random rnd = new Random(42);
        float[] x = new float[m * k];
        float[] w = new float[k * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = rnd.nextFloat() * 2f - 1f;
        }
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextFloat() * 2f - 1f;
        }
        MatMulTile[] tiles = MatMulTile.values();
        PackedMatrix[] packed = new PackedMatrix[tiles.length];
        for (int t = 0; t < tiles.length; t++) {
            packed[t] = PackedMatrix.pack(w, k, n, tiles[t]);
        }
        float[] y = new float[m * n];
        double flopsPerCall = 2.0 * m * k * n;

        // Warm-up: about 1 s per tile, enough for C2 to compile its kernels.
        for (PackedMatrix p : packed) {
            long warmEnd = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < warmEnd) {
                MatMul.matmul(x, 0, p, y, 0, m);
            }
        }

        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        double[] best = new double[tiles.length];
        long[] calls = new long[tiles.length];
        long[] allocated = new long[tiles.length];
        long probe = threads.getThreadAllocatedBytes(tid);
        long probeCost = threads.getThreadAllocatedBytes(tid) - probe; // what the reading itself allocates
        for (int win = 0; win < WINDOWS; win++) {
            for (int t = 0; t < tiles.length; t++) {
                long allocBefore = threads.getThreadAllocatedBytes(tid);
                long c = 0;
                long start = System.nanoTime();
                long elapsed;
                do {
                    MatMul.matmul(x, 0, packed[t], y, 0, m);
                    c++;
                    elapsed = System.nanoTime() - start;
                } while (elapsed < WINDOW_NANOS);
                allocated[t] += threads.getThreadAllocatedBytes(tid) - allocBefore - probeCost;
                calls[t] += c;
                best[t] = Math.max(best[t], flopsPerCall * c / elapsed);
            }
        }
        for (int t = 0; t < tiles.length; t++) {
            MatMul.matmul(x, 0, packed[t], y, 0, m);
            System.out.printf("M=%d K=%d N=%d tile %s: best %.1f GFLOP/s  alloc %.1f B/call  %s%n", m, k, n, tiles[t],
                    best[t], (double) allocated[t] / calls[t], checkJitted(x, w, y, m, k, n));
        }
    }
}
