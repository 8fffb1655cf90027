package dev.ppexec.reliability;

import dev.ppexec.cli.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Ctrl-C (SIGINT) during a traced run: the trace holds the spans resolved before the stop, the
 * requests it cut short end with an ERROR status, the summary says how many spans were written, and
 * {@code convert} and {@code report} read the file.
 */
@Timeout(120)
class InterruptedRunTraceTest {

    @TempDir
    Path dir;

    @Test
    void sigint_traceHoldsSpansBeforeTheStop_withErrorOnCutRequests_andConvertAndReportReadIt() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/kill")) || Files.isExecutable(Path.of("/usr/bin/kill")), "needs kill(1)");
        Path trace = dir.resolve("trace.jsonl");
        Path log = dir.resolve("stderr.txt");
        Path out = dir.resolve("stdout.txt");
        Process p = TracedRunProcess.start(trace, out, log);
        boolean exited = TracedRunProcess.interruptOnceTraced(p, log, trace);
        assertThat(exited).as("stopped within 30 s").isTrue();
        assertThat(p.exitValue()).isEqualTo(130);
        String err = Files.readString(log, StandardCharsets.UTF_8);
        assertThat(err).contains("the trace holds the spans resolved before the stop");

        Matcher summary = Pattern.compile("trace: ([\\d,]+) spans \\(level 4\\) to ").matcher(Files.readString(out));
        assertThat(summary.find()).as("the summary line; stdout: %s", Files.readString(out)).isTrue();
        long spans = Long.parseLong(summary.group(1).replace(",", ""));
        assertThat(spans).as("spans written before the stop").isPositive();
        String text = Files.readString(trace);
        assertThat(text).as("a run_batch_device span").contains("\"name\":\"run_batch_device\"");
        assertThat(text).as("an ERROR status (OTLP code 2) on a cut request").contains("\"code\":2");

        CliRun report = CliRun.of("report", "--input", trace.toString());
        assertThat(report.status()).as("report: %s", report.err()).isZero();
        CliRun convert = CliRun.of("convert", "--input", trace.toString(), "--output", dir.resolve("p.json").toString());
        assertThat(convert.status()).as("convert: %s", convert.err()).isZero();
    }
}
