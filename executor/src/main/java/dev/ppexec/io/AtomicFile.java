package dev.ppexec.io;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Writes an output file whole or not at all: into a temporary file beside the target,
 * then renamed over it. An interrupted or failed run never leaves a half-written report, trace or
 * picture that looks complete; on failure the temporary file is removed. A target that exists
 * and is not a regular file (a pipe, {@code /dev/stdout}, {@code /dev/full}) is written in place:
 * renaming over it would replace the device, not write to it.
 */
public final class AtomicFile {

    /** Writes the file's bytes; may throw on a full disk or a closed stream. */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** What a new file gets (before the umask), not the owner-only mode of a temporary file. */
    private static final FileAttribute<?> READABLE = PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rw-r--r--"));

    private AtomicFile() {}

    public static void write(Path target, Body body) throws IOException {
        if (Files.exists(target) && !Files.isRegularFile(target)) {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(target))) {
                body.writeTo(out);
            }
            return;
        }
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = dir.getFileSystem().supportedFileAttributeViews().contains("posix")
                ? Files.createTempFile(dir, "." + target.getFileName(), ".tmp", READABLE)
                : Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16)) {
                body.writeTo(out);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
