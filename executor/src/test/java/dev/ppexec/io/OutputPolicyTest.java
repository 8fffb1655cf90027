package dev.ppexec.io;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Note [output policy], generated: every kind of path a user can point an output at
 * ({@link TestFiles.PathKind}), times every way a write ends (whole file, streamed then committed, streamed then aborted, a body that fails
 * half-way). A regular file is replaced whole or kept; a link stays a link and its target takes
 * the bytes; a FIFO stays a FIFO and gets them in place; a folder (or a link to one), a link loop,
 * a file's child, a folder that cannot be made, an empty name and a full device are refused with
 * the OS's reason; no temporary file is ever left.
 */
class OutputPolicyTest {

    enum Ending { WRITE, STREAM_COMMIT, STREAM_ABORT, BODY_FAILS }

    private static final String OLD = "old";
    private static final String NEW = "new content\n";

    @Property(tries = 56)
    void everyKindOfPath_followsThePolicy_forEveryEnding(@ForAll TestFiles.PathKind kind, @ForAll Ending ending) throws Exception {
        Statistics.collect(kind, ending);
        TestFiles.inNewFolder("policy", dir -> check(dir, kind, ending));
    }

    private static void check(Path dir, TestFiles.PathKind kind, Ending ending) throws Exception {
        TestFiles.Made made = TestFiles.make(dir, kind, OLD);
        Path target = made.named();
        Path fifo = made.fifo();
        CompletableFuture<String> reader = fifo == null ? null
                : CompletableFuture.supplyAsync(() -> new String(TestFiles.readAll(fifo), StandardCharsets.UTF_8));

        boolean completes = ending == Ending.WRITE || ending == Ending.STREAM_COMMIT;
        if (kind.refused() || kind == TestFiles.PathKind.DEV_FULL) {
            assertThatThrownBy(() -> write(target, ending)).isInstanceOf(IOException.class).satisfies(e -> assertThat(e.getMessage())
                    .as("the OS's reason").containsAnyOf("is a folder", "Not a directory", "No space left on device",
                            "Too many levels of symbolic links", "No such file or directory", "disk on fire"));
        } else if (ending == Ending.BODY_FAILS) {
            assertThatThrownBy(() -> write(target, ending)).hasMessage("disk on fire");
        } else {
            write(target, ending);
        }

        switch (kind) {
            case FIFO, LINK_TO_FIFO -> {
                String got = reader.get(20, TimeUnit.SECONDS);
                assertThat(TestFiles.isFifo(fifo)).as("the FIFO is still a FIFO").isTrue();
                if (completes) {
                    assertThat(got).isEqualTo(NEW);
                }
            }
            case DEV_FULL -> assertThat(Files.isRegularFile(target)).as("the full device is still a device").isFalse();
            case FOLDER, LINK_TO_FOLDER -> assertThat(made.written()).isDirectory().isEmptyDirectory();
            case PARENT_IS_FILE -> assertThat(dir.resolve("plain")).hasContent(OLD);
            case PROC, EMPTY -> assertThat(dir.toFile().list()).as("nothing made").isEmpty();
            case LINK_LOOP -> assertThat(dir.toFile().list()).as("only the loop").containsExactly("out.x");
            default -> {
                boolean existed = kind == TestFiles.PathKind.REGULAR || kind == TestFiles.PathKind.LINK_TO_REGULAR;
                if (completes) {
                    assertThat(made.written()).hasContent(NEW);
                } else if (existed) {
                    assertThat(made.written()).as("the previous file is untouched").hasContent(OLD);
                } else {
                    assertThat(made.written()).doesNotExist();
                }
            }
        }
        if (kind.link()) {
            assertThat(Files.isSymbolicLink(dir.resolve("out.x"))).as("the link itself stays").isTrue();
        }
        assertThat(TestFiles.temporaries(dir)).as("no temporary file left").isEmpty();
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
}
