package dev.ppexec.backend.cpu;

import java.lang.management.ManagementFactory;
import java.util.Random;

/**
 * Standalone throughput harness for {@link MatMul} (not a test; the suite does not run it). For each shape
 * it warms up, then times 5 windows of at least 0.2 s and prints the best window's GFLOP/s (2·M·K·N flops
 * per call), plus the bytes the calling thread allocated per call over all windows.
 *
 * <pre>
 * mvn -B -q -pl core test-compile
 * $JAVA_HOME/bin/java --add-modules jdk.incubator.vector -cp core/target/classes:core/target/test-classes \
 *     dev.ppexec.backend.cpu.MatMulTiming
 * </pre>
 */
public final class MatMulTiming {

    private static final int WINDOWS = 5;
    private static final long WINDOW_NANOS = 200_000_000L;

    private MatMulTiming() {}

    public static void main(String[] args) {
        System.out.println(CpuInfo.current().describe() + ", java " + Runtime.version());
        int[][] shapes = {{256, 256, 256}, {512, 512, 512}, {1024, 1024, 1024}, {8, 1024, 1024}};
        for (int[] s : shapes) {
            run(s[0], s[1], s[2]);
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
        PackedMatrix packed = PackedMatrix.pack(w, k, n);
        float[] y = new float[m * n];
        double flopsPerCall = 2.0 * m * k * n;

        // Warm-up: about 1 s, enough for C2 to compile the tiles.
        long warmEnd = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < warmEnd) {
            MatMul.matmul(x, 0, packed, y, 0, m);
        }

        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().threadId();
        double[] rates = new double[WINDOWS];
        long probe = threads.getThreadAllocatedBytes(tid);
        long probeCost = threads.getThreadAllocatedBytes(tid) - probe; // what the reading itself allocates
        long allocBefore = threads.getThreadAllocatedBytes(tid);
        long totalCalls = 0;
        for (int win = 0; win < WINDOWS; win++) {
            long calls = 0;
            long start = System.nanoTime();
            long elapsed;
            do {
                MatMul.matmul(x, 0, packed, y, 0, m);
                calls++;
                elapsed = System.nanoTime() - start;
            } while (elapsed < WINDOW_NANOS);
            rates[win] = flopsPerCall * calls / elapsed;
            totalCalls += calls;
        }
        long allocated = threads.getThreadAllocatedBytes(tid) - allocBefore - probeCost;
        double best = 0;
        StringBuilder all = new StringBuilder();
        for (double r : rates) {
            best = Math.max(best, r);
            all.append(all.isEmpty() ? "" : " ").append(String.format("%.1f", r));
        }
        System.out.printf("M=%d K=%d N=%d: best %.1f GFLOP/s  [windows: %s]  alloc %.1f B/call  %s%n",
                m, k, n, best, all, (double) allocated / totalCalls, checkJitted(x, w, y, m, k, n));
    }
}
