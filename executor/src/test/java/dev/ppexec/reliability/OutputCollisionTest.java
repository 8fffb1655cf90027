package dev.ppexec.reliability;

import dev.ppexec.cli.CliRun;
import dev.ppexec.io.TestFiles;
import dev.ppexec.perfetto.TraceFixtures;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two options naming one file, generated: every pair of {@code run}'s outputs, an input with an
 * output ({@code run --model-file}, {@code convert}, {@code report --timeline}), the second name
 * spelled another way (the same, {@code dir/./X}, {@code dir/sub/../X}, a symbolic link, relative
 * to the working folder), the file there before or not. Each is refused before the run: exit 2,
 * one line naming both options, and the file as it was.
 */
class OutputCollisionTest {

    /** The command, the first option (whose file exists when it is an input) and the second. */
    enum Pair {
        TRACE_PERFETTO("run", "--trace-file", "--perfetto"),
        PERFETTO_TRACE("run", "--perfetto", "--trace-file"),
        TRACE_REPORT("run", "--trace-file", "--report"),
        REPORT_TRACE("run", "--report", "--trace-file"),
        REPORT_PERFETTO("run", "--report", "--perfetto"),
        PERFETTO_REPORT("run", "--perfetto", "--report"),
        MODEL_REPORT("run", "--model-file", "--report"),
        MODEL_TRACE("run", "--model-file", "--trace-file"),
        CONVERT("convert", "--input", "--output"),
        TIMELINE("report", "--input", "--timeline");

        final String command;
        final String first;
        final String second;

        Pair(String command, String first, String second) {
            this.command = command;
            this.first = first;
            this.second = second;
        }

        boolean input() {
            return first.equals("--model-file") || first.equals("--input");
        }
    }

    enum Spelling { SAME, DOT, DOT_DOT, SYMLINK, RELATIVE }

    private static final String MODEL = "{\"name\":\"m\",\"vocab\":128,\"dim\":32,\"heads\":2,\"layers\":2,\"ffn\":64,\"max_seq\":64}\n";

    @Property(tries = 100)
    void twoOptionsOnOneFile_areRefusedBeforeTheRun(@ForAll Pair pair, @ForAll Spelling spelling, @ForAll boolean exists)
            throws Exception {
        Statistics.collect(pair, spelling);
        TestFiles.inNewFolder("collision", dir -> {
            Path file = dir.resolve("x.json");
            boolean present = exists || pair.input();
            String before = pair.first.equals("--model-file") ? MODEL : pair.first.equals("--input")
                    ? Files.readString(TraceFixtures.resource("p2-m2.jsonl")) : "{\"old\":1}\n";
            if (present) {
                Files.writeString(file, before);
            }
            Files.createDirectory(dir.resolve("sub"));
            String other = switch (spelling) {
                case SAME -> file.toString();
                case DOT -> dir + "/./x.json";
                case DOT_DOT -> dir + "/sub/../x.json";
                case SYMLINK -> Files.createSymbolicLink(dir.resolve("link.json"), file.getFileName()).toString();
                case RELATIVE -> Path.of("").toAbsolutePath().relativize(file).toString();
            };
            List<String> args = new ArrayList<>(List.of(pair.command));
            if (pair.command.equals("run")) {
                args.addAll(List.of("--device", "cpu", "--requests", "2", "--micro-batches", "1", "--prompt-len", "4",
                        "--decode-steps", "2", "--warmup", "0", "--no-progress"));
                if (!pair.first.equals("--model-file")) {
                    args.addAll(List.of("--model", "tiny"));
                }
            }
            args.addAll(List.of(pair.first, file.toString(), pair.second, other));
            CliRun r = CliRun.of(args.toArray(String[]::new));

            assertThat(r.status()).as(r.err()).isEqualTo(2);
            String a = pair.first + " " + file;
            String b = pair.second + " " + other;
            String allowed = " name one file; allowed: " + (pair.input() ? "an output that is not an input"
                    : "a different file for each output");
            assertThat(r.err().strip()).as("one line naming both options, in the order the command checks them")
                    .isIn(pair.command + ": " + a + " and " + b + allowed, pair.command + ": " + b + " and " + a + allowed);
            assertThat(r.out()).doesNotContain("tokens/s");
            if (present) {
                assertThat(file).hasContent(before.strip());
            } else {
                assertThat(file).doesNotExist();
            }
            assertThat(TestFiles.temporaries(dir)).isEmpty();
        });
    }
}
