package dev.ppexec.cli;

import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.otlp.ReadSummary;
import dev.ppexec.otlp.SpanRecord;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * {@code --input TRACE} and {@code --lenient}, shared by {@code convert} and {@code report} (a
 * picocli mixin), with what both check and print about their files, said the same way.
 */
final class TraceInput {

    private static final int SKIPS_SHOWN = 5;

    @Option(names = "--input", required = true, paramLabel = "TRACE", description = "OTLP-JSON trace file (JSON lines, or one array).")
    Path path;

    @Option(names = "--lenient", description = "Skip lines that cannot be read (and count them) instead of stopping.")
    boolean lenient;

    void check() {
        if (!Files.exists(path)) {
            throw new UsageException("--input " + path + ": no such file; allowed: an OTLP-JSON trace file");
        }
        if (!Files.isRegularFile(path)) {
            throw new UsageException("--input " + path + ": not a file; allowed: an OTLP-JSON trace file");
        }
    }

    /** Reads the whole trace into {@code sink}, printing what --lenient skipped; fails on a trace without spans. */
    ReadSummary read(Consumer<SpanRecord> sink, PrintWriter err, String command) {
        ReadSummary read = OtlpJsonReader.read(path, lenient, sink, skipPrinter(err, command)).requireSpans(path.toString());
        printSkipped(err, command, read);
        return read;
    }

    /** Prints the first few skipped lines' reasons (under --lenient); the count comes after the read. */
    Consumer<String> skipPrinter(PrintWriter err, String command) {
        int[] seen = new int[1];
        return message -> {
            if (++seen[0] <= SKIPS_SHOWN) {
                err.println(command + ": " + message + " (skipped)");
            }
        };
    }

    void printSkipped(PrintWriter err, String command, ReadSummary read) {
        if (read.skipped() > 0) {
            err.println(command + ": " + read.skippedText() + " (--lenient)"
                    + (read.skipped() > SKIPS_SHOWN ? "; the first " + SKIPS_SHOWN + " are shown above" : ""));
        }
    }
}
