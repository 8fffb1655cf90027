package dev.ppexec.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** A traced run's "trace report" is built in memory from the spans it wrote: the same text as {@code report} on its file. */
@Timeout(120)
class RunTraceReportTest {

    @Test
    void runsTraceReport_isWhatReportReadsFromItsFile_withoutReadingItBack(@TempDir Path dir) throws Exception {
        Path trace = dir.resolve("t.jsonl");
        CliRun run = CliRun.of("run", "--model", "tiny", "--device", "cpu", "--requests", "6", "--micro-batches", "3",
                "--decode-steps", "5", "--prompt-len", "4", "--warmup", "0", "--no-progress", "--trace-file", trace.toString());
        assertThat(run.status()).as(run.err()).isZero();
        String fromRun = run.out().substring(run.out().indexOf("trace report:\n") + "trace report:\n".length());
        CliRun report = CliRun.of("report", "--input", trace.toString());
        assertThat(report.status()).as(report.err()).isZero();
        assertThat(fromRun.strip()).isEqualTo(report.out().strip());
        assertThat(fromRun).contains("PP0").contains("PP1").contains("6 requests");
    }
}
