package dev.ppexec.security;

import dev.ppexec.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The executor opens no listening socket: a run leaves none in this process (Linux /proc). */
class NoListeningSocketTest {

    @Test
    void aRunOpensNoListeningSocket() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Set<String> before = ListeningSockets.ofThisProcess();
        int status = Main.execute(new String[]{"run", "--model", "tiny", "--device", "cpu", "--requests", "4",
                        "--micro-batches", "2", "--prompt-len", "4", "--decode-steps", "4", "--no-progress"},
                new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        assertThat(status).isZero();
        assertThat(ListeningSockets.ofThisProcess()).isEqualTo(before);
    }

    @Test
    void theCheckSeesAListeningSocket() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Set<String> before = ListeningSockets.ofThisProcess();
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertThat(ListeningSockets.ofThisProcess()).hasSize(before.size() + 1);
        }
    }
}
