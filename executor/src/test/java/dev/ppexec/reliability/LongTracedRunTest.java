package dev.ppexec.reliability;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.TraceListener;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.sdk.common.CompletableResultCode;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import io.opentelemetry.sdk.trace.export.SpanExporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One traced run of 100,000 micro-batch decode steps (a model of 2 small layers with room for
 * 12,500 positions, 8 micro-batches of one request, P=2), level 4, into a counting exporter: from
 * step 2,500 to step 12,000 its heap after GC grows no more than the same run's untraced (tracing
 * holds a window, not the run; the runtime's own growth is not tracing's), spans are exported
 * while the run goes on, and every span of the run arrives.
 */
@Timeout(600)
class LongTracedRunTest {

    static final int DECODE_STEPS = 12_500;
    static final int MICRO_BATCHES = 8;
    static final int FIRST_SAMPLE = 2_500;
    static final int LAST_SAMPLE = 12_000;

    /** Heap after GC and spans exported at the two samples. */
    record Samples(long[] heap, long[] exported) {}

    @Test
    void hundredThousandMicroBatchSteps_inOneTracedRun_holdFlatHeap_andExportAsTheyGo() {
        ModelConfig model = new ModelConfig("long", 16, 8, 1, 2, 8, DECODE_STEPS + 8, 3);
        Workload workload = Workload.generated(model, MICRO_BATCHES, 4, DECODE_STEPS);
        LongAdder exported = new LongAdder();
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                // Exported on the delivery thread as each span ends, as the trace file's processor does in batches.
                .addSpanProcessor(SimpleSpanProcessor.create(counting(exported))).build();
             Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(MICRO_BATCHES).build()) {
            Samples untraced = run(pipeline, workload, List.of(), exported);
            TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME), TraceLevel.DEFAULT,
                    TraceSchema.PPEXEC, EpochClock.process(), "host");
            Samples traced = run(pipeline, workload, List.of(listener), exported);
            long expected = SpanContract.spanCount(MICRO_BATCHES, 2, DECODE_STEPS, TraceLevel.DEFAULT);
            long untracedGrowth = untraced.heap()[1] - untraced.heap()[0];
            long tracedGrowth = traced.heap()[1] - traced.heap()[0];
            System.out.printf("long run: %,d micro-batch steps; heap after GC from step %,d to %,d: untraced %.1f -> %.1f MiB,"
                            + " traced %.1f -> %.1f MiB; spans exported by then %,d and %,d; %,d of %,d in all%n",
                    (long) MICRO_BATCHES * DECODE_STEPS, FIRST_SAMPLE, LAST_SAMPLE, untraced.heap()[0] / 1048576.0,
                    untraced.heap()[1] / 1048576.0, traced.heap()[0] / 1048576.0, traced.heap()[1] / 1048576.0,
                    traced.exported()[0], traced.exported()[1], exported.sum(), expected);
            assertThat(tracedGrowth - untracedGrowth).as("heap growth that tracing adds, bytes").isLessThan(8L << 20);
            assertThat(traced.exported()[1]).as("spans exported before the run ended")
                    .isGreaterThan(traced.exported()[0]).isPositive();
            assertThat(exported.sum()).isEqualTo(expected);
        }
    }

    private static Samples run(Pipeline pipeline, Workload workload, List<RunListener> listeners, LongAdder exported) {
        Samples s = new Samples(new long[2], new long[2]);
        int[] taken = {0};
        // Progress comes every 50 ms from the waiting thread, not once per step: sample at the first report past each mark.
        pipeline.generate(workload, steps -> {
            int i = taken[0];
            if (i < 2 && steps >= (i == 0 ? FIRST_SAMPLE : LAST_SAMPLE)) {
                s.heap()[i] = heapAfterGc();
                s.exported()[i] = exported.sum();
                taken[0]++;
            }
        }, listeners);
        assertThat(taken[0]).as("progress reached both samples before the run ended").isEqualTo(2);
        return s;
    }

    private static SpanExporter counting(LongAdder exported) {
        return new SpanExporter() {
            @Override
            public CompletableResultCode export(Collection<SpanData> spans) {
                exported.add(spans.size());
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode flush() {
                return CompletableResultCode.ofSuccess();
            }

            @Override
            public CompletableResultCode shutdown() {
                return CompletableResultCode.ofSuccess();
            }
        };
    }

    static long heapAfterGc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
