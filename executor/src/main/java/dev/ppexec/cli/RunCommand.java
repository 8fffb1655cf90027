package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.dist.LaunchContract;
import dev.ppexec.dist.TransportChoice;
import dev.ppexec.io.AtomicFile;
import dev.ppexec.io.OutputCheck;
import dev.ppexec.io.Printable;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.otel.Metrics;
import dev.ppexec.otel.MetricsOptions;
import dev.ppexec.otel.OtelSettings;
import dev.ppexec.otel.RunResource;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.perfetto.PerfettoConverter;
import dev.ppexec.perfetto.TraceCounts;
import dev.ppexec.report.TraceReport;
import dev.ppexec.otel.TraceOptions;
import dev.ppexec.otel.TraceSummary;
import dev.ppexec.otel.Tracing;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.stage.MemoryPlan;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

import static dev.ppexec.cli.UsageException.check;

/** {@code ppexec run}: generate tokens through the PP ranks and print a summary. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run prefill and greedy decode through PP ranks; print tokens and per-rank figures.")
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ParentCommand
    Main main;

    @ArgGroup(exclusive = true)
    ModelSource modelSource;

    /** {@code --model} or {@code --model-file}, not both (Note [usage errors]). */
    static final class ModelSource {
        @Option(names = "--model", paramLabel = "NAME", description = "Model preset: tiny, toy, small (default: toy).")
        String preset;

        @Option(names = "--model-file", paramLabel = "FILE.json",
                description = "Model shape from a JSON file (name, vocab, dim, heads, layers, ffn, max_seq) instead of a preset.")
        Path file;
    }

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    DeviceChoice device;

    @Option(names = "--devices", split = ",", paramLabel = "0,1",
            description = "CUDA device ordinals; rank r runs on the (r mod N)-th (default: every device).")
    List<Integer> deviceOrdinals;

    @Option(names = "--tf32", description = "Let cuBLAS use TF32 tensor cores (faster, ~1e-3 relative error; default fp32).")
    boolean tf32;

    @ArgGroup(exclusive = true)
    Stages stagesGiven;

    /** {@code --stages} or {@code --split}, not both. */
    static final class Stages {
        @Option(names = "--stages", paramLabel = "P", description = "PP ranks, layers split evenly (default: 2, or 1 for a 1-layer model).")
        Integer count;

        @Option(names = "--split", paramLabel = "a,b,c", description = "Explicit layers per stage, e.g. 3,3,2 (not with --stages).")
        String split;
    }

    /** {@code --cuda-graphs on|off}. */
    enum Toggle { on, off }

    @Option(names = "--cuda-graphs", paramLabel = "on|off", defaultValue = "on",
            description = "Replay each decode step as one CUDA graph per rank and micro-batch (default: ${DEFAULT-VALUE});"
                    + " off launches every kernel from the host. The CPU backend has no graphs.")
    Toggle cudaGraphs;

    @Option(names = "--micro-batches", description = "Micro-batches in flight (default: min(4, --requests)).")
    Integer microBatches;

    @Option(names = "--requests", defaultValue = "8", description = "Requests (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--prompt-len", description = "Prompt tokens per request (default: 32, fewer when --decode-steps leaves less of maxSeq).")
    Integer promptLength;

    @Option(names = "--decode-steps", description = "Greedy decode steps (default: 32, fewer when --prompt-len leaves less of maxSeq).")
    Integer decodeSteps;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed warm-up runs first, so the JIT has compiled the kernels: 0.."
            + MAX_WARMUP + " (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--report", paramLabel = "FILE.json", description = "Write tokens and figures as JSON.")
    Path report;

    @Option(names = "--no-progress", description = "No progress line on stderr.")
    boolean noProgress;

    @Option(names = "--print-tokens", defaultValue = "8", description = "Requests whose tokens are printed (default: ${DEFAULT-VALUE}).")
    int printTokens;

    @Option(names = "--trace-file", paramLabel = "FILE.jsonl", description = "Write the run's spans as OTLP-JSON lines (the Collector's file-exporter shape).")
    Path traceFile;

    @Option(names = "--perfetto", paramLabel = "OUT.json",
            description = "Also convert the run's trace to Chrome trace JSON for ui.perfetto.dev (traces at level 4 unless --trace-level says otherwise).")
    Path perfetto;

    @Option(names = "--otlp-endpoint", paramLabel = "URL", description = "Send the run's spans to an OTLP collector, e.g. http://127.0.0.1:4318.")
    String otlpEndpoint;

    @Option(names = "--otlp-protocol", paramLabel = "PROTOCOL", description = "http/protobuf or grpc (default: OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf).")
    String otlpProtocol;

    @Option(names = "--trace-level", paramLabel = "N", description = "0 (off) .. 4 (per micro-batch slices) .. 5 (+ a kernel slice per launch); default 4 with a trace destination, else 0.")
    Integer traceLevel;

    @Option(names = "--trace-schema", paramLabel = "SCHEMA",
            description = "ppexec (default) or sglang: the same spans, plus what sglang's tools read (service.name sglang unless named otherwise, module on each request root, pid on each thread span).")
    String traceSchema;

    @Mixin
    MetricsFlags metricsFlags;

    @Option(names = "--attr", paramLabel = "KEY=VALUE", description = "Resource attribute of this experiment; repeatable, each key once; needs a trace destination.")
    List<String> attributes = new ArrayList<>();

    /** Warm-up runs a user may ask for: each is a whole run, so more only makes a run slow without a word. */
    static final int MAX_WARMUP = 100;
    static final int DEFAULT_MICRO_BATCHES = 4;
    static final int DEFAULT_POSITIONS = 32;

    /**
     * What one run will do, every option checked against the others, the model and the {@code OTEL_*}
     * settings, and its memory computed from shapes alone: made before a device is chosen or anything
     * proportional to a size is built.
     */
    record Plan(ModelConfig config, int stages, String split, int microBatches, int requests, int promptLength,
                int decodeSteps, MemoryPlan memory, TraceOptions traceOptions, MetricsOptions metricsOptions) {}

    private Path perfettoScratch;

    @Option(names = "--rank", description = "This process's rank in a world of rank processes (default: RANK, SLURM_PROCID or JOB_COMPLETION_INDEX).")
    Integer rank;

    @Option(names = "--world-size", description = "Rank processes in the world (default: WORLD_SIZE or SLURM_NTASKS).")
    Integer worldSize;

    @Option(names = "--master", paramLabel = "HOST:PORT", description = "Where rank 0 serves the rendezvous store (default: MASTER_ADDR:MASTER_PORT).")
    String master;

    @Option(names = "--transport", paramLabel = "T", defaultValue = "auto",
            description = "Between rank processes: auto, nccl, ipc or host (default: ${DEFAULT-VALUE}).")
    TransportChoice transport;

    @Option(names = "--rendezvous-timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "How long ranks wait for each other at rendezvous (default: ${DEFAULT-VALUE}).")
    double rendezvousTimeoutSeconds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (StopOnSignal signal = StopOnSignal.watch(err, "run")) { // from the start: the stop line in every phase
            try {
                Plan plan = validate();
                new OutputCheck().input("--model-file", modelSource == null ? null : modelSource.file)
                        .output("--trace-file", traceFile).output("--metrics-file", metricsFlags.file).output("--report", report).output("--perfetto", perfetto).check();
                if (signal.signalled()) {
                    return 1;
                }
                LaunchContract contract = world();
                check(contract != null || transport == TransportChoice.auto, "--transport " + transport
                        + " applies between rank processes, and this run is one process; allowed here: auto");
                if (contract != null) {
                    return InWorld.run(this, out, err, contract, plan, main.env);
                }
                DeviceChoice.Opened opened = device.open(deviceOrdinals, tf32);
                List<Device> devices = opened.devices();
                try {
                    DeviceChoice.checkFits(plan.memory(), workload(plan.requests(), plan.promptLength(), plan.decodeSteps(),
                            plan.config()), devices);
                } catch (RuntimeException e) {
                    devices.forEach(Device::close);
                    throw e;
                }
                opened.line().ifPresent(err::println);
                Workload workload = Workload.generated(plan.config(), plan.requests(), plan.promptLength(), plan.decodeSteps());
                return traced(out, err, plan, workload, devices, signal);
            } catch (RuntimeException | IOException e) {
                if (!signal.signalled()) {
                    throw e;
                }
                return 1; // the stop line is the signal hook's, whatever the phase
            }
        }
    }

    /** This process's place in a world of rank processes, or null for a run in one process (Note [launch contract]). */
    private LaunchContract world() {
        try {
            return LaunchContract.resolve(main.env, new LaunchContract.Overrides(rank, worldSize, master));
        } catch (IllegalArgumentException e) {
            throw new UsageException(e.getMessage());
        }
    }

    /** The validation pass (Note [usage errors]): every bad option, value or OTEL_* setting is a {@link UsageException} here. */
    Plan validate() {
        check(requests >= 1, "--requests " + requests + " is not positive; allowed: an integer >= 1");
        check(printTokens >= 0, "--print-tokens " + printTokens + " is negative; allowed: an integer >= 0");
        check(warmup >= 0 && warmup <= MAX_WARMUP, "--warmup " + warmup + " is out of range; allowed: 0.." + MAX_WARMUP);
        check(promptLength == null || promptLength >= 1,
                "--prompt-len " + promptLength + " is not positive; allowed: an integer >= 1");
        check(decodeSteps == null || decodeSteps >= 0,
                "--decode-steps " + decodeSteps + " is negative; allowed: an integer >= 0");
        check(microBatches == null || (microBatches >= 1 && microBatches <= requests), "--micro-batches " + microBatches
                + " is out of range; allowed: 1.." + requests + " (at most --requests)");
        DeviceChoice.check(device, deviceOrdinals, tf32);
        ModelConfig config = modelConfig();
        int stageCount = Math.min(2, config.layers());
        String split = stagesGiven == null ? null : stagesGiven.split;
        if (stagesGiven != null && stagesGiven.count != null) {
            stageCount = stagesGiven.count;
            check(stageCount >= 1 && stageCount <= config.layers(), "--stages " + stageCount + " is out of range; allowed: 1.."
                    + config.layers() + " (model " + config.name() + " has " + config.layers() + " layers)");
        }
        if (split != null) {
            try {
                stageCount = Partition.parse(split, config.layers()).stages();
            } catch (IllegalArgumentException e) {
                throw UsageException.asOption(e, "split", "--split");
            }
        }
        int micro = microBatches != null ? microBatches : Math.min(DEFAULT_MICRO_BATCHES, requests);
        int[] positions = positions(config, promptLength, decodeSteps, DEFAULT_POSITIONS);
        MemoryPlan memory = MemoryPlan.of(config, stageCount, micro, requests, positions[0], positions[1]);
        TraceOptions traceOptions = traceOptions();
        return new Plan(config, stageCount, split, micro, requests, positions[0], positions[1], memory, traceOptions,
                metricsFlags.options(otlpEndpoint, otlpProtocol, traceOptions.attributes(), main.env,
                        main.system));
    }

    /**
     * Prompt length and decode steps ({@code [prompt, decode]}): given ones must fit maxSeq together;
     * a default ({@code defaultPositions}) takes what a given one leaves, so that only an option the
     * user gave is ever refused.
     */
    static int[] positions(ModelConfig config, Integer promptLength, Integer decodeSteps, int defaultPositions) {
        int maxSeq = config.maxSeq();
        String model = " (maxSeq of model " + config.name() + ")";
        if (promptLength != null && decodeSteps != null) {
            checkPositions(config, promptLength, decodeSteps);
            return new int[]{promptLength, decodeSteps};
        }
        if (promptLength != null) {
            check(promptLength <= maxSeq, "--prompt-len " + promptLength + " is more than " + maxSeq + model
                    + "; allowed: 1.." + maxSeq);
            return new int[]{promptLength, Math.min(defaultPositions, maxSeq - promptLength)};
        }
        if (decodeSteps != null) {
            check(decodeSteps < maxSeq, "--decode-steps " + decodeSteps + " leaves no position of " + maxSeq + model
                    + " for a prompt; allowed: 0.." + (maxSeq - 1));
            return new int[]{Math.min(defaultPositions, maxSeq - decodeSteps), decodeSteps};
        }
        int prompt = Math.min(defaultPositions, maxSeq);
        return new int[]{prompt, Math.min(defaultPositions, maxSeq - prompt)};
    }

    /** What a memory plan is for, in the user's options. */
    static String workload(int requests, int promptLength, int decodeSteps, ModelConfig config) {
        return "--requests " + requests + " x (--prompt-len " + promptLength + " + --decode-steps " + decodeSteps
                + ") positions of model " + config.name();
    }

    /** Level 5's kernel slices of the run, counted for its largest micro-batch (an upper bound: a smaller micro-batch launches no more). */
    private static long kernelSpans(Partition partition, Plan plan, TraceLevel level) {
        int batch = (plan.requests() + plan.microBatches() - 1) / plan.microBatches();
        return SpanContract.kernelSpanCount(plan.microBatches(), plan.decodeSteps(),
                StageProgram.kernelSlices(partition, batch, plan.promptLength()), StageProgram.kernelSlices(partition, batch, 1),
                level);
    }

    private int traced(PrintWriter out, PrintWriter err, Plan plan, Workload workload, List<Device> devices,
                       StopOnSignal signal) throws IOException {
        Tracing tracing = null;
        Metrics metrics = null;
        TraceOptions traceOptions = plan.traceOptions();
        try (Pipeline pipeline = Pipeline.builder().model(plan.config()).stages(plan.stages()).split(plan.split())
                .microBatches(plan.microBatches()).devices(devices).cudaGraphs(cudaGraphs == Toggle.on).build()) {
            if (!traceOptions.level().isOff()) {
                tracing = Tracing.start(traceOptions, RunResource.of(pipeline, workload, traceOptions.level()),
                        SpanContract.spanCount(plan.requests(), pipeline.ranks(), plan.decodeSteps(), traceOptions.level())
                                + kernelSpans(pipeline.partition(), plan, traceOptions.level()));
            }
            if (plan.metricsOptions() != null) {
                metrics = Metrics.start(plan.metricsOptions(), RunResource.of(pipeline, workload, traceOptions.level()));
            }
            Workload warm = Workload.generated(plan.config(), plan.requests(), plan.promptLength(),
                    Math.min(plan.decodeSteps(), 4));
            for (int i = 0; i < warmup; i++) {
                pipeline.generate(warm);
            }
            TraceReport.Builder traceReport = tracing == null ? null : TraceReport.builder();
            if (tracing != null) {
                tracing.tap(traceReport);
            }
            if (tracing != null) {
                signal.traced(); // from here on the trace holds this run's spans (warm-up runs are not traced)
            }
            RunResult result;
            try (Progress progress = Progress.steps(err, !noProgress, workload.decodeSteps() + 1)) {
                List<RunListener> listeners = new ArrayList<>();
                if (tracing != null) {
                    listeners.add(tracing.listener());
                }
                if (metrics != null) {
                    listeners.add(metrics.listener());
                }
                result = pipeline.generate(workload, progress, listeners);
            } catch (RuntimeException e) {
                signal.uninterruptible(); // a signal's interrupt must not cut the bounded flush short
                if (tracing != null) {
                    printTraceSummary(out, tracing.shutdown());
                }
                if (metrics != null) {
                    metrics.shutdown().forEach(out::println);
                }
                throw e;
            }
            printSummary(out, pipeline, workload, result);
            if (report != null) {
                RunReport.write(report, pipeline, workload, result);
                out.println("report: " + Printable.path(report));
            }
            signal.uninterruptible();
            if (tracing != null) {
                TraceSummary summary = tracing.shutdown();
                printTraceSummary(out, summary);
                for (TraceSummary.Destination d : summary.destinations()) {
                    if (traceFile() != null && d.name().equals(traceFile().toString()) && d.error() != null) {
                        throw new IllegalStateException(traceOption() + ": cannot write: " + d.error());
                    }
                }
                if (traceFile() != null && !signal.signalled()) {
                    reportTrace(out, traceReport.build());
                }
            }
            if (metrics != null) {
                metrics.shutdown().forEach(out::println);
                Path metricsFile = metricsFlags.file;
                Optional<String> failure = metricsFile == null ? Optional.empty() : metrics.failure(metricsFile.toString());
                if (failure.isPresent()) {
                    throw new IllegalStateException("--metrics-file " + metricsFile + ": cannot write: " + failure.get());
                }
            }
        } finally {
            signal.uninterruptible(); // a signal's interrupt must not cut the bounded flush short
            if (tracing != null) {
                tracing.close();
            }
            if (metrics != null) {
                metrics.close();
            }
            devices.forEach(Device::close);
            if (traceFile == null && perfetto != null) {
                Files.deleteIfExists(traceFile());
            }
        }
        return 0;
    }

    /** What each destination got; the --perfetto run's hidden trace file is not named. */
    private void printTraceSummary(PrintWriter out, TraceSummary summary) {
        summary.lines().stream().filter(l -> traceFile != null || perfetto == null || !l.contains(traceFile().toString()))
                .map(Printable::text).forEach(out::println);
        out.flush();
    }

    private ModelConfig modelConfig() {
        if (modelSource != null && modelSource.file != null) {
            return ModelFile.read(modelSource.file, seed);
        }
        return preset(modelSource == null ? "toy" : modelSource.preset, seed);
    }

    /** The {@code --model} preset {@code name}, shared by run and bench. */
    static ModelConfig preset(String name, long seed) {
        check(ModelConfig.PRESETS.contains(name.toLowerCase(Locale.ROOT)),
                "--model '" + name + "' is not a preset; allowed: " + String.join(", ", ModelConfig.PRESETS));
        return ModelConfig.preset(name, seed);
    }

    /**
     * Tracing is on when the run has a destination: --trace-file, --perfetto, --otlp-endpoint, or a
     * collector named by OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; then the level defaults to 4, and
     * every OTEL_* setting the SDK will read is checked here.
     */
    private TraceOptions traceOptions() {
        boolean collector = otlpEndpoint != null || Tracing.environmentNamesCollector(main.env, main.system);
        boolean destination = traceFile() != null || collector;
        String destinations = "--trace-file FILE.jsonl, --perfetto OUT.json or --otlp-endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT set)";
        TraceLevel level;
        try {
            level = new TraceLevel(traceLevel != null ? traceLevel : destination ? TraceLevel.DEFAULT.value() : 0);
        } catch (IllegalArgumentException e) {
            throw UsageException.asOption(e, "trace level", "--trace-level");
        }
        check(level.isOff() || destination, "--trace-level " + traceLevel + " without a trace destination; allowed: with "
                + destinations);
        if (otlpEndpoint != null) {
            OtelSettings.endpointProblem(otlpEndpoint).ifPresent(p -> check(false, "--otlp-endpoint '" + otlpEndpoint + "' " + p));
        }
        if (otlpProtocol != null) {
            OtelSettings.protocolProblem(otlpProtocol).ifPresent(p -> check(false, "--otlp-protocol '" + otlpProtocol + "' " + p));
            check(collector, "--otlp-protocol '" + otlpProtocol + "' without a collector; allowed: with "
                    + "--otlp-endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT set)");
        }
        Map<String, String> attrs = attributes(level, destination, destinations);
        if (!level.isOff()) {
            OtelSettings.problem(main.env, main.system).ifPresent(p -> check(false, p));
        }
        return new TraceOptions(level, traceFile(), otlpEndpoint == null ? null : URI.create(otlpEndpoint), otlpProtocol, attrs,
                schema(level, destination, destinations));
    }

    /** {@code --trace-schema}: a schema's name, and only for a traced run. */
    private TraceSchema schema(TraceLevel level, boolean destination, String destinations) {
        if (traceSchema == null) {
            return TraceSchema.PPEXEC;
        }
        List<String> allowed = Arrays.stream(TraceSchema.values()).map(TraceSchema::value).toList();
        check(allowed.contains(traceSchema), "--trace-schema '" + traceSchema + "' is not a trace schema; allowed: "
                + String.join(", ", allowed));
        check(destination, "--trace-schema " + traceSchema + " without a trace destination; allowed: with " + destinations);
        check(!level.isOff(), "--trace-schema " + traceSchema + " with --trace-level 0 (tracing off); allowed: with "
                + "--trace-level 1.." + TraceLevel.MAX);
        return TraceSchema.valueOf(traceSchema.toUpperCase(Locale.ROOT));
    }

    /** The {@code --attr} pairs: each KEY=VALUE, each key once and outside ppexec.*, and only for a traced run. */
    private Map<String, String> attributes(TraceLevel level, boolean destination, String destinations) {
        Map<String, String> attrs = new LinkedHashMap<>();
        for (String a : attributes) {
            int eq = a.indexOf('=');
            String key = eq < 0 ? a : a.substring(0, eq);
            String allowed = "; allowed: a non-empty key outside ppexec.*";
            check(eq >= 0, "--attr '" + a + "' is not KEY=VALUE; allowed: KEY=VALUE with a non-empty key outside ppexec.*");
            check(!key.isBlank(), "--attr '" + a + "': key '" + key + "' is empty" + allowed);
            check(!key.startsWith("ppexec."), "--attr '" + a + "': key '" + key + "' is set by the run" + allowed);
            check(!attrs.containsKey(key), "--attr '" + a + "' repeats key '" + key + "' (given before as '" + key + "="
                    + attrs.get(key) + "'); allowed: each key once");
            attrs.put(key, a.substring(eq + 1));
            check(destination, "--attr '" + a + "' without a trace destination; allowed: with " + destinations);
            check(!level.isOff(), "--attr '" + a + "' with --trace-level 0 (tracing off); allowed: with --trace-level 1.." + TraceLevel.MAX);
        }
        return attrs;
    }

    /**
     * Where the spans go as a file: --trace-file, or a scratch file beside the --perfetto output while
     * converting (in the system's temp folder when the output is a FIFO or a device), named so that a
     * later run writing there removes it if a kill leaves it (Note [output policy]).
     */
    private Path traceFile() {
        if (traceFile != null || perfetto == null) {
            return traceFile;
        }
        if (perfettoScratch == null) {
            boolean device = Files.exists(perfetto) && !Files.isRegularFile(perfetto); // a FIFO or /dev/stdout: not beside it
            perfettoScratch = AtomicFile.tempBeside(device ? Path.of(System.getProperty("java.io.tmpdir"), "ppexec-perfetto")
                    : perfetto, "trace");
        }
        return perfettoScratch;
    }

    private String traceOption() {
        return traceFile != null ? "--trace-file " + traceFile : "--perfetto " + perfetto + " (its trace " + traceFile() + ")";
    }

    /**
     * The end of a traced run: the per-rank report, built from the run's spans in memory as they
     * ended; with --perfetto, the trace file converted (read back from disk).
     */
    private void reportTrace(PrintWriter out, TraceReport report) throws IOException {
        out.println();
        out.println("trace report:");
        report.printText(out);
        if (perfetto != null && !Files.isRegularFile(traceFile())) {
            out.println("perfetto: not converted: " + Printable.text(traceOption()) + " is not a regular file (a FIFO or a device cannot be read back)");
        } else if (perfetto != null) {
            PerfettoConverter converter = new PerfettoConverter();
            OtlpJsonReader.read(traceFile(), false, converter, skipped -> {});
            TraceCounts w;
            try {
                w = converter.write(perfetto);
            } catch (IOException e) {
                throw new IOException("--perfetto " + perfetto + ": cannot write: " + e.getMessage(), e);
            }
            out.printf(Locale.ROOT, "perfetto: %s (%,d slices, %,d arrows); open it at https://ui.perfetto.dev%n",
                    Printable.path(perfetto), w.slices(), w.flows());
        }
    }

    /** Given prompt and decode positions fit the model's maxSeq. */
    private static void checkPositions(ModelConfig config, int promptLength, int decodeSteps) {
        long positions = (long) promptLength + decodeSteps;
        if (positions > config.maxSeq()) {
            throw new UsageException("--prompt-len " + promptLength + " + --decode-steps " + decodeSteps + " = "
                    + positions + "; allowed: at most " + config.maxSeq() + " (maxSeq of model " + config.name() + ")");
        }
    }

    void printSummary(PrintWriter out, Pipeline p, Workload w, RunResult r) {
        ModelConfig m = p.model();
        out.printf(Locale.ROOT, "model %s (%d layers, dim %d, vocab %d, seed %d); %d rank(s), split %s, on %s%n",
                m.name(), m.layers(), m.dim(), m.vocab(), m.seed(), p.ranks(), p.partition(), p.device(0).name());
        out.printf(Locale.ROOT, "%d requests x (%d prompt + %d decode) tokens, %d micro-batches%n",
                w.requests(), w.promptLength(), w.decodeSteps(), p.microBatches());
        out.println("decode: " + p.decodeLaunches());
        int shown = Math.min(printTokens, w.requests());
        for (int i = 0; i < shown; i++) {
            StringBuilder sb = new StringBuilder();
            for (int t : r.tokens()[i]) {
                sb.append(' ').append(t);
            }
            out.printf(Locale.ROOT, "request %d:%s%n", i, sb);
        }
        if (shown < w.requests()) {
            out.printf(Locale.ROOT, "(%d more requests%s)%n", w.requests() - shown, report == null ? "; --report FILE.json has all" : " in the report");
        }
        out.printf(Locale.ROOT, "%n%,d tokens in %.3f s: %.1f tokens/s%n", r.generatedTokens(), r.wallNanos() / 1e9,
                r.tokensPerSecond());
        out.println("rank  device  layers  forwards  cpu launch ms  device busy ms  launch->device us  device idle");
        for (RankFigures f : r.ranks()) {
            out.printf(Locale.ROOT, "PP%-3d %-7s %6d  %8d  %13.2f  %14.2f  %17.1f  %10.1f%%%n", f.rank(), f.device(),
                    f.layers(), f.forwards(), f.cpuLaunchNanos() / 1e6, f.deviceBusyNanos() / 1e6,
                    f.launchLatencyNanos() / 1e3, 100 * f.bubble());
        }
        out.printf(Locale.ROOT, "bubble: measured %.1f%%, ideal %.1f%% (this schedule with equal stage times)%n",
                100 * r.measuredBubble(), 100 * r.idealBubble());
    }
}
