package dev.ppexec.dist;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/** Ports for tests that give rank 0 a MASTER_PORT themselves, as a user's launcher would. */
final class Ports {

    private Ports() {
    }

    /**
     * A port of 127.0.0.1 that was free a moment ago. Only an unrelated process can take it before rank 0 binds it:
     * the world's own ranks bind after reaching rank 0 (Note [rank 0 binds first] in World).
     */
    static int free() {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free port on 127.0.0.1: " + e.getMessage(), e);
        }
    }
}
