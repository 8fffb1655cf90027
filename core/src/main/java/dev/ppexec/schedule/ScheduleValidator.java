package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Finds what would make a schedule fail or hang before anything runs. Checks, in order: every action is in range,
 * hands off to another rank, and copies tokens only where they exist (TOKENS on the last rank, FEEDBACK with one
 * rank); per rank, one of each action per micro-batch and step, RECV before FORWARD before SEND, TOKENS and FEEDBACK
 * between their FORWARD and the next step's, and none of them missing;
 * every RECV matches one SEND and every SEND one RECV (Note [routing] in {@link Schedule}); each micro-batch visits
 * the ranks in order; and a host walk, where a RECV blocks until its SEND has run, finishes without deadlock.
 */
public final class ScheduleValidator {

    private ScheduleValidator() {
    }

    /**
     * Throws a {@link ScheduleException} naming the first failing rank, index and action, with the schedule's grid
     * and that action marked in its message.
     */
    public static void validate(Schedule schedule) {
        Objects.requireNonNull(schedule, "schedule");
        try {
            checkActions(schedule);
            List<Map<Action, Integer>> indexes = checkRankOrder(schedule);
            checkHandoffs(schedule, indexes);
            checkVisits(schedule, indexes);
            Timeline timeline = Timeline.run(schedule, CostModel.uniform(0, 0));
            if (!timeline.finished()) {
                throw timeline.deadlock();
            }
        } catch (ScheduleException e) {
            throw e.withGrid(schedule);
        }
    }

    private static void checkActions(Schedule s) {
        int last = s.ranks() - 1;
        for (int r = 0; r < s.ranks(); r++) {
            List<Action> list = s.rank(r);
            for (int i = 0; i < list.size(); i++) {
                Action a = list.get(i);
                if (a.microBatch() >= s.microBatches()) {
                    throw ScheduleException.at(r, i, a, "micro-batch " + a.microBatch()
                            + " is out of range; expected 0.." + (s.microBatches() - 1));
                }
                if (a.step() > s.steps()) {
                    throw ScheduleException.at(r, i, a,
                            "step " + a.step() + " is out of range; expected 0.." + s.steps());
                }
                if ((a.kind() == ActionKind.RECV || a.kind() == ActionKind.SEND) && s.ranks() == 1) {
                    String way = a.kind() == ActionKind.SEND ? "goes back to" : "comes from";
                    throw ScheduleException.at(r, i, a, "with one rank the " + a.kind() + " " + way
                            + " rank 0 itself, so rank 0 would wait on itself; expected a FEEDBACK to carry the"
                            + " tokens, and no RECV or SEND");
                }
                if (a.kind() == ActionKind.TOKENS && r != last) {
                    throw ScheduleException.at(r, i, a, "only the last rank computes tokens; expected TOKENS only on"
                            + " rank " + last);
                }
                if (a.kind() == ActionKind.FEEDBACK && s.ranks() > 1) {
                    throw ScheduleException.at(r, i, a, "with " + s.ranks() + " ranks the last rank's SEND carries the"
                            + " tokens back to rank 0; expected FEEDBACK only with one rank");
                }
                if (a.kind() == ActionKind.FEEDBACK && a.step() == s.steps()) {
                    throw ScheduleException.at(r, i, a, "feeds step " + (a.step() + 1) + ", which does not exist"
                            + " (steps=" + s.steps() + "); expected no FEEDBACK at the last step");
                }
                if (a.kind() == ActionKind.RECV && r == 0 && a.step() == 0) {
                    throw ScheduleException.at(r, i, a,
                            "rank 0 takes step 0 from the prompt; expected no RECV on rank 0 at step 0");
                }
                if (a.kind() == ActionKind.SEND && r == last && a.step() == s.steps()) {
                    throw ScheduleException.at(r, i, a, "the last rank's SEND feeds step " + (a.step() + 1)
                            + ", which does not exist (steps=" + s.steps() + "); expected no SEND at the last step");
                }
            }
        }
    }

