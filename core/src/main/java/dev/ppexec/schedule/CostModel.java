package dev.ppexec.schedule;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Durations for the {@link Simulator}, in one arbitrary time unit.
 *
 * @param forwardCosts a FORWARD's duration per rank; a single entry applies to every rank
 * @param transferCost one SEND's duration
 * @param copyCost     one TOKENS's or FEEDBACK's duration
 * @param prefill      the costs of step 0's actions (the prefill pass), or null when step 0 costs what every step does
 */
public record CostModel(List<Double> forwardCosts, double transferCost, double copyCost, CostModel prefill) {

    public CostModel {
        Objects.requireNonNull(forwardCosts, "forwardCosts");
        if (forwardCosts.isEmpty()) {
            throw new IllegalArgumentException(
                    "forwardCosts is empty; allowed: one cost for every rank, or one per rank");
        }
        for (int r = 0; r < forwardCosts.size(); r++) {
            Double cost = Objects.requireNonNull(forwardCosts.get(r), "forwardCosts.get(" + r + ")");
            checkDuration("forwardCosts.get(" + r + ")", cost);
        }
        checkDuration("transferCost", transferCost);
        checkDuration("copyCost", copyCost);
        forwardCosts = List.copyOf(forwardCosts);
    }

    /** The same costs at every step. */
    public CostModel(List<Double> forwardCosts, double transferCost, double copyCost) {
        this(forwardCosts, transferCost, copyCost, null);
    }

    /** These costs for the decode steps, {@code prefillCosts} for step 0. */
    public CostModel withPrefill(CostModel prefillCosts) {
        Objects.requireNonNull(prefillCosts, "prefillCosts");
        return new CostModel(forwardCosts, transferCost, copyCost, prefillCosts.at(0));
    }

    /** The costs of the actions at {@code step}. */
    public CostModel at(int step) {
        return step == 0 && prefill != null ? prefill : this;
    }

    /** One forward cost per rank; copies take no time. */
    public CostModel(double[] forwardCosts, double transferCost) {
        this(boxed(forwardCosts), transferCost, 0);
    }

    /** The same forward cost on every rank; copies take no time. */
    public static CostModel uniform(double forward, double transfer) {
        return uniform(forward, transfer, 0);
    }

    /** The same forward cost on every rank. */
    public static CostModel uniform(double forward, double transfer, double copy) {
        return new CostModel(List.of(forward), transfer, copy);
    }

    /** The duration of a FORWARD on {@code rank}. */
    public double forwardCost(int rank) {
        if (forwardCosts.size() == 1) {
            if (rank < 0) {
                throw new IllegalArgumentException("rank " + rank + " is out of range; allowed: 0 or more");
            }
            return forwardCosts.getFirst();
        }
        if (rank < 0 || rank >= forwardCosts.size()) {
            throw new IllegalArgumentException(
                    "rank " + rank + " is out of range; allowed: 0.." + (forwardCosts.size() - 1));
        }
        return forwardCosts.get(rank);
    }

    void checkCovers(int ranks) {
        if (prefill != null) {
            prefill.checkCovers(ranks);
        }
        if (forwardCosts.size() != 1 && forwardCosts.size() != ranks) {
            throw new IllegalArgumentException("forwardCosts has " + forwardCosts.size() + " entries for " + ranks
                    + " ranks; allowed: 1 (every rank) or " + ranks + " (one per rank)");
        }
    }

    private static List<Double> boxed(double[] costs) {
        Objects.requireNonNull(costs, "forwardCosts");
        List<Double> list = new ArrayList<>(costs.length);
        for (double cost : costs) {
            list.add(cost);
        }
        return list;
    }

    private static void checkDuration(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + " " + value + " is out of range; allowed: finite, 0 or more");
        }
    }
}
