package dev.ppexec.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Ctrl-C (SIGINT) or SIGTERM during a traced run: it stops within the bound, exits non-zero, and leaves a whole trace file. */
@Timeout(120)
class SignalTest {

    @TempDir
    Path dir;

    @Test
    void sigint_stopsTheRun_flushesTheTrace_andExitsNonZero() throws Exception {
        stopWith("INT", 130);
    }

    @Test
    void sigterm_stopsTheRun_flushesTheTrace_andExitsNonZero() throws Exception {
        stopWith("TERM", 143);
    }

    private void stopWith(String signal, int expectedStatus) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")), "needs kill(1)");
        Path trace = dir.resolve("trace.jsonl");
        Path log = dir.resolve("stderr.txt");
        Process p = TracedRunProcess.start(trace, dir.resolve("stdout.txt"), log);
        TracedRunProcess.awaitProgress(p, log);
        assertThat(p.isAlive()).as("the run is still going when signalled; stderr: %s", Files.readString(log)).isTrue();
        long signalled = System.nanoTime();
        new ProcessBuilder("kill", "-" + signal, Long.toString(p.pid())).start().waitFor();
        boolean exited = p.waitFor(30, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        assertThat(exited).as("stopped within 30 s of SIG%s", signal).isTrue();
        long stopMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
        System.out.printf("SIG%s: stopped in %d ms, exit status %d%n", signal, stopMillis, p.exitValue());

        assertThat(p.exitValue()).isEqualTo(expectedStatus);
        String err = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(err).contains("run: error: stopped by a signal (SIGINT or SIGTERM): every rank stopped");
        assertThat(err).doesNotContain("Exception in thread").doesNotContain("\tat ");
        assertThat(trace).exists();
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).toList())
                    .as("no temporary file left").noneMatch(n -> n.endsWith(".tmp"));
        }
        List<String> lines = Files.readAllLines(trace);
        for (String line : lines) {
            assertThat(line).as("every line of the trace is whole").startsWith("{\"resourceSpans\"").endsWith("}");
        }
    }
}
