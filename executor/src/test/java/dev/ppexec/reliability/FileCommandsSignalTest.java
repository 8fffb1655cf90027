package dev.ppexec.reliability;

import dev.ppexec.io.TestFiles;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Ctrl-C to {@code convert}, {@code report --timeline} and {@code bench}, as {@link SignalTest} does
 * it to {@code run}: the real script as its own process group, the whole group signalled while the
 * command writes (or, for bench, sweeps). Each ends with its one stop line, exit 130, no temporary
 * file left, and the previous output byte for byte as it was.
 */
@Timeout(300)
class FileCommandsSignalTest {

    static final String READING_STOP = ": error: stopped by a signal (SIGINT or SIGTERM): finished outputs are whole, "
            + "unfinished ones are left as they were";
    static final byte[] OLD = "old output, not to be touched\n".getBytes(StandardCharsets.UTF_8);
    static final int COPIES = 1500;

    @TempDir
    static Path shared;
    static Path bigTrace;

    @TempDir
    Path dir;

    /**
     * The fixture's run {@value #COPIES} times, one after the other (each copy 1 ms later), each copy
     * with its own trace, span and request ids (63 MB; 72,000 slices to draw or convert).
     */
    @BeforeAll
    static void bigTrace() throws IOException {
        String fixture;
        try (InputStream in = FileCommandsSignalTest.class.getResourceAsStream("/traces/p2-m2.jsonl")) {
            fixture = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        Pattern ids = Pattern.compile("\"(traceId|spanId|parentSpanId)\":\"00000000");
        Pattern times = Pattern.compile("\"(start|end)TimeUnixNano\":\"(\\d+)\"");
        bigTrace = shared.resolve("big.jsonl");
        try (Writer w = Files.newBufferedWriter(bigTrace)) {
            for (int k = 1; k <= COPIES; k++) {
                String copy = String.format("%08x", k);
                long shiftNanos = k * 1_000_000L;
                String s = ids.matcher(fixture).replaceAll(m -> Matcher.quoteReplacement("\"" + m.group(1) + "\":\"" + copy));
                s = times.matcher(s).replaceAll(m -> "\"" + m.group(1) + "TimeUnixNano\":\""
                        + (Long.parseLong(m.group(2)) + shiftNanos) + "\"");
                w.write(s.replace("\"key\":\"rid\",\"value\":{\"stringValue\":\"", "\"key\":\"rid\",\"value\":{\"stringValue\":\"" + k + "-"));
            }
        }
    }

    @Test
    void convert_sigintWhileWriting_saysTheStopLine_andLeavesThePreviousOutput() throws Exception {
        Path output = Files.write(dir.resolve("out.json"), OLD);
        SignalTest.Run run = SignalTest.Run.script(List.of("convert", "--input", bigTrace.toString(), "--output", output.toString()));
        awaitTemporary(run);
        stopAndCheck(run, "convert" + READING_STOP, output);
    }

    @Test
    void reportTimeline_sigintWhileDrawing_saysTheStopLine_andLeavesThePreviousPicture() throws Exception {
        Path picture = Files.write(dir.resolve("timeline.png"), OLD);
        SignalTest.Run run = SignalTest.Run.script(List.of("report", "--input", bigTrace.toString(), "--timeline", picture.toString()));
        run.await(run.out, "micro-batches"); // the text report is out: the picture is being drawn
        stopAndCheck(run, "report" + READING_STOP, picture);
    }

    @Test
    void bench_sigintDuringTheSweep_saysTheStopLine_andLeavesThePreviousResults() throws Exception {
        Path folder = Files.createDirectories(dir.resolve("bench"));
        Path markdown = Files.write(folder.resolve("bench.md"), OLD);
        SignalTest.Run run = SignalTest.Run.script(List.of("bench", "--quick", "--ranks", "1,2", "--device", "cpu",
                "--no-progress", "--out", folder.toString()));
        awaitTemporary(run); // the traced runs' scratch trace: the sweep is under way
        stopAndCheck(run, "bench: error: " + SignalTest.STOP_LINE.substring("run: error: ".length()), markdown);
    }

    /** Waits until the command has a temporary file in {@link #dir}: it is writing. */
    private void awaitTemporary(SignalTest.Run run) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (temporaries().isEmpty()) {
            assertThat(run.p.isAlive()).as("still running before it writes; stderr: %s", run.err()).isTrue();
            assertThat(System.nanoTime()).as("a temporary file within 120 s").isLessThan(deadline);
            Thread.sleep(5);
        }
    }

    /** The temporary files now; a file that goes while the folder is walked is one less. */
    private List<String> temporaries() throws IOException {
        try {
            return TestFiles.temporaries(dir);
        } catch (java.io.UncheckedIOException e) {
            return List.of();
        }
    }

    private void stopAndCheck(SignalTest.Run run, String stopLine, Path previous) throws Exception {
        run.signalGroup("INT");
        assertThat(run.p.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
        run.drain();
        assertThat(run.p.exitValue()).as(run.err()).isEqualTo(130);
        List<String> errLines = run.err().lines().toList();
        assertThat(errLines).as("the stop line, once, last").endsWith(stopLine).filteredOn(stopLine::equals).hasSize(1);
        assertThat(run.err()).doesNotContain("Exception").doesNotContain("\tat ");
        assertThat(TestFiles.temporaries(dir)).as("no temporary file left").isEmpty();
        assertThat(Files.readAllBytes(previous)).as("the previous output, byte for byte").isEqualTo(OLD);
    }
}
