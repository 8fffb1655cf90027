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
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The stub libcuda (src/test/resources/.../cuda_stub.c) with the project's kernels compiled for the
 * host (cuda_emu.h), and a stub libcublas (cublas_stub.c), built with gcc and g++ once per test JVM,
 * and their control functions: reset, inject a failure, read a counter. Public, so that the
 * executor's tests can run pipelines on them.
 */
@SuppressWarnings("restricted") // native access is this module's job (run with --enable-native-access)
public final class StubDriver {

    private static Path library;
    private static Path cublas;
    private static String unavailable;
    private static MethodHandle reset;
    private static MethodHandle fail;
    private static MethodHandle counter;
    private static MethodHandle cublasFailCreate;
    private static MethodHandle cublasLiveHandles;
    private static MethodHandle cublasMathMode;
    private static MethodHandle cublasLastGemm;

    private StubDriver() {}

    /** The stub's path; skips the calling test, with the reason, when gcc cannot build it. */
    public static synchronized Path library() {
        if (library == null && unavailable == null) {
            build();
        }
        assumeTrue(unavailable == null, unavailable);
        return library;
    }

    /** The kernels' sources: native-bindings/src/main/cuda, from this module, a sibling module or the repository root. */
    private static Optional<Path> kernelSources() {
        for (String candidate : List.of("src/main/cuda", "../native-bindings/src/main/cuda", "native-bindings/src/main/cuda")) {
            Path p = Path.of(candidate).toAbsolutePath().normalize();
            if (Files.isRegularFile(p.resolve("common.cuh"))) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    private static void build() {
        Optional<Path> kernels = kernelSources();
        if (kernels.isEmpty()) {
            unavailable = "the kernels' sources (native-bindings/src/main/cuda) are not beside this test run";
            return;
        }
        try {
            Path dir = Files.createTempDirectory("ppexec-cuda-stub");
            for (String resource : List.of("cuda_stub.c", "cuda_emu.h", "cuda_emu_main.inc", "cublas_stub.c")) {
                try (InputStream in = StubDriver.class.getResourceAsStream(resource)) {
                    Files.write(dir.resolve(resource), in.readAllBytes());
                }
            }
            StringBuilder emu = new StringBuilder("#include \"cuda_emu.h\"\n");
            try (Stream<Path> sources = Files.list(kernels.get())) {
                for (Path cu : sources.filter(p -> p.toString().endsWith(".cu")).sorted().toList()) {
                    emu.append("#include \"").append(cu).append("\"\n");
                }
            }
            emu.append("static const emu_kernel emu_kernels[] = {\n");
            for (String kernel : CudaKernels.FUNCTIONS) {
                emu.append("    EMU_KERNEL(").append(kernel).append("),\n");
            }
            emu.append("};\n#include \"cuda_emu_main.inc\"\n");
            Files.writeString(dir.resolve("emu.cpp"), emu);
            Path out = dir.resolve("libcuda-stub.so");
            String d = dir.toString();
            try {
                run(dir, "gcc", "-c", "-fPIC", "-O1", "-Wall", "-Werror", "-o", d + "/stub.o", d + "/cuda_stub.c");
                run(dir, "g++", "-std=c++17", "-c", "-fPIC", "-O2", "-U_FORTIFY_SOURCE", "-I" + kernels.get(), "-I" + d, "-o", d + "/emu.o",
                        d + "/emu.cpp");
                run(dir, "g++", "-shared", "-Wl,-soname,libcuda-stub.so", "-o", out.toString(), d + "/stub.o",
                        d + "/emu.o", "-lpthread");
                // Linked against the stub libcuda (the one instance loaded), so its GEMMs can join a capture.
                run(dir, "gcc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror", "-o", d + "/libcublas-stub.so",
                        d + "/cublas_stub.c", "-L" + d, "-l:libcuda-stub.so", "-Wl,-rpath," + d);
            } catch (IOException e) {
                unavailable = "gcc/g++ not found: the stub libcuda cannot be built (" + e.getMessage() + ")";
                return;
            }
            // deleteOnExit deletes in the reverse order of registration: the directory last, once it is empty.
            dir.toFile().deleteOnExit();
            try (Stream<Path> files = Files.list(dir)) {
                files.forEach(f -> f.toFile().deleteOnExit());
            }
            SymbolLookup lookup = SymbolLookup.libraryLookup(out, Arena.global());
            Linker linker = Linker.nativeLinker();
            reset = linker.downcallHandle(lookup.findOrThrow("stub_reset"),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
            fail = linker.downcallHandle(lookup.findOrThrow("stub_fail"),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            counter = linker.downcallHandle(lookup.findOrThrow("stub_counter"),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
            SymbolLookup blas = SymbolLookup.libraryLookup(dir.resolve("libcublas-stub.so"), Arena.global());
            cublasFailCreate = linker.downcallHandle(blas.findOrThrow("cublas_stub_fail_create"),
                    FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
            cublasLiveHandles = linker.downcallHandle(blas.findOrThrow("cublas_stub_live_handles"),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG));
            cublasMathMode = linker.downcallHandle(blas.findOrThrow("cublas_stub_last_math_mode"),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT));
            cublasLastGemm = linker.downcallHandle(blas.findOrThrow("cublas_stub_last_gemm"),
                    FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
            cublas = dir.resolve("libcublas-stub.so");
            library = out;
        } catch (IOException e) {
            throw new IllegalStateException("building the stub libcuda", e);
        }
    }

    /**
     * Runs a compiler in {@code dir}; IOException when it is not installed, IllegalStateException with its log when it
     * fails. Public for the other stubs' builders (dev.ppexec.nccl.StubNccl).
     */
    public static void run(Path dir, String... command) throws IOException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        try {
            if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed:\n" + log);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** A platform over the stub driver and the stub cuBLAS (a placeholder fatbin: the stub runs its own kernels). */
    public static CudaPlatform platform() {
        return platform(Optional.of(cublasLibrary().toString()));
    }

    /** A platform over the stub driver with {@code cublas} as the cuBLAS setting ({@code "none"}: the tiled kernel). */
    public static CudaPlatform platform(Optional<String> cublas) {
        return CudaPlatform.detect(new CudaPlatform.Config(library().toString(), cublas,
                Optional.of(new byte[] {0x50, 0x50})));
    }

    public static synchronized Path cublasLibrary() {
        library();
        return cublas;
    }

    /** The stub cuBLAS's next cublasCreate_v2 returns {@code status}. */
    static void failCublasCreate(int status) {
        try {
            cublasFailCreate.invokeExact(status);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static long cublasLiveHandles() {
        try {
            return (long) cublasLiveHandles.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    static int cublasLastMathMode() {
        try {
            return (int) cublasMathMode.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The last GEMM's m, n, k, lda, ldb, ldc, and the workspace bytes set on its handle. */
    static long[] cublasLastGemm() {
        long[] args = new long[7];
        try {
            for (int i = 0; i < 7; i++) {
                args[i] = (long) cublasLastGemm.invokeExact(i);
            }
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        return args;
    }

    /** {@code devices} devices of {@code memoryBytes} each, no failure pending. */
    public static void reset(int devices, long memoryBytes) {
        try {
            reset.invokeExact(devices, memoryBytes);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** The next call of {@code call} returns {@code status}. */
    public static void failNext(String call, int status) {
        try (Arena arena = Arena.ofConfined()) {
            fail.invokeExact(arena.allocateFrom(call), status);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public static long counter(String name) {
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
