package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.model.ModelConfig;
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
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import dev.ppexec.stage.MemoryPlan;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.TraceLevel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code ppexec run}: generate tokens through the PP ranks and print a summary. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run prefill and greedy decode through PP ranks; print tokens and per-rank figures.")
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--model", defaultValue = "toy", description = "Model preset: tiny, toy, small (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--model-file", paramLabel = "FILE.json",
            description = "Model shape from a JSON file (name, vocab, dim, heads, layers, ffn, max_seq) instead of a preset.")
    Path modelFile;

    @Option(names = "--device", defaultValue = "auto", description = "cpu, cuda or auto (default: ${DEFAULT-VALUE}).")
    DeviceChoice device;

    @Option(names = "--devices", split = ",", paramLabel = "0,1",
            description = "CUDA device ordinals; rank r runs on the (r mod N)-th (default: every device).")
    List<Integer> deviceOrdinals;

    @Option(names = "--tf32", description = "Let cuBLAS use TF32 tensor cores (faster, ~1e-3 relative error; default fp32).")
    boolean tf32;

    @Option(names = "--stages", description = "PP ranks, layers split evenly (default: 2, or 1 for a 1-layer model).")
    Integer stages;

    @Option(names = "--split", description = "Explicit layers per stage, e.g. 3,3,2 (not with --stages).")
    String split;

    @Option(names = "--micro-batches", defaultValue = "4", description = "Micro-batches in flight (default: ${DEFAULT-VALUE}).")
    int microBatches;

    @Option(names = "--requests", defaultValue = "8", description = "Requests (default: ${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--prompt-len", defaultValue = "32", description = "Prompt tokens per request (default: ${DEFAULT-VALUE}).")
    int promptLength;

    @Option(names = "--decode-steps", defaultValue = "32", description = "Greedy decode steps (default: ${DEFAULT-VALUE}).")
    int decodeSteps;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and prompts (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--warmup", defaultValue = "1", description = "Untimed warm-up runs first, so the JIT has compiled the kernels (default: ${DEFAULT-VALUE}).")
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

    @Option(names = "--trace-level", paramLabel = "N", description = "0 (off) .. 4 (per micro-batch slices); default 4 with a trace destination, else 0.")
    Integer traceLevel;

    @Option(names = "--attr", paramLabel = "KEY=VALUE", description = "Resource attribute of this experiment; repeatable.")
    Map<String, String> attributes = new LinkedHashMap<>();

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (stages != null && split != null) {
            throw new IllegalArgumentException("--stages " + stages + " and --split '" + split
                    + "' both given; allowed: one of them");
        }
        if (printTokens < 0) {
            throw new IllegalArgumentException("--print-tokens " + printTokens + " is negative; allowed: an integer >= 0");
        }
        ModelConfig config = modelConfig();
        int stageCount = stages != null ? stages : Math.min(2, config.layers());
        if (stages != null && (stages < 1 || stages > config.layers())) {
            throw new IllegalArgumentException("--stages " + stages + " is out of range; allowed: 1.." + config.layers()
                    + " (model " + config.name() + " has " + config.layers() + " layers)");
        }
        Workload workload = Workload.generated(config, requests, promptLength, decodeSteps);
        if (microBatches < 1 || microBatches > requests) {
            throw new IllegalArgumentException("--micro-batches " + microBatches + " is out of range; allowed: 1.."
                    + Math.max(1, requests) + " (at most --requests)");
        }
        if (warmup < 0) {
            throw new IllegalArgumentException("--warmup " + warmup + " is negative; allowed: an integer >= 0");
        }
        checkPositions(config, promptLength, decodeSteps);
        MemoryPlan plan = MemoryPlan.of(config, stageCount, microBatches, requests, promptLength, decodeSteps);
        TraceOptions traceOptions = traceOptions();
        List<Device> devices = device.open(deviceOrdinals, tf32, err);
        try {
            DeviceChoice.checkFits(plan, devices);
        } catch (RuntimeException e) {
            devices.forEach(Device::close);
            throw e;
        }
        try (StopOnSignal signal = StopOnSignal.watch()) {
            try {
                return traced(out, err, config, stageCount, workload, traceOptions, devices, signal);
            } catch (RuntimeException e) {
                if (!signal.signalled()) {
                    throw e;
                }
                // Said here, before the shutdown hook is released and the JVM exits (130 or 143).
                err.println("run: error: " + e.getMessage());
                err.flush();
                return 1;
            }
        }
    }

    private int traced(PrintWriter out, PrintWriter err, ModelConfig config, int stageCount, Workload workload,
                       TraceOptions traceOptions, List<Device> devices, StopOnSignal signal) throws IOException {
        Tracing tracing = null;
        try (Pipeline pipeline = Pipeline.builder().model(config).stages(stageCount).split(split)
                .microBatches(microBatches).devices(devices).build()) {
            if (!traceOptions.level().isOff()) {
                tracing = Tracing.start(traceOptions, RunResource.of(pipeline, workload, traceOptions.level()),
                        SpanContract.spanCount(requests, pipeline.ranks(), decodeSteps, traceOptions.level()));
            }
            Workload warm = Workload.generated(config, requests, promptLength, Math.min(decodeSteps, 4));
            for (int i = 0; i < warmup; i++) {
                pipeline.generate(warm);
            }
            TraceReport.Builder traceReport = tracing == null ? null : TraceReport.builder();
            if (tracing != null) {
                tracing.tap(traceReport);
            }
            RunResult result;
            try (Progress progress = Progress.start(err, !noProgress, workload.decodeSteps() + 1)) {
                result = pipeline.generate(workload, progress, tracing == null ? List.of() : List.of(tracing.listener()));
            } catch (RuntimeException e) {
                if (tracing != null) {
                    Thread.interrupted(); // a signal's interrupt must not cut the bounded flush short
                    printTraceSummary(out, tracing.shutdown());
                }
                if (signal.signalled()) {
                    throw new IllegalStateException("stopped by a signal (SIGINT or SIGTERM): every rank stopped"
                            + (tracing == null ? "" : "; the trace holds the spans resolved before the stop, "
                            + "the requests it cut short marked ERROR"), e);
                }
                throw e;
            }
            printSummary(out, pipeline, workload, result);
            if (report != null) {
                RunReport.write(report, pipeline, workload, result);
                out.println("report: " + report);
            }
            if (tracing != null) {
                TraceSummary summary = tracing.shutdown();
                printTraceSummary(out, summary);
                for (TraceSummary.Destination d : summary.destinations()) {
                    if (traceFile() != null && d.name().equals(traceFile().toString()) && d.error() != null) {
                        throw new IllegalStateException(traceOption() + ": cannot write: " + d.error());
                    }
                }
                if (traceFile() != null) {
                    reportTrace(out, traceReport.build());
                }
            }
        } finally {
            if (tracing != null) {
                Thread.interrupted(); // a signal's interrupt must not cut the bounded flush short
                tracing.close();
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
                .forEach(out::println);
        out.flush();
    }

    private ModelConfig modelConfig() {
        if (modelFile == null) {
            return ModelConfig.preset(model, seed);
        }
        if (spec.commandLine().getParseResult().hasMatchedOption("--model")) {
            throw new IllegalArgumentException("--model " + model + " and --model-file " + modelFile
                    + " both given; allowed: one of them");
        }
        return ModelFile.read(modelFile, seed);
    }

    /**
     * Tracing is on when the run has a destination: --trace-file, --otlp-endpoint, or a collector
     * named by OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; then the level defaults to 4.
     */
    private TraceOptions traceOptions() {
        boolean collector = otlpEndpoint != null || Tracing.environmentNamesCollector(System.getenv(), System.getProperties());
        boolean destination = traceFile() != null || collector;
        TraceLevel level = new TraceLevel(traceLevel != null ? traceLevel : destination ? TraceLevel.MAX : 0);
        if (!level.isOff() && !destination) {
            throw new IllegalArgumentException("--trace-level " + traceLevel + " without a trace destination; allowed: with "
                    + "--trace-file FILE.jsonl or --otlp-endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT set)");
        }
        if (otlpProtocol != null && !collector) {
            throw new IllegalArgumentException("--otlp-protocol '" + otlpProtocol + "' without a collector; allowed: with "
                    + "--otlp-endpoint URL (or OTEL_EXPORTER_OTLP_ENDPOINT set)");
        }
        for (String key : attributes.keySet()) {
            if (key.isBlank() || key.startsWith("ppexec.")) {
                throw new IllegalArgumentException("--attr '" + key + "=" + attributes.get(key) + "': key '" + key
                        + "' is " + (key.isBlank() ? "empty" : "set by the run") + "; allowed: a non-empty key outside ppexec.*");
            }
        }
        return new TraceOptions(level, traceFile(), endpoint(), otlpProtocol, attributes);
    }

    /** Where the spans go as a file: --trace-file, or beside the --perfetto output while converting. */
    private Path traceFile() {
        if (traceFile != null || perfetto == null) {
            return traceFile;
        }
        Path p = perfetto.toAbsolutePath();
        return p.resolveSibling("." + p.getFileName() + ".trace.jsonl");
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
        if (perfetto != null) {
            PerfettoConverter converter = new PerfettoConverter();
            OtlpJsonReader.read(traceFile(), false, converter, skipped -> {});
            TraceCounts w;
            try {
                w = converter.write(perfetto);
            } catch (IOException e) {
                throw new IOException("--perfetto " + perfetto + ": cannot write: " + e.getMessage(), e);
            }
            out.printf(Locale.ROOT, "perfetto: %s (%,d slices, %,d arrows); open it at https://ui.perfetto.dev%n",
                    perfetto, w.slices(), w.flows());
        }
    }

    private URI endpoint() {
        if (otlpEndpoint == null) {
            return null;
        }
        try {
            URI uri = new URI(otlpEndpoint);
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null) {
                return uri;
            }
        } catch (URISyntaxException e) {
            // Reported below, with what is allowed.
        }
        throw new IllegalArgumentException("--otlp-endpoint '" + otlpEndpoint + "' is not a URL; allowed: "
                + "http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:4318)");
    }

    /** Prompt and decode positions fit the model's maxSeq; shared by run and bench. */
    static void checkPositions(ModelConfig config, int promptLength, int decodeSteps) {
        long positions = (long) promptLength + decodeSteps;
        if (positions > config.maxSeq()) {
            throw new IllegalArgumentException("--prompt-len " + promptLength + " + --decode-steps " + decodeSteps + " = "
                    + positions + "; allowed: at most " + config.maxSeq() + " (maxSeq of model " + config.name() + ")");
        }
    }

    private void printSummary(PrintWriter out, Pipeline p, Workload w, RunResult r) {
        ModelConfig m = p.model();
        out.printf(Locale.ROOT, "model %s (%d layers, dim %d, vocab %d, seed %d); %d rank(s), split %s, on %s%n",
                m.name(), m.layers(), m.dim(), m.vocab(), m.seed(), p.ranks(), p.partition(), p.device(0).name());
        out.printf(Locale.ROOT, "%d requests x (%d prompt + %d decode) tokens, %d micro-batches%n",
                w.requests(), w.promptLength(), w.decodeSteps(), p.microBatches());
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
