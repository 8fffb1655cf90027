package dev.ppexec.nccl;

/**
 * An NCCL call failed, an asynchronous error reached a communicator, or an operation missed its deadline. The message
 * names the rank and world, the call, NCCL's name and text for the result and, where NCCL has one, its last error
 * ({@code "rank 1 of 2: ncclSend failed: ncclRemoteError (remote process exited or there was a network error)"}), so that a
 * log line alone says what went wrong where.
 */
public final class NcclException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final String call;
    private final int result;

    NcclException(String call, int result, String message) {
        super(message);
        this.call = call;
        this.result = result;
    }

    /** The NCCL function that failed or did not finish, as exported ({@code "ncclCommInitRankConfig"}). */
    public String call() {
        return call;
    }

    /** Its {@code ncclResult_t}, or {@code ncclInProgress} (7) when it missed its deadline. */
    public int result() {
        return result;
    }
}
