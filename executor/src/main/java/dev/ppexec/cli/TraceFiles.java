package dev.ppexec.cli;

import dev.ppexec.perfetto.ReadSummary;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** What {@code convert} and {@code report} check and print about their files, said the same way. */
final class TraceFiles {

    private static final int SKIPS_SHOWN = 5;

    private TraceFiles() {}

    static void checkInput(Path input) {
        if (!Files.exists(input)) {
            throw new IllegalArgumentException("--input " + input + ": no such file; allowed: an OTLP-JSON trace file");
        }
        if (!Files.isRegularFile(input)) {
            throw new IllegalArgumentException("--input " + input + ": not a file; allowed: an OTLP-JSON trace file");
        }
    }

    static void checkOutput(String option, Path output, Path input) {
        Path dir = output.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(option + " " + output + ": folder " + dir + " does not exist; allowed: a file in an existing folder");
        }
        if (Files.isDirectory(output)) {
            throw new IllegalArgumentException(option + " " + output + ": is a folder; allowed: a file name");
        }
        if (output.toAbsolutePath().normalize().equals(input.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException(option + " " + output + ": is the --input file; allowed: another file");
        }
    }

    /** Prints the first few skipped lines' reasons (under --lenient), then counts the rest. */
    static Consumer<String> skipPrinter(PrintWriter err, String command) {
        int[] seen = new int[1];
        return message -> {
            if (++seen[0] <= SKIPS_SHOWN) {
                err.println(command + ": " + message + " (skipped)");
            }
        };
    }

    static void printSkipped(PrintWriter err, String command, ReadSummary read) {
        if (read.skipped() > 0) {
            err.println(command + ": " + read.skippedText() + " (--lenient)"
                    + (read.skipped() > SKIPS_SHOWN ? "; the first " + SKIPS_SHOWN + " are shown above" : ""));
        }
    }
}
