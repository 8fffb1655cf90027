package dev.ppexec.io;

import java.io.BufferedOutputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The one writer of every output ppexec makes (trace, run report, Perfetto JSON, timeline PNG,
 * bench files and plots), with one policy.
 *
 * <p>Note [output policy]: a symbolic link is followed to the file it names (the link itself stays).
 * A regular file, or a name that does not exist yet, is written whole or not at all: into a
 * temporary file beside it, renamed over it on commit, removed on abort, so the previous file
 * survives a failed or interrupted write. A FIFO or a character device ({@code /dev/stdout},
 * {@code /dev/full}) is written in place: renaming over it would replace the device. A folder, a
 * block device and a socket are refused. Nothing is ever renamed over a non-regular file. Missing
 * folders above the file are created. Temporary files are named
 * {@code .NAME.ppexec-PID-RANDOM.tmp}; a kill can strand one, and the next run that writes into
 * that folder removes it once process PID is gone ({@link #removeStrays}).
 */
public final class AtomicFile {

    /** Writes the file's bytes; may throw on a full disk or a closed stream. */
    @FunctionalInterface
    public interface Body {
        void writeTo(OutputStream out) throws IOException;
    }

    /** What a new file gets (before the umask), not the owner-only mode of a temporary file; a replaced file keeps its own. */
    private static final Set<PosixFilePermission> READABLE = PosixFilePermissions.fromString("rw-r--r--");
    private static final Pattern STRAY = Pattern.compile("^\\..+\\.ppexec-(\\d+)-[0-9a-z]+\\.tmp$");
    private static final int BUFFER_BYTES = 1 << 16;

    private AtomicFile() {}

    /**
     * An output being written, from {@link #open} to {@link #commit} or {@link #abort}: a stream
     * that many appends may go through (the trace exporter's), then one decision.
     */
    public static final class Open implements AutoCloseable {
        private final Path target;
        private final Path temp;
        private final Set<PosixFilePermission> keepMode;
        private final FileOutputStream file;
        private final OutputStream out;
        private boolean done;

        /** {@code keepMode}: the replaced file's permissions, given to the new one (null: a new file, the umask's). */
        private Open(Path target, Path temp, Set<PosixFilePermission> keepMode, FileOutputStream file) {
            this.target = target;
            this.temp = temp;
            this.keepMode = keepMode;
            this.file = file;
            this.out = new BufferedOutputStream(file, BUFFER_BYTES) {
                /** A body that closes its stream (a JSON generator does) leaves the decision to commit or abort. */
                @Override
                public void close() throws IOException {
                    flush();
                }
            };
        }

        /** Where the bytes end up: the file a symbolic link named, or the name itself. */
        public Path target() {
            return target;
        }

        /** Written in place (a FIFO or a device), so {@link #abort} cannot take bytes back. */
        public boolean inPlace() {
            return temp == null;
        }

        public OutputStream out() {
            return out;
        }

        /** Makes what was written the target's content: renames the temporary file over it, or closes the device. */
        public synchronized void commit() throws IOException {
            if (done) {
                throw new IllegalStateException(target + ": already committed or aborted");
            }
            done = true;
            try {
                out.flush();
                if (temp != null) {
                    file.getFD().sync();
                }
                file.close();
                if (temp != null) {
                    if (keepMode != null) {
                        Files.setPosixFilePermissions(temp, keepMode);
                    }
                    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
                }
            } finally {
                if (temp != null) {
                    Files.deleteIfExists(temp);
                }
            }
        }

        /** Leaves the target as it was (a device keeps what already reached it); idempotent, never throws. */
        public synchronized void abort() {
            if (done) {
                return;
            }
            done = true;
            try {
                if (temp == null) {
                    out.flush();
                }
            } catch (IOException ignored) {
                // In place: what could not be written is lost with the run that failed.
            }
            try {
                file.close();
            } catch (IOException ignored) {
                // Closed or not, the temporary file is removed next.
            }
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException ignored) {
                    // Named as a stray: the next run writing into this folder removes it.
                }
            }
        }

        /** Aborts unless committed. */
        @Override
        public void close() {
            abort();
        }
    }

    /** Writes {@code target} whole by the policy above; an interrupted thread's file is aborted, not committed. */
    public static void write(Path target, Body body) throws IOException {
        try (Open open = open(target)) {
            body.writeTo(open.out());
            if (!open.inPlace() && Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("interrupted before it was complete; " + target + " is left as it was");
            }
            open.commit();
        }
    }

    /** Opens {@code target} for writing by the policy above; close or abort it on every path. */
    public static Open open(Path target) throws IOException {
        Path resolved = OutputPath.follow(target);
        OutputPath.Kind kind = OutputPath.kind(resolved);
        switch (kind) {
            case FIFO, CHARACTER_DEVICE -> {
                return new Open(resolved, null, null, new FileOutputStream(resolved.toFile()));
            }
            case MISSING, REGULAR -> {
                Path folder = resolved.toAbsolutePath().getParent();
                try {
                    Files.createDirectories(folder);
                } catch (FileSystemException e) {
                    throw new FileSystemException(e.getFile(), null, OutputCheck.why(e)); // the path and the OS's reason
                }
                removeStrays(folder);
                Path temp = tempBeside(resolved, "out");
                Set<PosixFilePermission> keep = kind == OutputPath.Kind.REGULAR && posix(folder)
                        ? Files.getPosixFilePermissions(resolved) : null;
                if (posix(folder)) {
                    FileAttribute<?> attribute = PosixFilePermissions.asFileAttribute(READABLE);
                    Files.createFile(temp, attribute);
                } else {
                    Files.createFile(temp);
                }
                try {
                    return new Open(resolved, temp, keep, new FileOutputStream(temp.toFile()));
                } catch (IOException | RuntimeException e) {
                    Files.deleteIfExists(temp);
                    throw e;
                }
            }
            default -> throw new IOException(kind.refusal());
        }
    }

    /**
     * A name beside {@code file} for this process's scratch data ({@code what}: "out", "trace"...),
     * named as a stray so that {@link #removeStrays} takes it if a kill leaves it behind.
     */
    public static Path tempBeside(Path file, String what) {
        Path absolute = file.toAbsolutePath();
        return absolute.resolveSibling("." + absolute.getFileName() + ".ppexec-" + ProcessHandle.current().pid() + "-"
                + what + Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36) + ".tmp");
    }

    /** Removes the temporary files that processes no longer alive left in {@code folder}; returns how many. */
    public static int removeStrays(Path folder) {
        int removed = 0;
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(folder, ".*.ppexec-*.tmp")) {
            for (Path p : entries) {
                Matcher m = STRAY.matcher(p.getFileName().toString());
                if (m.matches() && !alive(m.group(1)) && Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(p);
                    removed++;
                }
            }
        } catch (IOException ignored) {
            // An unreadable folder fails the write itself, with its reason.
        }
        return removed;
    }

    private static boolean alive(String pid) {
        try {
            return ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive).orElse(false);
        } catch (NumberFormatException e) {
            return true; // not a pid we wrote: leave it
        }
    }

    private static boolean posix(Path folder) {
        return folder.getFileSystem().supportedFileAttributeViews().contains("posix");
    }
}
