package dev.ppexec.reliability;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

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

    /** Waits (at most 60 s) until the run is under way: the progress bar appears after its first second. */
    static void awaitProgress(Process p, Path stderr) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(stderr).contains("step") && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
    }
}
