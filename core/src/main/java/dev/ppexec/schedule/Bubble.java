package dev.ppexec.schedule;

/**
 * The one computation of pipeline bubbles: measured from busy times, and ideal in closed form for the schedules
 * {@link Schedules} generates. The runtime, the sweep and the report all use it.
 *
 * <p>Note [ideal bubble]: with equal stage times t and free transfers and copies (the {@link Simulator} with
 * {@code CostModel.uniform(1, 0)}), {@code generation(P, M, S)} puts rank r's FORWARD of micro-batch m at step s in
 * slot {@code s·W + m + r} with {@code W = max(M, P)}: with M ≥ P every rank runs back to back, with M &lt; P rank 0
 * waits for the ring. So the last rank ends at slot {@code S·W + M + P − 1} and each rank is busy (S+1)·M slots;
 * prefill alone (S = 0) is fill-drain's (P−1)/(M+P−1). The decode steps alone start at slot W on rank 0.
 */
public final class Bubble {

    private Bubble() {
    }

    /** 1 − Σ busy / (ranks × span): the ranks' idle share of the span; 0 when the span is empty. */
    public static double measured(long busyNanosTotal, int ranks, long spanNanos) {
        checkAtLeastOne("ranks", ranks);
        return spanNanos <= 0 ? 0.0 : 1.0 - (double) busyNanosTotal / ((double) ranks * spanNanos);
    }

    /** Fill-drain with equal stage costs and free transfers: (P−1)/(M+P−1). */
    public static double idealFillDrain(int ranks, int microBatches) {
        return idealGeneration(ranks, microBatches, 0);
    }

    /** A whole {@link Schedules#generation} run, prefill and decode ring: 1 − (S+1)·M / (S·W + M + P − 1). */
    public static double idealGeneration(int ranks, int microBatches, int steps) {
        Schedule.checkShape(ranks, microBatches, steps);
        int wave = Math.max(microBatches, ranks);
        return 1.0 - (double) (steps + 1) * microBatches / ((double) steps * wave + microBatches + ranks - 1);
    }

    /**
     * The decode steps of a {@link Schedules#generation} run alone, from the first decode FORWARD's start to the last
     * one's end: 1 − S·M / ((S−1)·W + M + P − 1); 0 without decode steps.
     */
    public static double idealDecode(int ranks, int microBatches, int steps) {
        Schedule.checkShape(ranks, microBatches, steps);
        if (steps == 0) {
            return 0.0;
        }
        int wave = Math.max(microBatches, ranks);
        return 1.0 - (double) steps * microBatches / ((double) (steps - 1) * wave + microBatches + ranks - 1);
    }

    private static void checkAtLeastOne(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + " " + value + " is out of range; allowed: 1 or more");
        }
    }
}
