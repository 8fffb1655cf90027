package dev.ppexec.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/** The listening TCP sockets of this machine as Linux's /proc/net/tcp{,6} list them (state 0A). */
public final class ListeningSockets {

    private ListeningSockets() {
    }

    /** Each listening socket's fields: [1] local address as ADDRESS:PORT in hex, [9] inode. */
    public static List<String[]> rows() throws IOException {
        List<String[]> rows = new ArrayList<>();
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            Path p = Path.of(table);
            if (!Files.exists(p)) {
                continue;
            }
            List<String> lines = Files.readAllLines(p);
            for (String line : lines.subList(1, lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[3].equals("0A")) {
                    rows.add(f);
                }
            }
        }
        return rows;
    }

    /** Inodes of sockets this process holds that /proc/net lists as listening (TCP state 0A). */
    public static Set<String> ofThisProcess() throws IOException {
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
        for (String[] f : rows()) {
            if (mine.contains(f[9])) {
                listening.add(f[9]);
            }
        }
        return listening;
    }
}
