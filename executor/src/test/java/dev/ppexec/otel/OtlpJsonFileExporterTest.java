package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

@Timeout(120)
class OtlpJsonFileExporterTest {

    /** What a span says, as the file writes it: ids in hex, times as decimal strings, attributes by key. */
    record Written(String traceId, String parentSpanId, String name, int kind, String start, String end,
                   Map<String, String> attributes) {}

    @Test
    void fileLines_parseBack_toTheSpansRecordedInMemory(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("nested/trace.jsonl");
        InMemorySpanExporter memory = InMemorySpanExporter.create();
        ModelConfig model = ModelConfig.preset("tiny", 3);
        List<SpanData> recorded;
        try (SdkTracerProvider provider = SdkTracerProvider.builder()
                .setResource(Resource.getDefault().merge(Resource.builder().put("service.name", "ppexec").build()))
                .addSpanProcessor(SimpleSpanProcessor.create(memory))
                .addSpanProcessor(BatchSpanProcessor.builder(OtlpJsonFileExporter.create(file)).setMaxExportBatchSize(16).build())
                .build();
             Pipeline pipeline = Pipeline.builder().model(model).stages(2).microBatches(2).build()) {
            TraceListener listener = new TraceListener(provider.get(Tracing.SCOPE_NAME, Tracing.SCOPE_VERSION),
                    TraceLevel.DEFAULT, TraceSchema.PPEXEC, EpochClock.process(), "host");
            pipeline.generate(Workload.generated(model, 3, 4, 2), s -> {}, List.of(listener));
            assertThat(Files.exists(file)).as("renamed into place only on shutdown").isFalse();
            recorded = memory.getFinishedSpanItems();
        }
        assertThat(dir.resolve("nested").toFile().list()).as("no temporary file left").containsExactly("trace.jsonl");

        Map<String, Written> expected = new HashMap<>();
        for (SpanData s : recorded) {
            Map<String, String> attrs = new TreeMap<>();
            s.getAttributes().forEach((k, v) -> attrs.put(k.getKey(), String.valueOf(v)));
            expected.put(s.getSpanId(), new Written(s.getTraceId(), s.getParentSpanContext().isValid() ? s.getParentSpanId() : "",
                    s.getName(), 1, Long.toString(s.getStartEpochNanos()), Long.toString(s.getEndEpochNanos()), attrs));
        }

        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).as("one line per export batch of at most 16").hasSizeGreaterThan(expected.size() / 16);
        Map<String, Written> read = new HashMap<>();
        for (String line : lines) {
            JsonNode resourceSpans = json.readTree(line).get("resourceSpans");
            assertThat(resourceSpans).hasSize(1);
            JsonNode resource = resourceSpans.get(0);
            assertThat(attributes(resource.at("/resource/attributes"))).containsEntry("service.name", "ppexec");
            JsonNode scope = resource.at("/scopeSpans/0");
            assertThat(scope.at("/scope/name").asText()).isEqualTo("dev.ppexec");
            assertThat(scope.at("/scope/version").asText()).isEqualTo(Tracing.SCOPE_VERSION);
            for (JsonNode span : scope.get("spans")) {
                assertThat(span.get("spanId").asText()).matches("[0-9a-f]{16}");
                assertThat(span.get("traceId").asText()).matches("[0-9a-f]{32}");
                assertThat(span.get("startTimeUnixNano").isTextual()).isTrue();
                assertThat(span.has("status")).isTrue();
                read.put(span.get("spanId").asText(), new Written(span.get("traceId").asText(),
                        span.path("parentSpanId").asText(""), span.get("name").asText(), span.get("kind").asInt(),
                        span.get("startTimeUnixNano").asText(), span.get("endTimeUnixNano").asText(),
                        attributes(span.get("attributes"))));
            }
        }
        assertThat(expected).hasSize(3 * 30);
        assertThat(read.keySet()).isEqualTo(expected.keySet());
        for (String id : expected.keySet()) {
            assertThat(read.get(id)).as("span %s", id).isEqualTo(expected.get(id));
        }
    }

    /** OTLP-JSON attributes to key → value text; intValue is a string in proto3 JSON. */
    static Map<String, String> attributes(JsonNode list) {
        Map<String, String> out = new TreeMap<>();
        for (JsonNode a : list) {
            JsonNode v = a.get("value");
            String text;
            if (v.has("intValue")) {
                assertThat(v.get("intValue").isTextual()).as("intValue of %s is a string", a.get("key")).isTrue();
                text = v.get("intValue").asText();
            } else if (v.has("doubleValue")) {
                text = Double.toString(v.get("doubleValue").asDouble());
            } else {
                text = v.elements().next().asText();
            }
            out.put(a.get("key").asText(), text);
        }
        return out;
    }
}
