package dev.ppexec.plan;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceStage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;

/**
 * A traced run of model toy with known costs, as ppexec run would export it at level 4: per rank, micro-batch and
 * step a run_batch_cpu and a run_batch_device slice (once per request of the micro-batch, as the runtime exports
 * them), a pp_send between neighbours, and one Req span per request over {@code requestSpanNanos}. Costs with
 * per-layer times (level 5's) add each forward's kernel slices, once per micro-batch, tiling its run_batch_device.
 */
final class SyntheticTrace {

    static final long T0 = 1_700_000_000_000_000_000L;
    static final ModelConfig TOY = ModelConfig.preset("toy", 42);

    /** Known costs: per rows, prefill ns per token and decode ns per forward of a layer and of the head. */
    record Costs(Map<Integer, CostFit.StageCosts> prefillPerToken, Map<Integer, CostFit.StageCosts> decodePerForward,
                 long transferNanosPerKiB, long prefillLaunchNanos, long decodeLaunchNanos) {

        /** The stage's costs of a forward at {@code step}, and the units they are per (prompt tokens, or 1). */
        private CostFit.StageCosts of(int step, int rows) {
            return step == 0 ? prefillPerToken.get(rows) : decodePerForward.get(rows);
        }

        private static double units(int step, int rows, int promptLength) {
            return step == 0 ? (double) rows * promptLength : 1;
        }

        long device(int step, int rows, int promptLength, Partition split, int rank) {
            if (!of(step, rows).perLayerNanos().isEmpty()) {
                return kernels(step, rows, promptLength, split, rank).values().stream().mapToLong(Long::longValue).sum();
            }
            return Math.round(units(step, rows, promptLength) * of(step, rows).stage(split, rank));
        }

        /**
         * Level 5: the forward's kernel slices, named as the backends name them, and their durations: the embedding on
         * the first rank, two slices per layer (a third of its time, and the rest), two for the head on the last.
         */
        SequencedMap<String, Long> kernels(int step, int rows, int promptLength, Partition split, int rank) {
            CostFit.StageCosts costs = of(step, rows);
            double units = units(step, rows, promptLength);
            SequencedMap<String, Long> out = new LinkedHashMap<>();
            if (rank == 0) {
                out.put("embed embed", Math.round(units * costs.embedNanos()));
            }
            for (int l = split.first(rank); l < split.end(rank); l++) {
                long layer = Math.round(units * costs.layer(l));
                out.put("matmul layers." + l + ".wq", layer / 3);
                out.put("attention layers." + l + ".attn", layer - layer / 3);
            }
            if (rank == split.stages() - 1) {
                long head = Math.round(units * costs.headNanos());
                out.put("matmul lm_head", head / 3);
                out.put("argmax next", head - head / 3);
            }
            return out;
        }

        long transfer(int step, int rows, int promptLength) {
            long bytes = (long) rows * (step == 0 ? promptLength : 1) * TOY.dim() * 4;
            return bytes / 1024 * transferNanosPerKiB;
        }
    }

    private SyntheticTrace() {
    }

    static List<SpanRecord> run(Costs costs, Partition split, int requests, int microBatches, int promptLength,
                                int decodeSteps, long requestSpanNanos) {
        Map<String, Object> resource = resource(split, requests, microBatches, promptLength, decodeSteps);
        List<SpanRecord> spans = new ArrayList<>();
        int rows = requests / microBatches;
        long at = T0;
        for (int rid = 0; rid < requests; rid++) {
            int mb = rid / rows;
            for (int r = 0; r < split.stages(); r++) {
                boolean last = r == split.stages() - 1;
                for (int step = 0; step <= decodeSteps; step++) {
                    long launch = step == 0 ? costs.prefillLaunchNanos() : costs.decodeLaunchNanos();
                    spans.add(batch(TraceStage.RUN_BATCH_CPU, r, -1, mb, step, rid, rows, at, at + launch, resource));
                    long device = costs.device(step, rows, promptLength, split, r);
                    spans.add(batch(TraceStage.RUN_BATCH_DEVICE, r, -1, mb, step, rid, rows, at, at + device, resource));
                    if (rid % rows == 0 && !costs.of(step, rows).perLayerNanos().isEmpty()) {
                        long kernelAt = at;
                        for (Map.Entry<String, Long> k : costs.kernels(step, rows, promptLength, split, r).entrySet()) {
                            spans.add(kernel(k.getKey(), r, mb, step, kernelAt, kernelAt + k.getValue(), resource));
                            kernelAt += k.getValue();
                        }
                    }
                    if (!last) {
                        long transfer = costs.transfer(step, rows, promptLength);
                        spans.add(batch(TraceStage.PP_SEND, r, r + 1, mb, step, rid, rows, at, at + transfer, resource));
                    }
                }
            }
            spans.add(request(rid, decodeSteps, requestSpanNanos, resource));
        }
        return spans;
    }

