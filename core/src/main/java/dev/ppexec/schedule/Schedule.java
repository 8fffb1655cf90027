package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A pipeline schedule as a value: one ordered action list per rank. The runtime walks the lists and decides nothing.
 *
 * <p>Note [routing]: a SEND on rank r goes to rank r+1; a SEND on the last rank carries the next tokens back to
 * rank 0, where it feeds the next step (the decode ring). So a RECV on rank r > 0 matches rank r-1's SEND of the
 * same micro-batch and step, and a RECV on rank 0 matches the last rank's SEND of the previous step; rank 0 has no
 * RECV at step 0, whose input is the prompt. TOKENS and FEEDBACK copy on their own rank and go nowhere else: with
 * one rank, FEEDBACK does what the ring's SEND and RECV do with several.
 *
 * @param ranks        pipeline stages P, ranks 0..P-1
 * @param microBatches micro-batches M, ids 0..M-1
 * @param steps        decode steps S; step 0 is prefill, so step indices run 0..S
 * @param actions      {@code actions.get(r)} is rank r's list; copied, unmodifiable
 */
public record Schedule(int ranks, int microBatches, int steps, List<List<Action>> actions) {

    /** Rejects a shape no schedule can have; shared by the constructor and the generators. */
    static void checkShape(int ranks, int microBatches, int steps) {
        if (ranks < 1) {
            throw new IllegalArgumentException("ranks " + ranks + " is out of range; allowed: 1 or more");
        }
        if (microBatches < 1) {
            throw new IllegalArgumentException(
                    "microBatches " + microBatches + " is out of range; allowed: 1 or more");
        }
        if (steps < 0) {
            throw new IllegalArgumentException("steps " + steps + " is out of range; allowed: 0 or more");
        }
    }

    private static final Pattern HEADER = Pattern.compile(
            "ranks=(0|[1-9][0-9]{0,8}) microBatches=(0|[1-9][0-9]{0,8}) steps=(0|[1-9][0-9]{0,8})");

    public Schedule {
        checkShape(ranks, microBatches, steps);
        Objects.requireNonNull(actions, "actions");
        if (actions.size() != ranks) {
            throw new IllegalArgumentException("actions has " + actions.size() + " rank lists for ranks " + ranks
                    + "; allowed: exactly one list per rank");
        }
        List<List<Action>> copy = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) {
            List<Action> list = Objects.requireNonNull(actions.get(r), "actions.get(" + r + ")");
            for (int i = 0; i < list.size(); i++) {
                Objects.requireNonNull(list.get(i), "actions.get(" + r + ").get(" + i + ")");
            }
            copy.add(List.copyOf(list));
        }
        actions = List.copyOf(copy);
    }

    /** Rank {@code r}'s action list. */
    public List<Action> rank(int r) {
        checkRank("r", r);
        return actions.get(r);
    }

    /** The rank whose SEND a RECV on {@code rank} receives (Note [routing]). */
    public int sourceRank(int rank) {
        checkRank("rank", rank);
        return (rank - 1 + ranks) % ranks;
    }

    /** The rank a SEND on {@code rank} goes to (Note [routing]). */
    public int destinationRank(int rank) {
        checkRank("rank", rank);
        return (rank + 1) % ranks;
    }

    /** The RECV on {@link #destinationRank} that consumes {@code send}, issued on {@code rank} (Note [routing]). */
    public Action receiveFor(int rank, Action send) {
        checkRank("rank", rank);
        checkKind("send", send, ActionKind.SEND);
        return Action.recv(send.microBatch(), rank == ranks - 1 ? send.step() + 1 : send.step());
    }

    /** The SEND on {@link #sourceRank} that feeds {@code recv}, issued on {@code rank} (Note [routing]). */
    public Action sendFor(int rank, Action recv) {
        checkRank("rank", rank);
        checkKind("recv", recv, ActionKind.RECV);
        if (rank == 0 && recv.step() == 0) {
            throw new IllegalArgumentException("recv " + recv + " on rank 0 has no SEND: rank 0 takes step 0 from"
                    + " the prompt; allowed on rank 0: steps 1.." + steps);
        }
        return Action.send(recv.microBatch(), rank == 0 ? recv.step() - 1 : recv.step());
    }

    /** Header line {@code ranks=P microBatches=M steps=S}, then one line {@code r: A A ...} per rank. */
    public String toText() {
        StringBuilder text = new StringBuilder()
                .append("ranks=").append(ranks)
                .append(" microBatches=").append(microBatches)
                .append(" steps=").append(steps).append('\n');
        for (int r = 0; r < ranks; r++) {
            text.append(r).append(':');
            for (Action action : actions.get(r)) {
                text.append(' ').append(action);
            }
            text.append('\n');
        }
        return text.toString();
    }

    /** Parses {@link #toText()}'s form exactly. */
    public static Schedule parse(String text) {
        Objects.requireNonNull(text, "text");
        List<String> lines = text.lines().toList();
        if (lines.isEmpty()) {
            throw new IllegalArgumentException("schedule text is empty; expected a header line"
                    + " 'ranks=P microBatches=M steps=S' and one line per rank");
        }
        Matcher header = HEADER.matcher(lines.getFirst());
        if (!header.matches()) {
            throw new IllegalArgumentException("line 1: header '" + lines.getFirst()
                    + "' is malformed; expected 'ranks=P microBatches=M steps=S'");
        }
        int ranks = Integer.parseInt(header.group(1));
        if (lines.size() - 1 != ranks) {
            throw new IllegalArgumentException("schedule text has " + (lines.size() - 1) + " rank lines for ranks="
                    + ranks + "; expected exactly one line per rank");
        }
        List<List<Action>> actions = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) {
            actions.add(parseRankLine(r, r + 2, lines.get(r + 1)));
        }
        return new Schedule(ranks, Integer.parseInt(header.group(2)), Integer.parseInt(header.group(3)), actions);
    }

    private static List<Action> parseRankLine(int rank, int lineNumber, String line) {
        String prefix = rank + ":";
        if (!line.startsWith(prefix) || (line.length() > prefix.length() && line.charAt(prefix.length()) != ' ')) {
            throw new IllegalArgumentException("line " + lineNumber + ": '" + line + "' is malformed; expected '"
                    + prefix + "' followed by space-separated actions such as ' F0@0 S0@0'");
        }
        List<Action> list = new ArrayList<>();
        if (line.length() == prefix.length()) {
            return list;
        }
        for (String token : line.substring(prefix.length() + 1).split(" ", -1)) {
            try {
                list.add(Action.parse(token));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("line " + lineNumber + ": " + e.getMessage(), e);
            }
        }
        return list;
    }

    private void checkRank(String name, int rank) {
        if (rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException(name + " " + rank + " is out of range; allowed: 0.." + (ranks - 1));
        }
    }

    private static void checkKind(String name, Action action, ActionKind kind) {
        Objects.requireNonNull(action, name);
        if (action.kind() != kind) {
            throw new IllegalArgumentException(name + " " + action + " is a " + action.kind() + "; allowed: a " + kind);
        }
    }
}
