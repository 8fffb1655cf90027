package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.assertj.core.api.Assertions.withinPercentage;

/** {@code ppexec plan} on a real traced run of model tiny, and its bad input. */
class PlanCommandTest {

    private static Path traced(Path dir, String level) {
        Path trace = dir.resolve("run-" + level + ".jsonl");
        CliRun run = CliRun.withEnv(Map.of(), "run", "--model", "tiny", "--device", "cpu", "--stages", "2",
                "--micro-batches", "2", "--requests", "4", "--prompt-len", "4", "--decode-steps", "3", "--warmup", "0",
                "--no-progress", "--trace-level", level, "--trace-file", trace.toString());
        assertThat(run.status()).as(run.err()).isZero();
        return trace;
    }

    @Test
    void plan_text_candidatesAtUnseenRows_namesTheMicroBatchesToTrace(@TempDir Path dir) {
        Path trace = traced(dir, "4"); // M 2 of 4 requests: rows 2 seen

        CliRun plan = CliRun.withEnv(Map.of(), "plan", "--input", trace.toString(), "--max-stages", "2", "--top", "8");

        assertThat(plan.status()).as(plan.err()).isZero();
        List<String> unseen = new ArrayList<>();
        Matcher row = Pattern.compile("(?m)^ +\\d+ +\\d +[\\d,]+ +\\w+ +(\\d+) +[\\d.]+ +(yes|no) ").matcher(plan.out());
        int rows = 0;
        while (row.find()) {
            rows++;
            if (row.group(2).equals("no") && !unseen.contains(row.group(1))) {
                unseen.add(row.group(1));
            }
        }
        assertThat(rows).isEqualTo(8);
        assertThat(unseen).isNotEmpty().doesNotContain("2");
        unseen.sort(String::compareTo);
        assertThat(plan.out()).contains("trace the same workload with --micro-batches " + String.join(", ", unseen) + " too");
    }

    @Test
    void plan_json_ofARealTrace_ranksCandidatesAndValidatesTheTop(@TempDir Path dir) throws Exception {
        Path trace = traced(dir, "4");

        CliRun plan = CliRun.withEnv(Map.of(), "plan", "--input", trace.toString(), "--max-stages", "2", "--top", "3",
                "--validate", "1", "--validate-rounds", "2", "--format", "json");

        assertThat(plan.status()).as(plan.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(plan.out());
        assertThat(root.get("model").asText()).isEqualTo("tiny");
        assertThat(root.get("traced").get(0).get("split").asText()).isEqualTo("2,2");
        assertThat(root.get("traced").get(0).get("microBatches").asInt()).isEqualTo(2);
        JsonNode candidates = root.get("candidates");
        assertThat(candidates).hasSize(3);
        for (int i = 1; i < candidates.size(); i++) {
            assertThat(candidates.get(i).get("predictedTokensPerSecond").asDouble())
                    .isLessThanOrEqualTo(candidates.get(i - 1).get("predictedTokensPerSecond").asDouble());
            assertThat(candidates.get(i).get("stages").asInt()).isBetween(1, 2);
        }
        assertThat(candidates.get(0).get("measuredTokensPerSecond").asDouble()).isPositive();
        assertThat(candidates.get(1).has("measuredTokensPerSecond")).isFalse();
        assertThat(candidates.get(0).get("measuredSamples")).hasSize(2);
        JsonNode validation = root.get("validation");
        assertThat(validation.get("rounds").asInt()).isEqualTo(2);
        assertThat(validation.get("tracedConfigurationSamples")).hasSize(2);
        assertThat(validation.get("loadRatio").asDouble()).isCloseTo(
                validation.get("tracedConfigurationTokensPerSecond").asDouble()
                        / root.get("traced").get(0).get("measuredTokensPerSecond").asDouble(), within(1e-9));
    }

    @Test
    void plan_text_showsTheTracedRunBesideItsPrediction(@TempDir Path dir) {
        Path trace = traced(dir, "4");

        CliRun plan = CliRun.withEnv(Map.of(), "plan", "--input", trace.toString(), "--max-stages", "2",
                "--validate", "1", "--validate-rounds", "3");

        assertThat(plan.status()).as(plan.err()).isZero();
        assertThat(plan.out()).contains("traced " + trace + ": P 2, split 2,2, M 2 on cpu: measured ")
                .contains("rank  P  split");
        assertThat(plan.out().lines().filter(l -> l.matches(" +\\d+  [12]  .*"))).hasSize(5);
        Matcher validated = Pattern.compile("validated in 3 rounds .* ran at (\\S+) tokens/s here \\(rounds (\\S+)\\.\\.(\\S+)\\) "
                + "against (\\S+) in its trace \\(load ratio (\\S+)\\)").matcher(plan.out());
        assertThat(validated.find()).as(plan.out()).isTrue();
        double median = Double.parseDouble(validated.group(1));
        assertThat(median).isBetween(Double.parseDouble(validated.group(2)), Double.parseDouble(validated.group(3)));
        assertThat(Double.parseDouble(validated.group(5)))
                .isCloseTo(median / Double.parseDouble(validated.group(4)), withinPercentage(5)); // printed rounded
    }

    /**
     * A level-5 trace split into rank files as a world's rank processes write them (Note [world runs] in TracedRun)
     * plans as the unsplit file does: one run, the same fit (per layer: level 5's) and the same candidates.
     */
    @Test
    void plan_rankFilesOfALevelFiveTrace_sameFitAndCandidatesAsTheUnsplitFile(@TempDir Path dir) throws Exception {
        Path trace = traced(dir, "5");
        List<Path> ranks = rankFiles(trace, dir);

        JsonNode one = planJson("--input", trace.toString());
        JsonNode world = planJson("--input", ranks.get(0).toString(), "--input", ranks.get(1).toString());

        assertThat(world.get("traced")).hasSize(1);
        assertThat(world.get("traced").get(0).get("input").asText()).isEqualTo(ranks.get(0) + ", " + ranks.get(1));
        assertThat(world.get("fit")).isEqualTo(one.get("fit"));
        assertThat(world.get("candidates")).isEqualTo(one.get("candidates"));
        JsonNode byLayer = one.at("/fit/byRows/0/decodeNanosPerForwardByLayer");
        assertThat(byLayer).as("tiny's 4 layers, each its own cost").hasSize(4);
        byLayer.forEach(n -> assertThat(n.asDouble()).isPositive());
        assertThat(planJson("--input", traced(dir, "4").toString()).at("/fit/byRows/0").has("decodeNanosPerForwardByLayer"))
                .as("level 4 has no kernel slices").isFalse();
    }

    private static JsonNode planJson(String... inputs) throws Exception {
        List<String> args = new ArrayList<>(List.of("plan", "--max-stages", "2", "--top", "50", "--format", "json"));
        args.addAll(List.of(inputs));
        CliRun plan = CliRun.withEnv(Map.of(), args.toArray(String[]::new));
        assertThat(plan.status()).as(plan.err()).isZero();
        return new ObjectMapper().readTree(plan.out());
    }

    /**
     * {@code trace}'s spans by pp_rank (the others, Req roots among them, on rank 0) in rank0.jsonl and rank1.jsonl,
     * each under its own process (pid, service.instance.id) and world rank.
     */
    private static List<Path> rankFiles(Path trace, Path dir) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<Path> files = List.of(dir.resolve("rank0.jsonl"), dir.resolve("rank1.jsonl"));
        for (int r = 0; r < 2; r++) {
            StringBuilder out = new StringBuilder();
            for (String line : Files.readAllLines(trace)) {
                if (line.isBlank()) {
                    continue;
                }
                ObjectNode copy = (ObjectNode) json.readTree(line);
                for (JsonNode resourceSpans : copy.get("resourceSpans")) {
                    ArrayNode attributes = (ArrayNode) resourceSpans.at("/resource/attributes");
                    for (int i = attributes.size() - 1; i >= 0; i--) {
                        if (List.of("process.pid", "service.instance.id").contains(attributes.get(i).get("key").asText())) {
                            attributes.remove(i);
                        }
                    }
                    attributes.addObject().put("key", "process.pid").putObject("value").put("intValue", "" + (100 + r));
                    attributes.addObject().put("key", "service.instance.id").putObject("value").put("stringValue", "i" + r);
                    attributes.addObject().put("key", "ppexec.world.rank").putObject("value").put("intValue", "" + r);
                    attributes.addObject().put("key", "ppexec.world.size").putObject("value").put("intValue", "2");
                    for (JsonNode scope : resourceSpans.get("scopeSpans")) {
                        ArrayNode spans = (ArrayNode) scope.get("spans");
                        for (int i = spans.size() - 1; i >= 0; i--) {
                            int rank = 0;
                            for (JsonNode a : spans.get(i).path("attributes")) {
                                rank = a.get("key").asText().equals("pp_rank") ? a.at("/value/intValue").asInt() : rank;
                            }
                            if (rank != r) {
                                spans.remove(i);
                            }
                        }
                    }
                }
                out.append(json.writeValueAsString(copy)).append('\n');
            }
            Files.writeString(files.get(r), out);
        }
        return files;
    }

