package dev.ppexec.reliability;

import dev.ppexec.otel.MetricLines;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ctrl-C (SIGINT) during a run with metrics: the periodic exports made while it ran are in the
 * metrics file, and a last one after the stop that holds at least what they did; the summary says how many.
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
        // Stop it once a periodic export holds forwards (the ranks' first records resolve some steps into the run).
        MetricLines periodic = awaitExportWithForwards(p);
        boolean exited = TracedRunProcess.interrupt(p, log, 0);
        assertThat(exited).as("stopped within 30 s").isTrue();
        assertThat(p.exitValue()).isEqualTo(130);

        Matcher summary = Pattern.compile("metrics: ([\\d,]+) exports to " + Pattern.quote(metrics.toString()))
                .matcher(Files.readString(out));
        assertThat(summary.find()).as("the summary line; stdout: %s", Files.readString(out)).isTrue();
        List<String> lines = Files.readAllLines(metrics);
        assertThat(lines).hasSize(Integer.parseInt(summary.group(1).replace(",", "")));
        MetricLines last = MetricLines.parse(lines.getLast());
        for (long rank = 0; rank < 2; rank++) {
            assertThat(last.point("ppexec.rank.forwards", rank).value()).as("rank %d: the last export holds at least what "
                    + "the periodic one did", rank).isGreaterThanOrEqualTo(periodic.point("ppexec.rank.forwards", rank).value());
        }
    }

    /** The first whole line of the metrics file's temporary file (beside it until the end) that holds both ranks' forwards. */
    private MetricLines awaitExportWithForwards(Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline && p.isAlive()) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(f -> f.getFileName().toString().startsWith(".metrics.jsonl.")).toList()) {
                    String text = Files.readString(f);
                    for (String line : text.substring(0, text.lastIndexOf('\n') + 1).lines().toList()) {
                        MetricLines m = MetricLines.parse(line);
                        if (m.points().containsKey("ppexec.rank.forwards") && m.points().get("ppexec.rank.forwards").size() == 2) {
                            return m;
                        }
                    }
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no periodic export with both ranks' forwards within 90 s (the run "
                + (p.isAlive() ? "still going" : "ended") + ")");
    }
}
