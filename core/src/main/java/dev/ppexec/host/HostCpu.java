package dev.ppexec.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** What the machine's CPU is, for saying where figures came from: the one reader of {@code /proc/cpuinfo}. */
public final class HostCpu {

    private static final Path CPUINFO = Path.of("/proc/cpuinfo");

    private HostCpu() {
    }

    /** The first {@code model name} of {@code /proc/cpuinfo}; empty where there is none (not Linux). */
    public static Optional<String> model() {
        try {
            return model(Files.readAllLines(CPUINFO));
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** The first {@code model name} among {@code cpuinfo}'s lines. */
    static Optional<String> model(List<String> cpuinfo) {
        return cpuinfo.stream().filter(l -> l.startsWith("model name") && l.indexOf(':') >= 0)
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).filter(m -> !m.isEmpty()).findFirst();
    }

    /** The number of cores this JVM may use. */
    public static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }
}
