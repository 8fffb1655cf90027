package dev.ppexec.report;

import dev.ppexec.otlp.RankKey;
import dev.ppexec.otlp.SpanKind;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Where a rank's device time went, from a level-5 trace: per rank and kernel slice name
 * ({@code matmul layers.3.wq}), how many launches, their total and mean device time, and their
 * share of the rank's device time (its {@code run_batch_device} slices, each micro-batch's counted
 * once whatever its requests). The kernel slices of a forward tile its run_batch_device, so a
 * rank's shares add up to 100 % less the gaps between launches.
 */
public final class KernelReport implements Consumer<SpanRecord> {

    private static final Comparator<RankKey> RANK_ORDER = Comparator.comparing(RankKey::host)
            .thenComparingInt(RankKey::pp).thenComparingInt(RankKey::dp).thenComparingInt(RankKey::tp);

    /** One kernel slice name's figures on one rank. */
    public record KernelStats(String name, String kernel, int count, long totalNanos) {

        public double meanNanos() {
            return (double) totalNanos / count;
        }
    }

    /** One rank's kernels, largest total first; {@code deviceTotalNanos} is the sum of its distinct run_batch_device slices. */
    public record RankKernels(RankKey rank, long deviceTotalNanos, List<KernelStats> kernels) {

        public long kernelTotalNanos() {
            return kernels.stream().mapToLong(KernelStats::totalNanos).sum();
        }

        /** A total's share of the rank's device time; NaN without device time. */
        public double share(long nanos) {
            return deviceTotalNanos == 0 ? Double.NaN : (double) nanos / deviceTotalNanos;
        }
    }

    private record DeviceSlice(int microBatch, int step, long startNanos, long endNanos) {}

    private final Map<RankKey, Map<String, KernelStats>> kernels = new TreeMap<>(RANK_ORDER);
    private final Map<RankKey, Set<DeviceSlice>> device = new HashMap<>();

    @Override
    public void accept(SpanRecord span) {
        SpanKind kind = SpanKind.of(span);
        if (kind == SpanKind.KERNEL) {
            long nanos = span.endNanos() - span.startNanos();
            String kernel = span.stringAttribute(SpanContract.KERNEL.name());
            kernels.computeIfAbsent(RankKey.of(span), k -> new HashMap<>())
                    .merge(span.name(), new KernelStats(span.name(), kernel, 1, nanos),
                            (a, b) -> new KernelStats(a.name(), a.kernel(), a.count() + 1, a.totalNanos() + b.totalNanos()));
        } else if (kind == SpanKind.BATCH_DEVICE) {
            Integer mb = span.intAttribute(SpanContract.PP_MB_ID.name());
            Integer step = span.intAttribute(SpanContract.STEP.name());
            device.computeIfAbsent(RankKey.of(span), k -> new HashSet<>()).add(new DeviceSlice(mb, step == null ? -1 : step,
                    span.startNanos(), span.endNanos()));
        }
    }

    /** Whether the trace held any kernel slice (a trace below level 5 holds none). */
    public boolean isEmpty() {
        return kernels.isEmpty();
    }

    /** Per rank, in rank order, its kernels by total device time, largest first. */
    public List<RankKernels> ranks() {
        List<RankKernels> out = new ArrayList<>();
        kernels.forEach((rank, byName) -> {
            long deviceTotal = device.getOrDefault(rank, Set.of()).stream()
                    .mapToLong(d -> d.endNanos() - d.startNanos()).sum();
            List<KernelStats> sorted = new ArrayList<>(byName.values());
            sorted.sort(Comparator.comparingLong(KernelStats::totalNanos).reversed().thenComparing(KernelStats::name));
            out.add(new RankKernels(rank, deviceTotal, List.copyOf(sorted)));
        });
        return out;
    }

    /** One table per rank: count, total, mean and share of device time of each kernel slice name, then the rank's sum. */
    public void printText(PrintWriter out) {
        boolean hosts = kernels.keySet().stream().map(RankKey::host).distinct().count() > 1;
        out.println("rank   kernel                              count   total ms   mean us  share of device");
        for (RankKernels r : ranks()) {
            String rank = TraceReport.label(r.rank(), hosts);
            for (KernelStats k : r.kernels()) {
                out.printf(Locale.ROOT, "%-6s %-34s %6d  %9.3f  %8.1f  %15s%n", rank, k.name(), k.count(),
                        k.totalNanos() / 1e6, k.meanNanos() / 1e3, TraceReport.percent(r.share(k.totalNanos())));
            }
            out.printf(Locale.ROOT, "%-6s %-34s %6d  %9.3f  %8s  %15s  (device time %.3f ms)%n", rank, "all kernels",
                    r.kernels().stream().mapToInt(KernelStats::count).sum(), r.kernelTotalNanos() / 1e6, "-",
                    TraceReport.percent(r.share(r.kernelTotalNanos())), r.deviceTotalNanos() / 1e6);
        }
    }

    /** The same figures as a JSON tree (shares null without device time), for scripts. */
    public Map<String, Object> toJson() {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RankKernels r : ranks()) {
            List<Map<String, Object>> ks = new ArrayList<>();
            for (KernelStats k : r.kernels()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("name", k.name());
                row.put("kernel", k.kernel());
                row.put("count", k.count());
                row.put("totalMs", k.totalNanos() / 1e6);
                row.put("meanUs", k.meanNanos() / 1e3);
                row.put("deviceShare", finite(r.share(k.totalNanos())));
                ks.add(row);
            }
            Map<String, Object> rank = new LinkedHashMap<>();
            rank.put("rank", r.rank().label());
            rank.put("host", r.rank().host());
            rank.put("deviceTotalMs", r.deviceTotalNanos() / 1e6);
            rank.put("kernelTotalMs", r.kernelTotalNanos() / 1e6);
            rank.put("kernelShare", finite(r.share(r.kernelTotalNanos())));
            rank.put("kernels", ks);
            rows.add(rank);
        }
        return Map.of("ranks", rows);
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
