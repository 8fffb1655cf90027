package dev.ppexec.dist;

import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.trace.SpanContract;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The transfer times in a world's rank trace files, per span name ({@code pp_send}, {@code pp_recv}) and transport:
 * count, p50 and p99 of the spans' durations (nearest rank). scripts/gpu-check's transports section prints them:
 * {@code java -cp 'lib/*' dev.ppexec.dist.TransferStats LABEL FILE...} writes one
 * {@code summary: transfer LABEL pp_recv | INFO | ipc: p50 … us, p99 … us over N spans} line per name and transport.
 */
public final class TransferStats {

    /** One span name and transport: how many spans, and their duration's p50 and p99. */
    record Stats(String span, String transport, int count, long p50Nanos, long p99Nanos) {
    }

    private TransferStats() {
    }

    /** The statistics of every pp_send and pp_recv span in {@code files}, by name then transport. */
    static List<Stats> of(List<Path> files) {
        Map<String, List<Long>> durations = new TreeMap<>();
        for (Path f : files) {
            OtlpJsonReader.read(f, false, s -> {
                if (s.name().equals("pp_send") || s.name().equals("pp_recv")) {
                    Object transport = s.attributes().get(SpanContract.TRANSPORT.name());
                    durations.computeIfAbsent(s.name() + " " + transport, k -> new ArrayList<>())
                            .add(s.endNanos() - s.startNanos());
                }
            }, skip -> { });
        }
        List<Stats> out = new ArrayList<>();
        durations.forEach((key, list) -> {
            long[] sorted = list.stream().mapToLong(Long::longValue).sorted().toArray();
            String[] k = key.split(" ", 2);
            out.add(new Stats(k[0], k[1], sorted.length, percentile(sorted, 50), percentile(sorted, 99)));
        });
        return out;
    }

    /** The nearest-rank {@code p}-th percentile of {@code sorted} (ascending, not empty). */
    static long percentile(long[] sorted, int p) {
        int rank = (int) Math.ceil(p / 100.0 * sorted.length);
        return sorted[Math.max(rank, 1) - 1];
    }

    /** {@code LABEL FILE...}: one summary line per span name and transport, on standard output. */
    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: TransferStats LABEL FILE...");
            System.exit(2);
        }
        List<Stats> stats = of(Arrays.stream(args, 1, args.length).map(Path::of).toList());
        for (Stats s : stats) {
            System.out.printf(Locale.ROOT, "summary: transfer %s %s | INFO | %s: p50 %.1f us, p99 %.1f us over %d spans%n",
                    args[0], s.span(), s.transport(), s.p50Nanos() / 1e3, s.p99Nanos() / 1e3, s.count());
        }
        if (stats.isEmpty()) {
            System.out.printf("summary: transfer %s | FAIL | no pp_send or pp_recv span in the trace files%n", args[0]);
            System.exit(1);
        }
    }
}
