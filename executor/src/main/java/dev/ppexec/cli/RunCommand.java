package dev.ppexec.cli;

import dev.ppexec.backend.Device;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.stage.MemoryPlan;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
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
        checkPositions(config);
        MemoryPlan plan = MemoryPlan.of(config, stageCount, microBatches, requests, promptLength, decodeSteps);
        List<Device> devices = device.open(deviceOrdinals, tf32, err);
        try {
            DeviceChoice.checkFits(plan, devices);
            run(out, err, config, stageCount, workload, devices);
        } finally {
            devices.forEach(Device::close);
        }
        return 0;
    }

    private void run(PrintWriter out, PrintWriter err, ModelConfig config, int stageCount, Workload workload,
                     List<Device> devices) {
        try (Pipeline pipeline = Pipeline.builder().model(config).stages(stageCount).split(split)
                .microBatches(microBatches).devices(devices).build()) {
            Workload warm = Workload.generated(config, requests, promptLength, Math.min(decodeSteps, 4));
            for (int i = 0; i < warmup; i++) {
                pipeline.generate(warm);
            }
            RunResult result;
            try (Progress progress = Progress.start(err, !noProgress, workload.decodeSteps() + 1)) {
                result = pipeline.generate(workload, progress);
            }
            printSummary(out, pipeline, workload, result);
            if (report != null) {
                RunReport.write(report, pipeline, workload, result);
                out.println("report: " + report);
            }
        }
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

    private void checkPositions(ModelConfig config) {
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
