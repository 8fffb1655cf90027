package dev.ppexec.reliability;

import dev.ppexec.cli.CliRun;
import dev.ppexec.io.TestFiles;
import dev.ppexec.perfetto.TraceFixtures;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every output option of {@code run}, {@code convert} and {@code report}, pointed at every kind of
 * path ({@link TestFiles.PathKind}, generated). Where nothing can be written (a folder, a link to one, a link loop, a parent
 * that is a file, {@code /proc}, an empty name) the command is refused before the run: exit 2, one
 * line with the user's option, path and the reason. Elsewhere it runs: a regular file is replaced,
 * a FIFO stays a FIFO and gets the bytes, a link stays a link and its target gets them, a missing
 * folder is made, a full device fails in one line at the end (exit 1) and stays a device. No
 * temporary file is left.
 */
class OutputLocationTest {

    enum Output {
        TRACE("run", "--trace-file"), REPORT("run", "--report"), PERFETTO("run", "--perfetto"),
        CONVERT("convert", "--output"), TIMELINE("report", "--timeline");

        final String command;
        final String option;

        Output(String command, String option) {
            this.command = command;
            this.option = option;
        }
    }

    private static final String OLD = "{\"old\":1}";

    @Property(tries = 70)
    void everyOutputOption_atEveryKindOfPath(@ForAll Output output, @ForAll TestFiles.PathKind location) throws Exception {
        Statistics.collect(output, location.refused() ? "refused" : "written");
        TestFiles.inNewFolder("location", dir -> check(dir, output, location));
    }

    private static void check(Path dir, Output output, TestFiles.PathKind location) throws Exception {
        TestFiles.Made made = TestFiles.make(dir, location, OLD);
        Path named = made.named();
        Path fifo = made.fifo();
        CompletableFuture<byte[]> reader = fifo == null ? null : CompletableFuture.supplyAsync(() -> TestFiles.readAll(fifo));
        String given = named.toString();

        CliRun r = CliRun.of(args(dir, output, given));

        if (location.refused()) {
            assertThat(r.status()).as(r.err()).isEqualTo(2);
            assertThat(r.err().strip().lines()).as("one line").hasSize(1);
            String head = output.command + ": " + output.option + " " + (given.isEmpty() ? "''" : given);
            assertThat(r.err()).startsWith(head).containsAnyOf(" is a folder", " is empty", ": cannot write: ");
            assertThat(r.err()).doesNotContain("Exception");
            assertThat(r.out()).as("refused before the run").doesNotContain("tokens/s").doesNotContain("slices");
            switch (location) {
                case FOLDER, LINK_TO_FOLDER -> assertThat(made.written()).isEmptyDirectory();
                case PARENT_IS_FILE -> assertThat(dir.resolve("plain")).hasContent(OLD);
                case LINK_LOOP -> assertThat(r.err()).contains("Too many levels of symbolic links");
                default -> { }
            }
        } else if (location == TestFiles.PathKind.DEV_FULL) {
            assertThat(r.status()).as(r.err()).isEqualTo(1);
            assertThat(r.err().strip()).isEqualTo(output.command + ": error: " + output.option
                    + " " + named + ": cannot write: No space left on device");
            assertThat(Files.isRegularFile(named)).as("the full device is still a device").isFalse();
        } else {
            assertThat(r.status()).as(r.err()).isZero();
            if (fifo != null) {
                assertThat(reader.get(30, TimeUnit.SECONDS)).as("the FIFO got the output").isNotEmpty();
                assertThat(TestFiles.isFifo(fifo)).as("the FIFO is still a FIFO").isTrue();
            } else {
                assertThat(made.written()).isRegularFile();
                assertThat(Files.readAllBytes(made.written())).as("replaced").isNotEqualTo(OLD.getBytes(StandardCharsets.UTF_8)).isNotEmpty();
            }
            if (location.link()) {
                assertThat(Files.isSymbolicLink(dir.resolve("out.x"))).as("the link itself stays").isTrue();
            }
        }
        assertThat(TestFiles.temporaries(dir)).as("no temporary file left").isEmpty();
    }

    @Example
    void benchOut_thatCannotBeAFolder_isRefusedBeforeAnyRun() throws Exception {
        TestFiles.inNewFolder("bench-out", dir -> {
            Path plain = Files.writeString(dir.resolve("plain"), OLD);
            for (Path out : List.of(plain, plain.resolve("sub"), Path.of("/proc/ppexec-no-such-folder"))) {
                CliRun r = CliRun.of("bench", "--quick", "--device", "cpu", "--ranks", "1", "--no-progress", "--out", out.toString());
                assertThat(r.status()).as(r.err()).isEqualTo(2);
                assertThat(r.err().strip()).startsWith("bench: --out " + out.resolve("bench.md") + ": cannot write: ");
                assertThat(r.out()).as("no run").doesNotContain("tokens/s");
                assertThat(plain).hasContent(OLD);
            }
        });
    }

    /**
     * Through the real {@code scripts/ppexec}: a full device under {@code report --timeline} is one
     * line on stderr, and no stack trace from ImageIO's threads (which an in-process run would not see).
     */
    @Example
    void timelineToAFullDevice_isOneLineOnTheRealStderr() throws Exception {
        TestFiles.inNewFolder("ppexec-timeline", dir -> timelineToAFullDevice(TestFiles.fullDevice(dir)));
    }

    private static void timelineToAFullDevice(Path full) throws Exception {
        Path script = Path.of(System.getProperty("user.dir")).resolve("../scripts/ppexec").normalize();
        ProcessBuilder pb = new ProcessBuilder(script.toString(), "report", "--input",
                TraceFixtures.resource("p2-m2.jsonl").toString(), "--timeline", full.toString()).redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().put("PPEXEC_CLASSPATH", System.getProperty("java.class.path"));
        pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process p = pb.start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(err).isEqualTo(1);
        assertThat(err).isEqualTo("report: error: --timeline " + full + ": cannot write: No space left on device\n");
    }

    private static String[] args(Path dir, Output output, String target) throws IOException {
        List<String> a = new ArrayList<>(List.of(output.command));
        switch (output.command) {
            case "run" -> a.addAll(List.of("--model", "tiny", "--device", "cpu", "--requests", "2", "--micro-batches", "1",
                    "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress"));
            default -> {
                Path input = dir.resolve("input.jsonl");
                Files.copy(TraceFixtures.resource("p2-m2.jsonl"), input);
                a.addAll(List.of("--input", input.toString()));
            }
        }
        a.addAll(List.of(output.option, target));
        return a.toArray(String[]::new);
    }
}
