package dev.ppexec.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ctrl-C (SIGINT) during a run with metrics: the periodic exports made while it ran are in the
 * metrics file, and a last one after the stop; the summary says how many.
 */
@Timeout(120)
class InterruptedRunMetricsTest {

    @TempDir
    Path dir;

    @Test
    void sigint_metricsFileHoldsThePeriodicExports_andALastOneAfterTheStop() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")), "needs kill(1)");
        Path metrics = dir.resolve("metrics.jsonl");
        Path log = dir.resolve("stderr.txt");
        Path out = dir.resolve("stdout.txt");
        Process p = TracedRunProcess.start(dir.resolve("trace.jsonl"), out, log, "--metrics-file", metrics.toString(),
                "--metrics-interval", "0.2");
        boolean exited = TracedRunProcess.interrupt(p, log, 1000);
        assertThat(exited).as("stopped within 30 s").isTrue();
        assertThat(p.exitValue()).isEqualTo(130);

        Matcher summary = Pattern.compile("metrics: ([\\d,]+) exports to " + Pattern.quote(metrics.toString()))
                .matcher(Files.readString(out));
        assertThat(summary.find()).as("the summary line; stdout: %s", Files.readString(out)).isTrue();
        List<String> lines = Files.readAllLines(metrics);
        assertThat(lines).hasSize(Integer.parseInt(summary.group(1).replace(",", "")));
        assertThat(lines.size()).as("periodic exports while it ran, and the last one").isGreaterThanOrEqualTo(3);
        assertThat(lines.getLast()).contains("\"name\":\"ppexec.rank.forwards\"").contains("\"name\":\"ppexec.pipeline.bubble\"");
    }
}
