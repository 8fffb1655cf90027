package dev.ppexec.plan;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceStage;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A traced run of model toy with known costs, as ppexec run would export it at level 4: per rank, micro-batch and
 * step a run_batch_cpu and a run_batch_device slice (once per request of the micro-batch, as the runtime exports
 * them), a pp_send between neighbours, and one Req span per request over {@code requestSpanNanos}.
 */
final class SyntheticTrace {

    static final long T0 = 1_700_000_000_000_000_000L;
    static final ModelConfig TOY = ModelConfig.preset("toy", 42);

    /** Known costs: per rows, prefill ns per token and decode ns per forward of a layer and of the head. */
    record Costs(Map<Integer, CostFit.StageCosts> prefillPerToken, Map<Integer, CostFit.StageCosts> decodePerForward,
                 long transferNanosPerKiB, long prefillLaunchNanos, long decodeLaunchNanos) {

        long device(int step, int rows, int promptLength, int layers, boolean last) {
            double costs = step == 0
                    ? rows * promptLength * prefillPerToken.get(rows).stage(layers, last)
                    : decodePerForward.get(rows).stage(layers, last);
            return Math.round(costs);
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
                    long device = costs.device(step, rows, promptLength, split.size(r), last);
                    spans.add(batch(TraceStage.RUN_BATCH_DEVICE, r, -1, mb, step, rid, rows, at, at + device, resource));
                    if (!last) {
                        long transfer = costs.transfer(step, rows, promptLength);
                        spans.add(batch(TraceStage.PP_SEND, r, r + 1, mb, step, rid, rows, at, at + transfer, resource));
                    }
                }
            }
            Map<String, Object> root = new HashMap<>();
            root.put(SpanContract.RID.name(), String.valueOf(rid));
            root.put(SpanContract.OUTPUT_TOKENS.name(), (long) decodeSteps + 1);
            spans.add(new SpanRecord(SpanContract.REQUEST_PREFIX + rid, T0, T0 + requestSpanNanos, root, resource));
        }
        return spans;
    }

    private static SpanRecord batch(TraceStage stage, int rank, int peer, int mb, int step, int rid, int rows,
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
