package dev.ppexec.otlp;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The trace readers' packages: {@code otlp} (reading OTLP-JSON, the span model) uses neither
 * {@code perfetto} nor {@code report}; those two both use {@code otlp} and never each other.
 * Checked on the sources (run from the executor module's folder, as Maven does).
 */
class PackageBoundaryTest {

    static final Path SOURCES = Path.of("src/main/java/dev/ppexec");

    @Test
    void otlpPerfettoAndReport_reachOnlyWhereAllowed() throws IOException {
        assertThat(importers("otlp", "perfetto")).as("otlp sources using perfetto").isEmpty();
        assertThat(importers("otlp", "report")).as("otlp sources using report").isEmpty();
        assertThat(importers("perfetto", "report")).as("perfetto sources using report").isEmpty();
        assertThat(importers("report", "perfetto")).as("report sources using perfetto").isEmpty();
        assertThat(importers("perfetto", "otlp")).as("perfetto reads through otlp").isNotEmpty();
        assertThat(importers("report", "otlp")).as("report reads through otlp").isNotEmpty();
    }

    /** Sources of package {@code from} that mention package {@code to}. */
    static List<String> importers(String from, String to) throws IOException {
        Path dir = SOURCES.resolve(from);
        assertThat(dir).as("source folder %s (run from the executor module)", dir).isDirectory();
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(f -> f.toString().endsWith(".java")).filter(f -> {
                try {
                    return Files.readString(f).contains("dev.ppexec." + to + ".");
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).map(f -> f.getFileName().toString()).toList();
        }
    }
}
