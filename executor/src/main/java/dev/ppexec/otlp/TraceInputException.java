package dev.ppexec.otlp;

/**
 * A trace file that cannot be read as OTLP-JSON: the message names the file, the line and what is
 * wrong, in one line. It is an {@link IllegalArgumentException}, so the command line answers it
 * with exit status 2 and no stack trace.
 */
public final class TraceInputException extends IllegalArgumentException {

    public TraceInputException(String message) {
        super(message);
    }
}
