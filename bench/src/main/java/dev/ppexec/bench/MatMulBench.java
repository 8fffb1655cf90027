package dev.ppexec.bench;

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

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * The CPU backend's matmul beside OpenBLAS {@code cblas_sgemm} (row-major, one thread) on the same random
 * inputs, in the same fork (see {@link MatMulCase}; its construction checks both give the same product).
 * {@link MatMulSummary} turns the µs/op into GFLOP/s and the ppexec/OpenBLAS ratio, from the mean and from
 * the best of the 10 measured iterations (short ones, so that a shared machine leaves some undisturbed).
 * The setup prints which OpenBLAS it loaded and which kernels that library chose: the environment
 * variable {@code OPENBLAS_CORETYPE} overrides its CPU detection.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 10, time = 500, timeUnit = TimeUnit.MILLISECONDS)
@State(Scope.Thread)
public class MatMulBench {

    /** {@code MxKxN}: three square sizes and one decode step of 8 rows through a 1024-wide layer. */
    @Param({"256x256x256", "512x512x512", "1024x1024x1024", "8x1024x1024"})
    public String shape;

    private MatMulCase matmul;

    @Setup
    public void setup() {
        matmul = new MatMulCase(shape);
        System.out.println(matmul.openblasInfo());
    }

    @TearDown
    public void tearDown() {
        matmul.close();
    }

    @Benchmark
    public float[] ppexec() {
        return matmul.ppexec();
    }

    @Benchmark
    public MemorySegment openblas() {
        return matmul.openblas();
    }
}
