package dev.ppexec.io;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Note [output policy], generated: every kind of path a user can point an output at, times every
 * way a write ends (whole file, streamed then committed, streamed then aborted, a body that fails
 * half-way). A regular file is replaced whole or kept; a link stays a link and its target takes
 * the bytes; a FIFO stays a FIFO and gets them in place; a folder, a file's child and a full device
 * are refused with the OS's reason; no temporary file is ever left.
 */
class OutputPolicyTest {

    enum Kind {
        REGULAR, MISSING, FIFO, LINK_TO_FIFO, LINK_TO_REGULAR, DANGLING_LINK, FOLDER, MISSING_PARENT, PARENT_IS_FILE, DEV_FULL
    }

    enum Ending { WRITE, STREAM_COMMIT, STREAM_ABORT, BODY_FAILS }

    private static final String OLD = "old";
    private static final String NEW = "new content\n";

    @Property(tries = 40)
    void everyKindOfPath_followsThePolicy_forEveryEnding(@ForAll Kind kind, @ForAll Ending ending) throws Exception {
        Statistics.collect(kind, ending);
        Path dir = Files.createTempDirectory("policy");
        try {
            check(dir, kind, ending);
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void check(Path dir, Kind kind, Ending ending) throws Exception {
        Path target = dir.resolve("out.json");
        Path linkTarget = dir.resolve("real.json");
        switch (kind) {
            case REGULAR -> Files.writeString(target, OLD);
            case FIFO -> mkfifo(target);
            case LINK_TO_FIFO -> {
                mkfifo(linkTarget);
                Files.createSymbolicLink(target, linkTarget.getFileName());
            }
            case LINK_TO_REGULAR -> {
                Files.writeString(linkTarget, OLD);
                Files.createSymbolicLink(target, linkTarget.getFileName());
            }
            case DANGLING_LINK -> Files.createSymbolicLink(target, linkTarget.getFileName());
            case FOLDER -> Files.createDirectory(target);
            case MISSING_PARENT -> target = dir.resolve("a/b/out.json");
            case PARENT_IS_FILE -> target = Files.writeString(dir.resolve("plain"), OLD).resolve("out.json");
            case DEV_FULL -> target = Path.of("/dev/full");
            case MISSING -> { }
        }
        Path fifo = kind == Kind.FIFO ? target : kind == Kind.LINK_TO_FIFO ? linkTarget : null;
        CompletableFuture<String> reader = fifo == null ? null : CompletableFuture.supplyAsync(() -> readAll(fifo));
        Path written = kind.name().contains("LINK") ? linkTarget : target;

        boolean refused = kind == Kind.FOLDER || kind == Kind.PARENT_IS_FILE || kind == Kind.DEV_FULL;
        boolean completes = ending == Ending.WRITE || ending == Ending.STREAM_COMMIT;
        if (refused) {
            Path t = target;
            assertThatThrownBy(() -> write(t, ending)).isInstanceOf(IOException.class).satisfies(e -> assertThat(e.getMessage())
                    .as("the OS's reason").containsAnyOf("is a folder", "Not a directory", "No space left on device",
                            "disk on fire"));
        } else if (ending == Ending.BODY_FAILS) {
            Path t = target;
            assertThatThrownBy(() -> write(t, ending)).hasMessage("disk on fire");
        } else {
            write(target, ending);
        }

        if (fifo != null) {
            String got = reader.get(20, TimeUnit.SECONDS);
            assertThat(isFifo(fifo)).as("the FIFO is still a FIFO").isTrue();
            if (completes) {
                assertThat(got).isEqualTo(NEW);
            }
        } else if (kind == Kind.DEV_FULL) {
            assertThat(Files.isRegularFile(target)).as("/dev/full is still a device").isFalse();
        } else if (kind == Kind.FOLDER) {
            assertThat(target).isDirectory().isEmptyDirectory();
        } else if (kind == Kind.PARENT_IS_FILE) {
            assertThat(dir.resolve("plain")).hasContent(OLD);
        } else {
            boolean existed = kind == Kind.REGULAR || kind == Kind.LINK_TO_REGULAR;
            if (completes) {
                assertThat(written).hasContent(NEW);
            } else if (existed) {
                assertThat(written).as("the previous file is untouched").hasContent(OLD);
            } else {
                assertThat(written).doesNotExist();
            }
        }
        if (kind.name().contains("LINK")) {
            assertThat(Files.isSymbolicLink(dir.resolve("out.json"))).as("the link itself stays").isTrue();
        }
        if (kind != Kind.DEV_FULL) {
            try (Stream<Path> all = Files.walk(dir)) {
                assertThat(all.map(p -> p.getFileName().toString())).as("no temporary file left").noneMatch(n -> n.endsWith(".tmp"));
            }
        }
    }

    private static void write(Path target, Ending ending) throws IOException {
        byte[] bytes = NEW.getBytes(StandardCharsets.UTF_8);
        switch (ending) {
            case WRITE -> AtomicFile.write(target, out -> out.write(bytes));
            case BODY_FAILS -> AtomicFile.write(target, out -> {
                out.write(bytes, 0, 3);
                out.flush();
                throw new IOException("disk on fire");
            });
            case STREAM_COMMIT, STREAM_ABORT -> {
                try (AtomicFile.Open open = AtomicFile.open(target)) {
                    for (int i = 0; i < bytes.length; i++) {
                        open.out().write(bytes[i]);
                    }
                    open.out().flush();
                    if (ending == Ending.STREAM_COMMIT) {
                        open.commit();
                    } else if (open.inPlace()) {
                        return; // a FIFO has the bytes already; abort only closes it
                    }
                }
            }
        }
    }

    static void mkfifo(Path p) throws IOException, InterruptedException {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertThat(mk.waitFor()).as("mkfifo %s", p).isZero();
    }

    static boolean isFifo(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0010000;
    }

    /** Reads a FIFO to its end; opening it blocks until a writer opens it. */
    static String readAll(Path fifo) {
        try (InputStream in = Files.newInputStream(fifo)) {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            in.transferTo(b);
            return b.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
