package dev.ppexec.bench;

import dev.ppexec.backend.cpu.MatMul;
import dev.ppexec.backend.cpu.PackedMatrix;
import dev.ppexec.blas.OpenBlas;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's matmul ({@link MatMul} on a {@link PackedMatrix}, packed once in the setup) beside
 * OpenBLAS {@code cblas_sgemm} (row-major, one thread) on the same random inputs, in the same fork.
 * Shapes {@code MxKxN}: {@code y[M, N] = x[M, K] · W[K, N]}, 2·M·K·N flops per call;
 * {@link MatMulSummary} turns the µs/op into GFLOP/s and the ppexec/OpenBLAS ratio.
 *
 * <p>The setup checks that both give the same product (max |difference| ≤ 1e-4 of max |y|) and prints
 * which OpenBLAS it loaded and which kernels that library chose (see {@link OpenBlas}: the environment
 * variable {@code OPENBLAS_CORETYPE} overrides the CPU detection).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@State(Scope.Thread)
public class MatMulBench {

    /** {@code MxKxN}: three square sizes and one decode step of 8 rows through a 1024-wide layer. */
    @Param({"256x256x256", "512x512x512", "1024x1024x1024", "8x1024x1024"})
    public String shape;

    private int m;
    private int k;
    private int n;
    private float[] x;          // [m, k]
    private PackedMatrix w;     // [k, n]
    private float[] y;          // [m, n]
    private Arena arena;
    private MemorySegment a;    // x, native
    private MemorySegment b;    // W, native, row-major
    private MemorySegment c;    // [m, n]
    private OpenBlas blas;

    @Setup
    public void setup() {
        int[] mkn = parseShape(shape);
        m = mkn[0];
        k = mkn[1];
        n = mkn[2];
        Random random = new Random(42);
        x = uniform(random, m * k);
        float[] wRowMajor = uniform(random, k * n);
        w = PackedMatrix.pack(wRowMajor, k, n);
        y = new float[m * n];
        arena = Arena.ofShared();
        a = arena.allocate((long) m * k * Float.BYTES, 64).copyFrom(MemorySegment.ofArray(x));
        b = arena.allocate((long) k * n * Float.BYTES, 64).copyFrom(MemorySegment.ofArray(wRowMajor));
        c = arena.allocate((long) m * n * Float.BYTES, 64);
        blas = OpenBlas.load();
        blas.setThreads(1);
        System.out.println("OpenBLAS: " + blas.source() + "; core " + blas.coreName() + "; threads " + blas.threads()
                + "; config '" + blas.config().strip() + "'; OPENBLAS_CORETYPE="
                + System.getenv().getOrDefault("OPENBLAS_CORETYPE", "(unset: OpenBLAS detects the CPU)"));
        checkSameProduct();
    }

    private void checkSameProduct() {
        MatMul.matmul(x, 0, w, y, 0, m);
        blas.sgemm(m, n, k, a, b, c);
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

    @TearDown
    public void tearDown() {
        arena.close();
    }

    @Benchmark
    public float[] ppexec() {
        MatMul.matmul(x, 0, w, y, 0, m);
        return y;
    }

    @Benchmark
    public MemorySegment openblas() {
        blas.sgemm(m, n, k, a, b, c);
        return c;
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
