package dev.ppexec.security;

import dev.ppexec.cli.Main;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The executor opens no listening socket: a run leaves none in this process (Linux /proc). */
class NoListeningSocketTest {

    @Test
    void aRunOpensNoListeningSocket() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Set<String> before = listeningInodesOfThisProcess();
        int status = Main.execute(new String[]{"run", "--model", "tiny", "--device", "cpu", "--requests", "4",
                        "--micro-batches", "2", "--prompt-len", "4", "--decode-steps", "4", "--no-progress"},
                new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        assertThat(status).isZero();
        assertThat(listeningInodesOfThisProcess()).isEqualTo(before);
    }

    @Test
    void theCheckSeesAListeningSocket() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/fd")), "needs Linux /proc");
        Set<String> before = listeningInodesOfThisProcess();
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertThat(listeningInodesOfThisProcess()).hasSize(before.size() + 1);
        }
    }

    /** Inodes of sockets this process holds that /proc/net lists as listening (TCP state 0A). */
    static Set<String> listeningInodesOfThisProcess() throws IOException {
        Set<String> mine = new HashSet<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path fd : fds.toList()) {
                try {
                    String link = Files.readSymbolicLink(fd).toString();
                    if (link.startsWith("socket:[")) {
                        mine.add(link.substring(8, link.length() - 1));
                    }
                } catch (IOException e) {
                    // the fd closed while we listed them
                }
            }
        }
        Set<String> listening = new HashSet<>();
        for (String[] f : ListeningSockets.rows()) {
            if (mine.contains(f[9])) {
                listening.add(f[9]);
            }
        }
        return listening;
    }
}
