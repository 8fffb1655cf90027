package dev.ppexec.plan;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanKind;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.report.TraceReport;
import dev.ppexec.trace.SpanContract;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One traced run, as the planner reads it: its configuration from the resource attributes (otel's RunResource), its
 * level-4 slices once per micro-batch (a slice is exported once per request of the micro-batch), and its measured
 * figures from the {@link TraceReport}.
 *
 * @param source     where it came from (the file), for messages
 * @param model      the preset named by ppexec.model
 * @param split      ppexec.split
 * @param device     ppexec.device ({@code cpu} or {@code cuda})
 * @param slices     the run's run_batch_cpu, run_batch_device and pp_send slices, one per rank, micro-batch and step,
 *                   and at level 5 the kernel slices of each such forward
 * @param measured   the report's run figures (tokens/s, bubble)
 */
public record TracedRun(String source, ModelConfig model, Partition split, int microBatches, int requests,
                        int promptLength, int decodeSteps, String device, List<Slice> slices,
                        TraceReport.RunStats measured) {

    /**
     * One level-4 slice, or level 5's kernel slice, of one micro-batch at one step on one rank.
     *
     * @param name the span's name ({@code matmul layers.3.wq} for a kernel slice)
     * @param rows   the micro-batch's rows (a kernel slice's are its run_batch_device's)
     * @param startNanos when the slice started, epoch ns on the run's clock
     * @param device the {@code device} attribute of a run_batch_device slice ({@code cpu}, {@code cuda:0}), else null
     */
    public record Slice(SpanKind kind, String name, int rank, int peerRank, int microBatch, int step, int rows,
                        long startNanos, long durationNanos, String device) {

        public long endNanos() {
            return startNanos + durationNanos;
        }
    }

    public TracedRun {
        slices = List.copyOf(slices);
    }

    public int ranks() {
        return split.stages();
    }

    /** Output tokens of the run: S + 1 per request. */
    public long tokens() {
        return (long) requests * (decodeSteps + 1);
    }

    /** The spans of one input (a file), named as messages name it ({@code --input t.jsonl}). */
    public record Input(String source, List<SpanRecord> spans) {
    }

    /** What a rank process of a world writes of its own among the run's {@code ppexec.*} attributes (Note [world runs]). */
    private static final List<SpanContract.Key> PER_PROCESS = List.of(SpanContract.WORLD_RANK,
            SpanContract.CLOCK_OFFSET_NS, SpanContract.CLOCK_RTT_NS);
    private static final String RUN_PREFIX = "ppexec.";

    /** One input's spans of one resource: its run key and world rank (null outside a world). */
    private record Part(String source, Map<String, Object> runKey, Object worldRank, List<SpanRecord> spans) {
    }

    /** Reads {@code spans} of one input: {@link #read(List)} of it alone. */
    public static List<TracedRun> read(String source, List<SpanRecord> spans) {
        return read(List.of(new Input(source, spans)));
    }

    /**
     * Groups the inputs' spans into runs and reads every run; a run lacking its configuration or its level-4 slices
     * fails naming the attribute.
     *
     * <p>Note [world runs]: a single-process run's spans share one resource, so a resource is a run. A world's rank
     * processes (ppexec.world.rank) each write their own file under their own resource (host, pid,
     * service.instance.id, world rank, clock; on Kubernetes, a pod each), so the parts of several inputs whose
     * {@code ppexec.*} attributes agree but for the world rank and clock, and whose world ranks differ, are one run: a
     * part joins the first run of its key that lacks its world rank, in the order given, and a second file of a world
     * rank starts another run (the same configuration run twice stays two runs).
     */
    public static List<TracedRun> read(List<Input> inputs) {
        List<List<Part>> groups = new ArrayList<>();
        for (Input input : inputs) {
            Map<Map<String, Object>, List<SpanRecord>> byResource = new LinkedHashMap<>();
            for (SpanRecord span : input.spans()) {
                byResource.computeIfAbsent(span.resource(), r -> new ArrayList<>()).add(span);
            }
            byResource.forEach((resource, spans) -> {
                Object worldRank = resource.get(SpanContract.WORLD_RANK.name());
                Map<String, Object> runKey = new HashMap<>(resource);
                if (worldRank != null) {
                    runKey.keySet().removeIf(k -> !k.startsWith(RUN_PREFIX));
                    PER_PROCESS.forEach(k -> runKey.remove(k.name()));
                }
                Part part = new Part(input.source(), runKey, worldRank, spans);
                for (List<Part> group : groups) {
                    Part first = group.getFirst();
                    if (worldRank != null && first.worldRank() != null && first.runKey().equals(runKey)
                            && group.stream().noneMatch(p -> String.valueOf(p.worldRank()).equals(String.valueOf(worldRank)))) {
                        group.add(part);
                        return;
                    }
                }
                groups.add(new ArrayList<>(List.of(part)));
            });
        }
        List<TracedRun> runs = new ArrayList<>();
        for (List<Part> group : groups) {
            List<String> sources = group.stream().map(Part::source).distinct().toList();
            String source = sources.getFirst() + sources.stream().skip(1)
                    .map(s -> ", " + s.substring(s.startsWith("--input ") ? "--input ".length() : 0))
                    .reduce("", String::concat);
            runs.add(of(source, group.stream().flatMap(p -> p.spans().stream()).toList()));
        }
        return runs;
    }

    private static TracedRun of(String source, List<SpanRecord> spans) {
        Map<String, Object> resource = spans.getFirst().resource();
        String modelName = text(source, resource, SpanContract.RUN_MODEL);
        if (!ModelConfig.PRESETS.contains(modelName)) {
            throw new PlanInputException(source + ": resource attribute " + SpanContract.RUN_MODEL.name() + " '"
                    + modelName + "' is not a preset; allowed: a trace of a preset model: " + String.join(", ", ModelConfig.PRESETS));
        }
        long seed = number(source, resource, SpanContract.RUN_SEED);
        ModelConfig model = ModelConfig.preset(modelName, seed);
        String splitText = text(source, resource, SpanContract.RUN_SPLIT);
        Partition split;
        try {
            split = Partition.parse(splitText, model.layers());
        } catch (IllegalArgumentException e) {
            throw new PlanInputException(source + ": resource attribute " + SpanContract.RUN_SPLIT.name() + ": "
                    + e.getMessage());
        }
        int microBatches = (int) number(source, resource, SpanContract.RUN_MICRO_BATCHES);
        int requests = (int) number(source, resource, SpanContract.RUN_REQUESTS);
        int promptLength = (int) number(source, resource, SpanContract.RUN_PROMPT_LEN);
        int decodeSteps = (int) number(source, resource, SpanContract.RUN_DECODE_STEPS);
        String device = text(source, resource, SpanContract.RUN_DEVICE);
        if (microBatches < 1 || microBatches > requests || promptLength < 1 || decodeSteps < 0) {
            throw new PlanInputException(source + ": resource attributes micro_batches " + microBatches + ", requests "
                    + requests + ", prompt_len " + promptLength + ", decode_steps " + decodeSteps
                    + " do not describe a run; allowed: 1 <= micro_batches <= requests, prompt_len >= 1, decode_steps >= 0");
        }
        List<Slice> slices = new ArrayList<>();
        List<SpanRecord> kernels = new ArrayList<>();
        Set<List<Integer>> seen = new HashSet<>();
        TraceReport.Builder report = TraceReport.builder();
        for (SpanRecord span : spans) {
            report.accept(span);
            SpanKind kind = SpanKind.of(span);
            if (kind == SpanKind.KERNEL) {
                kernels.add(span);
                continue;
            }
            if (kind != SpanKind.BATCH_CPU && kind != SpanKind.BATCH_DEVICE && kind != SpanKind.PP_SEND) {
                continue;
            }
            int rank = span.intAttribute(SpanContract.PP_RANK.name());
            int mb = span.intAttribute(SpanContract.PP_MB_ID.name());
            int step = span.intAttribute(SpanContract.STEP.name());
            Integer rows = span.intAttribute(SpanContract.BATCH_SIZE.name());
            Integer peer = span.intAttribute(SpanContract.PEER_RANK.name());
            if (rows == null || rank < 0 || rank >= split.stages()) {
                throw new PlanInputException(source + ": a " + span.name() + " span has pp_rank " + rank
                        + " and batch_size " + rows + "; allowed: pp_rank 0.." + (split.stages() - 1) + " and a batch_size");
            }
            if (seen.add(List.of(kind.ordinal(), rank, mb, step))) {
                Object sliceDevice = span.attributes().get(SpanContract.DEVICE.name());
                slices.add(new Slice(kind, span.name(), rank, peer == null ? -1 : peer, mb, step, rows,
                        span.startNanos(), span.endNanos() - span.startNanos(),
                        kind == SpanKind.BATCH_DEVICE ? (sliceDevice == null ? device : sliceDevice.toString()) : null));
            }
        }
        Map<List<Integer>, Integer> forwardRows = new HashMap<>();
        for (Slice s : slices) {
            if (s.kind() == SpanKind.BATCH_DEVICE) {
                forwardRows.put(List.of(s.rank(), s.microBatch(), s.step()), s.rows());
            }
        }
        Set<List<Object>> seenKernels = new HashSet<>();
        for (SpanRecord span : kernels) {
            Integer rank = span.intAttribute(SpanContract.PP_RANK.name());
            Integer mb = span.intAttribute(SpanContract.PP_MB_ID.name());
            Integer step = span.intAttribute(SpanContract.STEP.name());
            Integer rows = rank == null || mb == null || step == null ? null : forwardRows.get(List.of(rank, mb, step));
            if (rows == null) {
                throw new PlanInputException(source + ": kernel slice '" + span.name() + "' has pp_rank " + rank
                        + ", pp_mb_id " + mb + ", step " + step + ", which name no run_batch_device span; allowed: "
                        + "kernel slices inside the run_batch_device of their forward (ppexec run --trace-level 5)");
            }
            if (seenKernels.add(List.of(span.name(), rank, mb, step))) {
                slices.add(new Slice(SpanKind.KERNEL, span.name(), rank, -1, mb, step, rows,
                        span.startNanos(), span.endNanos() - span.startNanos(), null));
            }
        }
        if (slices.stream().noneMatch(s -> s.kind() == SpanKind.BATCH_DEVICE)) {
            throw new PlanInputException(source + ": no run_batch_device spans; allowed: a trace of ppexec run at "
                    + "--trace-level 4");
        }
        return new TracedRun(source, model, split, microBatches, requests, promptLength, decodeSteps, device, slices,
                report.build().run());
    }

    private static String text(String source, Map<String, Object> resource, SpanContract.Key key) {
        Object v = resource.get(key.name());
        if (v == null) {
            throw missing(source, key);
        }
        return v.toString();
    }

    private static long number(String source, Map<String, Object> resource, SpanContract.Key key) {
        Object v = resource.get(key.name());
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof Double d && d == Math.rint(d)) {
            return (long) (double) d;
        }
        if (v instanceof String s && s.matches("-?\\d{1,18}")) {
            return Long.parseLong(s);
        }
        throw v == null ? missing(source, key) : new PlanInputException(source + ": resource attribute " + key.name()
                + " '" + v + "' is not a whole number; allowed: an integer");
    }

    private static PlanInputException missing(String source, SpanContract.Key key) {
        return new PlanInputException(source + ": no resource attribute " + key.name()
                + "; allowed: a trace written by ppexec run (it records the run's configuration)");
    }
}
