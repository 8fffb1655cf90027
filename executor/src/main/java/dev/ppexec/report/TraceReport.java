package dev.ppexec.report;

import dev.ppexec.io.Printable;
import dev.ppexec.otlp.Flows;
import dev.ppexec.otlp.RankKey;
import dev.ppexec.otlp.SliceTable;
import dev.ppexec.otlp.SpanKind;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.schedule.Bubble;
import dev.ppexec.trace.SpanContract;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The CPU-versus-device figures of a traced run, from its spans: per rank, how long the host
 * spent launching micro-batches and how long the device spent running them, how idle the device
 * was in between, and how long a launch waited for its work to start; for the run, throughput
 * and the measured bubble next to the ideal one.
 *
 * <p>Build it from span records ({@link #builder()}, {@link #of}): those of an OTLP-JSON file, or
 * those of a run adapted from the SDK's span data. Level-4 copies of one micro-batch's slice (one
 * per request) count once.
 */
public final class TraceReport {

    /**
     * One rank's figures.
     *
     * @param microBatches           distinct pp_mb_id values launched
     * @param forwards               run_batch_cpu slices (micro-batch forwards launched)
     * @param cpuTotalNanos          total host time of those launches
     * @param deviceSlices           run_batch_device slices
     * @param deviceTotalNanos       total device time of the forwards
     * @param deviceFirstNanos       first device start (epoch ns)
     * @param deviceLastNanos        last device end (epoch ns)
     * @param launches               launches paired with their device slice
     * @param launchLatencyTotalNanos sum over those pairs of device start minus launch start
     */
    public record RankStats(RankKey rank, int microBatches, int forwards, long cpuTotalNanos, int deviceSlices,
                            long deviceTotalNanos, long deviceFirstNanos, long deviceLastNanos, int launches,
                            long launchLatencyTotalNanos) {

        public double cpuMeanNanos() {
            return forwards == 0 ? Double.NaN : (double) cpuTotalNanos / forwards;
        }

        public double deviceMeanNanos() {
            return deviceSlices == 0 ? Double.NaN : (double) deviceTotalNanos / deviceSlices;
        }

        /** Idle share of the device between its first and last slice: the rank's bubble. */
        public double deviceIdleShare() {
            long span = deviceLastNanos - deviceFirstNanos;
            return deviceSlices == 0 || span <= 0 ? Double.NaN : 1.0 - (double) deviceTotalNanos / span;
        }

        public double launchLatencyMeanNanos() {
            return launches == 0 ? Double.NaN : (double) launchLatencyTotalNanos / launches;
        }
    }

    /**
     * The run's figures.
     *
     * @param requests         Req spans
     * @param outputTokens     sum of their output_tokens
     * @param countedRequests  Req spans that carry output_tokens (sglang's roots do not)
     * @param requestSpanNanos first Req start to last Req end
     * @param deviceSpanNanos  first device start to last device end, over all ranks
     * @param measuredBubble   1 − Σ device busy / (ranks × deviceSpanNanos)
     * @param idealBubble      resource attribute ppexec.ideal_bubble, else the generation schedule's (Note [ideal
     *                         bubble] in Bubble) from ppexec.stages, ppexec.micro_batches and ppexec.decode_steps,
     *                         or what the trace shows of them
     * @param idealSource      where idealBubble comes from
     */
    public record RunStats(int requests, long outputTokens, int countedRequests, long requestSpanNanos, long deviceSpanNanos,
                           double measuredBubble, double idealBubble, String idealSource) {

        public double tokensPerSecond() {
            return countedRequests == 0 || requestSpanNanos <= 0 ? Double.NaN : outputTokens * 1e9 / requestSpanNanos;
        }
    }

    private final List<RankStats> ranks;
    private final RunStats run;
    private final SliceTable slices;
    private final List<String> warnings;
    private final Map<RankKey, Long> clockRttNanos;
    private final TimelineKernels kernels;

    private TraceReport(List<RankStats> ranks, RunStats run, SliceTable slices, List<String> warnings,
                        Map<RankKey, Long> clockRttNanos, TimelineKernels kernels) {
        this.kernels = kernels;
        this.warnings = warnings;
        this.clockRttNanos = clockRttNanos;
        this.ranks = ranks;
        this.run = run;
        this.slices = slices;
    }

    public static Builder builder() {
        return new Builder();
    }

    public static TraceReport of(Collection<SpanRecord> spans) {
        Builder b = builder();
        spans.forEach(b);
        return b.build();
    }

    /** Ranks in order of DP, TP and PP rank. */
    public List<RankStats> ranks() {
        return ranks;
    }

    public RunStats run() {
        return run;
    }

    /** What the trace lacks of its run (ranks, requests) and what it holds past belief (output_tokens), one sentence each. */
    public List<String> warnings() {
        return warnings;
    }

    /**
     * Per rank of a merged world, the uncertainty its spans were put on rank 0's clock with
     * ({@code ppexec.clock_rtt_ns}, Note [merged world] in {@link dev.ppexec.otlp.TraceFiles});
     * empty for a trace without it (one process).
     */
    public Map<RankKey, Long> clockRttNanos() {
        return clockRttNanos;
    }

    /** The level-4 slices, for the timeline. */
    SliceTable slices() {
        return slices;
    }

    /** Level 5's kernel slices, for the timeline (none below level 5). */
    TimelineKernels kernels() {
        return kernels;
    }

    /** The figures as a table, for people ("-" where a figure has nothing to stand on). */
    public void printText(PrintWriter out) {
        for (String w : warnings) {
            out.println("warning: " + Printable.text(w)); // names from the trace (rid, span names)
        }
        if (ranks.isEmpty()) {
            out.println("no run_batch_cpu or run_batch_device spans: was the run traced at level 4?");
        } else {
            out.println("rank         micro-batches  forwards  cpu total ms  cpu mean us  device total ms  device mean us"
                    + "  device idle  launch->device us");
        }
        boolean hosts = ranks.stream().map(r -> r.rank().host()).distinct().count() > 1;
        List<String> withoutDevice = new ArrayList<>();
        for (RankStats r : ranks) {
            boolean device = r.deviceSlices() > 0;
            if (!device) {
                withoutDevice.add(label(r.rank(), hosts));
            }
            out.printf(Locale.ROOT, "%-12s %13d  %8d  %12.3f  %11s  %15s  %14s  %11s  %17s%n",
                    label(r.rank(), hosts), r.microBatches(), r.forwards(), r.cpuTotalNanos() / 1e6,
                    fixed(r.cpuMeanNanos() / 1e3), device ? String.format(Locale.ROOT, "%.3f", r.deviceTotalNanos() / 1e6)
                            : "-", fixed(r.deviceMeanNanos() / 1e3), percent(r.deviceIdleShare()),
                    fixed(r.launchLatencyMeanNanos() / 1e3));
        }
        if (!clockRttNanos.isEmpty()) {
            List<String> clocks = new ArrayList<>();
            for (RankStats r : ranks) {
                Long rtt = clockRttNanos.get(r.rank());
                clocks.add(label(r.rank(), hosts) + " " + (rtt == null ? "-" : String.format(Locale.ROOT, "%.1f us", rtt / 1e3)));
            }
            out.println("clock: merged onto rank 0's clock within " + String.join(", ", clocks)
                    + " (" + SpanContract.CLOCK_RTT_NS.name() + ")");
        }
        if (!withoutDevice.isEmpty()) {
            out.println("device: the trace holds no device time for " + String.join(", ", withoutDevice)
                    + " (no run_batch_device spans: sglang's traces have none; ppexec writes them at level 4)");
        }
        out.printf(Locale.ROOT, "bubble: measured %s, ideal %s (%s)%n", percent(run.measuredBubble()),
                percent(run.idealBubble()), run.idealSource());
        if (run.requests() > 0 && run.countedRequests() == 0) {
            out.printf(Locale.ROOT, "throughput: %d requests in %.3f ms; the trace holds no output_tokens%n",
                    run.requests(), run.requestSpanNanos() / 1e6);
        } else if (run.requests() > 0) {
            out.printf(Locale.ROOT, "throughput: %d requests, %d output tokens in %.3f ms: %s tokens/s%n",
                    run.requests(), run.outputTokens(), run.requestSpanNanos() / 1e6, fixed(run.tokensPerSecond()));
        } else {
            out.println("throughput: no Req spans in the trace");
        }
    }

    /** The figures as a JSON tree (maps, lists, numbers; NaN as null, and device figures null for a rank without device slices), for scripts. */
    public Map<String, Object> toJson() {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (RankStats r : ranks) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("rank", r.rank().label());
            row.put("host", r.rank().host());
            row.put("pp", r.rank().pp());
            row.put("dp", r.rank().dp());
            row.put("tp", r.rank().tp());
            row.put("microBatches", r.microBatches());
            row.put("forwards", r.forwards());
            row.put("cpuTotalMs", r.cpuTotalNanos() / 1e6);
            row.put("cpuMeanUs", number(r.cpuMeanNanos() / 1e3));
            row.put("deviceSlices", r.deviceSlices());
            row.put("deviceTotalMs", r.deviceSlices() == 0 ? null : r.deviceTotalNanos() / 1e6);
            row.put("deviceMeanUs", number(r.deviceMeanNanos() / 1e3));
            row.put("deviceIdleShare", number(r.deviceIdleShare()));
            row.put("launchToDeviceMeanUs", number(r.launchLatencyMeanNanos() / 1e3));
            Long rtt = clockRttNanos.get(r.rank());
            row.put("clockRttUs", rtt == null ? null : rtt / 1e3);
            rows.add(row);
        }
        Map<String, Object> runRow = new LinkedHashMap<>();
        runRow.put("requests", run.requests());
        runRow.put("outputTokens", run.outputTokens());
        runRow.put("seconds", run.requests() == 0 ? null : run.requestSpanNanos() / 1e9);
        runRow.put("tokensPerSecond", number(run.tokensPerSecond()));
        runRow.put("deviceSpanMs", run.deviceSpanNanos() == 0 ? null : run.deviceSpanNanos() / 1e6);
        runRow.put("measuredBubble", number(run.measuredBubble()));
        runRow.put("idealBubble", number(run.idealBubble()));
        runRow.put("idealBubbleSource", run.idealSource());
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("ranks", rows);
        root.put("run", runRow);
        root.put("warnings", warnings);
        return root;
    }

    static String label(RankKey rank, boolean withHost) {
        return withHost ? rank.host() + ":" + rank.label() : rank.label();
    }

    private static String fixed(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
    }

    static String percent(double share) {
        return Double.isNaN(share) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * share);
    }

    private static Double number(double v) {
        return Double.isFinite(v) ? v : null;
    }

    /** Missing ranks or requests named in a warning, at most. */
    private static final int MAX_LISTED = 8;

    /**
     * Note [plausible tokens]: one request's tokens per second above which its output_tokens cannot
     * be what it generated: every token takes at least one forward of the whole model, and no
     * forward takes under a microsecond. A value past this, past what the run's own resource says a
     * request generates (ppexec.decode_steps + 1), or past a 32-bit count is named in a warning and
     * left out of tokens/s, so one bad number cannot make the run's throughput absurd.
     */
    static final double MAX_TOKENS_PER_SECOND_PER_REQUEST = 1e6;

    /** Takes spans one at a time; holds the level-4 slices and level 5's kernel slices compactly, and a few sums. */
    public static final class Builder implements Consumer<SpanRecord> {

        private final SliceTable slices = new SliceTable();
        private final TimelineKernels kernels = new TimelineKernels();
        private int requests;
        private long outputTokens;
        private int countedRequests;
        private long firstRequestStart = Long.MAX_VALUE;
        private long lastRequestEnd = Long.MIN_VALUE;
        private Integer stages;
        private Integer microBatches;
        private Double idealBubble;
        private Integer decodeSteps;
        private long maxOutputTokens;
        private Integer runRequests;
        private final Set<Integer> ppRanks = new HashSet<>();
        private final Set<String> requestIds = new HashSet<>();
        private final List<String> implausible = new ArrayList<>();
        private int implausibleCount;
        private final Map<RankKey, Long> clockRttNanos = new HashMap<>();

        private Builder() {}

        @Override
        public void accept(SpanRecord span) {
            SpanKind kind = SpanKind.of(span);
            Integer pp = span.intAttribute(SpanContract.PP_RANK.name());
            if (pp != null) {
                ppRanks.add(pp);
            }
            if (pp != null && span.resource().get(SpanContract.CLOCK_RTT_NS.name()) instanceof Number rtt) {
                clockRttNanos.putIfAbsent(RankKey.of(span), rtt.longValue());
            }
            if (kind.batch()) {
                slices.add(span);
            } else if (kind == SpanKind.KERNEL) {
                kernels.add(span);
            } else if (kind == SpanKind.REQUEST) {
                requests++;
                requestIds.add(span.stringAttribute(SpanContract.RID.name()));
                Integer tokens = plausibleTokens(span);
                outputTokens += tokens == null ? 0 : tokens;
                countedRequests += tokens == null ? 0 : 1;
                maxOutputTokens = Math.max(maxOutputTokens, tokens == null ? 0 : tokens);
                firstRequestStart = Math.min(firstRequestStart, span.startNanos());
                lastRequestEnd = Math.max(lastRequestEnd, span.endNanos());
            }
            if (stages == null) {
                stages = asInt(span.resource().get(SpanContract.RUN_STAGES.name()));
            }
            if (microBatches == null) {
                microBatches = asInt(span.resource().get(SpanContract.RUN_MICRO_BATCHES.name()));
            }
            if (decodeSteps == null) {
                decodeSteps = asInt(span.resource().get(SpanContract.RUN_DECODE_STEPS.name()));
            }
            if (runRequests == null) {
                runRequests = asInt(span.resource().get(SpanContract.RUN_REQUESTS.name()));
            }
            if (idealBubble == null && span.resource().get(SpanContract.RUN_IDEAL_BUBBLE.name()) instanceof Number n) {
                idealBubble = n.doubleValue();
            }
        }

        /** The span's output_tokens, or null when it has none or one past Note [plausible tokens] (then named). */
        private Integer plausibleTokens(SpanRecord span) {
            Object given = span.attributes().get(SpanContract.OUTPUT_TOKENS.name());
            Integer tokens = span.intAttribute(SpanContract.OUTPUT_TOKENS.name());
            if (given == null) {
                return null;
            }
            Integer steps = asInt(span.resource().get(SpanContract.RUN_DECODE_STEPS.name()));
            long nanos = span.endNanos() - span.startNanos();
            String why;
            if (tokens == null) {
                why = "is not a 32-bit count";
            } else if (steps != null && tokens > steps + 1L) {
                why = "is more than a request of this run generates (ppexec.decode_steps " + steps + " + 1)";
            } else if (tokens * 1e9 > MAX_TOKENS_PER_SECOND_PER_REQUEST * Math.max(nanos, 1)) {
                why = String.format(Locale.ROOT, "in %.3f ms is %.3g tokens/s for one request, above %,.0f (a token takes "
                        + "a forward, a forward at least 1 us)", nanos / 1e6, tokens * 1e9 / Math.max(nanos, 1),
                        MAX_TOKENS_PER_SECOND_PER_REQUEST);
            } else {
                return tokens;
            }
            if (implausibleCount++ < MAX_LISTED) {
                implausible.add(span.name() + " (rid " + span.stringAttribute(SpanContract.RID.name()) + "): output_tokens "
                        + given + " " + why + "; left out of tokens/s");
            }
            return null;
        }

        private static Integer asInt(Object v) {
            return v instanceof Number n ? Integer.valueOf(n.intValue()) : null;
        }

        public TraceReport build() {
            Map<RankKey, Sums> sums = new HashMap<>();
            Set<Integer> allMicroBatches = new HashSet<>();
            for (int i = 0; i < slices.size(); i++) {
                Sums s = sums.computeIfAbsent(rank(i), k -> new Sums());
                long dur = slices.end(i) - slices.start(i);
                switch (slices.kind(i)) {
                    case BATCH_CPU -> {
                        s.forwards++;
                        s.cpuTotal += dur;
                        s.microBatches.add(slices.microBatch(i));
                    }
                    case BATCH_DEVICE -> {
                        s.deviceSlices++;
                        s.deviceTotal += dur;
                        s.deviceFirst = Math.min(s.deviceFirst, slices.start(i));
                        s.deviceLast = Math.max(s.deviceLast, slices.end(i));
                        s.microBatches.add(slices.microBatch(i));
                    }
                    default -> { }
                }
                allMicroBatches.add(slices.microBatch(i));
            }
            Skew skew = new Skew();
            Flows.forEach(slices, (source, target, type) -> {
                if (type == Flows.Type.LAUNCH) {
                    Sums s = sums.get(rank(source));
                    s.launches++;
                    s.latencyTotal += slices.start(target) - slices.start(source);
                } else if (!clockRttNanos.isEmpty()) {
                    skew.check(source, target);
                }
            });
            List<RankStats> ranks = new ArrayList<>();
            sums.forEach((k, s) -> ranks.add(new RankStats(k, s.microBatches.size(), s.forwards, s.cpuTotal,
                    s.deviceSlices, s.deviceTotal, s.deviceSlices == 0 ? 0 : s.deviceFirst,
                    s.deviceSlices == 0 ? 0 : s.deviceLast, s.launches, s.latencyTotal)));
            ranks.sort(Comparator.comparingInt((RankStats r) -> r.rank().dp()).thenComparingInt(r -> r.rank().tp())
                    .thenComparingInt(r -> r.rank().pp()).thenComparing(r -> r.rank().host()));
            List<String> warnings = new ArrayList<>(warnings());
            if (skew.count > 0) {
                warnings.add(skew.warning());
            }
            return new TraceReport(List.copyOf(ranks), runStats(ranks, allMicroBatches.size()), slices,
                    List.copyOf(warnings), Map.copyOf(clockRttNanos), kernels);
        }

        /**
         * Transfers whose receive starts before its send by more than the two ranks' clock
         * uncertainties together: the merged clocks are off by more than they say.
         */
        private final class Skew {
            int count;
            int worst = -1;
            long worstEarlyNanos;
            long worstUncertaintyNanos;

            void check(int send, int recv) {
                long uncertainty = clockRttNanos.getOrDefault(rank(send), 0L) + clockRttNanos.getOrDefault(rank(recv), 0L);
                long early = slices.start(send) - slices.start(recv);
                if (early > uncertainty) {
                    count++;
                    if (worst < 0 || early - uncertainty > worstEarlyNanos - worstUncertaintyNanos) {
                        worst = recv;
                        worstEarlyNanos = early;
                        worstUncertaintyNanos = uncertainty;
                    }
                }
            }

            String warning() {
                return String.format(Locale.ROOT, "%d pp_recv slices start before their pp_send by more than the "
                        + "clock uncertainty they were merged with (%s of both ranks); the worst: %s micro-batch %d "
                        + "step %d, %.3f ms early, uncertainty %.3f ms", count, SpanContract.CLOCK_RTT_NS.name(),
                        rank(worst).label(), slices.microBatch(worst), slices.step(worst), worstEarlyNanos / 1e6,
                        worstUncertaintyNanos / 1e6);
            }
        }

        /**
         * What the trace lacks of its run, by the run's own resource attributes (ppexec.stages,
         * ppexec.requests): ranks without a span, requests without a root; then the output_tokens
         * left out of tokens/s (Note [plausible tokens]).
         */
        private List<String> warnings() {
            List<String> out = new ArrayList<>();
            if (stages != null && ppRanks.size() < stages) {
                List<Integer> missing = new ArrayList<>();
                for (int r = 0; r < stages && missing.size() < MAX_LISTED; r++) {
                    if (!ppRanks.contains(r)) {
                        missing.add(r);
                    }
                }
                out.add(String.format(Locale.ROOT, "the trace holds spans of %d of the run's %d ranks (ppexec.stages); "
                        + "missing: PP%s", ppRanks.size(), stages, joined(missing, stages - ppRanks.size(), ", PP")));
            }
            if (runRequests != null && requestIds.size() < runRequests) {
                List<Integer> missing = new ArrayList<>();
                for (int r = 0; r < runRequests && missing.size() < MAX_LISTED; r++) {
                    if (!requestIds.contains(Integer.toString(r))) {
                        missing.add(r);
                    }
                }
                out.add(String.format(Locale.ROOT, "the trace holds %d of the run's %d requests (ppexec.requests); "
                        + "missing: Req %s", requestIds.size(), runRequests, joined(missing,
                        runRequests - requestIds.size(), ", Req ")));
            }
            out.addAll(implausible);
            if (implausibleCount > implausible.size()) {
                out.add(String.format(Locale.ROOT, "%,d more requests' output_tokens left out of tokens/s the same way",
                        implausibleCount - implausible.size()));
            }
            return List.copyOf(out);
        }

        private static String joined(List<Integer> listed, int total, String separator) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < listed.size(); i++) {
                sb.append(i == 0 ? "" : separator).append(listed.get(i));
            }
            return total > listed.size() ? sb + String.format(Locale.ROOT, " and %,d more", total - listed.size())
                    : sb.toString();
        }

        private RunStats runStats(List<RankStats> ranks, int microBatchesSeen) {
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            long busy = 0;
            int deviceRanks = 0;
            for (RankStats r : ranks) {
                if (r.deviceSlices() > 0) {
                    deviceRanks++;
                    busy += r.deviceTotalNanos();
                    first = Math.min(first, r.deviceFirstNanos());
                    last = Math.max(last, r.deviceLastNanos());
                }
            }
            long deviceSpan = deviceRanks == 0 ? 0 : last - first;
            double measured = deviceSpan <= 0 ? Double.NaN : Bubble.measured(busy, deviceRanks, deviceSpan);
            double ideal;
            String source;
            if (idealBubble != null) {
                ideal = idealBubble;
                source = "resource attribute ppexec.ideal_bubble";
            } else if (decodeSteps == null && requests > 0 && countedRequests == 0) {
                ideal = Double.NaN; // an sglang trace: its roots say nothing of the tokens generated
                source = "the trace holds neither ppexec.decode_steps nor output_tokens";
            } else {
                int p = stages != null ? stages : (int) ranks.stream().map(r -> r.rank().pp()).distinct().count();
                int m = microBatches != null ? microBatches : microBatchesSeen;
                // a request yields S + 1 tokens
                int s = decodeSteps != null ? decodeSteps : (int) Math.max(0, maxOutputTokens - 1);
                ideal = p == 0 || m == 0 ? Double.NaN : Bubble.idealGeneration(p, m, s);
                source = (s == 0 ? "(P-1)/(M+P-1)" : "1-(S+1)M/(S*max(M,P)+M+P-1)") + ", P=" + p + ", M=" + m
                        + ", S=" + s + (stages != null && microBatches != null && decodeSteps != null ? ""
                        : ", counted in the trace");
            }
            long requestSpan = requests == 0 ? 0 : lastRequestEnd - firstRequestStart;
            return new RunStats(requests, outputTokens, countedRequests, requestSpan, deviceSpan, measured, ideal, source);
        }

        private RankKey rank(int slice) {
            return slices.track(slices.trackId(slice)).process().rank();
        }
    }

    /** Running sums of one rank while the report is built. */
    private static final class Sums {
        final Set<Integer> microBatches = new HashSet<>();
        int forwards;
        long cpuTotal;
        int deviceSlices;
        long deviceTotal;
        long deviceFirst = Long.MAX_VALUE;
        long deviceLast = Long.MIN_VALUE;
        int launches;
        long latencyTotal;
    }
}
