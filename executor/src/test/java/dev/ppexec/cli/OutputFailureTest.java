package dev.ppexec.cli;

import dev.ppexec.io.TestFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ppexec.cli.RunCommandTest.cli;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * An output that cannot be written: a place nothing can be written is refused before the run (exit 2,
 * one line with the option, the path and the OS's reason); a write that fails at the end says which
 * file and why, after the results, and exits 1.
 */
class OutputFailureTest {

    static final String[] RUN = {"run", "--model", "tiny", "--device", "cpu", "--requests", "2", "--micro-batches", "1",
            "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress"};

    static CliRun runWithReport(String report) {
        String[] args = java.util.Arrays.copyOf(RUN, RUN.length + 2);
        args[RUN.length] = "--report";
        args[RUN.length + 1] = report;
        return cli(args);
    }

    @Test
    void fullDisk(@TempDir Path dir) throws Exception {
        Path full = TestFiles.fullDevice(dir);
        CliRun o = runWithReport(full.toString());
        assertThat(o.status()).isEqualTo(1);
        assertThat(o.out()).contains("tokens/s").contains("request 0:");
        assertThat(o.err().strip()).isEqualTo("run: error: --report " + full + ": cannot write: No space left on device");
    }

    @Test
    void folderThatCannotBeMade_failsBeforeTheRun(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("plain"), "x");
        Path target = file.resolve("sub/r.json");
        CliRun o = runWithReport(target.toString());
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.out()).doesNotContain("tokens/s");
        assertThat(o.err().strip()).isEqualTo("run: --report " + target + ": cannot write: " + file.resolve("sub")
                + ": Not a directory; allowed: a file in a folder this user can write");
    }

    @Test
    void readOnlyFileSystem_failsBeforeTheRun() {
        // /proc refuses new files even to root, for whom a chmod 555 folder would still be writable.
        Path target = Path.of("/proc/ppexec-report.json");
        CliRun o = runWithReport(target.toString());
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.out()).doesNotContain("tokens/s");
        assertThat(o.err().strip()).isEqualTo("run: --report /proc/ppexec-report.json: cannot write: /proc: this folder "
                + "takes no new files; allowed: a file in a folder this user can write");
        assertThat(Files.exists(target)).isFalse();
    }
}
