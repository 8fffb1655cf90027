package dev.ppexec.backend.cpu;

/** A launch on a stream threw; the message names the stream, the cause names the kernel. */
public final class StreamFailedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    StreamFailedException(String message, Throwable cause) {
        super(message, cause);
    }
}
