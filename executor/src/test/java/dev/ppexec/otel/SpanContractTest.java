package dev.ppexec.otel;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.otlp.SpanKind;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.AttributeType;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Timeout;

import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The span contract ({@link SpanContract}) is the whole truth: a real traced run at level 5 writes
 * no span name, attribute key or resource key the contract does not name, each with the
 * contract's type, and the readers' {@link SpanKind} places every span.
 */
@Timeout(120)
class SpanContractTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 5);

    @ParameterizedTest
    @EnumSource(TraceSchema.class)
    void levelFiveRun_writesOnlyNamesAndKeysOfTheContract_withTheirTypes(TraceSchema schema) {
        Workload workload = Workload.generated(TINY, 6, 4, 3);
        List<SpanData> spans;
        Attributes resource;
        int prefillSlices;
        int decodeSlices;
        InMemorySpanExporter memory = InMemorySpanExporter.create();
        try (Pipeline pipeline = Pipeline.builder().model(TINY).stages(3).microBatches(3).build()) {
            resource = RunResource.of(pipeline, workload, TraceLevel.KERNELS);
            prefillSlices = StageProgram.kernelSlices(pipeline.partition(), 2, 4);
            decodeSlices = StageProgram.kernelSlices(pipeline.partition(), 2, 1);
            try (SdkTracerProvider provider = SdkTracerProvider.builder().setResource(Resource.create(resource))
                    .addSpanProcessor(SimpleSpanProcessor.create(memory)).build()) {
                TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME), TraceLevel.KERNELS,
                        schema, EpochClock.process(), "host");
                pipeline.generate(workload, s -> {}, List.of(listener));
                spans = memory.getFinishedSpanItems();
            }
        }
        assertThat(spans).hasSize((int) (SpanContract.spanCount(6, 3, 3, TraceLevel.KERNELS)
                + SpanContract.kernelSpanCount(3, 3, prefillSlices, decodeSlices, TraceLevel.KERNELS)));
        Set<String> keysSeen = new java.util.HashSet<>();
        for (SpanData s : spans) {
            assertThat(SpanContract.namesSpan(s.getName())).as("span name '%s' is in the contract", s.getName()).isTrue();
            s.getAttributes().forEach((k, v) -> {
                SpanContract.Key key = SpanContract.spanKey(k.getKey());
                assertThat(key).as("attribute '%s' of %s is in the contract", k.getKey(), s.getName()).isNotNull();
                assertThat(typeOf(k)).as("type of '%s' on %s", k.getKey(), s.getName()).isEqualTo(key.type());
                keysSeen.add(k.getKey());
            });
        }
        List<String> expected = SpanContract.SPAN_KEYS.stream()
                .filter(k -> schema == TraceSchema.SGLANG || !SpanContract.SGLANG_KEYS.contains(k))
                .map(SpanContract.Key::name).toList();
        assertThat(keysSeen).as("every span key of the contract (sglang's own only in its schema) is written at level 5")
                .containsExactlyInAnyOrderElementsOf(expected);

        Map<String, SpanContract.Key> resourceKeys = SpanContract.RESOURCE_KEYS.stream()
                .collect(Collectors.toMap(SpanContract.Key::name, k -> k));
        assertThat(resource.asMap().keySet().stream().map(AttributeKey::getKey).toList())
                .as("the run's resource keys are the contract's").containsExactlyInAnyOrderElementsOf(resourceKeys.keySet());
        resource.forEach((k, v) -> assertThat(typeOf(k)).as("type of resource key '%s'", k.getKey())
                .isEqualTo(resourceKeys.get(k.getKey()).type()));

        Map<String, Object> resourceMap = SpanRecords.attributes(resource);
        Set<SpanKind> kinds = EnumSet.noneOf(SpanKind.class);
        for (SpanData s : spans) {
            SpanKind kind = SpanKind.of(SpanRecords.of(s, resourceMap));
            assertThat(kind).as("the readers place %s", s.getName()).isNotIn(SpanKind.OTHER, SpanKind.RANK_OTHER);
            kinds.add(kind);
        }
        assertThat(kinds).containsExactlyInAnyOrder(SpanKind.REQUEST, SpanKind.THREAD, SpanKind.BATCH_CPU,
                SpanKind.BATCH_DEVICE, SpanKind.PP_SEND, SpanKind.PP_RECV, SpanKind.REQUEST_SLICE, SpanKind.KERNEL);
    }

    static SpanContract.Type typeOf(AttributeKey<?> key) {
        AttributeType t = key.getType();
        return switch (t) {
            case STRING -> SpanContract.Type.STRING;
            case LONG -> SpanContract.Type.LONG;
            case DOUBLE -> SpanContract.Type.DOUBLE;
            default -> throw new AssertionError("attribute '" + key.getKey() + "' has type " + t + "; the contract has none");
        };
    }
}
