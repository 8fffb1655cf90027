package dev.ppexec.check;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceStage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * One decode row of {@code scripts/gpu-check}: a {@code ppexec run}'s decode steps (from its level-4 trace) against
 * the HBM floor of the device and PyTorch's decode step on the same weights.
 *
 * <p>Note [HBM floor]: a decode step reads every weight once (each layer's matrices and norms, the final norm and
 * the LM head; of the embedding only the batch's rows, left out), so it takes at least
 * {@link #weightBytesPerStep} / the device's peak memory bandwidth ({@code CudaPlatform.DeviceInfo
 * #peakMemoryBytesPerSecond}), whatever the batch. A row's fraction of the floor is that time over its measured
 * step time: 1.0 would be a step that only streams the weights at peak bandwidth.
 */
public final class DecodeRow {

    /** The attribute of run_batch_cpu holding the forward's launches ([G] item 1). */
    static final String LAUNCHES = "launches";

    private DecodeRow() {}

    /** Bytes of weights one decode step reads (Note [HBM floor]): fp32, the embedding's rows left out. */
    public static long weightBytesPerStep(ModelConfig c) {
        long dim = c.dim();
        long perLayer = 4 * dim * dim + 3 * dim * c.ffn() + 2 * dim;
        return Float.BYTES * (c.layers() * perLayer + dim + dim * c.vocab());
    }

    /**
     * A run's decode phase.
     *
     * @param steps              distinct decode steps seen
     * @param stepNanos          the phase (first decode launch to last decode device end) per step
     * @param meanCpuNanos       per rank, mean run_batch_cpu of a decode forward
     * @param meanDeviceNanos    per rank, mean run_batch_device of a decode forward
     * @param launchesPerForward mean {@value #LAUNCHES} attribute of the decode run_batch_cpu spans, NaN when absent
     */
    public record Figures(int steps, double stepNanos, double[] meanCpuNanos, double[] meanDeviceNanos,
                          double launchesPerForward) {}

    /**
     * The decode figures of one run's spans. A micro-batch's run_batch_cpu and run_batch_device are one slice per
     * request (as in sglang); they count once per (rank, micro-batch, step).
     *
     * @throws IllegalArgumentException when the spans hold no decode run_batch_cpu and run_batch_device
     */
    public static Figures decodeFigures(Collection<SpanRecord> spans) {
        String cpu = TraceStage.RUN_BATCH_CPU.spanName();
        String device = TraceStage.RUN_BATCH_DEVICE.spanName();
        record Key(String name, int rank, int microBatch, int step) {}
        Set<Key> seen = new HashSet<>();
        Set<Integer> steps = new HashSet<>();
        Map<Integer, long[]> perRank = new TreeMap<>(); // rank -> {cpu nanos, cpu forwards, device nanos, device forwards}
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        double launches = 0;
        int launchCounts = 0;
        for (SpanRecord s : spans) {
            boolean isCpu = s.name().equals(cpu);
            if (!isCpu && !s.name().equals(device)
                    || !"decode".equals(s.stringAttribute(SpanContract.FORWARD_MODE.name()))) {
                continue;
            }
            Integer rank = s.intAttribute(SpanContract.PP_RANK.name());
            Integer mb = s.intAttribute(SpanContract.PP_MB_ID.name());
            Integer step = s.intAttribute(SpanContract.STEP.name());
            if (rank == null || mb == null || step == null
                    || !seen.add(new Key(s.name(), rank, mb, step))) {
                continue;
            }
            steps.add(step);
            long[] r = perRank.computeIfAbsent(rank, k -> new long[4]);
            int at = isCpu ? 0 : 2;
            r[at] += s.endNanos() - s.startNanos();
            r[at + 1]++;
            if (isCpu) {
                first = Math.min(first, s.startNanos());
                Integer n = s.intAttribute(LAUNCHES);
                if (n != null) {
                    launches += n;
                    launchCounts++;
                }
            } else {
                last = Math.max(last, s.endNanos());
            }
        }
        if (perRank.isEmpty() || first == Long.MAX_VALUE || last == Long.MIN_VALUE) {
            throw new IllegalArgumentException("no decode run_batch_cpu and run_batch_device spans (forward_mode "
                    + "decode, with pp_rank, pp_mb_id and step); allowed: a trace of trace level 4 or more");
        }
        int ranks = perRank.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        double[] meanCpu = new double[ranks];
        double[] meanDevice = new double[ranks];
        perRank.forEach((rank, r) -> {
            meanCpu[rank] = r[1] == 0 ? Double.NaN : r[0] / (double) r[1];
            meanDevice[rank] = r[3] == 0 ? Double.NaN : r[2] / (double) r[3];
        });
        return new Figures(steps.size(), (last - first) / (double) steps.size(), meanCpu, meanDevice,
                launchCounts == 0 ? Double.NaN : launches / launchCounts);
    }

    /** One PyTorch run of the same model and batch ({@code scripts/reference_torch.py}'s output). */
    public record Torch(String mode, double stepMillis, int[][] tokens) {}

    /** A row's status and detail, as gpu-check's table prints them. */
    public record Line(String status, String detail) {}

    /**
     * The row: step time, decode tokens/s, fraction of the HBM floor, launches per forward, mean
     * run_batch_cpu/run_batch_device per rank, then each PyTorch run's step time, ppexec's speed-up over it and
     * how many requests' tokens are identical. PASS when every PyTorch run's tokens are identical, WARN when at
     * least 90% of the requests are, FAIL below; INFO without a PyTorch run.
     *
     * @param peakBytesPerSecond the device's peak memory bandwidth; 0 when unknown (no fraction is printed)
     */
    public static Line line(ModelConfig model, int batch, Figures f, double peakBytesPerSecond, int[][] tokens,
                            List<Torch> torch) {
        double stepSeconds = f.stepNanos() / 1e9;
        long bytes = weightBytesPerStep(model);
        StringBuilder d = new StringBuilder(String.format(Locale.ROOT, "step %.3f ms, %.0f tok/s", stepSeconds * 1e3,
                batch / stepSeconds));
        if (peakBytesPerSecond > 0) {
            double floor = bytes / peakBytesPerSecond;
            d.append(String.format(Locale.ROOT, ", HBM floor %.1f us = %.1f%% (%.1f MB at %.1f GB/s)", floor * 1e6,
                    100 * floor / stepSeconds, bytes / 1e6, peakBytesPerSecond / 1e9));
        } else {
            d.append(", HBM floor unknown (no peak bandwidth)");
        }
        d.append(Double.isNaN(f.launchesPerForward()) ? ", launches/forward n/a (no launches attribute)"
                : String.format(Locale.ROOT, ", %.1f launches/forward", f.launchesPerForward()));
        d.append(", mean run_batch_cpu/run_batch_device us:");
        for (int r = 0; r < f.meanCpuNanos().length; r++) {
            d.append(String.format(Locale.ROOT, " PP%d %.0f/%.0f", r, f.meanCpuNanos()[r] / 1e3,
                    f.meanDeviceNanos()[r] / 1e3));
        }
        String status = "INFO";
        List<String> equalities = new ArrayList<>();
        for (Torch t : torch) {
            d.append(String.format(Locale.ROOT, "; PyTorch %s %.3f ms (ppexec %.2fx)", t.mode(), t.stepMillis(),
                    t.stepMillis() / (stepSeconds * 1e3)));
            int equal = equalRows(tokens, t.tokens());
            equalities.add(equal + "/" + tokens.length + " = " + t.mode());
            String s = equal == tokens.length ? "PASS" : equal * 10 >= tokens.length * 9 ? "WARN" : "FAIL";
            status = worse(status, s);
        }
        if (!equalities.isEmpty()) {
            d.append("; tokens ").append(String.join(", ", equalities));
        }
        return new Line(status, d.toString());
    }

    private static String worse(String a, String b) {
        List<String> order = List.of("INFO", "PASS", "WARN", "FAIL");
        return order.indexOf(a) >= order.indexOf(b) ? a : b;
    }

    private static int equalRows(int[][] ours, int[][] theirs) {
        int n = 0;
        for (int i = 0; i < ours.length && i < theirs.length; i++) {
            n += Arrays.equals(ours[i], theirs[i]) ? 1 : 0;
        }
        return n;
    }
}
