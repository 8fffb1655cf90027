package dev.ppexec.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class AtomicFileTest {

    @TempDir
    Path dir;

    @Test
    void writesWhole_andReplacesAnOldFile() throws IOException {
        Path f = Files.writeString(dir.resolve("r.json"), "old");
        AtomicFile.write(f, out -> out.write("new".getBytes(StandardCharsets.UTF_8)));
        assertThat(f).hasContent("new");
        assertThat(dir).isDirectoryNotContaining("glob:**.tmp");
    }

    @Test
    void aFailureHalfWay_leavesTheOldFileAndNoTemporary() throws IOException {
        Path f = Files.writeString(dir.resolve("r.json"), "old");
        assertThatThrownBy(() -> AtomicFile.write(f, out -> {
            out.write("half".getBytes(StandardCharsets.UTF_8));
            throw new IOException("disk on fire");
        })).hasMessage("disk on fire");
        assertThat(f).hasContent("old");
        try (var files = Files.list(dir)) {
            assertThat(files).containsExactly(f);
        }
    }

    @Test
    void aDeviceIsWrittenInPlace_notReplaced() throws Exception {
        Path full = TestFiles.fullDevice(dir);
        assertThatThrownBy(() -> AtomicFile.write(full, out -> {
            out.write(new byte[64 * 1024]);
            out.flush();
        })).isInstanceOf(IOException.class).hasMessageContaining("No space left on device");
        assertThat(Files.isRegularFile(full)).as("the full device must still be a device").isFalse();
    }

    @Test
    void aReplacedFile_keepsItsPermissions() throws IOException {
        Path f = Files.writeString(dir.resolve("r.json"), "old");
        Set<PosixFilePermission> readOnly = PosixFilePermissions.fromString("r--r-----");
        Files.setPosixFilePermissions(f, readOnly);
        AtomicFile.write(f, out -> out.write("new".getBytes(StandardCharsets.UTF_8)));
        assertThat(f).hasContent("new");
        assertThat(Files.getPosixFilePermissions(f)).isEqualTo(readOnly);
    }
}
