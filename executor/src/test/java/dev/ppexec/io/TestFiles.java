package dev.ppexec.io;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Files the output tests make: a fresh folder per generated case (jqwik has no @TempDir), FIFOs and their readers. */
public final class TestFiles {

    /** A case that runs in its own folder. */
    @FunctionalInterface
    public interface Case {
        void run(Path dir) throws Exception;
    }

    /** Every kind of path a user can point an output at; from FOLDER on, nothing can be written there. */
    public enum PathKind {
        REGULAR, MISSING, MISSING_PARENT, FIFO, LINK_TO_FIFO, LINK_TO_REGULAR, DANGLING_LINK, DEV_FULL,
        FOLDER, LINK_TO_FOLDER, LINK_LOOP, PARENT_IS_FILE, PROC, EMPTY;

        public boolean refused() {
            return ordinal() >= FOLDER.ordinal();
        }

        public boolean link() {
            return name().startsWith("LINK") || this == DANGLING_LINK;
        }
    }

    /**
     * A path made in a folder: {@code named} is what the user gives, {@code written} where the bytes
     * land (a link's target), {@code fifo} the FIFO to read from (or null).
     */
    public record Made(Path named, Path written, Path fifo) {}

    private TestFiles() {}

    /** Makes {@code kind} in {@code dir}; a regular file there holds {@code old}. */
    public static Made make(Path dir, PathKind kind, String old) throws IOException, InterruptedException {
        Path named = dir.resolve("out.x");
        Path real = dir.resolve("real.x");
        switch (kind) {
            case REGULAR -> Files.writeString(named, old);
            case MISSING -> { }
            case MISSING_PARENT -> named = dir.resolve("a/b/out.x");
            case FIFO -> mkfifo(named);
            case LINK_TO_FIFO -> mkfifo(real);
            case LINK_TO_REGULAR -> Files.writeString(real, old);
            case DANGLING_LINK -> { }
            case DEV_FULL -> named = fullDevice(dir);
            case FOLDER -> Files.createDirectory(named);
            case LINK_TO_FOLDER -> Files.createDirectory(real);
            case LINK_LOOP -> Files.createSymbolicLink(named, named.getFileName());
            case PARENT_IS_FILE -> named = Files.writeString(dir.resolve("plain"), old).resolve("out.x");
            case PROC -> named = Path.of("/proc/ppexec-no-such-folder/out.x");
            case EMPTY -> named = Path.of("");
        }
        if (kind.link() && kind != PathKind.LINK_LOOP) {
            Files.createSymbolicLink(named, real.getFileName());
        }
        Path written = kind.link() ? real : named;
        return new Made(named, written, kind == PathKind.FIFO || kind == PathKind.LINK_TO_FIFO ? written : null);
    }

    /**
     * A full-disk device of the test's own in {@code dir}: a node like {@code /dev/full} (character
     * device 1:7, every write fails with ENOSPC), so no test points at a system device.
     */
    public static Path fullDevice(Path dir) throws IOException, InterruptedException {
        Path node = dir.resolve("full");
        Process p = new ProcessBuilder("mknod", node.toString(), "c", "1", "7").redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor()).as("mknod %s c 1 7: %s", node, said).isZero();
        return node;
    }

    /** Runs {@code body} in a new temporary folder, removed afterwards with all it holds. */
    public static void inNewFolder(String prefix, Case body) throws Exception {
        Path dir = Files.createTempDirectory(prefix);
        try {
            body.run(dir);
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    public static void mkfifo(Path p) throws IOException, InterruptedException {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertThat(mk.waitFor()).as("mkfifo %s", p).isZero();
    }

    public static boolean isFifo(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0010000;
    }

    /** Reads a FIFO to its end; opening it blocks until a writer opens it, so call it from another thread. */
    public static byte[] readAll(Path fifo) {
        try (InputStream in = Files.newInputStream(fifo)) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The names of the temporary files anywhere below {@code dir}. */
    public static java.util.List<String> temporaries(Path dir) throws IOException {
        try (Stream<Path> all = Files.walk(dir)) {
            return all.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp")).sorted().toList();
        }
    }
}
