package dev.ppexec.reliability;

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
import java.util.Arrays;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Mangled traces fed to {@code convert} and {@code report}: truncations, flipped bytes (invalid
 * UTF-8 among them), wrong value types, huge numbers and deep nesting spliced into a real trace.
 * Every case ends with status 0 or 2, and a 2 is one line naming the file, never a stack trace,
 * an OutOfMemoryError or a hang.
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
