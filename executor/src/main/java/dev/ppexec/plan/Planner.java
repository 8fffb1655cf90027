package dev.ppexec.plan;

import dev.ppexec.model.Partition;
import dev.ppexec.schedule.Action;
import dev.ppexec.schedule.ActionKind;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.Schedule;
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

    /**
     * The traced runs whose own configuration the fit predicts more than {@code tolerance} (a share) away from their
     * measured tokens/s. One fit of several traces reproduces each only if their costs agree; on a shared machine they
     * disagree when the load changed between the traces.
     */
    public List<Traced> disagreeing(List<TracedRun> runs, double tolerance) {
        List<Traced> out = new ArrayList<>();
        for (TracedRun run : runs) {
            Traced t = traced(run);
            if (Math.abs(t.predicted().tokensPerSecond() / run.measured().tokensPerSecond() - 1) > tolerance) {
                out.add(t);
            }
        }
        return out;
    }

    /** The simulator's prediction for {@code split} with {@code microBatches}, with contention where fitted. */
    public Candidate predict(Partition split, SplitKind kind, int microBatches) {
        CostModel alone = fit.costModel(split, requests, microBatches, promptLength);
        Schedule schedule = Schedules.generation(split.stages(), microBatches, decodeSteps);
        SimResult sim = Simulator.simulate(schedule, alone);
        Contention contention = fit.contention();
        if (contention.shared() && contention.perOverlap() > 0 && split.stages() > 1) {
            for (int round = 0; round < CONTENTION_ROUNDS; round++) {
                SimResult next = Simulator.simulate(schedule, shared(alone, overlapShares(schedule, sim), contention));
                boolean settled = Math.abs(next.makespan() - sim.makespan()) <= SETTLED * sim.makespan();
                sim = next;
                if (settled) {
                    break;
                }
            }
        }
        double makespan = sim.makespan() + overheadNanos(microBatches);
        double tokens = (double) requests * (decodeSteps + 1);
        return new Candidate(split, kind, microBatches, fit.observed((double) requests / microBatches), sim, makespan,
                makespan <= 0 ? Double.NaN : tokens * 1e9 / makespan);
    }

    /**
     * Note [contention in the simulator]: where the traced ranks shared a device, the fit's costs are those of a forward
     * alone (Note [shared device] in {@link Contention}). A candidate is simulated with them; then, per rank and phase,
     * the share of its forwards' time that other ranks' forwards overlap in that simulation, o, sets its forward cost
     * to alone·(1 + κ·o), and the schedule is simulated again, until the makespan moves by less than a millionth
     * ({@value #CONTENTION_ROUNDS} rounds at most): processor sharing by per-rank mean, as the fit measured it.
     */
    private static final int CONTENTION_ROUNDS = 20;
    private static final double SETTLED = 1e-6;

    /** Per phase (0: prefill, 1: decode) and rank: the share of its FORWARD time the other ranks' FORWARDs overlap. */
    static double[][] overlapShares(Schedule schedule, SimResult sim) {
        int ranks = schedule.ranks();
        List<List<SimResult.Span>> forwards = new ArrayList<>();
        List<List<Integer>> phases = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            List<SimResult.Span> spans = new ArrayList<>();
            List<Integer> phase = new ArrayList<>();
            List<Action> actions = schedule.rank(r);
            for (int i = 0; i < actions.size(); i++) {
                if (actions.get(i).kind() == ActionKind.FORWARD) {
                    spans.add(sim.span(r, i));
                    phase.add(actions.get(i).step() == 0 ? 0 : 1);
                }
            }
            forwards.add(spans);
            phases.add(phase);
        }
        double[][] shares = new double[2][ranks];
        for (int r = 0; r < ranks; r++) {
            double[] own = new double[2];
            for (int i = 0; i < forwards.get(r).size(); i++) {
                SimResult.Span f = forwards.get(r).get(i);
                int phase = phases.get(r).get(i);
                own[phase] += f.duration();
                for (int q = 0; q < ranks; q++) {
                    if (q != r) {
                        shares[phase][r] += covered(f, forwards.get(q));
                    }
                }
            }
            for (int phase = 0; phase < 2; phase++) {
                shares[phase][r] = own[phase] == 0 ? 0 : shares[phase][r] / own[phase];
            }
        }
        return shares;
    }

    /** The time of {@code span} covered by {@code others} (one rank's, in stream order: sorted, not overlapping). */
    static double covered(SimResult.Span span, List<SimResult.Span> others) {
        int lo = 0, hi = others.size();
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (others.get(mid).end() <= span.start()) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        double covered = 0;
        for (int i = lo; i < others.size() && others.get(i).start() < span.end(); i++) {
            covered += Math.max(0, Math.min(span.end(), others.get(i).end()) - Math.max(span.start(), others.get(i).start()));
        }
        return covered;
    }

    /** {@code alone}'s forward costs times each rank's slowdown at its overlap shares ({@link #overlapShares}). */
    private static CostModel shared(CostModel alone, double[][] shares, Contention contention) {
        CostModel prefill = alone.at(0);
        List<Double> decodeCosts = new ArrayList<>();
        List<Double> prefillCosts = new ArrayList<>();
        for (int r = 0; r < shares[0].length; r++) {
            prefillCosts.add(prefill.forwardCost(r) * contention.factor(shares[0][r]));
            decodeCosts.add(alone.forwardCost(r) * contention.factor(shares[1][r]));
        }
        return new CostModel(decodeCosts, alone.transferCost(), alone.copyCost())
                .withPrefill(new CostModel(prefillCosts, prefill.transferCost(), prefill.copyCost()));
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
