package dev.ppexec.otel;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static dev.ppexec.otel.TraceListenerTest.attr;
import static dev.ppexec.otel.TraceListenerTest.str;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Trace level 5 over a real P=2 run on the CPU backend: 3 requests in 2 micro-batches (of 2 and 1
 * requests), a 5-token prompt and 2 decode steps, through a real SDK and an in-memory exporter.
 */
@Timeout(180)
class KernelSlicesTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 11);
    static final int REQUESTS = 3;
    static final int PROMPT = 5;
    static final int DECODE_STEPS = 2;
    /**
     * Kernel slices (the body launches) of a prefill forward: tiny has 4 layers, split 2 + 2; rank 0 embeds, then 9
     * launches per layer; rank 1 adds the head's 4 (gather_last, rmsnorm, matmul, argmax).
     */
    static final Map<Long, Integer> PREFILL_SLICES = Map.of(0L, 1 + 2 * 9, 1L, 2 * 9 + 4);
    /** Of a decode forward (one token, batch <= 16): 6 fused launches per layer; the head is norm_matmul, argmax. */
    static final Map<Long, Integer> DECODE_SLICES = Map.of(0L, 1 + 2 * 6, 1L, 2 * 6 + 2);

    /** Launch order: by start, a launch that took no time before the one that starts where it ends. */
    static final Comparator<SpanData> IN_ORDER = Comparator.comparingLong(SpanData::getStartEpochNanos)
            .thenComparingLong(SpanData::getEndEpochNanos);

    record Traced(List<SpanData> spans, int[][] tokens) {}

    static Traced run(TraceLevel level) {
        InMemorySpanExporter exporter = InMemorySpanExporter.create();
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                .addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
             Pipeline pipeline = Pipeline.builder().model(TINY).stages(2).microBatches(2).build()) {
            List<RunListener> listeners = level.isOff() ? List.of() : List.of(new TraceListener(
                    provider.get(Tracing.SCOPE_NAME), level, TraceSchema.PPEXEC, EpochClock.process(), "host"));
            RunResult result = pipeline.generate(Workload.generated(TINY, REQUESTS, PROMPT, DECODE_STEPS), s -> {},
                    listeners);
            return new Traced(exporter.getFinishedSpanItems(), result.tokens());
        }
    }

    static boolean isKernel(SpanData s) {
        return str(s, SpanContract.KERNEL.name()) != null;
    }

    @Test
    void levelFive_eachMicroBatchsDeviceSlice_holdsOneKernelSlicePerLaunch_tilingIt() {
        List<SpanData> spans = run(TraceLevel.KERNELS).spans();
        Map<String, List<SpanData>> children = spans.stream().filter(KernelSlicesTest::isKernel)
                .collect(Collectors.groupingBy(SpanData::getParentSpanId));
        List<SpanData> devices = spans.stream().filter(s -> s.getName().equals("run_batch_device")).toList();
        assertThat(devices).as("ranks x requests x passes").hasSize(2 * REQUESTS * (DECODE_STEPS + 1));
        int parents = 0;
        for (SpanData d : devices) {
            List<SpanData> kernels = children.getOrDefault(d.getSpanId(), List.of()).stream().sorted(IN_ORDER).toList();
            boolean firstOfMicroBatch = List.of("0", "2").contains(str(d, "rid")); // micro-batches {0, 1} and {2}
            if (!firstOfMicroBatch) {
                assertThat(kernels).as("kernel slices under rid %s's copy of its micro-batch's forward", str(d, "rid")).isEmpty();
                continue;
            }
            parents++;
            long rank = attr(d, "pp_rank");
            Map<Long, Integer> slices = attr(d, "step") == 0 ? PREFILL_SLICES : DECODE_SLICES;
            assertThat(kernels).as("launches of rank %d's forward at step %d", rank, attr(d, "step"))
                    .hasSize(slices.get(rank));
            long sum = 0;
            long previousEnd = d.getStartEpochNanos();
            for (SpanData k : kernels) {
                assertThat(k.getStartEpochNanos()).as("%s starts where the launch before it ended", k.getName())
                        .isEqualTo(previousEnd);
                assertThat(k.getEndEpochNanos()).as("%s ends", k.getName()).isGreaterThanOrEqualTo(k.getStartEpochNanos())
                        .isLessThanOrEqualTo(d.getEndEpochNanos());
                assertThat(k.getTraceId()).isEqualTo(d.getTraceId());
                sum += k.getEndEpochNanos() - k.getStartEpochNanos();
                previousEnd = k.getEndEpochNanos();
            }
            assertThat(previousEnd).as("the last launch ends with the forward").isEqualTo(d.getEndEpochNanos());
            assertThat(sum).isLessThanOrEqualTo(d.getEndEpochNanos() - d.getStartEpochNanos());
        }
        assertThat(parents).as("ranks x micro-batches x passes").isEqualTo(2 * 2 * (DECODE_STEPS + 1));
        assertThat(children.values().stream().mapToInt(List::size).sum()).as("every kernel slice has a device parent")
                .isEqualTo(2 * (19 + 22) + 2 * DECODE_STEPS * (13 + 14));
        assertThat(spans).hasSize((int) (SpanContract.spanCount(REQUESTS, 2, DECODE_STEPS, TraceLevel.KERNELS)
                + SpanContract.kernelSpanCount(2, DECODE_STEPS, 19 + 22, 13 + 14, TraceLevel.KERNELS)));
    }

    @Test
    void levelFive_kernelSlicesAreNamedAsTheLaunch_inOrder_withTheShapeAndTheirForwardsRankAndStream() {
        List<SpanData> spans = run(TraceLevel.KERNELS).spans();
        Map<String, SpanData> byId = spans.stream().collect(Collectors.toMap(SpanData::getSpanId, s -> s));
        Map<String, List<SpanData>> forwards = spans.stream().filter(KernelSlicesTest::isKernel)
                .collect(Collectors.groupingBy(k -> attr(k, "pp_rank") + "/" + attr(k, "pp_mb_id") + "/" + attr(k, "step")));
        List<String> rank0 = names(forwards.get("0/0/0"));
        assertThat(rank0.subList(0, 10)).as("prefill: the unfused list").containsExactly("embed embed",
                "rmsnorm layers.0.attn_norm", "matmul layers.0.qkv", "rope_kv_append layers.0.kv", "attention layers.0.attn",
                "matmul_add layers.0.wo", "rmsnorm layers.0.mlp_norm", "matmul layers.0.w13", "silu_gate layers.0.silu",
                "matmul_add layers.0.w2");
        assertThat(rank0.getLast()).isEqualTo("matmul_add layers.1.w2");
        assertThat(names(forwards.get("0/0/1")).subList(0, 7)).as("decode: the fused list").containsExactly("embed embed",
                "norm_matmul layers.0.qkv", "rope_kv_append layers.0.kv", "attention layers.0.attn",
                "matmul_add layers.0.wo", "norm_gate_up layers.0.w13", "matmul_add layers.0.w2");
        List<String> rank1 = names(forwards.get("1/1/0"));
        assertThat(rank1.getFirst()).isEqualTo("rmsnorm layers.2.attn_norm");
        assertThat(rank1.subList(rank1.size() - 4, rank1.size()))
                .containsExactly("gather_last final", "rmsnorm final_norm", "matmul lm_head", "argmax next");
        List<String> rank1Decode = names(forwards.get("1/1/2"));
        assertThat(rank1Decode.getFirst()).isEqualTo("norm_matmul layers.2.qkv");
        assertThat(rank1Decode.subList(rank1Decode.size() - 2, rank1Decode.size()))
                .as("decode: no gather_last, the final norm fused into the LM head")
                .containsExactly("norm_matmul lm_head", "argmax next");

        // micro-batch 0 holds 2 requests, micro-batch 1 one; prefill runs 5 positions per request, decode 1
        SpanData qkv = kernel(forwards, "0/0/0", "matmul layers.0.qkv");
        assertThat(str(qkv, "kernel")).isEqualTo("matmul");
        assertThat(List.of(attr(qkv, "rows"), attr(qkv, "k"), attr(qkv, "n"))).as("wq|wk|wv packed")
                .containsExactly(10L, 64L, 3 * 64L);
        SpanData decodeQkv = kernel(forwards, "0/0/1", "norm_matmul layers.0.qkv");
        assertThat(List.of(attr(decodeQkv, "rows"), attr(decodeQkv, "k"), attr(decodeQkv, "n")))
                .containsExactly(2L, 64L, 3 * 64L);
        assertThat(attr(kernel(forwards, "0/1/0", "matmul layers.0.qkv"), "rows")).isEqualTo(5);
        SpanData w2 = kernel(forwards, "0/0/0", "matmul_add layers.0.w2");
        assertThat(List.of(attr(w2, "k"), attr(w2, "n"))).containsExactly(256L, 64L);
        SpanData w13 = kernel(forwards, "0/0/1", "norm_gate_up layers.0.w13");
        assertThat(List.of(attr(w13, "k"), attr(w13, "n"))).as("w1|w3 packed").containsExactly(64L, 2 * 256L);
        SpanData head = kernel(forwards, "1/0/0", "matmul lm_head");
        assertThat(List.of(attr(head, "rows"), attr(head, "k"), attr(head, "n"))).as("after gather_last: a row per request")
                .containsExactly(2L, 64L, 256L);
        assertThat(attr(kernel(forwards, "1/0/1", "norm_matmul lm_head"), "rows")).isEqualTo(2);
        SpanData attention = kernel(forwards, "1/0/0", "attention layers.2.attn");
        assertThat(str(attention, "kernel")).isEqualTo("attention");
        assertThat(List.of(attr(attention, "rows"), attr(attention, "n"))).containsExactly(10L, 64L);
        assertThat(attention.getAttributes().get(AttributeKey.longKey("k"))).as("k is a matmul's only").isNull();

        SpanData parent = byId.get(head.getParentSpanId());
        assertThat(parent.getName()).isEqualTo("run_batch_device");
        for (String key : List.of("pp_rank", "pp_mb_id", "step")) {
            assertThat(attr(head, key)).as(key).isEqualTo(attr(parent, key));
        }
        assertThat(str(head, "stream")).isEqualTo(str(parent, "stream")).isNotNull();
        assertThat(head.getAttributes().asMap().keySet().stream().map(AttributeKey::getKey))
                .as("what the parent does not say for the kernel, and its shape")
                .containsExactlyInAnyOrder("pp_rank", "pp_mb_id", "step", "stream", "kernel", "rows", "k", "n");
    }

    @Test
    void runBatchCpu_carriesTheLaunchesItsForwardMade_perList() {
        List<SpanData> cpu = run(TraceLevel.DEFAULT).spans().stream().filter(s -> s.getName().equals("run_batch_cpu"))
                .toList();
        assertThat(cpu).as("ranks x requests x passes").hasSize(2 * REQUESTS * (DECODE_STEPS + 1));
        for (SpanData s : cpu) {
            long rank = attr(s, "pp_rank");
            boolean prefill = attr(s, "step") == 0;
            // setStep, then the body: its kernel slices at level 5
            int expected = 1 + (prefill ? PREFILL_SLICES : DECODE_SLICES).get(rank);
            assertThat(attr(s, "launches")).as("launches of rank %d's %s forward", rank, prefill ? "prefill" : "decode")
                    .isEqualTo(expected);
        }
    }

    @Test
    void levelsFourAndFive_generateBitIdenticalTokens_andLevelFourHasNoKernelSlices() {
        Traced four = run(TraceLevel.DEFAULT);
        Traced five = run(TraceLevel.KERNELS);
        Traced off = run(TraceLevel.OFF);
        assertThat(five.tokens()).isDeepEqualTo(four.tokens()).isDeepEqualTo(off.tokens());
        assertThat(four.spans()).noneMatch(KernelSlicesTest::isKernel).isNotEmpty();
        assertThat(five.spans()).anyMatch(KernelSlicesTest::isKernel);
    }

    private static List<String> names(List<SpanData> kernels) {
        return kernels.stream().sorted(IN_ORDER).map(SpanData::getName).toList();
    }

    private static SpanData kernel(Map<String, List<SpanData>> forwards, String forward, String name) {
        return forwards.get(forward).stream().filter(k -> k.getName().equals(name)).findFirst().orElseThrow();
    }
}