    /** The resource attributes ppexec run writes for this configuration of model toy on the CPU. */
    static Map<String, Object> resource(Partition split, int requests, int microBatches, int promptLength,
                                        int decodeSteps) {
        Map<String, Object> resource = new HashMap<>();
        resource.put(SpanContract.HOST_NAME.name(), "host");
        resource.put(SpanContract.RUN_MODEL.name(), TOY.name());
        resource.put(SpanContract.RUN_SEED.name(), TOY.seed());
        resource.put(SpanContract.RUN_SPLIT.name(), split.toString());
        resource.put(SpanContract.RUN_STAGES.name(), (long) split.stages());
        resource.put(SpanContract.RUN_MICRO_BATCHES.name(), (long) microBatches);
        resource.put(SpanContract.RUN_REQUESTS.name(), (long) requests);
        resource.put(SpanContract.RUN_PROMPT_LEN.name(), (long) promptLength);
        resource.put(SpanContract.RUN_DECODE_STEPS.name(), (long) decodeSteps);
        resource.put(SpanContract.RUN_DEVICE.name(), "cpu");
        return resource;
    }

    /** The Req span of request {@code rid}: the run's measured tokens/s come from these. */
    static SpanRecord request(int rid, int decodeSteps, long requestSpanNanos, Map<String, Object> resource) {
        Map<String, Object> root = new HashMap<>();
        root.put(SpanContract.RID.name(), String.valueOf(rid));
        root.put(SpanContract.OUTPUT_TOKENS.name(), (long) decodeSteps + 1);
        return new SpanRecord(SpanContract.REQUEST_PREFIX + rid, T0, T0 + requestSpanNanos, root, resource);
    }

    private static SpanRecord kernel(String name, int rank, int mb, int step, long start, long end,
                                     Map<String, Object> resource) {
        Map<String, Object> a = new HashMap<>();
        a.put(SpanContract.PP_RANK.name(), (long) rank);
        a.put(SpanContract.PP_MB_ID.name(), (long) mb);
        a.put(SpanContract.STEP.name(), (long) step);
        a.put(SpanContract.KERNEL.name(), name.substring(0, name.indexOf(' ')));
        return new SpanRecord(name, start, end, a, resource);
    }

    static SpanRecord batch(TraceStage stage, int rank, int peer, int mb, int step, int rid, int rows,
                                    long start, long end, Map<String, Object> resource) {
        Map<String, Object> a = new HashMap<>();
        a.put(SpanContract.PP_RANK.name(), (long) rank);
        a.put(SpanContract.PP_MB_ID.name(), (long) mb);
        a.put(SpanContract.STEP.name(), (long) step);
        a.put(SpanContract.RID.name(), String.valueOf(rid));
        a.put(SpanContract.BATCH_SIZE.name(), (long) rows);
        a.put(SpanContract.FORWARD_MODE.name(), step == 0 ? "prefill" : "decode");
        if (peer >= 0) {
            a.put(SpanContract.PEER_RANK.name(), (long) peer);
        }
        return new SpanRecord(stage.spanName(), start, end, a, resource);
    }
}