    /**
     * Per rank, the index of each action; every (micro-batch, step) forwarded once, RECV before it, SEND after, TOKENS
     * and FEEDBACK after it and before the next step's FORWARD (which overwrites the tokens they copy).
     */
    private static List<Map<Action, Integer>> checkRankOrder(Schedule s) {
        List<Map<Action, Integer>> indexes = new ArrayList<>(s.ranks());
        for (int r = 0; r < s.ranks(); r++) {
            List<Action> list = s.rank(r);
            Map<Action, Integer> index = new HashMap<>();
            for (int i = 0; i < list.size(); i++) {
                Action a = list.get(i);
                Integer earlier = index.putIfAbsent(a, i);
                if (earlier != null) {
                    throw ScheduleException.at(r, i, a, "duplicate of index " + earlier + "; expected exactly one "
                            + a.kind() + " of micro-batch " + a.microBatch() + " at step " + a.step()
                            + " on each rank");
                }
                Integer forward = index.get(a.withKind(ActionKind.FORWARD));
                if (a.kind() == ActionKind.RECV && forward != null) {
                    throw ScheduleException.at(r, i, a, "comes after its FORWARD at index " + forward
                            + "; expected RECV before FORWARD");
                }
                if ((a.kind() == ActionKind.SEND || a.kind().local()) && forward == null) {
                    throw ScheduleException.at(r, i, a, "comes before its FORWARD " + a.withKind(ActionKind.FORWARD)
                            + "; expected FORWARD before " + a.kind() + " on the same rank");
                }
                Integer next = index.get(Action.forward(a.microBatch(), a.step() + 1));
                if (a.kind().local() && next != null) {
                    throw ScheduleException.at(r, i, a, "comes after the next step's FORWARD at index " + next
                            + ", which overwrites the tokens it copies; expected " + a.kind() + " before "
                            + Action.forward(a.microBatch(), a.step() + 1));
                }
            }
            for (int step = 0; step <= s.steps(); step++) {
                for (int mb = 0; mb < s.microBatches(); mb++) {
                    checkPresent(r, list.size(), index, Action.forward(mb, step), "on each rank");
                    if (r == s.ranks() - 1) {
                        checkPresent(r, list.size(), index, Action.tokens(mb, step), "on the last rank");
                    }
                    if (s.ranks() == 1 && step < s.steps()) {
                        checkPresent(r, list.size(), index, Action.feedback(mb, step), "before step " + (step + 1)
                                + " with one rank");
                    }
                }
            }
            indexes.add(index);
        }
        return indexes;
    }

    private static void checkPresent(int rank, int end, Map<Action, Integer> index, Action action, String where) {
        if (!index.containsKey(action)) {
            throw ScheduleException.at(rank, end, action, "missing (index " + end + " is the end of the list);"
                    + " expected exactly one " + action.kind() + " of micro-batch " + action.microBatch() + " at step "
                    + action.step() + " " + where);
        }
    }

    private static void checkHandoffs(Schedule s, List<Map<Action, Integer>> indexes) {
        for (int r = 0; r < s.ranks(); r++) {
            List<Action> list = s.rank(r);
            for (int i = 0; i < list.size(); i++) {
                Action a = list.get(i);
                if (a.kind() == ActionKind.RECV) {
                    int source = s.sourceRank(r);
                    Action send = s.sendFor(r, a);
                    if (!indexes.get(source).containsKey(send)) {
                        throw ScheduleException.at(r, i, a, "expected exactly one matching SEND " + send + " on rank "
                                + source + ", found none");
                    }
                } else if (a.kind() == ActionKind.SEND) {
                    int destination = s.destinationRank(r);
                    Action recv = s.receiveFor(r, a);
                    if (!indexes.get(destination).containsKey(recv)) {
                        throw ScheduleException.at(r, i, a, "nothing consumes it; expected exactly one RECV " + recv
                                + " on rank " + destination + ", found none");
                    }
                }
            }
        }
    }

    /** Each micro-batch enters every rank from the previous one and leaves for the next, step after step. */
    private static void checkVisits(Schedule s, List<Map<Action, Integer>> indexes) {
        int last = s.ranks() - 1;
        for (int r = 0; r < s.ranks(); r++) {
            List<Action> list = s.rank(r);
            Map<Action, Integer> index = indexes.get(r);
            for (int i = 0; i < list.size(); i++) {
                Action a = list.get(i);
                // With one rank, FEEDBACK orders the steps (checkRankOrder): it sits between one and the next.
                if (a.kind() != ActionKind.FORWARD || s.ranks() == 1) {
                    continue;
                }
                if (!(r == 0 && a.step() == 0) && !index.containsKey(a.withKind(ActionKind.RECV))) {
                    throw ScheduleException.at(r, i, a, "has no input; expected a RECV "
                            + a.withKind(ActionKind.RECV) + " before it, from rank " + s.sourceRank(r));
                }
                if (!(r == last && a.step() == s.steps()) && !index.containsKey(a.withKind(ActionKind.SEND))) {
                    throw ScheduleException.at(r, i, a, "its output goes nowhere; expected a SEND "
                            + a.withKind(ActionKind.SEND) + " after it, to rank " + s.destinationRank(r));
                }
            }
        }
    }
}
