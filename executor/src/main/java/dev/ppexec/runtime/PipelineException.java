package dev.ppexec.runtime;

/** A run failed: names the first cause's rank, micro-batch and action. */
public final class PipelineException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    private final int rank;

    PipelineException(int rank, String message, Throwable cause) {
        super(message, cause);
        this.rank = rank;
    }

    /** The rank of the first failure. */
    public int rank() {
        return rank;
    }
}
