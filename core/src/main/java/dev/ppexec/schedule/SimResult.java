package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The timeline of a simulated schedule (Note [device timeline] in {@link Simulator}).
 *
 * @param makespan time at which the last action ends
 * @param busy     per rank, the sum of its FORWARD durations
 * @param spans    {@code spans.get(r).get(i)} is when rank r's action i starts and ends
 */
public record SimResult(double makespan, List<Double> busy, List<List<Span>> spans) {

    /** When one action starts and ends. A RECV's span is its wait: from when the rank reaches it to its SEND's end. */
    public record Span(double start, double end) {
        public Span {
            if (!(start <= end)) {
                throw new IllegalArgumentException("span [" + start + ", " + end + "] ends before it starts;"
                        + " allowed: start <= end");
            }
        }

        public double duration() {
            return end - start;
        }
    }

    public SimResult {
        Objects.requireNonNull(busy, "busy");
        Objects.requireNonNull(spans, "spans");
        if (busy.size() != spans.size()) {
            throw new IllegalArgumentException("busy has " + busy.size() + " ranks and spans " + spans.size()
                    + "; allowed: the same count");
        }
        busy = List.copyOf(busy);
        List<List<Span>> copy = new ArrayList<>(spans.size());
        for (List<Span> rank : spans) {
            copy.add(List.copyOf(rank));
        }
        spans = List.copyOf(copy);
    }

    public int ranks() {
        return busy.size();
    }

    public double busy(int rank) {
        return busy.get(rank);
    }

    public Span span(int rank, int index) {
        return spans.get(rank).get(index);
    }

    /** 1 − (sum of busy time) / (ranks × makespan): the idle fraction; 0 when nothing takes time. */
    public double bubble() {
        if (makespan == 0) {
            return 0;
        }
        double busyTotal = 0;
        for (double b : busy) {
            busyTotal += b;
        }
        return 1 - busyTotal / (ranks() * makespan);
    }
}
