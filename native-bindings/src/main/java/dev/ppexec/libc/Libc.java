package dev.ppexec.libc;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * libc's {@code abs} through FFM: a downcall whose native side is a few instructions and no system call,
 * so a benchmark can price the FFM transition itself (the fixed cost every CUDA driver or cuBLAS call
 * pays on top of its own work), with and without {@link Linker.Option#critical(boolean)}.
 */
public final class Libc {

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MemorySegment ABS_SYMBOL = LINKER.defaultLookup().find("abs")
            .orElseThrow(() -> new IllegalStateException("libc symbol abs not found by the native linker"));
    private static final FunctionDescriptor ABS_TYPE = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle ABS = LINKER.downcallHandle(ABS_SYMBOL, ABS_TYPE);
    /** The same call without the thread-state transition: for short calls that never block or call back. */
    private static final MethodHandle ABS_CRITICAL = LINKER.downcallHandle(ABS_SYMBOL, ABS_TYPE, Linker.Option.critical(false));

    private Libc() {}

    /** C's {@code abs(value)}, through a plain downcall handle. */
    public static int abs(int value) {
        try {
            return (int) ABS.invokeExact(value);
        } catch (Throwable t) {
            throw new IllegalStateException("abs downcall failed", t);
        }
    }

    /** C's {@code abs(value)}, through a {@code critical(false)} downcall handle. */
    public static int absCritical(int value) {
        try {
            return (int) ABS_CRITICAL.invokeExact(value);
        } catch (Throwable t) {
            throw new IllegalStateException("abs (critical) downcall failed", t);
        }
    }
}
