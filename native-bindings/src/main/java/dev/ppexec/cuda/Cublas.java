package dev.ppexec.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static dev.ppexec.cuda.NativeLibrary.INT;
import static dev.ppexec.cuda.NativeLibrary.LONG;
import static dev.ppexec.cuda.NativeLibrary.POINTER;

/**
 * cuBLAS ({@code libcublas.so.13}, else {@code .so.12}) through FFM: a handle per stream, fp32 GEMM.
 * Every {@code cublasStatus_t} goes through {@link #check}, which names the call and the status.
 *
 * <p>Note [row-major GEMM]: cuBLAS is column-major. A row-major {@code C[rows, out] = X[rows, in] ·
 * W[in, out]} read column-major is {@code Cᵀ = Wᵀ · Xᵀ}, and a row-major matrix read column-major
 * is its transpose, so one call with no transposes computes it:
 * {@code sgemm(N, N, m = out, n = rows, k = in, W, lda = out, X, ldb = in, C, ldc = out)}.
 */
final class Cublas {

    /** Sonames tried in order when no path is given. */
    static final List<String> SONAMES = List.of("libcublas.so.13", "libcublas.so.12");

    static final int OP_N = 0;
    /** fp32 math: no TF32 tensor cores. */
    static final int DEFAULT_MATH = 0;
    static final int TF32_TENSOR_OP_MATH = 3;

    /** The per-step handles, constants for the process's first cuBLAS (Note [constant handles] in CudaDriver). */
    private record Hot(MethodHandle cublasSetStream, MethodHandle cublasSgemm) {

        static Hot bind(NativeLibrary lib) {
            return new Hot(lib.function("cublasSetStream_v2", FunctionDescriptor.of(INT, LONG, LONG)),
                    lib.function("cublasSgemm_v2", FunctionDescriptor.of(INT, LONG, INT, INT, INT, INT, INT,
                            LONG, LONG, INT, LONG, INT, LONG, LONG, INT)));
        }
    }

    /** The first cuBLAS this process opened, set once by {@link #open} before any call reads {@link First}. */
    private static Cublas first;

    private static final class First {
        static final Cublas CUBLAS = first();
        static final Hot HOT = CUBLAS.hot;
    }

    private static synchronized Cublas first() {
        return first;
    }

    private final NativeLibrary library;
    private final Hot hot;
    private final MethodHandle cublasCreate;
    private final MethodHandle cublasDestroy;
    private final MethodHandle cublasSetMathMode;
    private final MethodHandle cublasSetWorkspace;
    private final Optional<MethodHandle> cublasGetStatusName;

    private Cublas(NativeLibrary lib) {
        this.library = lib;
        this.hot = Hot.bind(lib);
        cublasCreate = lib.function("cublasCreate_v2", FunctionDescriptor.of(INT, POINTER));
        cublasDestroy = lib.function("cublasDestroy_v2", FunctionDescriptor.of(INT, LONG));
        cublasSetMathMode = lib.function("cublasSetMathMode", FunctionDescriptor.of(INT, LONG, INT));
        cublasSetWorkspace = lib.function("cublasSetWorkspace_v2", FunctionDescriptor.of(INT, LONG, LONG, LONG));
        cublasGetStatusName = lib.optionalFunction("cublasGetStatusName", FunctionDescriptor.of(POINTER, INT));
    }

    /** The outcome of looking for cuBLAS: the library, or why there is none. */
    record Lookup(Optional<Cublas> cublas, String description) {}

    /**
     * Opens cuBLAS from {@code path} when given (the gpu-check script finds it, e.g. in PyTorch's
     * Python packages), else by soname through the loader's path.
     */
    static Lookup open(Optional<String> path) {
        List<String> candidates = path.map(List::of).orElse(SONAMES);
        List<String> failures = new ArrayList<>();
        for (String candidate : candidates) {
            try {
                Cublas cublas = new Cublas(NativeLibrary.open(candidate));
                synchronized (Cublas.class) {
                    if (first == null) {
                        first = cublas;
                    }
                }
                return new Lookup(Optional.of(cublas), "cuBLAS " + candidate);
            } catch (IllegalArgumentException | IllegalStateException e) {
                failures.add(candidate + ": " + e.getMessage());
            }
        }
        return new Lookup(Optional.empty(), "cuBLAS not loadable (" + String.join("; ", failures) + ")");
    }

    String library() {
        return library.name();
    }

    private Hot hot() {
        return this == First.CUBLAS ? First.HOT : hot;
    }

    /** Runs one cuBLAS entry point and checks its status, naming {@code name}. */
    private void call(String name, NativeLibrary.Downcall call) {
        check(NativeLibrary.status(call), name);
    }

    void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, status, call + " failed: " + statusName(status));
        }
    }

    private String statusName(int status) {
        if (cublasGetStatusName.isPresent()) {
            try {
                MemorySegment name = (MemorySegment) cublasGetStatusName.get().invokeExact(status);
                return NativeLibrary.cString(name, "cublasStatus_t " + status);
            } catch (Throwable t) {
                return "cublasStatus_t " + status;
            }
        }
        return "cublasStatus_t " + status;
    }

    /** A handle bound to {@code stream}, with TF32 only when asked for. The device's context must be current. */
    long createHandle(long stream, boolean tf32) {
        long handle;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(LONG);
            call("cublasCreate_v2", () -> (int) cublasCreate.invokeExact(out));
            handle = out.get(LONG, 0);
        }
        int mode = tf32 ? TF32_TENSOR_OP_MATH : DEFAULT_MATH;
        try {
            setStream(handle, stream);
            call("cublasSetMathMode", () -> (int) cublasSetMathMode.invokeExact(handle, mode));
            return handle;
        } catch (RuntimeException | Error e) {
            destroyHandle(handle);
            throw e;
        }
    }

    /**
     * Gives {@code handle} a workspace of its own, as a stream capture needs (Note [graph capture] in CudaGraph): cuBLAS
     * then never allocates one itself while capturing.
     */
    void setWorkspace(long handle, long workspace, long bytes) {
        call("cublasSetWorkspace_v2", () -> (int) cublasSetWorkspace.invokeExact(handle, workspace, bytes));
    }

    /** The workspace cuBLAS recommends for capture: 32 MiB on Hopper (compute capability 9.0) and later, else 4 MiB. */
    static long workspaceBytes(int computeMajor) {
        return (computeMajor >= 9 ? 32L : 4L) << 20;
    }

    /** Binds {@code handle} to {@code stream}: its products run there from now on. */
    void setStream(long handle, long stream) {
        call("cublasSetStream_v2", () -> (int) hot().cublasSetStream().invokeExact(handle, stream));
    }

    void destroyHandle(long handle) {
        call("cublasDestroy_v2", () -> (int) cublasDestroy.invokeExact(handle));
    }

    /**
     * Row-major {@code y[rows, out] = x[rows, in] · w[in, out]} on the handle's stream (Note [row-major GEMM]).
     * {@code alphaBeta} points at host floats {1, 0}.
     */
    void matmulRowMajor(long handle, long x, long w, long y, int rows, int in, int out, long alphaBeta) {
        call("cublasSgemm_v2", () -> (int) hot().cublasSgemm().invokeExact(handle, OP_N, OP_N, out, rows, in, alphaBeta, w, out,
                x, in, alphaBeta + Float.BYTES, y, out));
    }
}
