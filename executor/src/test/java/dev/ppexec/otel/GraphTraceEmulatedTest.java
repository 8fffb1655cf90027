package dev.ppexec.otel;

import dev.ppexec.backend.Device;
import dev.ppexec.cuda.StubDriver;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static dev.ppexec.otel.KernelSlicesTest.DECODE_SLICES;
import static dev.ppexec.otel.KernelSlicesTest.PREFILL_SLICES;
import static dev.ppexec.otel.KernelSlicesTest.TINY;
import static dev.ppexec.otel.TraceListenerTest.attr;
import static dev.ppexec.otel.TraceListenerTest.str;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A level-5 trace of a P=2 run on the stub driver with decode graphs (Note [decode graphs] in PipelineRun), through a
 * real SDK and an in-memory exporter: what run_batch_cpu's {@code launches} says, and kernel slices that still tile
 * each decode forward from the marks the graphs recorded.
 */
@Timeout(180)
class GraphTraceEmulatedTest {

    private static final int STEPS = 4;

    private static List<SpanData> tracedRun(boolean cudaGraphs) {
        StubDriver.library();
        StubDriver.reset(1, 1L << 30);
        InMemorySpanExporter exporter = InMemorySpanExporter.create();
        try (Device gpu = StubDriver.platform().open(List.of(0), false).getFirst();
             SdkTracerProvider provider = SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter))
                     .build();
             Pipeline pipeline = Pipeline.builder().model(TINY).stages(2).microBatches(2).devices(List.of(gpu))
                     .cudaGraphs(cudaGraphs).build()) {
            assertThat(pipeline.decodeGraphs()).isEqualTo(cudaGraphs);
            pipeline.generate(Workload.generated(TINY, 3, 5, STEPS), s -> {}, List.of(new TraceListener(
                    provider.get(Tracing.SCOPE_NAME), TraceLevel.KERNELS, TraceSchema.PPEXEC, EpochClock.process(), "host")));
            return exporter.getFinishedSpanItems();
        }
    }

    @Test
    void decodeGraphs_launchTwicePerForward_andTheirMarksTileEachDecodeForward() {
        List<SpanData> spans = tracedRun(true);
        List<SpanData> cpu = spans.stream().filter(s -> s.getName().equals("run_batch_cpu")).toList();
        assertThat(cpu).as("ranks x requests x passes").hasSize(2 * 3 * (STEPS + 1));
        for (SpanData s : cpu) {
            long rank = attr(s, "pp_rank");
            assertThat(attr(s, "launches")).as("launches of rank %d at step %d", rank, attr(s, "step"))
                    .isEqualTo(attr(s, "step") == 0 ? 1 + PREFILL_SLICES.get(rank) : 2);
        }
        Map<String, List<SpanData>> kernels = spans.stream().filter(s -> str(s, "kernel") != null)
                .collect(Collectors.groupingBy(SpanData::getParentSpanId));
        int decodeForwards = 0;
        for (SpanData d : spans.stream().filter(s -> s.getName().equals("run_batch_device") && attr(s, "step") > 0)
                .toList()) {
            List<SpanData> slices = kernels.getOrDefault(d.getSpanId(), List.of()).stream()
                    .sorted(KernelSlicesTest.IN_ORDER).toList();
            if (slices.isEmpty()) {
                continue; // a request's copy of its micro-batch's forward
            }
            decodeForwards++;
            assertThat(slices).hasSize(DECODE_SLICES.get(attr(d, "pp_rank")));
            long previousEnd = d.getStartEpochNanos();
            for (SpanData k : slices) {
                assertThat(k.getStartEpochNanos()).as("%s starts where the launch before it ended", k.getName())
                        .isEqualTo(previousEnd);
                assertThat(k.getEndEpochNanos()).as("%s ends after it starts, within its forward: a mark of this"
                        + " replay", k.getName()).isBetween(k.getStartEpochNanos(), d.getEndEpochNanos());
                previousEnd = k.getEndEpochNanos();
            }
            assertThat(previousEnd).as("the last launch ends with the forward").isEqualTo(d.getEndEpochNanos());
        }
        assertThat(decodeForwards).as("ranks x micro-batches x decode steps").isEqualTo(2 * 2 * STEPS);
    }

    @Test
    void eagerDecode_launchesSetStepAndTheBody() {
        List<SpanData> cpu = tracedRun(false).stream().filter(s -> s.getName().equals("run_batch_cpu")
                && attr(s, "step") > 0).toList();
        assertThat(cpu).isNotEmpty().allSatisfy(s -> assertThat(attr(s, "launches"))
                .isEqualTo(1 + DECODE_SLICES.get(attr(s, "pp_rank"))));
    }
}
