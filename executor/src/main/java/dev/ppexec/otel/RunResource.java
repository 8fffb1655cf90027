package dev.ppexec.otel;

import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.TraceLevel;
import io.opentelemetry.api.common.Attributes;

/**
 * The run's configuration as resource attributes (docs/TRACING.md): every span of the run carries
 * them, so a trace says which experiment it came from.
 */
public final class RunResource {

    private RunResource() {}

    public static Attributes of(Pipeline pipeline, Workload workload, TraceLevel level) {
        String device = pipeline.device(0).name();
        int colon = device.indexOf(':');
        return Attributes.builder()
                .put("host.name", HostName.get())
                .put("process.pid", ProcessHandle.current().pid())
                .put("ppexec.model", pipeline.model().name())
                .put("ppexec.split", pipeline.partition().toString())
                .put("ppexec.stages", pipeline.ranks())
                .put("ppexec.micro_batches", pipeline.microBatches())
                .put("ppexec.requests", workload.requests())
                .put("ppexec.prompt_len", workload.promptLength())
                .put("ppexec.decode_steps", workload.decodeSteps())
                .put("ppexec.device", colon < 0 ? device : device.substring(0, colon))
                .put("ppexec.seed", pipeline.model().seed())
                .put("ppexec.trace_level", level.value())
                .put("ppexec.ideal_bubble", pipeline.idealBubble(workload.decodeSteps()))
                .build();
    }
}
