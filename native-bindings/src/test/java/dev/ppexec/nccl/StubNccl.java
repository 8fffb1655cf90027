package dev.ppexec.nccl;

import dev.ppexec.cuda.StubDriver;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The stub libnccl (src/test/resources/.../nccl_stub.c), built with gcc once per test JVM, and its controls: reset,
 * pending polls per operation, an asynchronous error, a failing call, the call log and counters. Public, so that
 * the CUDA tests can pair it with the stub libcuda.
 */
@SuppressWarnings("restricted") // native access is this module's job (run with --enable-native-access)
public final class StubNccl {

    private static Path library;
    private static String unavailable;
    private static MethodHandle reset;
    private static MethodHandle set;
    private static MethodHandle raise;
    private static MethodHandle fail;
    private static MethodHandle log;
    private static MethodHandle counter;

    private StubNccl() {}

    /** The stub's path; skips the calling test, with the reason, when gcc cannot build it. */
    public static synchronized Path library() {
        if (library == null && unavailable == null) {
            build();
        }
        assumeTrue(unavailable == null, unavailable);
        return library;
    }

    private static void build() {
        try {
            Path dir = Files.createTempDirectory("ppexec-nccl-stub");
            Path source = dir.resolve("nccl_stub.c");
            try (InputStream in = StubNccl.class.getResourceAsStream("nccl_stub.c")) {
                Files.write(source, in.readAllBytes());
            }
            Path out = dir.resolve("libnccl-stub.so");
            try {
                StubDriver.run(dir, "gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", out.toString(),
                        source.toString(), "-lpthread");
            } catch (IOException e) {
                unavailable = "gcc not found: the stub libnccl cannot be built (" + e.getMessage() + ")";
                return;
            }
            for (Path f : List.of(dir, source, out)) { // deleted in reverse order: the directory last, once empty
                f.toFile().deleteOnExit();
            }
            SymbolLookup lookup = SymbolLookup.libraryLookup(out, Arena.global());
            Linker linker = Linker.nativeLinker();
            reset = linker.downcallHandle(lookup.findOrThrow("nccl_stub_reset"), FunctionDescriptor.ofVoid());
            set = linker.downcallHandle(lookup.findOrThrow("nccl_stub_set"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            raise = linker.downcallHandle(lookup.findOrThrow("nccl_stub_raise"),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            fail = linker.downcallHandle(lookup.findOrThrow("nccl_stub_fail"),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            log = linker.downcallHandle(lookup.findOrThrow("nccl_stub_log"), FunctionDescriptor.of(ValueLayout.ADDRESS));
            counter = linker.downcallHandle(lookup.findOrThrow("nccl_stub_counter"),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
            library = out;
        } catch (IOException e) {
            throw new IllegalStateException("building the stub libnccl", e);
        }
    }

    /** One call of a control function, with a confined arena for its strings. */
    @FunctionalInterface
    private interface Control<T> {
        T call(Arena arena) throws Throwable;
    }

    private static <T> T control(Control<T> control) {
        try (Arena arena = Arena.ofConfined()) {
            return control.call(arena);
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** An empty log, no pending polls, no error, no communicator. */
    public static void reset() {
        control(arena -> {
            reset.invokeExact();
            return null;
        });
    }

    /** {@code init_polls}, {@code group_polls} or {@code finalize_polls}: ncclInProgress for that many polls (-1: forever). */
    static void set(String knob, long polls) {
        int known = control(arena -> (int) set.invokeExact(arena.allocateFrom(knob), polls));
        if (known == 0) {
            throw new IllegalArgumentException("the stub has no knob " + knob);
        }
    }

    /** Every communicator's ncclCommGetAsyncError reports {@code result} from now on; ncclGetLastError says {@code message}. */
    static void raise(int result, String message) {
        control(arena -> {
            raise.invokeExact(result, arena.allocateFrom(message));
            return null;
        });
    }

    /** The next call of {@code call} returns {@code result}. */
    static void failNext(String call, int result) {
        control(arena -> {
            fail.invokeExact(arena.allocateFrom(call), result);
            return null;
        });
    }

    /** One line per NCCL call since the last reset (ncclCommGetAsyncError is only counted: see {@link #counter}). */
    public static List<String> log() {
        MemorySegment text = control(arena -> (MemorySegment) log.invokeExact());
        return text.reinterpret(1 << 16).getString(0).lines().toList();
    }

    /** {@code live_comms} or {@code async_polls}. */
    static long counter(String name) {
        long value = control(arena -> (long) counter.invokeExact(arena.allocateFrom(name)));
        if (value < 0) {
            throw new IllegalArgumentException("the stub has no counter " + name);
        }
        return value;
    }
}
