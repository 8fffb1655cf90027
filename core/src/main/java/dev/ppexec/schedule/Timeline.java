package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Executes a schedule in list order with the timing of Note [device timeline] (see {@link Simulator}); a RECV waits
 * until its SEND has executed. Runs every rank as far as it can and stops where none can progress, so one walk serves
 * the validator (deadlock), the simulator (times) and the printer (the grid of a broken schedule too).
 */
final class Timeline {

    /** The RECV that a SEND feeds, on the rank that will issue it. */
    private record Delivery(int rank, Action recv) {
    }

    private final Schedule schedule;
    private final CostModel costs;
    private final List<List<SimResult.Span>> spans;
    private final double[] computeFree;
    private final double[] copyFree;
    /** Per rank, keyed by the FORWARD of a (micro-batch, step): when the compute work on it so far ends. */
    private final List<Map<Action, Double>> computeEnd;
    private final Map<Delivery, Double> sentAt = new HashMap<>();

    private Timeline(Schedule schedule, CostModel costs) {
        this.schedule = schedule;
        this.costs = costs;
        int ranks = schedule.ranks();
        this.spans = new ArrayList<>(ranks);
        this.computeEnd = new ArrayList<>(ranks);
        for (int r = 0; r < ranks; r++) {
            spans.add(new ArrayList<>());
            computeEnd.add(new HashMap<>());
        }
        this.computeFree = new double[ranks];
        this.copyFree = new double[ranks];
    }

    static Timeline run(Schedule schedule, CostModel costs) {
        Timeline timeline = new Timeline(schedule, costs);
        boolean progressed = true;
        while (progressed) {
            progressed = false;
            for (int r = 0; r < schedule.ranks(); r++) {
                List<Action> list = schedule.rank(r);
                while (timeline.executed(r) < list.size()) {
                    SimResult.Span span = timeline.tryExecute(r, list.get(timeline.executed(r)));
                    if (span == null) {
                        break;
                    }
                    timeline.spans.get(r).add(span);
                    progressed = true;
                }
            }
        }
        return timeline;
    }

    private SimResult.Span tryExecute(int rank, Action action) {
        double now = computeFree[rank];
        CostModel costs = this.costs.at(action.step());
        return switch (action.kind()) {
            case RECV -> {
                Double sent = sentAt.get(new Delivery(rank, action));
                if (sent == null) {
                    yield null;
                }
                computeFree[rank] = Math.max(now, sent);
                yield new SimResult.Span(now, computeFree[rank]);
            }
            case FORWARD -> {
                computeFree[rank] = now + costs.forwardCost(rank);
                computeEnd.get(rank).putIfAbsent(action, computeFree[rank]);
                yield new SimResult.Span(now, computeFree[rank]);
            }
            case TOKENS, FEEDBACK -> {
                computeFree[rank] = now + costs.copyCost();
                computeEnd.get(rank).merge(action.withKind(ActionKind.FORWARD), computeFree[rank], Math::max);
                yield new SimResult.Span(now, computeFree[rank]);
            }
            case SEND -> {
                double ready = computeEnd.get(rank).getOrDefault(action.withKind(ActionKind.FORWARD), now);
                double start = Math.max(copyFree[rank], ready);
                copyFree[rank] = start + costs.transferCost();
                Delivery delivery = new Delivery(schedule.destinationRank(rank), schedule.receiveFor(rank, action));
                sentAt.putIfAbsent(delivery, copyFree[rank]);
                yield new SimResult.Span(start, copyFree[rank]);
            }
        };
    }

    /** How many of {@code rank}'s actions ran: the index it stopped at. */
    int executed(int rank) {
        return spans.get(rank).size();
    }

    SimResult.Span span(int rank, int index) {
        return spans.get(rank).get(index);
    }

    boolean blocked(int rank) {
        return executed(rank) < schedule.rank(rank).size();
    }

    boolean finished() {
        for (int r = 0; r < schedule.ranks(); r++) {
            if (blocked(r)) {
                return false;
            }
        }
        return true;
    }

    SimResult result() {
        assert finished() : "result of a timeline that stopped early";
        double makespan = 0;
        List<Double> busy = new ArrayList<>(schedule.ranks());
        for (int r = 0; r < schedule.ranks(); r++) {
            double rankBusy = 0;
            for (int i = 0; i < executed(r); i++) {
                SimResult.Span span = span(r, i);
                makespan = Math.max(makespan, span.end());
                if (schedule.rank(r).get(i).kind() == ActionKind.FORWARD) {
                    rankBusy += span.duration();
                }
            }
            busy.add(rankBusy);
        }
        return new SimResult(makespan, busy, spans);
    }

    /** Names each blocked rank's index and RECV, the SEND it waits for, and the cycle of waiting ranks. */
    ScheduleException deadlock() {
        assert !finished() : "deadlock of a timeline that finished";
        List<String> waits = new ArrayList<>();
        int first = -1;
        for (int r = 0; r < schedule.ranks(); r++) {
            if (blocked(r)) {
                first = first < 0 ? r : first;
                Action recv = schedule.rank(r).get(executed(r));
                waits.add("rank " + r + ", index " + executed(r) + ", " + recv + ": " + waitsFor(r, recv));
            }
        }
        return new ScheduleException("deadlock: no rank can progress; " + String.join("; ", waits) + cycle(first),
                first, executed(first));
    }

    private String waitsFor(int rank, Action recv) {
        if (rank == 0 && recv.step() == 0) {
            return "waits for a SEND that cannot exist, since rank 0 takes step 0 from the prompt";
        }
        int source = schedule.sourceRank(rank);
        Action send = schedule.sendFor(rank, recv);
        int at = schedule.rank(source).indexOf(send);
        return at < 0
                ? "waits for " + send + " from rank " + source + ", which never sends it"
                : "waits for " + send + " at index " + at + " of rank " + source;
    }

    private String cycle(int start) {
        List<Integer> path = new ArrayList<>();
        int r = start;
        while (blocked(r) && !path.contains(r)) {
            path.add(r);
            r = schedule.sourceRank(r);
        }
        if (!blocked(r)) {
            return "";
        }
        StringBuilder text = new StringBuilder("; cycle: ");
        for (int rank : path.subList(path.indexOf(r), path.size())) {
            text.append("rank ").append(rank).append(" -> ");
        }
        return text.append("rank ").append(r).append(" (each waits on the next)").toString();
    }
}
