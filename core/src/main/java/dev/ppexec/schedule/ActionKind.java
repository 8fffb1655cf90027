package dev.ppexec.schedule;

/**
 * What a rank does with one micro-batch at one step; {@link #code()} is its letter in the text form. RECV, FORWARD,
 * TOKENS and FEEDBACK run on the rank's compute stream, SEND on its copy stream (Note [device timeline] in
 * {@link Simulator}).
 */
public enum ActionKind {
    /** Take the micro-batch's input from the rank before (Note [routing] in {@link Schedule}). */
    RECV('R'),
    /** Run the rank's stage. */
    FORWARD('F'),
    /** Last rank only: copy the step's next tokens to the host, where the run's results are kept. */
    TOKENS('T'),
    /** One rank only: copy the step's next tokens into the micro-batch's input for the next step. */
    FEEDBACK('B'),
    /** Hand the output to the next rank (the last rank's next tokens go back to rank 0). */
    SEND('S');

    private final char code;

    ActionKind(char code) {
        this.code = code;
    }

    public char code() {
        return code;
    }

    /** Whether the action copies on its own rank, after the FORWARD of its micro-batch and step. */
    public boolean local() {
        return this == TOKENS || this == FEEDBACK;
    }

    /** The kind whose letter is {@code code}. */
    public static ActionKind ofCode(char code) {
        for (ActionKind kind : values()) {
            if (kind.code == code) {
                return kind;
            }
        }
        throw new IllegalArgumentException("action kind code '" + code + "' is unknown; allowed: R, F, T, B, S");
    }
}
