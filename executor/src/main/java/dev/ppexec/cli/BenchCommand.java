package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.io.Desktop;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.Workload;
import dev.ppexec.sweep.Sweep;
import dev.ppexec.sweep.SweepOutput;
import dev.ppexec.sweep.SweepPoint;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ppexec bench}: the PP-overlap sweep (P, M, prefill and decode) with a table, JSON and plots. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sweep P in {1,2,4} and M in {1,P,2P,4P}: tokens/s, measured vs ideal bubble, overlap efficiency.")
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "toy", description = "Model preset (default: ${DEFAULT-VALUE}; --quick: tiny).")
    String model;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    DeviceChoice device;

    @Option(names = "--ranks", split = ",", defaultValue = "1,2,4", description = "P values (default: ${DEFAULT-VALUE}).")
    List<Integer> ranks;

    @Option(names = "--requests", defaultValue = "16", description = "Requests per run; at least 4 * max P (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--prompt-len", defaultValue = "32", description = "Prompt tokens per request (default: ${DEFAULT-VALUE}).")
    int promptLength;

    @Option(names = "--decode-steps", defaultValue = "32", description = "Decode steps per run (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--repeats", defaultValue = "3", description = "Runs per point, interleaved (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", defaultValue = "out/bench", description = "Folder for bench.md, bench.json and the plots (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "Smoke run: model tiny, 8 prompt + 8 decode tokens, 2 repeats (under a minute).")
    boolean quick;

    @Option(names = "--no-tracing-compare", description = "Skip the traced runs (tracing at level 4 to a scratch file) that give traced/untraced.")
    boolean noTracingCompare;

    @Option(names = "--no-progress", description = "No progress bar on stderr.")
    boolean noProgress;

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (quick) {
            model = spec.commandLine().getParseResult().hasMatchedOption("--model") ? model : "tiny";
            promptLength = matched("--prompt-len") ? promptLength : 8;
            decodeSteps = matched("--decode-steps") ? decodeSteps : 8;
            repeats = matched("--repeats") ? repeats : 2;
        }
        if (promptLength < 1) {
            throw new IllegalArgumentException("--prompt-len " + promptLength + " is not positive; allowed: an integer >= 1");
        }
        ModelConfig config = ModelConfig.preset(model, seed);
        RunCommand.checkPositions(config, promptLength, decodeSteps);
        PrintWriter quiet = new PrintWriter(Writer.nullWriter());
        Sweep.Config c = new Sweep.Config(config, ranks, requests, promptLength, decodeSteps, repeats,
                () -> device.open(null, false, quiet),
                noTracingCompare ? null : new ScratchTracer(out.resolve(".bench-trace.jsonl")));
        List<Device> probe = device.open(null, false, err); // says once which device, or why not CUDA
        String deviceName = probe.getFirst().name();
        probe.forEach(Device::close);
        Files.createDirectories(out);
        Bar bar = new Bar(err, !noProgress);
        List<SweepPoint> points = Sweep.run(c, bar::draw);
        bar.close();
        SweepOutput.Header header = new SweepOutput.Header(config.name(), deviceName, machine(), requests, promptLength,
                decodeSteps, repeats);
        o.print(SweepOutput.markdown(header, points));
        o.flush();
        List<Path> files;
        try {
            files = SweepOutput.write(out, header, points);
        } catch (IOException e) {
            throw new IOException("--out " + out + ": cannot write the results (" + e.getMessage() + ")", e);
        }
        files.forEach(f -> o.println("wrote " + f));
        if (!Desktop.available()) {
            o.println("no plots: this Java runtime has no java.desktop module (the GPU bundle's has none)");
        }
        return 0;
    }

    private boolean matched(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /** Level-4 tracing of one run into a scratch file, removed after each run: the cost of tracing, not of keeping traces. */
    private static final class ScratchTracer implements Sweep.Tracer {
        private final Path file;
        private Tracing current;

        ScratchTracer(Path file) {
            this.file = file;
        }

        @Override
        public RunListener start(Pipeline pipeline, Workload workload) {
            TraceLevel level = new TraceLevel(TraceLevel.MAX);
            Tracing t = Tracing.start(new TraceOptions(level, file, null, null, Map.of()),
                    RunResource.of(pipeline, workload, level),
                    SpanContract.spanCount(workload.requests(), pipeline.ranks(), workload.decodeSteps(), level));
            current = t;
            return t.listener();
        }

        @Override
        public void finish() {
            if (current != null) {
                current.shutdown();
                current = null;
            }
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("--out: cannot remove the scratch trace " + file + ": " + e.getMessage(), e);
            }
        }
    }

    /** "x86_64, 2 cores, <cpu model>" from the JVM and /proc/cpuinfo. */
    static String machine() {
        String cpu = "";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("");
        } catch (IOException | RuntimeException e) {
            // not Linux: the architecture and core count still say what ran
        }
        return System.getProperty("os.arch") + ", " + Runtime.getRuntime().availableProcessors() + " cores"
                + (cpu.isEmpty() ? "" : ", " + cpu);
    }

    /** A progress bar on stderr, one redraw per run. */
    private record Bar(PrintWriter err, boolean enabled) {
        void draw(int done, int total, String what) {
            if (!enabled) {
                return;
            }
            int width = 30;
            int filled = width * done / total;
            err.printf(Locale.ROOT, "\r[%s%s] %d/%d runs  %-24s", "#".repeat(filled), " ".repeat(width - filled), done,
                    total, what);
            err.flush();
        }

        void close() {
            if (enabled) {
                err.println();
            }
        }
    }
}
