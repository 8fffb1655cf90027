package dev.ppexec.cli;

import dev.ppexec.io.TestFiles;
import dev.ppexec.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.ppexec.cli.RunCommandTest.cli;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelFileTest {

    static final String GOOD = """
            {"name": "wide", "vocab": 128, "dim": 32, "heads": 2,
             "layers": 2, "ffn": 64, "max_seq": 64}
            """;

    @TempDir
    Path dir;

    Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("model.json"), text);
    }

    @Test
    void readsEveryKey() throws IOException {
        ModelConfig c = ModelFile.read(write(GOOD), 7);
        assertThat(c).isEqualTo(new ModelConfig("wide", 128, 32, 2, 2, 64, 64, 7));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "{\"name\":\"m\",\"vocab\":128,\"dim\":32,\"heads\":2,\"layers\":2,\"ffn\":64,\"max_seq\":64,\"colour\":1} | line 1: unknown key 'colour'; allowed: name, vocab, dim, heads, layers, ffn, max_seq",
            "{\"vocab\":128,\\n\"dim\":-32}                                                              | line 2: dim -32 is out of range; allowed: 1..65536",
            "{\"vocab\":128,\"dim\":\"wide\"}                                                           | line 1: dim \"wide\" is not an integer; allowed: 1..65536",
            "{\"vocab\":99999999999}                                                                    | line 1: vocab 99999999999 is out of range; allowed: 1..1048576",
            "{\"vocab\":1.5}                                                                            | line 1: vocab 1.5 is not an integer",
            "{\"vocab\":128,\"vocab\":128}                                                              | line 1: key 'vocab' appears twice",
            "[1,2]                                                                                      | line 1: does not start with '{'",
            "{\"vocab\":128,                                                                            | not valid JSON",
            "{\"vocab\":128,\"dim\":32,\"heads\":2,\"layers\":2,\"ffn\":64}                             | key 'max_seq' is missing",
            "{\"vocab\":128,\"dim\":32,\"heads\":3,\"layers\":2,\"ffn\":64,\"max_seq\":64}              | dim 32 is not divisible by heads 3",
            "{\"vocab\":128}{}                                                                          | has more after the object",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[                     | does not start with '{'",
    })
    void badFiles_areOneLineNamingFileLineKeyAndWhatIsAllowed(String text, String message) throws IOException {
        Path f = write(text.replace("\\n", "\n"));
        assertThatThrownBy(() -> ModelFile.read(f, 1))
                .isInstanceOf(UsageException.class)
                .hasMessageStartingWith("--model-file " + f)
                .hasMessageContaining(message)
                .hasMessageNotContaining("\n");
    }

    @Test
    void missingFile_isNamed() {
        Path f = dir.resolve("absent.json");
        assertThatThrownBy(() -> ModelFile.read(f, 1)).hasMessage("--model-file " + f + ": no such file; allowed: a JSON file of the model's shape");
    }

    @Test
    void fifoOrFolder_isRefusedWithoutReadingIt() throws IOException, InterruptedException {
        assertThatThrownBy(() -> ModelFile.read(dir, 1)).isInstanceOf(UsageException.class)
                .hasMessage("--model-file " + dir + ": not a regular file (a folder, a FIFO or a device); allowed: a JSON "
                        + "file of the model's shape");
        Path fifo = dir.resolve("model.fifo");
        TestFiles.mkfifo(fifo);
        CliRun o = cli("run", "--model-file", fifo.toString(), "--no-progress");
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().strip()).isEqualTo("run: --model-file " + fifo + ": not a regular file (a folder, a FIFO or a "
                + "device); allowed: a JSON file of the model's shape");
    }

    @Test
    void run_usesTheFile_andRefusesItBesideModel() throws IOException {
        Path f = write(GOOD);
        CliRun ok = cli("run", "--model-file", f.toString(), "--device", "cpu", "--requests", "2",
                "--micro-batches", "1", "--prompt-len", "4", "--decode-steps", "2", "--warmup", "0", "--no-progress");
        assertThat(ok.status()).as(ok.err()).isZero();
        assertThat(ok.out()).contains("model wide (2 layers, dim 32, vocab 128");

        CliRun both = cli("run", "--model", "tiny", "--model-file", f.toString());
        assertThat(both.status()).isEqualTo(2);
        assertThat(both.err().strip()).isEqualTo("run: --model tiny and --model-file " + f + " both given; allowed: one of them");
    }

    @Test
    void run_refusesAModelLargerThanTheHeap_beforeAllocating() throws IOException {
        // 64 layers of dim 8192: about 52 GiB of fp32 weights, far above the test JVM's -Xmx2g.
        Path f = write("""
                {"name": "big", "vocab": 32000, "dim": 8192, "heads": 64, "layers": 64, "ffn": 28672, "max_seq": 4096}
                """);
        long heapBefore = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        CliRun o = cli("run", "--model-file", f.toString(), "--device", "cpu", "--requests", "1",
                "--micro-batches", "1", "--prompt-len", "4", "--decode-steps", "1");
        assertThat(o.status()).isEqualTo(2);
        assertThat(o.err().strip()).matches("run: --requests 1 x \\(--prompt-len 4 \\+ --decode-steps 1\\) positions of model big need \\d+\\.\\d\\d GiB \\(weights \\d+\\.\\d\\d GiB, "
                + "KV cache .*\\); this JVM has .* free of its -Xmx .*; allowed: .*");
        assertThat(o.err().lines()).hasSize(1);
        long heapAfter = Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory();
        assertThat(heapAfter - heapBefore).as("nothing of the model was allocated").isLessThan(256L << 20);
    }
}
