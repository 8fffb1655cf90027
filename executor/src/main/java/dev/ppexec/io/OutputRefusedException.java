package dev.ppexec.io;

/**
 * An output or input the user named that {@link OutputCheck} refuses before anything runs: bad
 * input, answered with exit status 2 and its message as one line (Note [usage errors] in the CLI's
 * {@code Main}).
 */
public final class OutputRefusedException extends RuntimeException {

    OutputRefusedException(String message) {
        super(message);
    }

    OutputRefusedException(String message, Throwable cause) {
        super(message, cause);
    }
}
