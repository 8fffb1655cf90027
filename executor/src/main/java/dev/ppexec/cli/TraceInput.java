package dev.ppexec.cli;

import dev.ppexec.io.OutputCheck;
import dev.ppexec.io.Printable;
import dev.ppexec.otlp.ReadSummary;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.otlp.TraceFiles;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.regex.PatternSyntaxException;
import java.util.stream.Stream;

/**
 * {@code --input TRACE} (repeatable, globs expanded here) and {@code --lenient}, shared by
 * {@code convert} and {@code report} (a picocli mixin), with what both check and print about
 * their files, said the same way. Several files are one trace (Note [merged world] in
 * {@link TraceFiles}).
 */
final class TraceInput {

    private static final int SKIPS_SHOWN = 5;
    private static final String ALLOWED = "allowed: an OTLP-JSON trace file";

    @Option(names = "--input", required = true, paramLabel = "TRACE", description = "OTLP-JSON trace file (JSON lines, "
            + "or one array). Repeat it, or give a glob in quotes ('out/t.rank*.jsonl'), to merge the rank files of a world.")
    List<String> inputs;

    @Option(names = "--lenient", description = "Skip lines that cannot be read (and count them) instead of stopping.")
    boolean lenient;

    private List<Path> paths;

    /** Expands the inputs (see {@link #expand}); call before {@link #paths()} and {@link #read}. */
    void check() {
        paths = expand("--input", inputs);
    }

    /** The input files: globs expanded, each file once, in the order given. */
    List<Path> paths() {
        return paths;
    }

    /** Adds every input to an output check (an output that is also an input is refused). */
    OutputCheck inputsOf(OutputCheck check) {
        paths.forEach(p -> check.input("--input", p));
        return check;
    }

    /** The inputs for a message: {@code a.jsonl}, or {@code a.jsonl and 3 more files}. */
    String describe() {
        String first = paths.getFirst().getFileName().toString();
        return paths.size() == 1 ? first : first + " and " + (paths.size() - 1) + " more file" + (paths.size() == 2 ? "" : "s");
    }

    /**
     * Files named by {@code given}: a name that exists is itself; one with a wildcard (* ? [...] {...})
     * in its file name is a glob, expanded here (sorted; one matching nothing is refused). A file named
     * twice (two spellings, a link) counts once, where it was first named.
     *
     * @throws UsageException a missing file, a folder, a glob that matches nothing
     */
    static List<Path> expand(String option, List<String> given) {
        Map<Path, Path> byFile = new LinkedHashMap<>();
        for (String name : given) {
            for (Path p : matches(option, name)) {
                if (!Files.exists(p)) {
                    throw new UsageException(option + " " + p + ": no such file; " + ALLOWED);
                }
                if (!Files.isRegularFile(p)) {
                    throw new UsageException(option + " " + p + ": not a file; " + ALLOWED);
                }
                byFile.putIfAbsent(realPath(p), p);
            }
        }
        return List.copyOf(byFile.values());
    }

    private static List<Path> matches(String option, String name) {
        Path literal = Path.of(name);
        if (!isGlob(name) || Files.exists(literal)) {
            return List.of(literal);
        }
        Path parent = literal.getParent();
        if (parent != null && isGlob(parent.toString())) {
            throw new UsageException(option + " " + name + ": a wildcard in a folder name; allowed: wildcards "
                    + "(* ? [...] {...}) in the file name only");
        }
        Path dir = parent == null ? Path.of(".") : parent;
        List<Path> found;
        try (Stream<Path> files = Files.list(dir)) {
            PathMatcher glob = FileSystems.getDefault().getPathMatcher("glob:" + literal.getFileName());
            found = files.map(Path::getFileName).filter(glob::matches).sorted()
                    .map(f -> parent == null ? f : parent.resolve(f)).toList();
        } catch (PatternSyntaxException e) {
            throw new UsageException(option + " " + name + ": not a glob: " + e.getDescription()
                    + "; allowed: a file, or a glob of * ? [...] {...}");
        } catch (NoSuchFileException e) {
            found = List.of();
        } catch (IOException e) {
            throw new UsageException(option + " " + name + ": cannot list " + dir + ": " + e.getMessage() + "; " + ALLOWED);
        }
        if (found.isEmpty()) {
            throw new UsageException(option + " " + name + ": no file matches; allowed: a glob that matches "
                    + "OTLP-JSON trace files, or a file");
        }
        return found;
    }

    private static boolean isGlob(String name) {
        return name.chars().anyMatch(c -> c == '*' || c == '?' || c == '[' || c == '{');
    }

    private static Path realPath(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            return p.toAbsolutePath().normalize();
        }
    }

    /**
     * Reads every input into {@code sink} as one trace, printing what --lenient skipped; fails on
     * inputs without spans, or that are not of one run.
     */
    TraceFiles.Result read(Consumer<SpanRecord> sink, PrintWriter err, String command) {
        TraceFiles.Result read = TraceFiles.read(paths, lenient, sink, skipPrinter(err, command));
        printSkipped(err, command, read.read());
        return read;
    }

    /** Prints the first few skipped lines' reasons (under --lenient); the count comes after the read. */
    Consumer<String> skipPrinter(PrintWriter err, String command) {
        int[] seen = new int[1];
        return message -> {
            if (++seen[0] <= SKIPS_SHOWN) {
                err.println(Printable.text(command + ": " + message + " (skipped)"));
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
