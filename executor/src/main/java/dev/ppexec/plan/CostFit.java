package dev.ppexec.plan;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanKind;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.SimResult;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Per-rank costs fitted on traced runs, and the {@link CostModel} they give any configuration of the same model.
 *
 * <p>Note [cost fit]: a rank's forward runs its layers and, on the last rank, the final norm and LM head ("head"). Per
 * phase and per micro-batch row count seen in the traces, the fit takes each rank's mean run_batch_device time y, as
 * it would be alone on its device (divided by its slowdown, Note [shared device] in {@link Contention}), and solves y = layers·L + last·H by least squares over all ranks of all runs (prefill per prompt token, decode per
 * forward). Where the ranks cannot tell L and H apart (only one-rank runs, or every run with the same split of a
 * single rank), H is L times the head's share of multiply-adds ({@code vocab / (4·dim + 3·ffn)}); a negative H (noise)
 * becomes 0. Between the row counts seen the costs are interpolated linearly; outside them the nearest is held (prefill
 * per token, decode per forward). A forward never takes less than the mean run_batch_cpu launch of its phase. A
 * transfer costs its activation bytes ({@code rows · positions · dim · 4}) times the time per byte of the traced
 * pp_send slices between neighbours; TOKENS and FEEDBACK copies are free.
 *
 * <p>Note [per-layer costs]: where every run has level 5's kernel slices, which tile each run_batch_device, the fit
 * takes the costs from them instead of solving: per phase and row count, a layer's cost is the mean over forwards of
 * the sum of its slices ({@code matmul layers.3.wq}, {@code attention layers.3.attn}, ...; prefill per prompt token),
 * the head's of the last rank's other slices ({@code gather_last final}, {@code rmsnorm final_norm},
 * {@code matmul lm_head}, {@code argmax next}), and the first rank's embedding of its {@code embed} slice. Unequal
 * layers then have unequal costs, a stage costs the sum of its own layers (the embedding on the first, the head on the
 * last), and the measured-cost split (Planner) balances them. A row count whose forwards miss a layer or the head keeps
 * the solved costs.
 *
 * @param model                 the traced model
 * @param prefillPerToken       per row count: prefill time per prompt token, of a layer and of the head, ns
 * @param decodePerForward      per row count: decode time per forward, of a layer and of the head, ns
 * @param transferNanosPerByte  pp_send time per activation byte
 * @param prefillLaunchNanos    mean run_batch_cpu of a prefill forward
 * @param decodeLaunchNanos     mean run_batch_cpu of a decode forward
 * @param contention            the slowdown of forwards on a shared device (Note [shared device]); the costs above are
 *                              those of a forward alone
 */
