package dev.ppexec.otel;

import org.junit.jupiter.api.Assumptions;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.fail;

/**
 * {@code @elastic/mockotlpserver} 0.10.0 (tools/mockotlpserver) as a child process on 127.0.0.1,
 * OTLP/HTTP and OTLP/gRPC on free ports, its printed output captured line by line. Installs the
 * package with {@code npm ci} first when needed. Without node or npm the test is skipped with the
 * reason, except under CI=true, where it fails.
 */
final class MockOtlpReceiver implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("OTLP/(HTTP|gRPC) listening at http://127\\.0\\.0\\.1:(\\d+)/");
    private static final Duration START_BOUND = Duration.ofSeconds(30);

    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private int httpPort;
    private int grpcPort;

    private MockOtlpReceiver(Process process) {
        this.process = process;
    }

    static MockOtlpReceiver start() throws IOException, InterruptedException {
        Path dir = folder();
        requireTools();
        install(dir);
        Process p = new ProcessBuilder("node", "serve.js", "0", "0").directory(dir.toFile()).redirectErrorStream(true)
                .start();
        MockOtlpReceiver receiver = new MockOtlpReceiver(p);
        Thread.ofPlatform().daemon().name("mockotlpserver output").start(receiver::readOutput);
        try {
            receiver.awaitPorts();
        } catch (RuntimeException | Error e) {
            receiver.close();
            throw e;
        }
        return receiver;
    }

    private static Path folder() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            Path candidate = d.resolve("tools/mockotlpserver");
            if (Files.exists(candidate.resolve("package-lock.json"))) {
                return candidate;
            }
        }
        throw new IllegalStateException("tools/mockotlpserver not found above " + Path.of("").toAbsolutePath());
    }

    private static void requireTools() throws InterruptedException {
        for (String tool : List.of("node", "npm")) {
            String missing;
            try {
                Process p = new ProcessBuilder(tool, "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                missing = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 ? null : tool + " --version failed";
            } catch (IOException e) {
                missing = tool + " is not installed (" + e.getMessage() + ")";
            }
            if (missing != null) {
                if ("true".equals(System.getenv("CI"))) {
                    fail("the OTLP receiver test must run under CI=true, but " + missing);
                }
                Assumptions.abort("OTLP receiver test skipped: " + missing);
            }
        }
    }

    /** {@code npm ci} when node_modules is missing or older than the lock file. */
    private static void install(Path dir) throws IOException, InterruptedException {
        Path installed = dir.resolve("node_modules/.package-lock.json");
        if (Files.exists(installed) && Files.getLastModifiedTime(installed)
                .compareTo(Files.getLastModifiedTime(dir.resolve("package-lock.json"))) >= 0) {
            return;
        }
        Process npm = new ProcessBuilder("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String output = new String(npm.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!npm.waitFor(5, TimeUnit.MINUTES) || npm.exitValue() != 0) {
            npm.destroyForcibly();
            fail("npm ci in " + dir + " failed:\n" + output);
        }
    }

    private void readOutput() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                synchronized (lines) {
                    lines.add(line);
                    lines.notifyAll();
                }
            }
        } catch (IOException e) {
            synchronized (lines) {
                lines.add("(output closed: " + e.getMessage() + ")");
                lines.notifyAll();
            }
        }
    }

    private void awaitPorts() throws InterruptedException {
        awaitLines(0, ls -> {
            for (String l : ls) {
                Matcher m = LISTENING.matcher(l);
                if (m.find()) {
                    int port = Integer.parseInt(m.group(2));
                    if (m.group(1).equals("HTTP")) {
                        httpPort = port;
                    } else {
                        grpcPort = port;
                    }
                }
            }
            return httpPort > 0 && grpcPort > 0;
        }, START_BOUND);
    }

    int httpPort() {
        return httpPort;
    }

    int grpcPort() {
        return grpcPort;
    }

    /** The number of lines printed so far: pass it to {@link #awaitLines} to see only what follows. */
    int mark() {
        synchronized (lines) {
            return lines.size();
        }
    }

    /** Waits until the lines printed since {@code mark} satisfy {@code done}; fails with them after {@code bound}. */
    List<String> awaitLines(int mark, Predicate<List<String>> done, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        synchronized (lines) {
            while (true) {
                List<String> since = List.copyOf(lines.subList(mark, lines.size()));
                if (done.test(since)) {
                    return since;
                }
                long left = deadline - System.nanoTime();
                if (left <= 0 || !process.isAlive()) {
                    fail("mockotlpserver did not print what was expected within " + bound.toSeconds() + " s"
                            + (process.isAlive() ? "" : " (it exited)") + "; it printed:\n" + String.join("\n", since));
                }
                lines.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
        }
    }

    /** Stops the server: SIGTERM, then a kill after 5 s. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
