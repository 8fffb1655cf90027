package dev.ppexec.otel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.perfetto.PerfettoConverter;
import dev.ppexec.report.TraceReport;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A run traced in sglang's schema, checked against the rules sglang's converter
 * (scripts/convert_otel_2_perfetto.py) applies to a trace, and read by ppexec's own tools to the
 * same figures as the same run in ppexec's schema.
 */
@Timeout(120)
class SglangSchemaTest {

    static final ModelConfig TINY = ModelConfig.preset("tiny", 7);
    static final int REQUESTS = 5;
    static final int RANKS = 3;

    @Test
    void sglangSchemaRun_followsSglangsConverterRules_andReadsToTheSameFiguresAsPpexecs(@TempDir Path dir)
            throws IOException {
        Path ppexec = dir.resolve("ppexec.jsonl");
        Path sglang = dir.resolve("sglang.jsonl");
        Workload workload = Workload.generated(TINY, REQUESTS, 4, 3);
        try (Pipeline pipeline = Pipeline.builder().model(TINY).stages(RANKS).microBatches(2).build()) {
            Attributes run = RunResource.of(pipeline, workload, TraceLevel.DEFAULT);
            try (SdkTracerProvider a = provider(run, "ppexec", ppexec); SdkTracerProvider b = provider(run, "sglang", sglang)) {
                pipeline.generate(workload, s -> {}, List.of(
                        new TraceListener(a.get(Tracing.SCOPE_NAME), TraceLevel.DEFAULT, TraceSchema.PPEXEC, EpochClock.process(), "host"),
                        new TraceListener(b.get(Tracing.SCOPE_NAME), TraceLevel.DEFAULT, TraceSchema.SGLANG, EpochClock.process(), "host")));
            }
        }

        assertSglangConverterRules(sglang);

        assertThat(report(sglang).toJson()).as("report of the sglang schema").isEqualTo(report(ppexec).toJson());
        Path outA = dir.resolve("a.json");
        Path outB = dir.resolve("b.json");
        PerfettoConverter.convert(ppexec, outA, false, m -> { });
        PerfettoConverter.convert(sglang, outB, false, m -> { });
        assertThat(withoutModule(outB)).as("converted sglang schema").isEqualTo(withoutModule(outA));
    }

    /**
     * What sglang's converter needs of a trace, rule by rule: it keeps resources whose service.name
     * is sglang; roots are the spans with module sglang::request and a rid; every child of a root
     * is a thread span with pid (an integer), host_id, thread_label and the three ranks, and the
     * first thread span of a pid names its process; slices hang below a thread span by parentSpanId
     * (so each root has at least one, else its sort fails); every attribute value is an object with
     * one typed value.
     */
    static void assertSglangConverterRules(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, JsonNode> byId = new HashMap<>();
        for (String line : Files.readAllLines(file)) {
            for (JsonNode resource : json.readTree(line).get("resourceSpans")) {
                assertThat(attributes(resource.at("/resource/attributes"))).containsEntry("service.name", "sglang");
                assertThat(resource.has("scopeSpans")).isTrue();
                for (JsonNode scope : resource.get("scopeSpans")) {
                    for (JsonNode span : scope.get("spans")) {
                        byId.put(span.get("spanId").asText(), span);
                        for (JsonNode a : span.get("attributes")) {
                            assertThat(a.get("value").size()).as("one typed value: %s", a).isEqualTo(1);
                        }
                    }
                }
            }
        }
        Set<String> roots = new HashSet<>();
        for (JsonNode span : byId.values()) {
            Map<String, String> a = attributes(span.get("attributes"));
            if ("sglang::request".equals(a.get("module"))) {
                assertThat(a).containsKey("rid");
                roots.add(span.get("spanId").asText());
            }
        }
        assertThat(roots).as("one root per request").hasSize(REQUESTS);
        Map<String, Set<String>> threadOfPid = new HashMap<>();
        Map<String, Integer> slicesUnder = new HashMap<>();
        for (JsonNode span : byId.values()) {
            String id = span.get("spanId").asText();
            if (roots.contains(id)) {
                continue;
            }
            List<String> chain = new ArrayList<>();
            for (JsonNode at = span; at != null; at = byId.get(at.get("parentSpanId").asText())) {
                chain.add(at.get("spanId").asText());
                if (roots.contains(at.get("spanId").asText())) {
                    break;
                }
            }
            assertThat(roots).as("%s descends from a root", span.get("name")).contains(chain.getLast());
            if (chain.size() == 2) {
                Map<String, String> a = attributes(span.get("attributes"));
                assertThat(a).as("thread span %s", span.get("name"))
                        .containsKeys("pid", "host_id", "thread_label", "pp_rank", "dp_rank", "tp_rank");
                assertThat(a.get("pid")).as("pid is an integer").matches("\\d+");
                threadOfPid.computeIfAbsent(a.get("pid"), k -> new HashSet<>()).add(a.get("pp_rank"));
            } else {
                slicesUnder.merge(chain.getLast(), 1, Integer::sum);
            }
        }
        assertThat(threadOfPid).as("one OS thread id per rank").hasSize(RANKS);
        threadOfPid.values().forEach(ranks -> assertThat(ranks).as("a pid is one rank's thread").hasSize(1));
        assertThat(slicesUnder.keySet()).as("every root has slices under its thread spans").isEqualTo(roots);
    }

    private static SdkTracerProvider provider(Attributes run, String service, Path file) throws IOException {
        return SdkTracerProvider.builder()
                .setResource(Resource.create(run).merge(Resource.builder().put("service.name", service).build()))
                .addSpanProcessor(SimpleSpanProcessor.create(OtlpJsonFileExporter.create(file))).build();
    }

    private static TraceReport report(Path file) {
        TraceReport.Builder b = TraceReport.builder();
        OtlpJsonReader.read(file, false, b, m -> { });
        return b.build();
    }

    /** The converted trace, but for the root's module argument (the only thing the schemas draw differently). */
    private static JsonNode withoutModule(Path converted) throws IOException {
        JsonNode tree = new ObjectMapper().readTree(converted.toFile());
        for (JsonNode event : tree.get("traceEvents")) {
            if (event.has("args")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) event.get("args")).remove("module");
            }
        }
        return tree;
    }

    private static Map<String, String> attributes(JsonNode list) {
        Map<String, String> out = new HashMap<>();
        for (JsonNode a : list) {
            out.put(a.get("key").asText(), a.get("value").elements().next().asText());
        }
        return out;
    }
}
