package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.Schedules;
import dev.ppexec.schedule.SimResult;
import dev.ppexec.schedule.Simulator;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * What-if planning: replays candidate configurations of the traced workload through the schedule {@link Simulator}
 * with the costs of a {@link CostFit}, and ranks them by predicted tokens/s.
 *
 * <p>Note [planner overhead]: the simulator times the devices only; a run also spends time outside them (the
 * requests' set-up, host hand-offs between forwards, other work on the machine). The planner takes that time from
 * the traced runs: each run's first-Req-to-last-Req span less the simulated makespan of its own configuration. With
 * runs of two or more forward counts per rank ((S+1)·M) it fits overhead = a + b·forwards by least squares, else
 * overhead = b·forwards through the runs' mean (on the development machine's CPU, four runs of M = 1, 2, 4, 8 gave a
 * line at 0 for M = 1 that grew with M: a cost per forward); a candidate's makespan is the simulated one plus that overhead at its forward count, at least 0.
 */
public final class Planner {

    /** Which split a candidate uses. */
    public enum SplitKind { balanced, measured }

    /**
     * One configuration and its prediction.
     *
     * @param rowsObserved whether the traces saw micro-batches of this candidate's row count (else interpolated)
     * @param makespanNanos the simulated makespan plus the overhead (Note [planner overhead])
     */
    public record Candidate(Partition split, SplitKind splitKind, int microBatches, boolean rowsObserved,
                            SimResult simulated, double makespanNanos, double tokensPerSecond) {

        public int stages() {
            return split.stages();
        }

        public double bubble() {
            return simulated.bubble();
        }
    }

    /** A traced run beside its own configuration's prediction. */
    public record Traced(TracedRun run, Candidate predicted) {
    }

    private final CostFit fit;
    private final int requests;
    private final int promptLength;
    private final int decodeSteps;
    private final double overheadNanos;
    private final double overheadNanosPerForward;

    private Planner(CostFit fit, int requests, int promptLength, int decodeSteps, double overheadNanos,
                    double overheadNanosPerForward) {
        this.fit = fit;
        this.requests = requests;
        this.promptLength = promptLength;
        this.decodeSteps = decodeSteps;
        this.overheadNanos = overheadNanos;
        this.overheadNanosPerForward = overheadNanosPerForward;
    }

    /**
     * Plans the first run's workload (requests, prompt length, decode steps) with the costs fitted on all of
     * {@code runs}; each run's own workload fits the overhead (Note [planner overhead]).
     */
    public static Planner of(CostFit fit, List<TracedRun> runs) {
        TracedRun first = runs.getFirst();
        Planner bare = new Planner(fit, first.requests(), first.promptLength(), first.decodeSteps(), 0, 0);
        double n = runs.size(), sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (TracedRun run : runs) {
            double simulated = bare.forWorkload(run.requests(), run.promptLength(), run.decodeSteps())
                    .predict(run.split(), SplitKind.balanced, run.microBatches()).makespanNanos();
            double x = forwards(run.decodeSteps(), run.microBatches());
            double y = run.measured().requestSpanNanos() - simulated;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
        }
        double var = sxx - sx * sx / n;
        if (var > 1e-9 * sxx) {
            double slope = (sxy - sx * sy / n) / var;
            return new Planner(fit, first.requests(), first.promptLength(), first.decodeSteps(), (sy - slope * sx) / n, slope);
        }
        return new Planner(fit, first.requests(), first.promptLength(), first.decodeSteps(), 0, sy / sx);
    }

    private Planner forWorkload(int requests, int promptLength, int decodeSteps) {
        return new Planner(fit, requests, promptLength, decodeSteps, overheadNanos, overheadNanosPerForward);
    }

    /** Forwards per rank of a run: (S+1)·M. */
    private static double forwards(int decodeSteps, int microBatches) {
        return (decodeSteps + 1.0) * microBatches;
    }

    /** The overhead of Note [planner overhead] at {@code microBatches}, at least 0. */
    public double overheadNanos(int microBatches) {
        return Math.max(0, overheadNanos + overheadNanosPerForward * forwards(decodeSteps, microBatches));
    }

