package dev.ppexec.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The stub libcuda (src/test/resources/.../cuda_stub.c) built with gcc once per test JVM, and its
 * control functions: reset, inject a failure, read a counter.
 */
final class StubDriver {

    private static Path library;
    private static String unavailable;
    private static MethodHandle reset;
    private static MethodHandle fail;
    private static MethodHandle counter;

    private StubDriver() {}

    /** The stub's path; skips the calling test, with the reason, when gcc cannot build it. */
    static synchronized Path library() {
        if (library == null && unavailable == null) {
            build();
        }
        assumeTrue(unavailable == null, unavailable);
        return library;
    }

    private static void build() {
        try {
            Path dir = Files.createTempDirectory("ppexec-cuda-stub");
            dir.toFile().deleteOnExit();
            Path source = dir.resolve("cuda_stub.c");
            try (InputStream in = StubDriver.class.getResourceAsStream("cuda_stub.c")) {
                Files.write(source, in.readAllBytes());
            }
            Path out = dir.resolve("libcuda-stub.so");
            Process gcc;
            try {
                gcc = new ProcessBuilder("gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", out.toString(),
                        source.toString(), "-lm", "-lpthread").redirectErrorStream(true).start();
            } catch (IOException e) {
                unavailable = "gcc not found: the stub libcuda cannot be built (" + e.getMessage() + ")";
                return;
            }
            String log = new String(gcc.getInputStream().readAllBytes());
            if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
                throw new IllegalStateException("gcc failed on the stub libcuda:\n" + log);
            }
            source.toFile().deleteOnExit();
            out.toFile().deleteOnExit();
            SymbolLookup lookup = SymbolLookup.libraryLookup(out, Arena.global());
            Linker linker = Linker.nativeLinker();
            reset = linker.downcallHandle(lookup.findOrThrow("stub_reset"),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            fail = linker.downcallHandle(lookup.findOrThrow("stub_fail"),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            counter = linker.downcallHandle(lookup.findOrThrow("stub_counter"),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
            library = out;
        } catch (IOException e) {
            throw new IllegalStateException("building the stub libcuda", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A platform over the stub: no cuBLAS (the tiled matmul kernel), a placeholder fatbin. */
    static CudaPlatform platform() {
        return CudaPlatform.detect(new CudaPlatform.Config(library().toString(), Optional.of("none"),
                Optional.of(new byte[] {0x50, 0x50})));
    }

    /** {@code devices} devices of {@code memoryBytes} each, no failure pending. */
    static void reset(int devices, long memoryBytes) {
        try {
            reset.invokeExact(devices, memoryBytes);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The next call of {@code call} returns {@code status}. */
    static void failNext(String call, int status) {
        try (Arena arena = Arena.ofConfined()) {
            fail.invokeExact(arena.allocateFrom(call), status);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static long counter(String name) {
        try (Arena arena = Arena.ofConfined()) {
            long value = (long) counter.invokeExact(arena.allocateFrom(name));
            if (value < 0) {
                throw new IllegalArgumentException("the stub has no counter " + name);
            }
            return value;
        } catch (RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
