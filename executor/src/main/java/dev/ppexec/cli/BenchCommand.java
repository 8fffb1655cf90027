package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.host.HostCpu;
import dev.ppexec.io.AtomicFile;
import dev.ppexec.io.Desktop;
import dev.ppexec.io.OutputCheck;
import dev.ppexec.io.Printable;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otel.Metrics;
import dev.ppexec.otel.MetricsOptions;
import dev.ppexec.otel.OtelSettings;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.Workload;
import dev.ppexec.stage.MemoryPlan;
import dev.ppexec.sweep.Sweep;
import dev.ppexec.sweep.SweepOutput;
import dev.ppexec.sweep.SweepPoint;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code ppexec bench}: the PP-overlap sweep (P, M, prefill and decode) with a table, JSON and plots. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Sweep P in {1,2,4} and M in {1,P,2P,4P}: tokens/s, measured vs ideal bubble, overlap efficiency.")
final class BenchCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ParentCommand
    Main main;

    @Option(names = "--model", defaultValue = "toy", description = "Model preset (default: ${DEFAULT-VALUE}; --quick: tiny).")
    String model;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    DeviceChoice device;

    @Option(names = "--ranks", split = ",", defaultValue = "1,2,4", description = "P values (default: ${DEFAULT-VALUE}).")
    List<Integer> ranks;

    @Option(names = "--requests", description = "Requests per run; at least 4 * max P (default: 16, or 4 * max P when more).")
    Integer requests;

    @Option(names = "--prompt-len", description = "Prompt tokens per request (default: 32, --quick: 8; fewer when --decode-steps leaves less of maxSeq).")
    Integer promptLength;

    @Option(names = "--decode-steps", description = "Decode steps per run (default: 32, --quick: 8; fewer when --prompt-len leaves less of maxSeq).")
    Integer decodeSteps;

    @Option(names = "--repeats", description = "Runs per point, interleaved (default: 3, --quick: 2).")
    Integer repeats;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", defaultValue = "out/bench", description = "Folder for bench.md, bench.json and the plots (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--quick", description = "Smoke run: model tiny, 8 prompt + 8 decode tokens, 2 repeats (under a minute).")
    boolean quick;

    @Option(names = "--no-tracing-compare", description = "Skip the traced runs (tracing at level 4 to a scratch file) that give traced/untraced.")
    boolean noTracingCompare;

    /** The sweep's metrics: every measured run's, added up; a collector named by OTEL_EXPORTER_OTLP_ENDPOINT gets them too. */
    @Mixin
    MetricsFlags metricsFlags;

    @Option(names = "--no-progress", description = "No progress bar on stderr.")
    boolean noProgress;

    /** What the sweep will do, every option checked (Note [usage errors]) before a device is chosen. */
    private record Plan(ModelConfig config, int requests, int promptLength, int decodeSteps, int repeats, MemoryPlan largest,
                        MetricsOptions metrics) {}

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        return StopOnSignal.guard(err, "bench", true, signal -> bench(spec.commandLine().getOut(), err, signal));
    }

    private Integer bench(PrintWriter o, PrintWriter err, StopOnSignal signal) throws IOException {
        Plan plan = validate();
        new OutputCheck().output("--out", out.resolve(SweepOutput.MARKDOWN)).output("--out", out.resolve(SweepOutput.JSON))
                .output("--out", out.resolve(SweepOutput.RATE_PLOT)).output("--out", out.resolve(SweepOutput.BUBBLE_PLOT))
                .output("--metrics-file", metricsFlags.file).check();
        ModelConfig config = plan.config();
        // Opened once for the whole sweep (Note [devices across runs] in Sweep); says once which device, or why not CUDA.
        DeviceChoice.Opened opened = device.open(null, false);
        List<SweepPoint> points;
        String deviceName = opened.devices().getFirst().name();
        try {
            DeviceChoice.checkFits(plan.largest(), RunCommand.workload(plan.requests(), plan.promptLength(),
                    plan.decodeSteps(), config) + " at P = " + ranks.stream().max(Integer::compare).orElseThrow() + ", M = 1",
                    opened.devices());
            opened.line().ifPresent(err::println);
            Files.createDirectories(out);
            points = sweep(plan, opened.devices(), deviceName, o, err);
        } finally {
            opened.devices().forEach(Device::close);
        }
        SweepOutput.Header header = new SweepOutput.Header(config.name(), deviceName, machine(), plan.requests(),
                plan.promptLength(), plan.decodeSteps(), plan.repeats());
        o.print(SweepOutput.markdown(header, points));
        o.flush();
        List<Path> files;
        try {
            files = SweepOutput.write(out, header, points);
        } catch (IOException e) {
            throw new IOException("--out " + out + ": cannot write the results (" + e.getMessage() + ")", e);
        }
        if (signal.signalled()) {
            return 1; // the stop line is the hook's
        }
        files.forEach(f -> o.println("wrote " + Printable.path(f)));
        if (!Desktop.available()) {
            o.println("no plots: this Java runtime has no java.desktop module (the GPU bundle's has none)");
        }
        return 0;
    }

    private List<SweepPoint> sweep(Plan plan, List<Device> devices, String deviceName, PrintWriter o, PrintWriter err) {
        ModelConfig config = plan.config();
        Metrics metrics = plan.metrics() == null ? null : Metrics.start(plan.metrics(),
                RunResource.sweep(config, deviceName, plan.requests(), plan.promptLength(), plan.decodeSteps()));
        Sweep.Config c = new Sweep.Config(config, ranks, plan.requests(), plan.promptLength(), plan.decodeSteps(),
                plan.repeats(), devices,
                noTracingCompare ? null : new ScratchTracer(AtomicFile.tempBeside(out.resolve("bench-trace.jsonl"), "trace")),
                metrics == null ? List.of() : List.of(metrics.listener()));
        try (Progress bar = Progress.runs(err, !noProgress)) {
            return Sweep.run(c, bar::draw);
        } finally {
            if (metrics != null) {
                metrics.shutdown().forEach(o::println);
            }
        }
    }

    private Plan validate() {
        if (quick && !matched("--model")) {
            model = "tiny";
        }
        ModelConfig config = RunCommand.preset(model, seed);
        int repeatCount = repeats != null ? repeats : quick ? 2 : 3;
        UsageException.check(repeatCount >= 1, "--repeats " + repeatCount + " is not positive; allowed: an integer >= 1");
        UsageException.check(new HashSet<>(ranks).size() == ranks.size(), "--ranks " + ranks.stream().map(String::valueOf)
                .collect(Collectors.joining(",")) + " repeats a value; allowed: distinct P values");
        int maxRanks = 1;
        for (int p : ranks) {
            UsageException.check(p >= 1 && p <= config.layers(), "--ranks " + p + " is out of range; allowed: 1.."
                    + config.layers() + " (model " + config.name() + " has " + config.layers() + " layers)");
            maxRanks = Math.max(maxRanks, p);
        }
        int maxM = Sweep.microBatches(maxRanks).getLast();
        int requestCount = requests != null ? requests : Math.max(16, maxM);
        UsageException.check(requestCount >= maxM, "--requests " + requestCount + " is fewer than M = 4P = " + maxM
                + "; allowed: at least " + maxM);
        UsageException.check(promptLength == null || promptLength >= 1,
                "--prompt-len " + promptLength + " is not positive; allowed: an integer >= 1");
        UsageException.check(decodeSteps == null || decodeSteps >= 1,
                "--decode-steps " + decodeSteps + " is not positive; allowed: an integer >= 1 (the decode phase needs a step)");
        int[] positions = RunCommand.positions(config, promptLength, decodeSteps, quick ? 8 : RunCommand.DEFAULT_POSITIONS);
        UsageException.check(positions[1] >= 1, "--prompt-len " + positions[0] + " leaves no decode step in maxSeq "
                + config.maxSeq() + " of model " + config.name() + "; allowed: 1.." + (config.maxSeq() - 1));
        if (!noTracingCompare) {
            OtelSettings.problem(main.env, main.system).ifPresent(p -> UsageException.check(false, p));
        }
        MetricsOptions metrics = metricsFlags.options(null, null, Map.of(), main.env, main.system);
        // The largest run: the most ranks, the whole workload in one micro-batch.
        MemoryPlan largest = MemoryPlan.of(config, maxRanks, 1, requestCount, positions[0], positions[1]);
        return new Plan(config, requestCount, positions[0], positions[1], repeatCount, largest, metrics);
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
            TraceLevel level = TraceLevel.DEFAULT;
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

    /** "x86_64, 2 cores, <cpu model>"; without a model (not Linux) the architecture and cores say what ran. */
    static String machine() {
        return System.getProperty("os.arch") + ", " + HostCpu.cores() + " cores"
                + HostCpu.model().map(cpu -> ", " + cpu).orElse("");
    }
}
