package dev.ppexec.cuda;

/**
 * A CUDA driver or cuBLAS call returned an error. The message names the call and the library's own
 * name and text for the status ({@code "cuMemAlloc_v2 failed: CUDA_ERROR_INVALID_VALUE (invalid argument)"}),
 * so that a log line alone says what went wrong where.
 */
public final class CudaException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String call;
    private final int status;

    CudaException(String call, int status, String message) {
        super(message);
        this.call = call;
        this.status = status;
    }

    private CudaException(String where, CudaException cause) {
        super(where + ": " + cause.getMessage(), cause);
        this.call = cause.call;
        this.status = cause.status;
    }

    /** The same failure, its message prefixed with where it happened ({@code "cuda:0 stream 3 (PP0 compute)"}). */
    CudaException in(String where) {
        return new CudaException(where, this);
    }

    /** The native function that failed, as exported ({@code "cuLaunchKernel"}). */
    public String call() {
        return call;
    }

    /** Its status code ({@code CUresult} or {@code cublasStatus_t}). */
    public int status() {
        return status;
    }
}
