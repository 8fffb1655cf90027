package dev.ppexec.schedule;

import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One entry of a rank's action list. Text form: kind letter, micro-batch, {@code @}, step ({@code F3@2}).
 *
 * @param kind       receive, run the stage, copy tokens to the host or back to the input, or send
 * @param microBatch micro-batch id, 0 or more
 * @param step       0 for prefill, 1.. for decode steps
 */
public record Action(ActionKind kind, int microBatch, int step) {

    private static final Pattern TEXT = Pattern.compile("([RFTBS])(0|[1-9][0-9]{0,8})@(0|[1-9][0-9]{0,8})");

    public Action {
        Objects.requireNonNull(kind, "kind");
        if (microBatch < 0) {
            throw new IllegalArgumentException("microBatch " + microBatch + " is out of range; allowed: 0 or more");
        }
        if (step < 0) {
            throw new IllegalArgumentException("step " + step + " is out of range; allowed: 0 or more");
        }
    }

    public static Action recv(int microBatch, int step) {
        return new Action(ActionKind.RECV, microBatch, step);
    }

    public static Action forward(int microBatch, int step) {
        return new Action(ActionKind.FORWARD, microBatch, step);
    }

    public static Action tokens(int microBatch, int step) {
        return new Action(ActionKind.TOKENS, microBatch, step);
    }

    public static Action feedback(int microBatch, int step) {
        return new Action(ActionKind.FEEDBACK, microBatch, step);
    }

    public static Action send(int microBatch, int step) {
        return new Action(ActionKind.SEND, microBatch, step);
    }

    /** The action of {@code kind} on the same micro-batch and step. */
    public Action withKind(ActionKind kind) {
        return new Action(kind, microBatch, step);
    }

    /** Parses the text form; the inverse of {@link #toString()}. */
    public static Action parse(String token) {
        Objects.requireNonNull(token, "token");
        Matcher m = TEXT.matcher(token);
        if (!m.matches()) {
            throw new IllegalArgumentException("action token '" + token
                    + "' is malformed; expected <kind><microBatch>@<step> with kind R, F, T, B or S and numbers"
                    + " without leading zeros, e.g. F3@2");
        }
        return new Action(ActionKind.ofCode(m.group(1).charAt(0)),
                Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
    }

    @Override
    public String toString() {
        return "" + kind.code() + microBatch + "@" + step;
    }
}