    @Test
    void badInput_exits2_withOneLine(@TempDir Path dir) throws Exception {
        Path levelOne = traced(dir, "1");
        Path notJson = Files.writeString(dir.resolve("empty.jsonl"), "");
        Path missing = dir.resolve("missing.jsonl");
        String[][] cases = {
                {"--input", missing.toString()},
                {"--input", dir.toString()},
                {"--input", levelOne.toString()},
                {"--input", levelOne.toString(), "--top", "0"},
                {"--input", levelOne.toString(), "--top", "2", "--validate", "3"},
                {"--input", levelOne.toString(), "--max-stages", "0"},
                {"--input", levelOne.toString(), "--validate-rounds", "0"},
                {"--input", notJson.toString()},
        };
        String[] expected = {
                "plan: --input " + missing + ": no such file; allowed: an OTLP-JSON trace file",
                "plan: --input " + dir + ": not a file; allowed: an OTLP-JSON trace file",
                "plan: --input " + levelOne + ": no run_batch_device spans; allowed: a trace of ppexec run at --trace-level 4",
                "plan: --top 0 is out of range; allowed: 1 or more",
                "plan: --validate 3 is out of range; allowed: 0..--top (2)",
                "plan: --max-stages 0 is out of range; allowed: 1 or more",
                "plan: --validate-rounds 0 is out of range; allowed: 1..20",
                "plan: " + notJson,
        };
        for (int i = 0; i < cases.length; i++) {
            String[] args = new String[cases[i].length + 1];
            args[0] = "plan";
            System.arraycopy(cases[i], 0, args, 1, cases[i].length);
            CliRun plan = CliRun.withEnv(Map.of(), args);
            assertThat(plan.status()).as(String.join(" ", args)).isEqualTo(2);
            assertThat(plan.err().lines()).as(String.join(" ", args)).hasSize(1);
            assertThat(plan.err()).as(String.join(" ", args)).startsWith(expected[i]);
            assertThat(plan.out()).isEmpty();
        }
    }
}
