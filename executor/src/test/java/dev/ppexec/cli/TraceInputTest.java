package dev.ppexec.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** How {@code --input} names files: globs expanded here, sorted, each file once. */
class TraceInputTest {

    @Test
    void glob_expandsToTheMatchingFilesSorted_literalNamesKeepTheirPlace(@TempDir Path dir) throws IOException {
        for (String name : List.of("t.rank1.jsonl", "t.rank0.jsonl", "t.rank10.jsonl", "other.jsonl")) {
            Files.writeString(dir.resolve(name), "{}");
        }
        List<Path> files = TraceInput.expand("--input", List.of(dir.resolve("other.jsonl").toString(),
                dir.resolve("t.rank*.jsonl").toString()));
        assertThat(files).containsExactly(dir.resolve("other.jsonl"), dir.resolve("t.rank0.jsonl"),
                dir.resolve("t.rank1.jsonl"), dir.resolve("t.rank10.jsonl"));
    }

    @Test
    void aFileNamedTwice_orThroughALink_countsOnce(@TempDir Path dir) throws IOException {
        Path a = Files.writeString(dir.resolve("a.jsonl"), "{}");
        Path link = Files.createSymbolicLink(dir.resolve("link.jsonl"), a);
        List<Path> files = TraceInput.expand("--input", List.of(a.toString(), dir.resolve("./a.jsonl").toString(),
                link.toString(), dir.resolve("?.jsonl").toString()));
        assertThat(files).containsExactly(a);
    }

    @Test
    void aFileWhoseNameLooksLikeAGlob_isReadAsItself(@TempDir Path dir) throws IOException {
        Path odd = Files.writeString(dir.resolve("t[1].jsonl"), "{}");
        Files.writeString(dir.resolve("t1.jsonl"), "{}");
        assertThat(TraceInput.expand("--input", List.of(odd.toString()))).containsExactly(odd);
    }

    @Test
    void badGlobs_exit2_namingTheInputAndWhatIsAllowed(@TempDir Path dir) throws IOException {
        Files.createDirectory(dir.resolve("rank0"));
        Files.writeString(dir.resolve("rank0").resolve("t.jsonl"), "{}");
        String inFolder = dir.resolve("rank*").resolve("t.jsonl").toString();
        assertThatThrownBy(() -> TraceInput.expand("--input", List.of(inFolder))).isInstanceOf(UsageException.class)
                .hasMessage("--input " + inFolder + ": a wildcard in a folder name; allowed: wildcards (* ? [...] {...}) "
                        + "in the file name only");
        String unclosed = dir.resolve("t{a.jsonl").toString();
        assertThatThrownBy(() -> TraceInput.expand("--input", List.of(unclosed))).isInstanceOf(UsageException.class)
                .hasMessageStartingWith("--input " + unclosed + ": not a glob: ")
                .hasMessageEndingWith("; allowed: a file, or a glob of * ? [...] {...}");
        String folders = dir.resolve("rank?").toString();
        assertThatThrownBy(() -> TraceInput.expand("--input", List.of(folders))).isInstanceOf(UsageException.class)
                .hasMessage("--input " + dir.resolve("rank0") + ": not a file; allowed: an OTLP-JSON trace file");
        String nowhere = dir.resolve("missing").resolve("t*.jsonl").toString();
        assertThatThrownBy(() -> TraceInput.expand("--input", List.of(nowhere))).isInstanceOf(UsageException.class)
                .hasMessage("--input " + nowhere + ": no file matches; allowed: a glob that matches OTLP-JSON trace files, "
                        + "or a file");
    }
}
