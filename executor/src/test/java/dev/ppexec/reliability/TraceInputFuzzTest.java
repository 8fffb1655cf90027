package dev.ppexec.reliability;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.cli.CliRun;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mangled traces fed to {@code convert} and {@code report}: truncations, flipped bytes (invalid
 * UTF-8 among them), wrong value types, huge numbers and deep nesting spliced into a real trace.
 * Every case ends with status 0 or 2, and a 2 is one line naming the file, never a stack trace,
 * an OutOfMemoryError or a hang. Generated bad values (ids that are not hex, negative times and
 * counts) are
 * refused with status 2 naming the file, the line and what is allowed; a trace missing some of its
 * run's ranks or requests is reported with a warning naming them.
 */
class TraceInputFuzzTest {

    static final byte[] TRACE = load("/traces/p2-m2.jsonl");

    record Mutation(String name, UnaryOperator<byte[]> apply) {
        @Override
        public String toString() {
            return name;
        }
    }

    @Property(tries = 300)
    void mangledTraces_exitZeroOrTwoWithOneLine(@ForAll("mutations") Mutation mutation) throws IOException {
        Path dir = Files.createTempDirectory("ppexec-fuzz");
        try {
            Path input = Files.write(dir.resolve("trace.jsonl"), mutation.apply().apply(TRACE));
            for (String command : new String[]{"convert", "report"}) {
                CliRun r = command.equals("convert")
                        ? CliRun.of("convert", "--input", input.toString(), "--output", dir.resolve("out.json").toString())
                        : CliRun.of("report", "--input", input.toString());
                Statistics.label(command).collect(r.status());
                assertThat(r.status()).as("%s on %s: %s", command, mutation, r.err()).isIn(0, 2);
                assertThat(r.err()).as("%s on %s", command, mutation).doesNotContain("\tat ").doesNotContain("Exception in");
                if (r.status() == 2) {
                    assertThat(r.err().strip().lines()).as("%s on %s: %s", command, mutation, r.err()).hasSize(1);
                    assertThat(r.err()).startsWith(command + ": ").contains("trace.jsonl");
                }
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.delete(f);
                }
            }
            Files.delete(dir);
        }
    }

    /** One span's id, or one span's time, replaced by a generated bad value. */
    record BadValue(String field, int occurrence, String value) {}

    @Property(tries = 60)
    void idsThatAreNotHex_andNegativeTimes_areBadInput_namingFileAndLine(@ForAll("badValues") BadValue bad)
            throws IOException {
        String text = new String(TRACE, StandardCharsets.UTF_8);
        String valueOf = bad.field().endsWith("Id") || bad.field().endsWith("Nano") ? "\"" + bad.field() + "\":\"([^\"]*)\""
                : "\"key\":\"" + bad.field() + "\",\"value\":\\{\"intValue\":\"([^\"]*)\"";
        Matcher m = Pattern.compile(valueOf).matcher(text);
        List<int[]> spots = new ArrayList<>();
        while (m.find()) {
            spots.add(new int[] {m.start(1), m.end(1)});
        }
        int[] spot = spots.get(bad.occurrence() % spots.size());
        String mangled = text.substring(0, spot[0]) + bad.value() + text.substring(spot[1]);
        long line = text.substring(0, spot[0]).chars().filter(c -> c == '\n').count() + 1;
        Path dir = Files.createTempDirectory("ppexec-fuzz");
        try {
            Path input = Files.writeString(dir.resolve("trace.jsonl"), mangled);
            for (String command : new String[]{"convert", "report"}) {
                CliRun r = command.equals("convert")
                        ? CliRun.of("convert", "--input", input.toString(), "--output", dir.resolve("out.json").toString())
                        : CliRun.of("report", "--input", input.toString());
                assertThat(r.status()).as("%s on %s: %s", command, bad, r.err()).isEqualTo(2);
                assertThat(r.err().strip().lines()).as("%s on %s", command, bad).hasSize(1);
                assertThat(r.err()).startsWith(command + ": ").contains("trace.jsonl line " + line + ":")
                        .contains(bad.field()).contains("allowed:");
                assertThat(r.out()).as("%s on %s: no figures from bad input", command, bad).doesNotContain("tokens/s");
            }
        } finally {
            deleteTree(dir);
        }
    }

    @Provide
    Arbitrary<BadValue> badValues() {
        Arbitrary<Integer> occurrence = Arbitraries.integers().between(0, 1000);
        Arbitrary<String> notHex = Arbitraries.strings().withCharRange('g', 'z').withChars('-', ' ', '0', 'A', 'f')
                .ofMinLength(1).ofMaxLength(40).filter(v -> !v.matches("[0-9a-fA-F]{16}|[0-9a-fA-F]{32}"));
        Arbitrary<String> hexOfWrongLength = Arbitraries.strings().withChars("0123456789abcdef").ofMinLength(1)
                .ofMaxLength(40).filter(v -> v.length() != 16 && v.length() != 32);
        Arbitrary<BadValue> ids = Combinators.combine(Arbitraries.of("traceId", "spanId", "parentSpanId"), occurrence,
                Arbitraries.oneOf(notHex, hexOfWrongLength)).as(BadValue::new);
        Arbitrary<BadValue> times = Combinators.combine(Arbitraries.of("startTimeUnixNano", "endTimeUnixNano"),
                occurrence, Arbitraries.longs().between(Long.MIN_VALUE, -1).map(n -> Long.toString(n))).as(BadValue::new);
        Arbitrary<BadValue> counts = Combinators.combine(Arbitraries.of("output_tokens", "pp_mb_id", "step"), occurrence,
                Arbitraries.longs().between(Long.MIN_VALUE, -1).map(n -> Long.toString(n))).as(BadValue::new);
        return Arbitraries.oneOf(ids, times, counts);
    }

    /** Ranks and requests left out of the trace. */
    record Missing(Set<Integer> ranks, Set<Integer> requests) {}

    @Property(tries = 20)
    void aTraceMissingSomeOfItsRanksOrRequests_isReportedWithAWarningNamingThem(@ForAll("missing") Missing missing)
            throws IOException {
        ObjectMapper json = new ObjectMapper();
        StringBuilder kept = new StringBuilder();
        for (String line : new String(TRACE, StandardCharsets.UTF_8).split("\n")) {
            JsonNode root = json.readTree(line);
            for (JsonNode rs : root.path("resourceSpans")) {
                for (JsonNode ss : rs.path("scopeSpans")) {
                    Iterator<JsonNode> spans = ss.path("spans").elements();
                    while (spans.hasNext()) {
                        JsonNode span = spans.next();
                        String rank = attribute(span, "pp_rank");
                        String rid = attribute(span, "rid");
                        if (rank != null && missing.ranks().contains(Integer.parseInt(rank))
                                || rid != null && missing.requests().contains(Integer.parseInt(rid))) {
                            spans.remove();
                        }
                    }
                }
            }
            kept.append(json.writeValueAsString(root)).append('\n');
        }
        Path dir = Files.createTempDirectory("ppexec-fuzz");
        try {
            Path input = Files.writeString(dir.resolve("trace.jsonl"), kept);
            CliRun r = CliRun.of("report", "--input", input.toString());
            assertThat(r.status()).as("report on %s: %s", missing, r.err()).isZero();
            List<String> warnings = r.out().lines().filter(l -> l.startsWith("warning: ")).toList();
            // A request left out takes its spans on every rank; a rank left out keeps the requests' roots.
            int expected = (missing.ranks().isEmpty() ? 0 : 1) + (missing.requests().isEmpty() ? 0 : 1);
            assertThat(warnings).as("warnings for %s", missing).hasSize(expected);
            for (int rank : missing.ranks()) {
                assertThat(warnings.getFirst()).contains("of the run's " + RANKS + " ranks").contains("PP" + rank);
            }
            for (int rid : missing.requests()) {
                assertThat(warnings.getLast()).contains("of the run's " + REQUESTS + " requests").contains("Req " + rid);
            }
        } finally {
            deleteTree(dir);
        }
    }

    static final int RANKS = 2;
    static final int REQUESTS = 3;

    @Provide
    Arbitrary<Missing> missing() {
        Arbitrary<Set<Integer>> ranks = Arbitraries.integers().between(0, RANKS - 1).set().ofMaxSize(RANKS - 1);
        Arbitrary<Set<Integer>> requests = Arbitraries.integers().between(0, REQUESTS - 1).set().ofMaxSize(REQUESTS - 1);
        return Combinators.combine(ranks, requests).as(Missing::new)
                .filter(m -> !m.ranks().isEmpty() || !m.requests().isEmpty());
    }

    private static String attribute(JsonNode span, String key) {
        for (JsonNode a : span.path("attributes")) {
            if (key.equals(a.path("key").asText())) {
                JsonNode v = a.path("value");
                return v.has("intValue") ? v.get("intValue").asText() : v.path("stringValue").asText(null);
            }
        }
        return null;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.delete(f);
            }
        }
        Files.delete(dir);
    }

    @Provide
    Arbitrary<Mutation> mutations() {
        Arbitrary<Integer> at = Arbitraries.integers().between(0, TRACE.length - 1);
        Arbitrary<Mutation> truncate = at.map(n -> new Mutation("truncate at " + n, b -> Arrays.copyOf(b, n)));
        Arbitrary<Mutation> flip = Combinators.combine(at, Arbitraries.integers().between(0, 255))
                .as((n, v) -> new Mutation("byte " + n + " = 0x" + Integer.toHexString(v), b -> {
                    byte[] c = b.clone();
                    c[n] = (byte) (int) v;
                    return c;
                }));
        Arbitrary<String> splice = Arbitraries.of(
                "{}", "[]", "null", "\"", "1e999999", "-99999999999999999999999999999999", "true",
                "{\"stringValue\":{}}", "{\"intValue\":\"x\"}", "{\"doubleValue\":\"NaN\"}", "\uFFFF", "\\u0000",
                "[".repeat(5000), "{\"a\":".repeat(3000), "\"startTimeUnixNano\":\"-1\"",
                "\"endTimeUnixNano\":\"18446744073709551616\"", "\n", "\n\n{\"resourceSpans\":7}\n");
        Arbitrary<Mutation> insert = Combinators.combine(at, splice)
                .as((n, text) -> new Mutation("insert " + abbreviate(text) + " at " + n, b -> {
                    byte[] t = text.getBytes(StandardCharsets.UTF_8);
                    byte[] c = new byte[b.length + t.length];
                    System.arraycopy(b, 0, c, 0, n);
                    System.arraycopy(t, 0, c, n, t.length);
                    System.arraycopy(b, n, c, n + t.length, b.length - n);
                    return c;
                }));
        Arbitrary<Mutation> invalidUtf8 = at.map(n -> new Mutation("invalid UTF-8 at " + n, b -> {
            byte[] c = b.clone();
            c[n] = (byte) 0xC3;
            if (n + 1 < c.length) {
                c[n + 1] = (byte) 0x28;
            }
            return c;
        }));
        return Arbitraries.oneOf(truncate, flip, insert, invalidUtf8);
    }

    private static String abbreviate(String s) {
        String one = s.replace("\n", "\\n");
        return one.length() > 24 ? one.substring(0, 24) + "...(" + one.length() + ")" : one;
    }

    private static byte[] load(String resource) {
        try (InputStream in = TraceInputFuzzTest.class.getResourceAsStream(resource)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