public record CostFit(ModelConfig model, NavigableMap<Integer, StageCosts> prefillPerToken,
                      NavigableMap<Integer, StageCosts> decodePerForward, double transferNanosPerByte,
                      double prefillLaunchNanos, double decodeLaunchNanos, Contention contention) {

    /**
     * The time of a layer and of the head, ns; from level 5 also each layer's own and the first rank's embedding
     * (Note [per-layer costs]).
     *
     * @param layerNanos    a layer's (from level 5, the mean of {@code perLayerNanos})
     * @param headNanos     the last rank's (final norm, LM head, argmax)
     * @param perLayerNanos each layer's, from level 5; empty where the fit solved layers·L + last·H
     * @param embedNanos    the first rank's embedding, from level 5; 0 otherwise (the solved L and H absorb it)
     */
    public record StageCosts(double layerNanos, double headNanos, List<Double> perLayerNanos, double embedNanos) {

        public StageCosts {
            perLayerNanos = List.copyOf(perLayerNanos);
        }

        public StageCosts(double layerNanos, double headNanos) {
            this(layerNanos, headNanos, List.of(), 0);
        }

        /** Level 5's costs: each layer's, the head's and the embedding's. */
        public static StageCosts perLayer(List<Double> perLayerNanos, double headNanos, double embedNanos) {
            double mean = perLayerNanos.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
            return new StageCosts(mean, headNanos, perLayerNanos, embedNanos);
        }

        /** Layer {@code index}'s time: its own from level 5, else the fitted layer's. */
        public double layer(int index) {
            return perLayerNanos.isEmpty() ? layerNanos : perLayerNanos.get(index);
        }

        /** The time of rank {@code rank} of {@code split}: its layers, the embedding on the first, the head on the last. */
        public double stage(Partition split, int rank) {
            double nanos = rank == 0 ? embedNanos : 0;
            for (int l = split.first(rank); l < split.end(rank); l++) {
                nanos += layer(l);
            }
            return nanos + (rank == split.stages() - 1 ? headNanos : 0);
        }
    }

    private static final int FLOAT_BYTES = 4;

    public CostFit {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(contention, "contention");
        prefillPerToken = new TreeMap<>(prefillPerToken);
        decodePerForward = new TreeMap<>(decodePerForward);
    }

    /** Fits the runs (Note [cost fit]); they must all be of one model. */
    public static CostFit fit(List<TracedRun> runs) {
        TracedRun first = runs.getFirst();
        for (TracedRun run : runs) {
            if (!run.model().name().equals(first.model().name())) {
                throw new PlanInputException(run.source() + ": model " + run.model().name() + " differs from "
                        + first.source() + "'s " + first.model().name() + "; allowed: traces of one model");
            }
        }
        ModelConfig model = first.model();
        Map<Integer, List<double[]>> prefill = new TreeMap<>();
        Map<Integer, List<double[]>> decode = new TreeMap<>();
        double sendNanos = 0;
        double sendBytes = 0;
        double[] launch = new double[4]; // prefill sum, count, decode sum, count
        Map<Integer, KernelSums> prefillKernels = new TreeMap<>();
        Map<Integer, KernelSums> decodeKernels = new TreeMap<>();
        boolean levelFive = true;
        List<Map<List<Integer>, double[]>> devices = new ArrayList<>();
        for (TracedRun run : runs) {
            devices.add(deviceTimes(run));
            for (TracedRun.Slice s : run.slices()) {
                int phase = s.step() == 0 ? 0 : 1;
                switch (s.kind()) {
                    case BATCH_CPU -> {
                        launch[2 * phase] += s.durationNanos();
                        launch[2 * phase + 1]++;
                    }
                    case PP_SEND -> {
                        if (s.peerRank() == s.rank() + 1) {
                            sendNanos += s.durationNanos();
                            sendBytes += activationBytes(model, s.rows(), s.step() == 0 ? run.promptLength() : 1);
                        }
                    }
                    case BATCH_DEVICE, KERNEL -> {
                        // per (phase, rows, rank) in deviceTimes; kernels below, per forward
                    }
                    default -> throw new AssertionError(s.kind());
                }
            }
        }
        Contention contention = Contention.fit(runs, devices);
        for (int i = 0; i < runs.size(); i++) {
            TracedRun run = runs.get(i);
            Map<List<Integer>, double[]> device = devices.get(i);
            levelFive &= addKernels(run, model.layers(), prefillKernels, decodeKernels, contention, device);
            for (Map.Entry<List<Integer>, double[]> e : device.entrySet()) {
                int phase = e.getKey().get(0);
                int rows = e.getKey().get(1);
                int rank = e.getKey().get(2);
                double mean = e.getValue()[0] / e.getValue()[1] / contention.factor(e.getValue()[2] / e.getValue()[0]);
                double perUnit = phase == 0 ? mean / ((double) rows * run.promptLength()) : mean;
                (phase == 0 ? prefill : decode).computeIfAbsent(rows, k -> new ArrayList<>()).add(
                        new double[] {run.split().size(rank), rank == run.ranks() - 1 ? 1 : 0, perUnit});
            }
        }
        NavigableMap<Integer, StageCosts> prefillCosts = solveAll(model, prefill);
        NavigableMap<Integer, StageCosts> decodeCosts = solveAll(model, decode);
        if (levelFive) {
            prefillKernels.forEach((rows, sums) -> sums.costs().ifPresent(c -> prefillCosts.put(rows, c)));
            decodeKernels.forEach((rows, sums) -> sums.costs().ifPresent(c -> decodeCosts.put(rows, c)));
        }
        return new CostFit(model, prefillCosts, decodeCosts,
                sendBytes == 0 ? 0 : sendNanos / sendBytes,
                launch[1] == 0 ? 0 : launch[0] / launch[1], launch[3] == 0 ? 0 : launch[2] / launch[3], contention);
    }

    /**
     * Per (phase, rows, rank) of {@code run}: the sum of its run_batch_device times, their count, and the time other
     * ranks on the same device were running a forward during them (Note [shared device]).
     */
    static Map<List<Integer>, double[]> deviceTimes(TracedRun run) {
        long origin = run.slices().stream().mapToLong(TracedRun.Slice::startNanos).min().orElse(0);
        List<List<TracedRun.Slice>> byRank = new ArrayList<>();
        List<List<SimResult.Span>> spans = new ArrayList<>();
        for (int r = 0; r < run.ranks(); r++) {
            byRank.add(new ArrayList<>());
            spans.add(new ArrayList<>());
        }
        for (TracedRun.Slice s : run.slices()) {
            if (s.kind() == SpanKind.BATCH_DEVICE) {
                byRank.get(s.rank()).add(s);
            }
        }
        for (int r = 0; r < byRank.size(); r++) {
            byRank.get(r).sort(Comparator.comparingLong(TracedRun.Slice::startNanos));
            for (TracedRun.Slice s : byRank.get(r)) { // relative to the run's first slice: exact in a double
                spans.get(r).add(new SimResult.Span(s.startNanos() - origin, s.endNanos() - origin));
            }
        }
        Map<List<Integer>, double[]> out = new TreeMap<>(LEXICAL);
        for (int r = 0; r < byRank.size(); r++) {
            for (int i = 0; i < byRank.get(r).size(); i++) {
                TracedRun.Slice s = byRank.get(r).get(i);
                double[] acc = out.computeIfAbsent(List.of(s.step() == 0 ? 0 : 1, s.rows(), r), k -> new double[3]);
                acc[0] += s.durationNanos();
                acc[1]++;
                for (int q = 0; q < byRank.size(); q++) {
                    if (q != r && !byRank.get(q).isEmpty() && Objects.equals(byRank.get(q).getFirst().device(), s.device())) {
                        acc[2] += Planner.covered(spans.get(r).get(i), spans.get(q));
                    }
                }
            }
        }
        return out;
    }

    static final Comparator<List<Integer>> LEXICAL = (a, b) -> {
        for (int i = 0; i < a.size(); i++) {
            int c = Integer.compare(a.get(i), b.get(i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    };

    /** Per phase and row count, level 5's sums over forwards: of each layer's slices, the head's and the embedding's. */
    private static final class KernelSums {
        private static final int HEAD = -1;
        private static final int EMBED = -2;

        final double[] layerNanos;
        final long[] layerForwards;
        double headNanos;
        long headForwards;
        double embedNanos;
        long embedForwards;

        KernelSums(int layers) {
            layerNanos = new double[layers];
            layerForwards = new long[layers];
        }

        /** Adds one forward's per-part sums ({@code parts}: layer index, HEAD or EMBED, to its nanos per unit). */
        void add(Map<Integer, Double> parts) {
            parts.forEach((part, nanos) -> {
                if (part == HEAD) {
                    headNanos += nanos;
                    headForwards++;
                } else if (part == EMBED) {
                    embedNanos += nanos;
                    embedForwards++;
                } else {
                    layerNanos[part] += nanos;
                    layerForwards[part]++;
                }
            });
        }

        /** The mean per forward of each part; empty unless every layer and the head were seen. */
        Optional<StageCosts> costs() {
            List<Double> perLayer = new ArrayList<>();
            for (int l = 0; l < layerNanos.length; l++) {
                if (layerForwards[l] == 0) {
                    return Optional.empty();
                }
                perLayer.add(layerNanos[l] / layerForwards[l]);
            }
            if (headForwards == 0) {
                return Optional.empty();
            }
            return Optional.of(StageCosts.perLayer(perLayer, headNanos / headForwards,
                    embedForwards == 0 ? 0 : embedNanos / embedForwards));
        }

        /** The part a kernel slice's time belongs to: its layer ({@code layers.3.wq}), the embedding, else the head. */
        static int part(String source, String name, int layers) {
            String label = name.substring(name.indexOf(' ') + 1);
            if (label.startsWith("layers.")) {
                int dot = label.indexOf('.', "layers.".length());
                String index = label.substring("layers.".length(), dot < 0 ? label.length() : dot);
                if (index.matches("\\d{1,9}") && Integer.parseInt(index) < layers) {
                    return Integer.parseInt(index);
                }
                throw new PlanInputException(source + ": kernel slice '" + name + "' names no layer of the model ("
                        + layers + " layers); allowed: layers.0..layers." + (layers - 1));
            }
            return name.startsWith("embed ") ? EMBED : HEAD;
        }
    }

    /**
     * Adds {@code run}'s kernel slices to the sums of their phase and row count, a forward's slices of one part summed
     * (prefill per prompt token) and divided by its rank's slowdown in that run (Note [shared device]; {@code device}
     * is the run's {@link #deviceTimes}); false when the run has none (not level 5).
     */
    private static boolean addKernels(TracedRun run, int layers, Map<Integer, KernelSums> prefill,
                                      Map<Integer, KernelSums> decode, Contention contention,
                                      Map<List<Integer>, double[]> device) {
        Map<List<Integer>, Map<Integer, Double>> forwards = new LinkedHashMap<>();
        for (TracedRun.Slice s : run.slices()) {
            if (s.kind() == SpanKind.KERNEL) {
                double units = s.step() == 0 ? (double) s.rows() * run.promptLength() : 1;
                forwards.computeIfAbsent(List.of(s.step() == 0 ? 0 : 1, s.rows(), s.rank(), s.microBatch(), s.step()),
                        k -> new TreeMap<>()).merge(KernelSums.part(run.source(), s.name(), layers), s.durationNanos() / units, Double::sum);
            }
        }
        forwards.forEach((key, parts) -> {
            double[] times = device.get(List.of(key.get(0), key.get(1), key.get(2)));
            double factor = times == null ? 1 : contention.factor(times[2] / times[0]);
            parts.replaceAll((part, nanos) -> nanos / factor);
            (key.get(0) == 0 ? prefill : decode).computeIfAbsent(key.get(1), k -> new KernelSums(layers)).add(parts);
        });
        return !forwards.isEmpty();
    }

    /**
     * The costs of {@code split} with {@code microBatches} micro-batches of {@code requests} with prompts of
     * {@code promptLength}: decode steps, prefill at step 0.
     */
    public CostModel costModel(Partition split, int requests, int microBatches, int promptLength) {
        double rows = (double) requests / microBatches;
        StageCosts prefill = at(prefillPerToken, rows);
        StageCosts decode = at(decodePerForward, rows);
        double tokens = rows * promptLength;
        List<Double> prefillForward = new ArrayList<>();
        List<Double> decodeForward = new ArrayList<>();
        for (int r = 0; r < split.stages(); r++) {
            boolean last = r == split.stages() - 1;
            prefillForward.add(Math.max(prefillLaunchNanos, tokens * prefill.stage(split, r)));
            decodeForward.add(Math.max(decodeLaunchNanos, decode.stage(split, r)));
        }
        CostModel prefillCosts = new CostModel(prefillForward,
                transferNanosPerByte * activationBytes(model, rows, promptLength), 0);
        return new CostModel(decodeForward, transferNanosPerByte * activationBytes(model, rows, 1), 0)
                .withPrefill(prefillCosts);
    }

    /** The prefill per-token and decode per-forward costs at {@code rows} (interpolated, Note [cost fit]). */
    public StageCosts prefillAt(double rows) {
        return at(prefillPerToken, rows);
    }

    public StageCosts decodeAt(double rows) {
        return at(decodePerForward, rows);
    }

    /** Whether the traces saw micro-batches of exactly {@code rows} rows. */
    public boolean observed(double rows) {
        return rows == Math.rint(rows) && decodePerForward.containsKey((int) rows)
                && prefillPerToken.containsKey((int) rows);
    }

    private static double activationBytes(ModelConfig model, double rows, int positions) {
        return rows * positions * model.dim() * (double) FLOAT_BYTES;
    }

    private static StageCosts at(NavigableMap<Integer, StageCosts> table, double rows) {
        Map.Entry<Integer, StageCosts> below = table.floorEntry((int) Math.floor(rows));
        Map.Entry<Integer, StageCosts> above = table.ceilingEntry((int) Math.ceil(rows));
        if (below == null) {
            return above.getValue();
        }
        if (above == null || below.getKey().equals(above.getKey())) {
            return below.getValue();
        }
        double t = (rows - below.getKey()) / (above.getKey() - below.getKey());
        StageCosts a = below.getValue();
        StageCosts b = above.getValue();
        if (a.perLayerNanos().isEmpty() || b.perLayerNanos().isEmpty()) {
            return new StageCosts(lerp(a.layerNanos(), b.layerNanos(), t), lerp(a.headNanos(), b.headNanos(), t));
        }
        List<Double> perLayer = new ArrayList<>();
        for (int l = 0; l < a.perLayerNanos().size(); l++) {
            perLayer.add(lerp(a.perLayerNanos().get(l), b.perLayerNanos().get(l), t));
        }
        return StageCosts.perLayer(perLayer, lerp(a.headNanos(), b.headNanos(), t), lerp(a.embedNanos(), b.embedNanos(), t));
    }

    private static double lerp(double a, double b, double t) {
        return a + (b - a) * t;
    }

    private static NavigableMap<Integer, StageCosts> solveAll(ModelConfig model, Map<Integer, List<double[]>> groups) {
        NavigableMap<Integer, StageCosts> out = new TreeMap<>();
        groups.forEach((rows, observations) -> out.put(rows, solve(model, observations)));
        return out;
    }

    /** Least squares of y = layers·L + last·H over {@code observations} ({layers, last, y}); Note [cost fit]. */
    static StageCosts solve(ModelConfig model, List<double[]> observations) {
        double a = 0, b = 0, c = 0, dl = 0, dh = 0;
        for (double[] o : observations) {
            a += o[0] * o[0];
            b += o[0] * o[1];
            c += o[1] * o[1];
            dl += o[0] * o[2];
            dh += o[1] * o[2];
        }
        double det = a * c - b * b;
        if (det > 1e-9 * a * Math.max(c, 1)) {
            double layer = (dl * c - dh * b) / det;
            double head = (a * dh - b * dl) / det;
            if (head >= 0 && layer >= 0) {
                return new StageCosts(layer, head);
            }
            if (head < 0) {
                return new StageCosts(dl / a, 0);
            }
        }
        double ratio = (double) model.vocab() / (4.0 * model.dim() + 3.0 * model.ffn());
        double num = 0, den = 0;
        for (double[] o : observations) {
            double x = o[0] + ratio * o[1];
            num += x * o[2];
            den += x * x;
        }
        double layer = num / den;
        return new StageCosts(layer, ratio * layer);
    }
}
