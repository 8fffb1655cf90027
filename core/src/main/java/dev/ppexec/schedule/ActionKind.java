package dev.ppexec.schedule;

/** What a rank does with one micro-batch at one step; {@link #code()} is its letter in the text form. */
public enum ActionKind {
    RECV('R'),
    FORWARD('F'),
    SEND('S');

    private final char code;

    ActionKind(char code) {
        this.code = code;
    }

    public char code() {
        return code;
    }

    /** The kind whose letter is {@code code}. */
    public static ActionKind ofCode(char code) {
        for (ActionKind kind : values()) {
            if (kind.code == code) {
                return kind;
            }
        }
        throw new IllegalArgumentException("action kind code '" + code + "' is unknown; allowed: R, F, S");
    }
}
