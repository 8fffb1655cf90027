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

import javax.management.JMException;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * One traced run of 100,000 micro-batch decode steps (a model of 2 small layers with room for
 * 12,500 positions, 8 micro-batches of one request, P=2), level 4, into a counting exporter: from
 * step 2,500 to step 12,000 its heap after GC grows no more than the same run's untraced (tracing
 * holds a window, not the run; the runtime's own growth is not tracing's), spans are exported
 * while the run goes on, and every span of the run arrives. And the ranks' logs hold a window, not
 * the run (Note [bounded logs] in ForwardLog): near its end, a run five times as long holds the
 * same bytes of {@code long[]} (the logs' columns) after GC as a short one on the same pipeline,
 * traced and untraced. The heap that still grows with the run's length is the schedule, a value
 * of every action (with the ranks' per-action arrays), and the KV cache, sized for the sequence;
 * the test prints both.
 */
@Timeout(600)
class LongTracedRunTest {

    static final int DECODE_STEPS = 12_500;
    static final int MICRO_BATCHES = 8;
    static final int FIRST_SAMPLE = 2_500;
    static final int LAST_SAMPLE = 12_000;
    /** The short run's steps, and where it is sampled: as far from its end as the long run's last sample. */
    static final int SHORT_DECODE_STEPS = 2_500;
    static final int SHORT_SAMPLE = SHORT_DECODE_STEPS - (DECODE_STEPS - LAST_SAMPLE);
    /**
     * How far the long run's {@code long[]} bytes may lie above the short run's: the logs' columns of the 80,000
     * extra micro-batch steps, were they kept, would be 4 logs x 4 columns x 8 B x 80,000 = 9.8 MiB.
     */
    static final long SAME_LOG_BYTES = 1L << 20;
    static final String LONG_ARRAY = "[J";
    static final String ACTION = "dev.ppexec.schedule.Action";
    static final String FLOAT_ARRAY = "[F";

    /** Heap after GC, spans exported, and per class the bytes held after GC (one histogram) at the two samples. */
    record Samples(long[] heap, long[] exported, Map<String, Long> lastHistogram) {}

    @Test
    void hundredThousandMicroBatchSteps_inOneTracedRun_holdFlatHeap_andExportAsTheyGo() {
        ModelConfig model = new ModelConfig("long", 16, 8, 1, 2, 8, DECODE_STEPS + 8, 3);
        Workload workload = Workload.generated(model, MICRO_BATCHES, 4, DECODE_STEPS);
        Workload shortWorkload = Workload.generated(model, MICRO_BATCHES, 4, SHORT_DECODE_STEPS);
        LongAdder exported = new LongAdder();
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                // Exported on the delivery thread as each span ends, as the trace file's processor does in batches.
                .addSpanProcessor(SimpleSpanProcessor.create(counting(exported))).build();
             Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(MICRO_BATCHES).build()) {
            Samples untraced = run(pipeline, workload, List.of(), exported, FIRST_SAMPLE, LAST_SAMPLE);
            Samples untracedShort = run(pipeline, shortWorkload, List.of(), exported, SHORT_SAMPLE, SHORT_SAMPLE);
            long exportedBefore = exported.sum();
            TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME), TraceLevel.DEFAULT,
                    TraceSchema.PPEXEC, EpochClock.process(), "host");
            Samples tracedShort = run(pipeline, shortWorkload, List.of(listener), exported, SHORT_SAMPLE, SHORT_SAMPLE);
            long exportedShort = exported.sum() - exportedBefore;
            long beforeLong = exported.sum();
            Samples traced = run(pipeline, workload, List.of(listener), exported, FIRST_SAMPLE, LAST_SAMPLE);
            long expected = SpanContract.spanCount(MICRO_BATCHES, 2, DECODE_STEPS, TraceLevel.DEFAULT);
            long untracedGrowth = untraced.heap()[1] - untraced.heap()[0];
            long tracedGrowth = traced.heap()[1] - traced.heap()[0];
            System.out.printf("long run: %,d micro-batch steps; heap after GC from step %,d to %,d: untraced %.1f -> %.1f MiB,"
                            + " traced %.1f -> %.1f MiB; spans exported by then %,d and %,d; %,d of %,d in all%n",
                    (long) MICRO_BATCHES * DECODE_STEPS, FIRST_SAMPLE, LAST_SAMPLE, untraced.heap()[0] / 1048576.0,
                    untraced.heap()[1] / 1048576.0, traced.heap()[0] / 1048576.0, traced.heap()[1] / 1048576.0,
                    traced.exported()[0] - beforeLong, traced.exported()[1] - beforeLong, exported.sum() - beforeLong,
                    expected);
            assertThat(tracedGrowth - untracedGrowth).as("heap growth that tracing adds, bytes").isLessThan(8L << 20);
            assertThat(traced.exported()[1]).as("spans exported before the run ended")
                    .isGreaterThan(traced.exported()[0]).isPositive();
            for (String how : List.of("untraced", "traced")) {
                Samples shortRun = how.equals("untraced") ? untracedShort : tracedShort;
                Samples longRun = how.equals("untraced") ? untraced : traced;
                System.out.printf("run length, %s: after GC %,d steps before the end of a %,d-step and a %,d-step run:"
                                + " heap %.1f and %.1f MiB; long[] %.2f and %.2f MiB; schedule actions %.1f and %.1f MiB;"
                                + " float[] (KV cache) %.1f and %.1f MiB%n", how, DECODE_STEPS - LAST_SAMPLE,
                        SHORT_DECODE_STEPS, DECODE_STEPS, shortRun.heap()[1] / 1048576.0, longRun.heap()[1] / 1048576.0,
                        mib(shortRun, LONG_ARRAY), mib(longRun, LONG_ARRAY), mib(shortRun, ACTION), mib(longRun, ACTION),
                        mib(shortRun, FLOAT_ARRAY), mib(longRun, FLOAT_ARRAY));
                assertThat(longRun.lastHistogram().get(LONG_ARRAY) - shortRun.lastHistogram().get(LONG_ARRAY))
                        .as("%s: long[] bytes the 5x longer run adds", how).isLessThan(SAME_LOG_BYTES);
            }
            assertThat(exportedShort).isEqualTo(
                    SpanContract.spanCount(MICRO_BATCHES, 2, SHORT_DECODE_STEPS, TraceLevel.DEFAULT));
            assertThat(exported.sum() - beforeLong).isEqualTo(expected);
        }
    }

    /** Samples heap and spans exported at the first progress report past each of the two step marks. */
    private static Samples run(Pipeline pipeline, Workload workload, List<RunListener> listeners, LongAdder exported,
                               int firstMark, int lastMark) {
        Samples s = new Samples(new long[2], new long[2], new HashMap<>());
        int[] taken = {0};
        // Progress comes every 50 ms from the waiting thread, not once per step: sample at the first report past each mark.
        pipeline.generate(workload, steps -> {
            int i = taken[0];
            if (i < 2 && steps >= (i == 0 ? firstMark : lastMark)) {
                s.heap()[i] = heapAfterGc();
                s.exported()[i] = exported.sum();
                if (i == 1) {
                    s.lastHistogram().putAll(histogramAfterGc());
                }
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

    private static double mib(Samples s, String className) {
        return s.lastHistogram().getOrDefault(className, 0L) / 1048576.0;
    }

    /** Bytes held per class after a full GC ({@code jcmd GC.class_histogram}, through its MBean). */
    static Map<String, Long> histogramAfterGc() {
        String table;
        try {
            table = (String) ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcClassHistogram",
                    new Object[] {null}, new String[] {String[].class.getName()});
        } catch (JMException e) {
            throw new IllegalStateException("class histogram", e);
        }
        // Rows: "   1:   700040   16800960  dev.ppexec.schedule.Action"; the class name may carry " (module)".
        Map<String, Long> bytes = new HashMap<>();
        table.lines().map(String::trim).filter(l -> !l.isEmpty() && Character.isDigit(l.charAt(0))).forEach(l -> {
            String[] f = l.split("\\s+");
            if (f.length >= 4 && f[0].endsWith(":")) {
                bytes.merge(f[3], Long.parseLong(f[2]), Long::sum);
            }
        });
        assertThat(bytes).as("histogram rows").containsKey(LONG_ARRAY);
        return bytes;
    }

    static long heapAfterGc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
