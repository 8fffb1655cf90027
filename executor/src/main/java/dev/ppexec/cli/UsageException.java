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

    /**
     * A core class's refusal, which starts with its field's name ({@code split '2,1' sums to 3}),
     * said with the user's option instead ({@code --split '2,1' sums to 3}); any other message is not
     * about the option, so the failure is passed on as it is (an internal error).
     */
    static RuntimeException asOption(IllegalArgumentException e, String field, String option) {
        String m = String.valueOf(e.getMessage());
        return m.startsWith(field + " ") ? new UsageException(option + m.substring(field.length())) : e;
    }

    /** Throws {@code message} as bad input unless {@code ok}. */
    static void check(boolean ok, String message) {
        if (!ok) {
            throw new UsageException(message);
        }
    }
}
