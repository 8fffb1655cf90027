package dev.ppexec.cuda;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * One opened shared library and the downcall handles bound from it. Libraries are opened once per
 * process by their full path or soname (a bare name such as "cuda" is not searched for) and never
 * unloaded. A missing symbol fails at start-up, naming the symbol and the library. Public for the
 * other bindings of this module (dev.ppexec.nccl).
 */
@SuppressWarnings("restricted") // native access is this module's job (run with --enable-native-access)
public final class NativeLibrary {

    public static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    public static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    public static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    public static final ValueLayout.OfByte BYTE = ValueLayout.JAVA_BYTE;
    public static final AddressLayout POINTER = ValueLayout.ADDRESS;

    private static final Linker LINKER = Linker.nativeLinker();

    private final String name;
    private final SymbolLookup lookup;

    private NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    /**
     * Opens {@code library} (a path or a full soname).
     *
     * @throws IllegalArgumentException when the dynamic loader cannot open it
     */
    public static NativeLibrary open(String library) {
        return new NativeLibrary(library, SymbolLookup.libraryLookup(library, Arena.global()));
    }

    public String name() {
        return name;
    }

    /** The handle for {@code symbol}; fails naming it when the library lacks it. */
    public MethodHandle function(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() -> new IllegalStateException(
                name + " has no symbol " + symbol + " (a driver or library older than this build expects)"));
        return LINKER.downcallHandle(address, descriptor, options);
    }

    /** The handle for the first of {@code symbols} the library has (newer entry points first). */
    public MethodHandle firstFunction(FunctionDescriptor descriptor, String... symbols) {
        for (String symbol : symbols) {
            Optional<MemorySegment> address = lookup.find(symbol);
            if (address.isPresent()) {
                return LINKER.downcallHandle(address.get(), descriptor);
            }
        }
        throw new IllegalStateException(name + " has none of " + String.join(", ", symbols));
    }

    /** The handle for {@code symbol}, or empty when the library lacks it. */
    public Optional<MethodHandle> optionalFunction(String symbol, FunctionDescriptor descriptor) {
        return lookup.find(symbol).map(a -> LINKER.downcallHandle(a, descriptor));
    }

    /** What a downcall's {@code invokeExact} threw, as an unchecked exception to throw (errors are rethrown as they are). */
    public static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    /** One downcall that returns a status code ({@code CUresult}, {@code cublasStatus_t}). */
    @FunctionalInterface
    public interface Downcall {
        int invoke() throws Throwable;
    }

    /**
     * Runs {@code call} and returns its status unchecked, rethrowing what {@code invokeExact} threw: the one
     * call-and-rethrow of the bindings, which name and check the status. Small, so the JIT inlines it and the lambda at
     * each call site does not escape.
     */
    public static int status(Downcall call) {
        try {
            return call.invoke();
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** A NUL-terminated C string at {@code address}, or {@code fallback} for NULL. */
    public static String cString(MemorySegment address, String fallback) {
        if (address.equals(MemorySegment.NULL)) {
            return fallback;
        }
        return address.reinterpret(4096).getString(0);
    }

    static Linker linker() {
        return LINKER;
    }
}
