package dev.ppexec.reliability;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.io.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ctrl-C as a terminal sends it: the real {@code scripts/ppexec} (its stderr filter included) runs
 * as its own process group and the whole group gets SIGINT (or SIGTERM), in each phase of a run,
 * when a line of output says the run has reached it. Every phase ends the same way: the one stop
 * line, exit 130 (143), no stack trace, no temporary file left, the previous report untouched or
 * replaced whole, the previous trace untouched or replaced whole (complete lines only). SIGKILL
 * leaves the previous files untouched, and the next run removes the temporary file it stranded.
 */
@Timeout(300)
class SignalTest {

    static final String STOP_LINE = "run: error: stopped by a signal (SIGINT or SIGTERM): every rank stopped; "
            + "finished outputs are whole, unfinished ones are left as they were";
    static final String TRACE_NOTE = "; the trace holds the spans resolved before the stop, the requests it cut short marked ERROR";
    static final String TOY = "--model toy --requests 8 --micro-batches 4";
    static final String OLD_REPORT = "{\"old\":true}\n";
    static final String OLD_TRACE = "{\"resourceSpans\":[]}\n";

    @TempDir
    Path dir;

    /** A phase, the stream and text that say the run is in it, and the options that make the phase last. */
    @ParameterizedTest(name = "SIG{0} during {1}")
    @CsvSource(delimiter = '|', value = {
            "INT  | warm-up      | err | device auto: | " + TOY + " --warmup 100 --decode-steps 4",
            "INT  | measured run | err | step         | " + TOY + " --warmup 0 --decode-steps 480",
            "INT  | finishing    | out | bubble:      | --model toy --requests 64 --micro-batches 8 --warmup 0 --decode-steps 200",
            "TERM | measured run | err | step         | " + TOY + " --warmup 0 --decode-steps 480",
    })
    void signalToTheGroup_inEachPhase_saysTheStopLine_andKeepsOutputsWhole(String signal, String phase, String stream,
                                                                            String cue, String options) throws Exception {
        Path report = Files.writeString(dir.resolve("report.json"), OLD_REPORT);
        Path trace = Files.writeString(dir.resolve("trace.jsonl"), OLD_TRACE);
        Run run = start(options, "--report", report.toString(), "--trace-file", trace.toString());
        run.await(stream.equals("err") ? run.err : run.out, cue);
        run.signalGroup(signal);
        assertThat(run.p.waitFor(60, TimeUnit.SECONDS)).as("stopped within 60 s").isTrue();
        run.drain();

        assertThat(run.p.exitValue()).as(run.err()).isEqualTo(signal.equals("INT") ? 130 : 143);
        List<String> errLines = run.err().lines().map(l -> l.substring(l.lastIndexOf('\r') + 1)).toList();
        // Warm-up runs are not traced; from the measured run on, the stop line also says what the trace holds.
        String stopLine = phase.equals("warm-up") ? STOP_LINE : STOP_LINE + TRACE_NOTE;
        assertThat(errLines).as("the stop line, once, last (%s)", phase).endsWith(stopLine)
                .filteredOn(stopLine::equals).hasSize(1);
        assertThat(run.err()).doesNotContain("Exception").doesNotContain("\tat ").doesNotContain("flush did not finish");
        assertThat(temporaries()).as("no temporary file left").isEmpty();
        String reportText = Files.readString(report);
        if (!reportText.equals(OLD_REPORT)) {
            assertThat(new ObjectMapper().readTree(reportText).has("requests")).as("a replaced report is whole").isTrue();
        }
        List<String> traceLines = Files.readAllLines(trace);
        assertThat(traceLines).as("the trace is the old one or whole lines").isNotEmpty()
                .allSatisfy(l -> assertThat(l).startsWith("{\"resourceSpans\"").endsWith("}"));
    }

