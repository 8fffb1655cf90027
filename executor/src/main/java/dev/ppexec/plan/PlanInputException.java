package dev.ppexec.plan;

/** A trace the planner cannot plan from: the message names the file, the attribute or span, and what is allowed. */
public final class PlanInputException extends RuntimeException {

    public PlanInputException(String message) {
        super(message);
    }
}