    /** The traced run's configuration, predicted for its own workload. */
    public Traced traced(TracedRun run) {
        return new Traced(run, forWorkload(run.requests(), run.promptLength(), run.decodeSteps())
                .predict(run.split(), SplitKind.balanced, run.microBatches()));
    }

    /** The simulator's prediction for {@code split} with {@code microBatches}. */
    public Candidate predict(Partition split, SplitKind kind, int microBatches) {
        CostModel costs = fit.costModel(split, requests, microBatches, promptLength);
        SimResult sim = Simulator.simulate(Schedules.generation(split.stages(), microBatches, decodeSteps), costs);
        double makespan = sim.makespan() + overheadNanos(microBatches);
        double tokens = (double) requests * (decodeSteps + 1);
        return new Candidate(split, kind, microBatches, fit.observed((double) requests / microBatches), sim, makespan,
                makespan <= 0 ? Double.NaN : tokens * 1e9 / makespan);
    }

    /**
     * Every candidate: P in 1..min(layers, maxStages), the balanced split and the one balanced by the fitted costs
     * (when it differs), M in 1..requests; fastest first.
     */
    public List<Candidate> candidates(int maxStages) {
        int layers = fit.model().layers();
        List<Candidate> out = new ArrayList<>();
        for (int p = 1; p <= Math.min(layers, maxStages); p++) {
            for (int m = 1; m <= requests; m++) {
                Partition balanced = Partition.balanced(layers, p);
                out.add(predict(balanced, SplitKind.balanced, m));
                Partition measured = measuredSplit(p, m);
                if (!Arrays.equals(sizes(measured), sizes(balanced))) {
                    out.add(predict(measured, SplitKind.measured, m));
                }
            }
        }
        out.sort(Comparator.comparingDouble(Candidate::tokensPerSecond).reversed());
        return out;
    }

    /**
     * The contiguous split of the layers into {@code stages} whose slowest stage (prefill plus every decode step, each
     * layer at its own cost where level 5 gives it (Note [per-layer costs]), the embedding on the first, the head on the
     * last) is the fastest; among equals, the one closest to balanced (earlier stages larger).
     */
    Partition measuredSplit(int stages, int microBatches) {
        int layers = fit.model().layers();
        double rows = (double) requests / microBatches;
        CostFit.StageCosts prefill = fit.prefillAt(rows);
        CostFit.StageCosts decode = fit.decodeAt(rows);
        double tokens = rows * promptLength;
        double[] upTo = new double[layers + 1]; // upTo[i]: layers 0..i-1, prefill plus every decode step
        for (int l = 0; l < layers; l++) {
            upTo[l + 1] = upTo[l] + tokens * prefill.layer(l) + decodeSteps * decode.layer(l);
        }
        double head = tokens * prefill.headNanos() + decodeSteps * decode.headNanos();
        double embed = tokens * prefill.embedNanos() + decodeSteps * decode.embedNanos();
        // best[k][i]: the smallest slowest stage when the first k stages hold the first i layers
        double[][] best = new double[stages + 1][layers + 1];
        int[][] cut = new int[stages + 1][layers + 1];
        for (double[] row : best) {
            Arrays.fill(row, Double.POSITIVE_INFINITY);
        }
        best[0][0] = 0;
        for (int k = 1; k <= stages; k++) {
            for (int i = k; i <= layers - (stages - k); i++) {
                for (int j = i - 1; j >= k - 1; j--) {
                    double stage = upTo[i] - upTo[j] + (k == stages ? head : 0) + (k == 1 ? embed : 0);
                    double worst = Math.max(best[k - 1][j], stage);
                    if (worst < best[k][i] * (1 - 1e-12)) {
                        best[k][i] = worst;
                        cut[k][i] = j;
                    }
                }
            }
        }
        int[] sizes = new int[stages];
        int end = layers;
        for (int k = stages; k >= 1; k--) {
            sizes[k - 1] = end - cut[k][end];
            end = cut[k][end];
        }
        return Partition.of(sizes, layers);
    }

    private static int[] sizes(Partition split) {
        int[] sizes = new int[split.stages()];
        for (int r = 0; r < sizes.length; r++) {
            sizes[r] = split.size(r);
        }
        return sizes;
    }
}