    @Test
    void sigkill_leavesThePreviousFilesUntouched_andTheNextRunRemovesItsStray() throws Exception {
        Path report = Files.writeString(dir.resolve("report.json"), OLD_REPORT);
        Path trace = Files.writeString(dir.resolve("trace.jsonl"), OLD_TRACE);
        Run run = start(TOY + " --warmup 0 --decode-steps 480", "--report", report.toString(), "--trace-file", trace.toString());
        run.await(run.err, "step");
        List<String> during = temporaries();
        run.signalGroup("KILL");
        assertThat(run.p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        run.drain();
        assertThat(report).hasContent(OLD_REPORT.strip());
        assertThat(trace).hasContent(OLD_TRACE.strip());
        assertThat(during).as("the trace is written beside its file").isNotEmpty();
        assertThat(temporaries()).as("SIGKILL strands the temporary file").isEqualTo(during);

        Run next = start("--warmup 0 --decode-steps 2 --requests 2 --micro-batches 1 --model tiny",
                "--report", dir.resolve("other.json").toString());
        assertThat(next.p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        next.drain();
        assertThat(next.p.exitValue()).as(next.err()).isZero();
        assertThat(temporaries()).as("the next run writing there removed the dead process's stray").isEmpty();
        assertThat(report).hasContent(OLD_REPORT.strip());
    }

    private List<String> temporaries() throws IOException {
        return TestFiles.temporaries(dir);
    }

    /** {@code setsid scripts/ppexec run ...} with the test's class path (the script builds nothing then). */
    private Run start(String options, String... outputs) throws IOException {
        List<String> args = new ArrayList<>(List.of("run", "--device", "auto", "--prompt-len", "16"));
        args.addAll(List.of(options.split(" ")));
        args.addAll(List.of(outputs));
        return Run.script(args);
    }

    /** A started command and what it has printed so far, read as it comes (a progress bar has no newline). */
    static final class Run {
        final Process p;
        final StringBuffer out = new StringBuffer();
        final StringBuffer err = new StringBuffer();
        final Thread outReader;
        final Thread errReader;

        /** {@code setsid scripts/ppexec ARGS} with the test's class path (the script builds nothing then). */
        static Run script(List<String> args) throws IOException {
            assumeTrue(Files.isExecutable(Path.of("/usr/bin/setsid")) || Files.isExecutable(Path.of("/bin/setsid")), "needs setsid(1)");
            Path script = Path.of(System.getProperty("user.dir")).resolve("../scripts/ppexec").normalize();
            List<String> command = new ArrayList<>(List.of("setsid", script.toString()));
            command.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(command);
            pb.environment().put("PPEXEC_CLASSPATH", System.getProperty("java.class.path"));
            pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
            return new Run(pb.start());
        }

        Run(Process p) {
            this.p = p;
            this.outReader = Thread.ofPlatform().daemon().start(() -> copy(p.getInputStream(), out));
            this.errReader = Thread.ofPlatform().daemon().start(() -> copy(p.getErrorStream(), err));
        }

        private static void copy(InputStream in, StringBuffer sink) {
            try (Reader r = new InputStreamReader(in, StandardCharsets.UTF_8)) {
                char[] buf = new char[4096];
                for (int n; (n = r.read(buf)) >= 0; ) {
                    sink.append(buf, 0, n);
                }
            } catch (IOException e) {
                sink.append("\n(read failed: ").append(e.getMessage()).append(")\n");
            }
        }

        /** Waits until {@code text} appears in {@code sink}; fails if the command ends first. */
        void await(StringBuffer sink, String text) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (sink.indexOf(text) < 0) {
                assertThat(p.isAlive()).as("still running before '%s'; stderr: %s", text, err).isTrue();
                assertThat(System.nanoTime()).as("'%s' within 120 s", text).isLessThan(deadline);
                Thread.sleep(20);
            }
        }

        /** Signals the process group, as a terminal does: setsid made the command its group's leader. */
        void signalGroup(String signal) throws IOException, InterruptedException {
            String stat = Files.readString(Path.of("/proc", Long.toString(p.pid()), "stat"));
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            assertThat(fields[2]).as("the command leads its process group").isEqualTo(Long.toString(p.pid()));
            Process kill = new ProcessBuilder("kill", "-" + signal, "--", "-" + p.pid()).inheritIO().start();
            assertThat(kill.waitFor()).isZero();
        }

        /** Reads to the end: the stderr filter outlives java until java closes stderr. */
        void drain() throws InterruptedException {
            outReader.join(TimeUnit.SECONDS.toMillis(30));
            errReader.join(TimeUnit.SECONDS.toMillis(30));
        }

        String err() {
            return err.toString();
        }
    }
}
