package dev.ppexec.reliability;

import dev.ppexec.cli.CliRun;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Generated command lines for {@code run} on {@code tiny} (Note [usage errors]): every one runs
 * (status 0) or is refused with status 2 and exactly one line naming the option or variable, before
 * the device line; never a stack trace. One property per class of bad input: numeric ranges, huge
 * sizes, overflowing splits, non-ASCII digits and spaces, repeated or stray {@code --attr} keys,
 * {@code OTEL_*} values, control characters in a model name.
 */
class RunOptionsFuzzTest {

    private static final List<String> QUICK = List.of("run", "--model", "tiny", "--no-progress", "--print-tokens", "0");

    private Path scratch;

    @Property(tries = 120)
    void numericOptions_runOrAreRefusedInOneLine(@ForAll @IntRange(min = -3, max = 6) int stages,
                                                   @ForAll @IntRange(min = -2, max = 40) int microBatches,
                                                   @ForAll @IntRange(min = -2, max = 40) int requests,
                                                   @ForAll @IntRange(min = -2, max = 140) int promptLength,
                                                   @ForAll @IntRange(min = -2, max = 140) int decodeSteps) {
        CliRun r = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--warmup", "0", "--no-progress",
                "--print-tokens", "0", "--stages", Integer.toString(stages), "--micro-batches", Integer.toString(microBatches),
                "--requests", Integer.toString(requests), "--prompt-len", Integer.toString(promptLength),
                "--decode-steps", Integer.toString(decodeSteps));
        Statistics.collect(r.status());
        assertThat(r.status()).as(r.err()).isIn(0, 2);
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception");
        if (r.status() == 2) {
            assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
            assertThat(r.err()).startsWith("run: ").containsPattern("--[a-z-]+ ");
        } else {
            assertThat(r.out()).contains("tokens/s");
        }
    }

    /** Sizes far beyond the machine or the model: refused at once, naming the option and its value; nothing is built. */
    @Property(tries = 40)
    void hugeSizes_areRefusedBeforeAnythingIsBuilt(@ForAll("sizeOptions") String option, @ForAll("hugeOrNegative") int value) {
        CliRun r = run(Map.of(), List.of(option, Integer.toString(value)));
        Statistics.collect(option, value < 0 ? "negative" : "huge");
        assertRefused(r, option + " " + value);
    }

    /** {@code --split} lists with huge, zero, negative and fitting counts: a split that sums to 4 runs, every other is refused. */
    @Property(tries = 40)
    void splits_withOverflowingCounts_runOrAreRefusedInOneLine(@ForAll @Size(min = 1, max = 6) List<@IntRange(min = -1, max = 5) Integer> small,
                                                             @ForAll("compositionsOfFour") List<Integer> fitting,
                                                             @ForAll @IntRange(min = 0, max = 2) int kind) {
        boolean withHuge = kind == 1;
        List<Long> counts = new ArrayList<>((kind == 2 ? fitting : small).stream().map(Integer::longValue).toList());
        if (withHuge) {
            counts.add(0, (long) Integer.MAX_VALUE);
            counts.add(1, (long) Integer.MAX_VALUE);
        }
        String split = counts.stream().map(String::valueOf).collect(Collectors.joining(","));
        boolean fits = counts.size() <= 4 && counts.stream().allMatch(c -> c >= 1) && counts.stream().mapToLong(c -> c).sum() == 4;
        CliRun r = run(Map.of(), List.of("--split", split, "--requests", "2", "--prompt-len", "2", "--decode-steps", "1"));
        Statistics.collect(fits ? "fits" : withHuge ? "overflows an int" : "refused");
        if (fits) {
            assertThat(r.status()).as(r.err()).isZero();
            assertThat(r.out()).contains("split " + split);
        } else {
            assertRefused(r, "--split '" + split + "'");
        }
    }

    /** Other scripts' digits, full-width digits, a plus sign and surrounding spaces are not numbers here. */
    @Property(tries = 60)
    void nonAsciiDigitsAndSpaces_areRefusedNamingTheOption(@ForAll("numericOptions") String option,
                                                          @ForAll @IntRange(min = 0, max = 99) int n,
                                                          @ForAll("disguises") String disguise) {
        String value = disguise(Integer.toString(n), disguise);
        CliRun r = run(Map.of(), List.of(option, value));
        Statistics.collect(disguise);
        assertRefused(r, "Invalid value for option '" + option + "'");
        assertThat(r.err()).contains("allowed: ASCII digits 0-9");
    }

    /** Keys from a small alphabet (so repeats are common), with or without a trace file: each key once, and only with a destination. */
    @Property(tries = 30)
    void attrKeys_repeatedOrWithoutADestination_areRefused_elseReachTheTrace(
            @ForAll @Size(min = 1, max = 4) List<@IntRange(min = 0, max = 3) Integer> keys, @ForAll boolean withTraceFile)
            throws IOException {
        List<String> args = new ArrayList<>(List.of("--requests", "2", "--prompt-len", "2", "--decode-steps", "1"));
        Path trace = scratch().resolve("t.jsonl");
        if (withTraceFile) {
            args.addAll(List.of("--trace-file", trace.toString(), "--trace-level", "1"));
        }
        for (int i = 0; i < keys.size(); i++) {
            args.addAll(List.of("--attr", "k" + keys.get(i) + "=v" + i));
        }
        CliRun r = run(Map.of(), args);
        boolean repeated = new HashSet<>(keys).size() < keys.size();
        Statistics.collect(!withTraceFile ? "no destination" : repeated ? "repeated key" : "runs");
        if (!withTraceFile) {
            assertRefused(r, "--attr 'k" + keys.getFirst() + "=v0' without a trace destination");
        } else if (repeated) {
            assertRefused(r, "repeats key");
            assertThat(trace).doesNotExist();
        } else {
            assertThat(r.status()).as(r.err()).isZero();
            String spans = Files.readString(trace);
            for (int i = 0; i < keys.size(); i++) {
                assertThat(spans).contains("{\"key\":\"k" + keys.get(i) + "\",\"value\":{\"stringValue\":\"v" + i + "\"}}");
            }
        }
    }

    /** OTEL_* values, allowed and not, for the variables with a closed set of values: allowed ones run, the others are named. */
    @Property(tries = 80)
    void otelValues_areCheckedLikeOptions(@ForAll("otelCases") OtelCase c) {
        CliRun r = run(Map.of(c.variable(), c.value()), List.of("--trace-file", scratch().resolve("t.jsonl").toString(),
                "--trace-level", "1", "--requests", "2", "--prompt-len", "2", "--decode-steps", "1"));
        Statistics.collect(c.variable(), c.allowed() ? "allowed" : "bad");
        if (c.allowed()) {
            assertThat(r.status()).as(r.err()).isZero();
        } else {
            assertRefused(r, c.variable() + "='" + c.value() + "' ");
            assertThat(r.err()).contains("allowed: ");
        }
    }

    /** A model file whose name holds a control character: refused in one line that shows it escaped, never raw. */
    @Property(tries = 20)
    void modelName_withControlCharacters_isRefusedAndNeverPrintedRaw(@ForAll @IntRange(min = 1, max = 31) int control,
                                                                     @ForAll @IntRange(min = 0, max = 4) int at) throws IOException {
        String name = "model".substring(0, at) + String.format("\\u%04x", control) + "model".substring(at);
        Path file = Files.writeString(scratch().resolve("m.json"), "{\"name\": \"" + name
                + "\", \"vocab\": 64, \"dim\": 16, \"heads\": 2, \"layers\": 2, \"ffn\": 32, \"max_seq\": 16}");
        CliRun r = CliRun.withEnv(Map.of(), "run", "--model-file", file.toString(), "--no-progress");
        String shown = switch (control) { // Note [printable names]
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            case 0x1b -> "\\e";
            default -> String.format("\\x%02x", control);
        };
        assertRefused(r, "--model-file " + file + " line 1: name '" + "model".substring(0, at) + shown
                + "model".substring(at) + "' has a control character");
        assertThat(r.err().chars().filter(ch -> ch < 32 && ch != '\n')).isEmpty();
    }

    @AfterTry
    void removeScratch() throws IOException {
        if (scratch != null) {
            try (Stream<Path> files = Files.walk(scratch)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
            scratch = null;
        }
    }

    private Path scratch() {
        try {
            if (scratch == null) {
                scratch = Files.createTempDirectory("ppexec-fuzz");
            }
            return scratch;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Under the default --device auto: exit 2, exactly one line (so no device line), naming what was wrong. */
    private static void assertRefused(CliRun r, String naming) {
        assertThat(r.status()).as(r.err()).isEqualTo(2);
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).startsWith("run: ").contains(naming).doesNotContain("\tat ").doesNotContain("device auto");
        assertThat(r.out()).isEmpty();
    }

    private static CliRun run(Map<String, String> env, List<String> args) {
        List<String> all = new ArrayList<>(QUICK);
        if (!args.contains("--warmup")) {
            all.addAll(List.of("--warmup", "0"));
        }
        all.addAll(args);
        return CliRun.withEnv(env, all.toArray(String[]::new));
    }

    @Provide
    Arbitrary<String> sizeOptions() {
        return Arbitraries.of("--requests", "--prompt-len", "--decode-steps", "--micro-batches", "--warmup", "--stages",
                "--trace-level");
    }

    @Provide
    Arbitrary<Integer> hugeOrNegative() {
        return Arbitraries.oneOf(Arbitraries.integers().between(1_000_000, Integer.MAX_VALUE),
                Arbitraries.integers().between(Integer.MIN_VALUE, -1), Arbitraries.of(Integer.MAX_VALUE, 100_000_000));
    }

    @Provide
    Arbitrary<List<Integer>> compositionsOfFour() {
        return Arbitraries.of(List.of(4), List.of(1, 3), List.of(3, 1), List.of(2, 2), List.of(1, 1, 2), List.of(1, 2, 1),
                List.of(2, 1, 1), List.of(1, 1, 1, 1));
    }

    @Provide
    Arbitrary<String> numericOptions() {
        return Arbitraries.of("--requests", "--prompt-len", "--decode-steps", "--micro-batches", "--warmup", "--stages",
                "--trace-level", "--print-tokens", "--seed", "--devices");
    }

    @Provide
    Arbitrary<String> disguises() {
        return Arbitraries.of("arabic-indic", "devanagari", "fullwidth", "bengali", "leading space", "trailing space",
                "tab", "plus", "non-breaking space");
    }

    private static String disguise(String digits, String how) {
        return switch (how) {
            case "arabic-indic" -> shift(digits, '\u0660');
            case "devanagari" -> shift(digits, '\u0966');
            case "fullwidth" -> shift(digits, '\uFF10');
            case "bengali" -> shift(digits, '\u09E6');
            case "leading space" -> " " + digits;
            case "trailing space" -> digits + " ";
            case "tab" -> digits + "\t";
            case "plus" -> "+" + digits;
            default -> "\u00A0" + digits;
        };
    }

    private static String shift(String digits, char zero) {
        StringBuilder sb = new StringBuilder();
        digits.chars().forEach(c -> sb.append((char) (zero + (c - '0'))));
        return sb.toString();
    }

    /** A variable and a value known to be allowed or not. */
    record OtelCase(String variable, String value, boolean allowed) {
        /** From a value tagged {@code |ok} or {@code |bad}. */
        static OtelCase of(String variable, String tagged) {
            int bar = tagged.lastIndexOf('|');
            return new OtelCase(variable, tagged.substring(0, bar), tagged.substring(bar + 1).equals("ok"));
        }
    }

    @Provide
    Arbitrary<OtelCase> otelCases() {
        Arbitrary<String> junk = Arbitraries.oneOf(Arbitraries.strings().alpha().ofMinLength(1).ofMaxLength(8),
                Arbitraries.integers().between(-100_000, -1).map(String::valueOf),
                Arbitraries.of("\u0663", "10 ", " 5", "+7", "1e3", "GRPC", "http/json", "carrier-pigeon", "0x10", "∞"));
        Arbitrary<OtelCase> durations = Combinators.combine(
                Arbitraries.of("OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_BSP_EXPORT_TIMEOUT"),
                Arbitraries.oneOf(Arbitraries.integers().between(1, 3_600_000).map(ms -> ms + "|ok"),
                        Arbitraries.integers().between(1, 3600).map(s -> s + "s|ok"),
                        Arbitraries.integers().between(3_600_001, Integer.MAX_VALUE).map(ms -> ms + "|bad"),
                        junk.map(j -> j + "|bad"), Arbitraries.just("0|bad")))
                .as(OtelCase::of);
        Arbitrary<OtelCase> sizes = Combinators.combine(Arbitraries.just("OTEL_BSP_MAX_QUEUE_SIZE"),
                Arbitraries.oneOf(Arbitraries.integers().between(1, 1 << 24).map(n -> n + "|ok"),
                        Arbitraries.integers().between((1 << 24) + 1, Integer.MAX_VALUE).map(n -> n + "|bad"),
                        junk.map(j -> j + "|bad"), Arbitraries.just("0|bad")))
                .as(OtelCase::of);
        Arbitrary<OtelCase> protocols = closed(junk, List.of("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
                List.of("grpc", "http/protobuf"));
        Arbitrary<OtelCase> compression = closed(junk, List.of("OTEL_EXPORTER_OTLP_COMPRESSION",
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"), List.of("gzip", "none"));
        Arbitrary<OtelCase> samplers = closed(junk, List.of("OTEL_TRACES_SAMPLER"), List.of("always_on", "parentbased_always_on"));
        Arbitrary<OtelCase> exporters = closed(junk, List.of("OTEL_TRACES_EXPORTER"), List.of("otlp", "none"));
        Arbitrary<OtelCase> booleans = closed(junk, List.of("OTEL_SDK_DISABLED"), List.of("false"));
        Arbitrary<OtelCase> endpoints = Combinators.combine(
                Arbitraries.of("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
                Arbitraries.oneOf(Arbitraries.integers().between(65_536, 999_999).map(p -> "http://127.0.0.1:" + p + "|bad"),
                        junk.map(j -> j + "|bad"), Arbitraries.just("ftp://127.0.0.1:21|bad")))
                .as(OtelCase::of);
        return Arbitraries.oneOf(durations, sizes, protocols, compression, samplers, exporters, booleans, endpoints);
    }

    private static Arbitrary<OtelCase> closed(Arbitrary<String> junk, List<String> variables, List<String> allowed) {
        return Combinators.combine(Arbitraries.of(variables),
                Arbitraries.oneOf(Arbitraries.of(allowed).map(a -> a + "|ok"),
                        junk.filter(j -> !allowed.contains(j)).map(j -> j + "|bad")))
                .as(OtelCase::of);
    }
}
