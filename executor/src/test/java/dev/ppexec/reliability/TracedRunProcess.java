package dev.ppexec.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A long traced {@code ppexec run} (toy, 8 requests, 480 decode steps) in a process of its own, for
 * the signal tests: started with this JVM's class path, its stdout and stderr in files.
 */
final class TracedRunProcess {

    private TracedRunProcess() {}

    /** {@code extra}: more options of the run. */
    static Process start(Path trace, Path stdout, Path stderr, String... extra) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules",
                "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.ppexec.cli.Main", "run",
                "--model", "toy", "--device", "cpu", "--requests", "8", "--micro-batches", "4", "--prompt-len", "16",
                "--decode-steps", "480", "--warmup", "0", "--trace-file", trace.toString()));
        command.addAll(List.of(extra));
        return new ProcessBuilder(command).redirectError(stderr.toFile()).redirectOutput(stdout.toFile()).start();
    }

    /**
     * Waits until the run is under way and {@code millis} more, sends it SIGINT, and returns whether it
     * exited within 30 s (it is killed if not).
     */
    static boolean interrupt(Process p, Path stderr, long millis) throws IOException, InterruptedException {
        awaitProgress(p, stderr);
        Thread.sleep(millis);
        assertThat(p.isAlive()).as("the run is still going when signalled; stderr: %s", Files.readString(stderr)).isTrue();
        new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
        boolean exited = p.waitFor(30, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        return exited;
    }

    /**
     * Waits until the run has streamed a {@code run_batch_device} span into its trace file (the temporary file beside
     * {@code trace}, at most 60 s), then interrupts it as {@link #interrupt} does. A cue from the file, not a delay:
     * on a loaded machine a run may still be in its first forwards seconds after its progress bar appeared.
     */
    static boolean interruptOnceTraced(Process p, Path stderr, Path trace) throws IOException, InterruptedException {
        awaitProgress(p, stderr);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!streamed(trace, "\"name\":\"run_batch_device\"") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        return interrupt(p, stderr, 0);
    }

    /** Whether the temporary file a run streams {@code trace} into holds {@code text}. */
    private static boolean streamed(Path trace, String text) throws IOException {
        String prefix = "." + trace.getFileName() + ".";
        try (var files = Files.list(trace.getParent())) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith(prefix)).toList()) {
                try {
                    if (Files.readString(f).contains(text)) {
                        return true;
                    }
                } catch (java.nio.file.NoSuchFileException | java.nio.charset.MalformedInputException e) {
                    // renamed meanwhile, or read in the middle of a line's bytes: look again
                }
            }
        }
        return false;
    }

    /** Waits (at most 60 s) until the run is under way: the progress bar appears after its first second. */
    private static void awaitProgress(Process p, Path stderr) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(stderr).contains("step") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
    }
}
