package dev.ppexec.plan;

import dev.ppexec.otlp.SpanKind;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * How much a forward slows down while other ranks run forwards on the same device.
 *
 * <p>Note [shared device]: ranks that share a device (on the CPU backend every rank: the stream threads of all ranks
 * run on the machine's cores and share its memory bandwidth; on a GPU, ranks placed on one GPU) run each forward
 * slower while the others compute. The model: a forward that the other ranks' forwards overlap for a share o of its
 * time (summed over them; 0..P−1) takes its cost alone times {@code 1 + κ·o}. The fit takes, per traced run, phase,
 * row count and rank, the mean run_batch_device time and o (the other ranks' run_batch_device time on the same
 * {@code device} inside it, over its own); groups them by what the forward computes (phase, rows, the rank's layer
 * count, whether it embeds, whether it has the head); and, in each group traced at overlaps at least
 * {@link #MIN_SPREAD} apart, fits time = a + b·o by least squares weighted by forwards. κ = Σ w·b / Σ w·a over those
 * groups (w: their forwards). One run rarely gives it: within a run, the forwards that overlap little are the
 * pipeline's fill and drain, which on the development machine ran slower for other reasons (a regression there gave
 * a negative κ in 7 of 7 traces); runs of one split and row count at different micro-batch counts (P 2 at M 1 with 4
 * requests beside M 2 with 8) do. No such group, or a negative κ: κ = 0 and the costs stay as traced. κ is held at
 * most {@link #MAX_PER_OVERLAP} = 1, pure processor sharing of one core (two forwards on it each take twice as long):
 * ranks on more cores than one slow each other less, and more than that is load that changed between the runs (on the
 * development machine, shared with other builds at load average 11 to 13, six runs gave 2.3). The fit then
 * divides every traced cost by {@code 1 + κ·o} of its (run, phase, rows, rank) before solving (Note [cost fit]), so
 * the costs are those alone; the planner puts the slowdown back on each candidate from its own simulated overlaps
 * (Note [contention in the simulator] in {@link Planner}), where every traced run's ranks shared one device.
 *
 * @param perOverlap κ, 0..{@link #MAX_PER_OVERLAP}
 * @param fitted     κ as fitted, before it was held in 0..{@link #MAX_PER_OVERLAP}
 * @param groups     how many groups were traced at overlaps far enough apart (0: κ not measured)
 * @param shared     whether every traced run's ranks all ran on one device
 */
public record Contention(double perOverlap, double fitted, int groups, boolean shared) {

    /** The least spread of overlap shares within a group that the fit uses. */
    public static final double MIN_SPREAD = 0.2;
    /** The most κ taken: processor sharing of one core. */
    public static final double MAX_PER_OVERLAP = 1;

    public Contention {
        if (!(perOverlap >= 0 && perOverlap <= MAX_PER_OVERLAP)) {
            throw new IllegalArgumentException("perOverlap = " + perOverlap + "; allowed: 0.." + MAX_PER_OVERLAP);
        }
    }

    /** No slowdown: the costs as traced. */
    public static final Contention NONE = new Contention(0, 0, 0, false);

    /** The slowdown of a forward overlapped for a share {@code overlap} of its time: {@code 1 + κ·overlap}. */
    public double factor(double overlap) {
        return 1 + perOverlap * overlap;
    }

    /**
     * Fits κ on {@code runs}, with {@code devices} their {@link CostFit#deviceTimes} (per phase, rows and rank: time,
     * forwards, overlapped time).
     */
    static Contention fit(List<TracedRun> runs, List<Map<List<Integer>, double[]>> devices) {
        // group (phase, rows, layers, first, last) -> points {overlap share, time per unit, forwards}
        Map<List<Integer>, List<double[]>> groups = new TreeMap<>(CostFit.LEXICAL);
        boolean shared = true;
        for (int i = 0; i < runs.size(); i++) {
            TracedRun run = runs.get(i);
            shared &= run.slices().stream().filter(s -> s.kind() == SpanKind.BATCH_DEVICE)
                    .map(TracedRun.Slice::device).distinct().count() == 1;
            devices.get(i).forEach((key, acc) -> {
                int phase = key.get(0);
                int rows = key.get(1);
                int rank = key.get(2);
                double units = phase == 0 ? (double) rows * run.promptLength() : 1;
                groups.computeIfAbsent(List.of(phase, rows, run.split().size(rank), rank == 0 ? 1 : 0,
                                rank == run.ranks() - 1 ? 1 : 0), k -> new ArrayList<>())
                        .add(new double[] {acc[2] / acc[0], acc[0] / acc[1] / units, acc[1]});
            });
        }
        double slopes = 0;
        double levels = 0;
        int used = 0;
        for (List<double[]> points : groups.values()) {
            double lo = Double.POSITIVE_INFINITY, hi = Double.NEGATIVE_INFINITY;
            double w = 0, sx = 0, sy = 0;
            for (double[] p : points) {
                lo = Math.min(lo, p[0]);
                hi = Math.max(hi, p[0]);
                w += p[2];
                sx += p[2] * p[0];
                sy += p[2] * p[1];
            }
            if (hi - lo < MIN_SPREAD) {
                continue;
            }
            double mx = sx / w, my = sy / w, sxx = 0, sxy = 0;
            for (double[] p : points) {
                sxx += p[2] * (p[0] - mx) * (p[0] - mx);
                sxy += p[2] * (p[0] - mx) * (p[1] - my);
            }
            double slope = sxy / sxx;
            slopes += w * slope;
            levels += w * (my - slope * mx);
            used++;
        }
        double fitted = used == 0 || !(levels > 0) ? 0 : slopes / levels;
        return new Contention(Math.clamp(fitted, 0, MAX_PER_OVERLAP), fitted, used, shared);
    }
}
