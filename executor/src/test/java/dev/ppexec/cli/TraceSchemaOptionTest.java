package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code run --trace-schema}: what it writes as service.name, what it refuses. */
@Timeout(120)
class TraceSchemaOptionTest {

    @Test
    void sglangSchema_namesTheServiceSglang_unlessTheUserNamesIt_andWritesModuleAndPid(@TempDir Path dir) throws IOException {
        assertThat(serviceNames(dir, "default.jsonl")).containsExactly("ppexec");
        assertThat(serviceNames(dir, "sglang.jsonl", "--trace-schema", "sglang")).containsExactly("sglang");
        assertThat(serviceNames(dir, "named.jsonl", "--trace-schema", "sglang", "--attr", "service.name=engine-a"))
                .containsExactly("engine-a");

        assertThat(withProperty("otel.service.name", "pp-bench",
                () -> serviceNames(dir, "env.jsonl", "--trace-schema", "sglang"))).containsExactly("pp-bench");
        assertThat(withProperty("otel.resource.attributes", "team=pp,service.name=from-attrs",
                () -> serviceNames(dir, "attrs.jsonl", "--trace-schema", "sglang"))).containsExactly("from-attrs");

        String sglang = Files.readString(dir.resolve("sglang.jsonl"));
        assertThat(sglang).contains("{\"key\":\"module\",\"value\":{\"stringValue\":\"sglang::request\"}}")
                .contains("{\"key\":\"pid\",");
        String ppexec = Files.readString(dir.resolve("default.jsonl"));
        assertThat(ppexec).doesNotContain("\"module\"").doesNotContain("\"pid\"");
    }

    @Test
    void unknownSchema_exits2_withOneLineNamingTheOptionAndWhatIsAllowed(@TempDir Path dir) {
        CliRun o = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--trace-file", dir.resolve("t.jsonl").toString(),
                "--trace-schema", "jaeger");
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().strip()).isEqualTo("run: --trace-schema 'jaeger' is not a trace schema; allowed: ppexec, sglang");
        CliRun untraced = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--trace-schema", "sglang");
        assertThat(untraced.status()).isEqualTo(2);
        assertThat(untraced.err().strip().lines()).hasSize(1);
        assertThat(untraced.err()).startsWith("run: --trace-schema sglang without a trace destination; allowed: with --trace-file");
        CliRun off = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--trace-file", dir.resolve("t.jsonl").toString(),
                "--trace-level", "0", "--trace-schema", "sglang");
        assertThat(off.status()).isEqualTo(2);
        assertThat(off.err().strip()).isEqualTo("run: --trace-schema sglang with --trace-level 0 (tracing off); allowed: with "
                + "--trace-level 1..5");
        assertThat(dir.toFile().list()).isEmpty();
    }

    interface Body<T> {
        T run() throws IOException;
    }

    /** As OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES would, through their system properties (the SDK reads both). */
    private static <T> T withProperty(String key, String value, Body<T> body) throws IOException {
        System.setProperty(key, value);
        try {
            return body.run();
        } finally {
            System.clearProperty(key);
        }
    }

    private static Set<String> serviceNames(Path dir, String file, String... extra) throws IOException {
        Path trace = dir.resolve(file);
        List<String> args = new ArrayList<>(List.of("run", "--model", "tiny", "--device", "cpu", "--requests", "2",
                "--micro-batches", "2", "--decode-steps", "1", "--prompt-len", "4", "--warmup", "0", "--no-progress",
                "--trace-file", trace.toString()));
        args.addAll(List.of(extra));
        CliRun run = CliRun.of(args.toArray(String[]::new));
        assertThat(run.status()).as(run.err()).isZero();
        Set<String> names = new HashSet<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(trace)) {
            for (JsonNode resource : json.readTree(line).get("resourceSpans")) {
                for (JsonNode a : resource.at("/resource/attributes")) {
                    if (a.get("key").asText().equals("service.name")) {
                        names.add(a.at("/value/stringValue").asText());
                    }
                }
            }
        }
        return names;
    }
}
