package dev.ppexec.security;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

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
}
