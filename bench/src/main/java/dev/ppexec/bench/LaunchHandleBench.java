package dev.ppexec.bench;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.StubDriver;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The host cost of one {@code cuLaunchKernel} downcall through the stub driver (no GPU needed), with the
 * method handle held in a static final field against the same handle in an instance field (Note [constant
 * handles] in CudaDriver). The launch asks for grid 0, which the stub rejects after its context check and
 * failure-injection lock, so no emulated kernel runs and the figure is the call path alone; the status is
 * returned so that the call is not removed. Compare the two scores of one invocation as a ratio.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@State(Scope.Benchmark)
public class LaunchHandleBench {

    /** CUDA_ERROR_INVALID_VALUE: the stub's answer to a grid of 0 blocks. */
    private static final int INVALID_VALUE = 1;
    private static final MethodHandle CONSTANT = bind();

    /** The same handle as {@link #CONSTANT}, as the JIT sees an ordinary instance field. */
    public MethodHandle field;
    private Device device;
    private MemorySegment parameters;

    @SuppressWarnings("restricted")
    private static MethodHandle bind() {
        SymbolLookup stub = SymbolLookup.libraryLookup(StubDriver.library(), Arena.global());
        return Linker.nativeLinker().downcallHandle(stub.findOrThrow("cuLaunchKernel"), FunctionDescriptor.of(
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }

    /** Opens a stub device (its context becomes current) and checks that a launch takes the rejected path. */
    @Setup(Level.Trial)
    public void open() throws Throwable {
        StubDriver.reset(1, 1L << 30);
        device = StubDriver.platform().open(List.of(0), false).getFirst();
        parameters = Arena.global().allocate(ValueLayout.ADDRESS, 4);
        field = CONSTANT;
        int status = instanceField();
        if (status != INVALID_VALUE || staticFinal() != INVALID_VALUE) {
            throw new IllegalStateException("the stub answered a grid-0 launch with " + status + ", not "
                    + INVALID_VALUE + " (CUDA_ERROR_INVALID_VALUE): the benchmark would time another path");
        }
    }

    @Benchmark
    public int staticFinal() throws Throwable {
        return (int) CONSTANT.invokeExact(1L, 0, 1, 1, 32, 1, 1, 0, 0L, parameters, MemorySegment.NULL);
    }

    @Benchmark
    public int instanceField() throws Throwable {
        return (int) field.invokeExact(1L, 0, 1, 1, 32, 1, 1, 0, 0L, parameters, MemorySegment.NULL);
    }

    @TearDown(Level.Trial)
    public void close() {
        device.close();
    }
}
