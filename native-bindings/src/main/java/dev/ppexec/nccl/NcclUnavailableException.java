package dev.ppexec.nccl;

/** No NCCL library could be opened; the message says which file was tried, why it failed, and how to name another. */
public final class NcclUnavailableException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    NcclUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
