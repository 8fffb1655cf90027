package dev.ppexec.otel;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import io.opentelemetry.api.common.Attributes;

import static dev.ppexec.otel.ContractKeys.doubleKey;
import static dev.ppexec.otel.ContractKeys.longKey;
import static dev.ppexec.otel.ContractKeys.string;

/**
 * The run's configuration as resource attributes (docs/TRACING.md; keys and types from {@link SpanContract#RESOURCE_KEYS}): every span of the run carries
 * them, so a trace says which experiment it came from.
 */
public final class RunResource {

    private RunResource() {}

    public static Attributes of(Pipeline pipeline, Workload workload, TraceLevel level) {
        String device = pipeline.device(0).name();
        int colon = device.indexOf(':'); // the run's device kind: "cuda" of "cuda:0"
        return Attributes.builder()
                .put(string(SpanContract.HOST_NAME), HostName.get())
                .put(longKey(SpanContract.PROCESS_PID), ProcessHandle.current().pid())
                .put(string(SpanContract.RUN_MODEL), pipeline.model().name())
                .put(string(SpanContract.RUN_SPLIT), pipeline.partition().toString())
                .put(longKey(SpanContract.RUN_STAGES), pipeline.ranks())
                .put(longKey(SpanContract.RUN_MICRO_BATCHES), pipeline.microBatches())
                .put(longKey(SpanContract.RUN_REQUESTS), workload.requests())
                .put(longKey(SpanContract.RUN_PROMPT_LEN), workload.promptLength())
                .put(longKey(SpanContract.RUN_DECODE_STEPS), workload.decodeSteps())
                .put(string(SpanContract.RUN_DEVICE), colon < 0 ? device : device.substring(0, colon))
                .put(longKey(SpanContract.RUN_SEED), pipeline.model().seed())
                .put(longKey(SpanContract.RUN_TRACE_LEVEL), level.value())
                .put(doubleKey(SpanContract.RUN_IDEAL_BUBBLE), pipeline.idealBubble(workload.decodeSteps()))
                .build();
    }

    /** What the runs of {@code ppexec bench}'s sweep share (each run's P and M differ): the metrics' resource there. */
    public static Attributes sweep(ModelConfig model, String device, int requests, int promptLength, int decodeSteps) {
        int colon = device.indexOf(':');
        return Attributes.builder()
                .put(string(SpanContract.HOST_NAME), HostName.get())
                .put(longKey(SpanContract.PROCESS_PID), ProcessHandle.current().pid())
                .put(string(SpanContract.RUN_MODEL), model.name())
                .put(longKey(SpanContract.RUN_REQUESTS), requests)
                .put(longKey(SpanContract.RUN_PROMPT_LEN), promptLength)
                .put(longKey(SpanContract.RUN_DECODE_STEPS), decodeSteps)
                .put(string(SpanContract.RUN_DEVICE), colon < 0 ? device : device.substring(0, colon))
                .put(longKey(SpanContract.RUN_SEED), model.seed())
                .build();
    }

    /** A rank process's place in its world and its clock against rank 0's (zero on rank 0). */
    public static Attributes world(int rank, int size, long clockOffsetNanos, long clockRttNanos) {
        return Attributes.builder()
                .put(longKey(SpanContract.WORLD_RANK), rank)
                .put(longKey(SpanContract.WORLD_SIZE), size)
                .put(longKey(SpanContract.CLOCK_OFFSET_NS), clockOffsetNanos)
                .put(longKey(SpanContract.CLOCK_RTT_NS), clockRttNanos)
                .build();
    }
}
