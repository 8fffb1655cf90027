package dev.ppexec.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ppexec.perfetto.TraceFixtures.resource;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Paths with a line break and an ANSI escape in their names, given to each command's options:
 * every line that names them shows {@code \n} and {@code \e}, never the characters themselves
 * (Note [printable names] in Printable).
 */
class PrintableNamesTest {

    static final String NAME = "a\nb\u001b[2J";
    static final String SHOWN = "a\\nb\\e[2J";

    @TempDir
    Path dir;

    @Test
    void convert_outputNamedWithControlCharacters_isPrintedEscaped() {
        Path output = dir.resolve(NAME + ".json");
        CliRun o = CliRun.of("convert", "--input", resource("p2-m2.jsonl").toString(), "--output", output.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(output).isRegularFile();
        assertThat(o.out()).startsWith(dir + "/" + SHOWN + ".json: ");
        assertNoRawControlCharacters(o);
    }

    @Test
    void reportTimeline_namedWithControlCharacters_isPrintedEscaped() {
        Path png = dir.resolve(NAME + ".png");
        CliRun o = CliRun.of("report", "--input", resource("p2-m2.jsonl").toString(), "--timeline", png.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(png).isRegularFile();
        assertThat(o.out()).contains("timeline: " + dir + "/" + SHOWN + ".png\n");
        assertNoRawControlCharacters(o);
    }

    @Test
    void run_reportNamedWithControlCharacters_isPrintedEscaped() {
        Path report = dir.resolve(NAME + ".json");
        CliRun o = CliRun.of("run", "--model", "tiny", "--requests", "2", "--micro-batches", "1", "--prompt-len", "4",
                "--decode-steps", "2", "--warmup", "0", "--device", "cpu", "--no-progress", "--report", report.toString());
        assertThat(o.status()).as(o.err()).isZero();
        assertThat(report).isRegularFile();
        assertThat(o.out()).contains("report: " + dir + "/" + SHOWN + ".json\n");
        assertNoRawControlCharacters(o);
    }

    @Test
    void missingInputNamedWithControlCharacters_isOneErrorLine_escaped() throws Exception {
        Path missing = dir.resolve(NAME + ".jsonl");
        CliRun o = CliRun.of("report", "--input", missing.toString());
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().lines()).singleElement().asString().contains(dir + "/" + SHOWN + ".jsonl");
        assertNoRawControlCharacters(o);
        assertThat(Files.exists(missing)).isFalse();
    }

    private static void assertNoRawControlCharacters(CliRun o) {
        assertThat((o.out() + o.err()).chars().filter(c -> c < 0x20 && c != '\n' || c == 0x7f))
                .as("no control character but the line ends").isEmpty();
    }
}
