package dev.ppexec.bench;

import dev.ppexec.libc.Libc;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * The cost of one FFM downcall: libc's {@code abs} (a few instructions, no system call) through a plain
 * downcall handle and through a {@code critical(false)} one, which skips the thread-state transition.
 * Every CUDA driver and cuBLAS call the CUDA backend makes pays at least the plain figure.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@State(Scope.Thread)
public class DowncallBench {

    /** A field, not a constant, so each call really passes a value. */
    public int value = -42;

    @Benchmark
    public int abs() {
        return Libc.abs(value);
    }

    @Benchmark
    public int absCritical() {
        return Libc.absCritical(value);
    }
}
