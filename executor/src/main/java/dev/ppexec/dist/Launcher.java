package dev.ppexec.dist;

import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.nccl.Nccl;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A local launcher in the spirit of {@code torchrun --standalone}: starts N rank processes of this host with the
 * launch contract's variables and a fresh world token, prefixes their output with {@code [PP r]}, stops the others
 * (by process id: SIGTERM, then SIGKILL after {@link #STOP_BOUND_MILLIS}) as soon as one fails, and stops them all
 * when it is itself stopped, so that no rank outlives it.
 */
public final class Launcher {

    /** Set by {@code launch} in each rank's environment: a rank whose launcher is gone stops (see {@link #followLauncher}). */
    public static final String LAUNCHER_PID = "PPEXEC_LAUNCHER_PID";

    /** How long a rank gets between SIGTERM and SIGKILL. */
    static final long STOP_BOUND_MILLIS = 5_000;

    /** The JVM's line at start while the Vector API incubates; scripts/ppexec drops it too. */
    private static final String INCUBATOR_WARNING = "WARNING: Using incubator modules: jdk.incubator.vector";

    private final List<Process> ranks = new ArrayList<>();
    private final List<Thread> pumps = new ArrayList<>();
    private final BlockingQueue<Integer> exits = new LinkedBlockingQueue<>();

    /** What {@link #run} found: the exit status to give, and the rank that failed first (or -1). */
    public record Outcome(int status, int failedRank, int failedStatus) {
    }

    /**
     * Runs {@code command} (the arguments of {@code ppexec}, e.g. {@code run --model tiny ...}) as {@code nproc} rank
     * processes, rank 0 listening on 127.0.0.1:{@code masterPort} (0: a free port rank 0 binds and publishes, Note [rank
     * 0 binds first] in World); blocks until all ended.
     */
    public Outcome run(int nproc, int masterPort, List<String> command, PrintWriter out, PrintWriter err)
            throws InterruptedException {
        Path portDir = masterPort == 0 ? portDirectory() : null;
        String token = WorldToken.generate();
        Thread stopper = new Thread(() -> { // SIGINT or SIGTERM: the finally below does not run
            stopAll();
            removePortDirectory(portDir, err);
        }, "ppexec-launch-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            for (int r = 0; r < nproc; r++) {
                ProcessBuilder pb = new ProcessBuilder(javaCommand(command));
                Map<String, String> env = pb.environment();
                env.keySet().removeIf(k -> k.startsWith("SLURM_") || k.equals("JOB_COMPLETION_INDEX"));
                env.put("RANK", Integer.toString(r));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(nproc));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(masterPort)); // 0: Note [rank 0 binds first] in World
                if (portDir != null) {
                    env.put(LaunchContract.PORT_FILE, portDir.resolve("master-port").toString());
                } else {
                    env.remove(LaunchContract.PORT_FILE);
                }
                env.put(WorldToken.VARIABLE, token);
                env.put(LAUNCHER_PID, Long.toString(ProcessHandle.current().pid()));
                Process p;
                try {
                    p = pb.start();
                } catch (IOException e) {
                    stopAll();
                    throw new UncheckedIOException("launch: cannot start rank " + r + ": " + e.getMessage(), e);
                }
                ranks.add(p);
                int rank = r;
                p.onExit().thenRun(() -> exits.add(rank));
                pump(p.getInputStream(), out, rank);
                pump(p.getErrorStream(), err, rank);
            }
            Outcome outcome = new Outcome(0, -1, 0);
            for (int ended = 0; ended < nproc; ended++) {
                int rank = exits.take();
                int status = ranks.get(rank).exitValue();
                if (status != 0 && outcome.failedRank() < 0) {
                    outcome = new Outcome(status, rank, status);
                    err.printf("launch: rank %d (pid %d) failed with exit status %d%s; stopping the other ranks%n", rank,
                            ranks.get(rank).pid(), status, status > 128 ? " (signal " + (status - 128) + ")" : "");
                    err.flush();
                    stopAll();
                }
            }
            for (Thread t : pumps) {
                t.join(STOP_BOUND_MILLIS);
            }
            return outcome;
        } finally {
            stopAll();
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException e) {
                // Shutting down: the hook runs stopAll.
            }
            removePortDirectory(portDir, err);
        }
    }

    /** A private directory (rwx for this user only) for the file where rank 0 publishes its port. */
    private static Path portDirectory() {
        try {
            return Files.createTempDirectory("ppexec-launch-");
        } catch (IOException e) {
            throw new UncheckedIOException("launch: cannot make a directory for rank 0's port: " + e.getMessage(), e);
        }
    }

    /** Removes the port directory once every rank has ended (ranks stopped by pid: none writes there any more). */
    private static void removePortDirectory(Path dir, PrintWriter err) {
        if (dir == null) {
            return;
        }
        try (var files = Files.list(dir)) {
            for (Path f : files.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (NoSuchFileException e) {
            // Removed already: by the shutdown hook, or by the normal end while the JVM was shutting down.
        } catch (IOException e) {
            err.println("launch: warning: cannot remove " + dir + ": " + e.getMessage());
        }
    }

    /**
     * The pid of the {@code launch} that started this rank ({@link #LAUNCHER_PID}), or -1 when none did; a value that
     * is not a pid is one line naming the variable.
     */
    public static long launcherPid(Map<String, String> env) {
        String v = env.get(LAUNCHER_PID);
        if (v == null) {
            return -1;
        }
        try {
            long pid = Long.parseLong(v.trim());
            if (pid > 0) {
                return pid;
            }
        } catch (NumberFormatException e) {
            // Reported below.
        }
        throw new IllegalArgumentException(LAUNCHER_PID + " '" + v + "' is not a process id; allowed: the pid of the "
                + "ppexec launch that started this rank (unset it when running ranks by hand)");
    }

    /**
     * In a rank that {@code launch} started ({@code pid} > 0): aborts the world when the launcher's process ends, so
     * that even a launcher killed with SIGKILL (which can stop nobody) leaves no rank running for long.
     */
    public static void followLauncher(World world, long pid) {
        if (pid <= 0) {
            return;
        }
        String reason = "rank " + world.contract().rank() + ": its launcher (pid " + pid + ") went away";
        ProcessHandle.of(pid).ifPresentOrElse(h -> h.onExit().thenRun(() -> world.abort(reason)),
                () -> world.abort(reason));
    }

    /**
     * Fails in one line when this runtime lacks gRPC: scripts/gpu-bundle leaves it out, since a world of rank
     * processes runs on the CPU only until the GPU data plane ([H2]) exists.
     */
    public static void requireGrpc() {
        try {
            Class.forName("io.grpc.Server", false, Launcher.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("ranks as processes need gRPC, which this runtime's class path lacks (the GPU "
                    + "bundle leaves it out); run them from a build: scripts/ppexec");
        }
    }

    /** The rank processes' ids, in rank order (for tests and messages). */
    public synchronized List<Long> pids() {
        return ranks.stream().map(Process::pid).toList();
    }

    /** SIGTERM to every rank still running, SIGKILL to those that did not end within the bound. */
    private void stopAll() {
        List<Process> live = ranks.stream().filter(Process::isAlive).toList();
        live.forEach(Process::destroy);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_BOUND_MILLIS);
        for (Process p : live) {
            try {
                if (!p.waitFor(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                    p.destroyForcibly().waitFor(STOP_BOUND_MILLIS, TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    private void pump(InputStream in, PrintWriter to, int rank) {
        Thread t = Thread.ofPlatform().daemon().name("launch pump PP" + rank).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (line.equals(INCUBATOR_WARNING)) {
                        continue;
                    }
                    synchronized (Launcher.class) {
                        to.println("[PP " + rank + "] " + line);
                        to.flush();
                    }
                }
            } catch (IOException e) {
                // The rank's pipe closed: it ended.
            }
        });
        pumps.add(t);
    }

    /** This JVM's java, its JVM flags and CUDA and NCCL library settings that matter to a rank, its class path, and ppexec's entry point. */
    private static List<String> javaCommand(List<String> command) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(System.getProperty("java.home") + "/bin/java"));
        cmd.add("--enable-native-access=ALL-UNNAMED");
        cmd.add("--add-modules");
        cmd.add("jdk.incubator.vector");
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-Xmx") || a.startsWith("-Xms") || a.startsWith("-Xss")) {
                cmd.add(a);
            }
        }
        for (String key : List.of(CudaPlatform.DRIVER_PROPERTY, CudaPlatform.CUBLAS_PROPERTY, Nccl.LIBRARY_PROPERTY)) {
            String value = System.getProperty(key);
            if (value != null) {
                cmd.add("-D" + key + "=" + value); // the driver, cuBLAS and NCCL this JVM was pointed at
            }
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.ppexec.cli.Main");
        cmd.addAll(command);
        return cmd;
    }
}
