package dev.ppexec.cli;

/**
 * Bad input: an option, an option's value, a file the user named or an {@code OTEL_*} variable
 * that is not allowed. {@link Main} answers it with exit status 2 and its message as one line; every
 * other exception is a failure (exit 1), and an {@link IllegalArgumentException} that reaches
 * {@link Main} is an internal error, never bad input (Note [usage errors]).
 */
public final class UsageException extends RuntimeException {

    public UsageException(String message) {
        super(message);
    }
}
