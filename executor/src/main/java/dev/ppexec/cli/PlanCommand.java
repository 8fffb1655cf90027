package dev.ppexec.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ppexec.model.Partition;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.plan.Contention;
import dev.ppexec.plan.CostFit;
import dev.ppexec.plan.PlanInputException;
import dev.ppexec.plan.Planner;
import dev.ppexec.plan.TracedRun;
import dev.ppexec.plan.Validation;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/** {@code ppexec plan}: fit each rank's costs on traced runs, replay candidate configurations, rank them. */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Fit per-rank costs on traced runs (level 4; per layer at level 5), simulate every P, split and micro-batch count for "
                + "the traced workload, and print the fastest beside the traced run's measured figures.")
final class PlanCommand implements Callable<Integer> {

    private static final int VALIDATE_WARMUP_STEPS = 4;
    /**
     * Untimed runs of the traced configuration before the first round: the CPU kernels run boxed until C2 has compiled
     * them, seconds into the process (Note [vector api warm-up] in VectorMath), and a first round timed inside that
     * window measured half the steady throughput.
     */
    private static final int VALIDATE_WARMUP_RUNS = 2;
    private static final int MAX_VALIDATE_ROUNDS = 20;

    @Spec
    CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "TRACE",
            description = "OTLP-JSON trace of a ppexec run at --trace-level 4; repeatable, or a glob in quotes (runs of one model; "
                    + "the rank files of a world are one run).")
    List<Path> inputs;

    @Option(names = "--top", defaultValue = "5", description = "Candidates printed (default: ${DEFAULT-VALUE}).")
    int top;

    @Option(names = "--max-stages", paramLabel = "P",
            description = "Largest P planned (default: the layer count, and for a cpu trace at most this machine's processors).")
    Integer maxStages;

    @Option(names = "--validate", paramLabel = "K", defaultValue = "0",
            description = "Run the top K candidates here on the CPU and print predicted against measured (default: 0).")
    int validate;

    @Option(names = "--validate-rounds", paramLabel = "R", defaultValue = "3",
            description = "Rounds of validation: each runs the traced configuration, then the top K; medians are "
                    + "compared (default: ${DEFAULT-VALUE}).")
    int validateRounds;

    @Option(names = "--format", defaultValue = "text", description = "text or json (default: ${DEFAULT-VALUE}).")
    ReportCommand.Format format;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        UsageException.check(top >= 1, "--top " + top + " is out of range; allowed: 1 or more");
        UsageException.check(validate >= 0 && validate <= top,
                "--validate " + validate + " is out of range; allowed: 0..--top (" + top + ")");
        UsageException.check(validateRounds >= 1 && validateRounds <= MAX_VALIDATE_ROUNDS, "--validate-rounds "
                + validateRounds + " is out of range; allowed: 1.." + MAX_VALIDATE_ROUNDS);
        UsageException.check(maxStages == null || maxStages >= 1,
                "--max-stages " + maxStages + " is out of range; allowed: 1 or more");
        List<TracedRun.Input> traces = new ArrayList<>();
        for (Path input : TraceInput.expand("--input", inputs.stream().map(Path::toString).toList())) {
            List<SpanRecord> spans = new ArrayList<>();
            OtlpJsonReader.read(input, false, spans::add, skipped -> {}).requireSpans(input.toString());
            traces.add(new TracedRun.Input("--input " + input, spans));
        }
        List<TracedRun> runs;
        try {
            runs = TracedRun.read(traces);
        } catch (PlanInputException e) {
            throw new UsageException(e.getMessage());
        }
        CostFit fit;
        try {
            fit = CostFit.fit(runs);
        } catch (PlanInputException e) {
            throw new UsageException(e.getMessage());
        }
        TracedRun first = runs.getFirst();
        boolean cpu = runs.stream().allMatch(r -> r.device().equals("cpu"));
        UsageException.check(validate == 0 || cpu, "--validate " + validate + ": the traces ran on "
                + first.device() + " and validation runs here on the CPU; allowed: 0, or traces of --device cpu runs");
        int stagesCap = maxStages != null ? maxStages
                : cpu ? Math.min(fit.model().layers(), Runtime.getRuntime().availableProcessors()) : fit.model().layers();
        Planner planner = Planner.of(fit, runs);
        List<Planner.Candidate> best = planner.candidates(stagesCap);
        best = best.subList(0, Math.min(top, best.size()));
        Validation measured = validate == 0 ? null : validate(best.subList(0, Math.min(validate, best.size())), first);
        if (format == ReportCommand.Format.json) {
            out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(json(fit, planner, runs, stagesCap, best, measured)));
        } else {
            printText(out, fit, planner, runs, stagesCap, best, measured);
        }
        return 0;
    }

    /** Runs the traced configuration and {@code candidates} in interleaved rounds (Note [validation baseline]). */
    private Validation validate(List<Planner.Candidate> candidates, TracedRun traced) {
        List<Double> baseline = new ArrayList<>();
        List<List<Double>> samples = new ArrayList<>();
        for (int i = 0; i < candidates.size(); i++) {
            samples.add(new ArrayList<>());
        }
        for (int run = 0; run < VALIDATE_WARMUP_RUNS; run++) {
            runHere(traced.split(), traced.microBatches(), traced);
        }
        for (int round = 0; round < validateRounds; round++) {
            baseline.add(runHere(traced.split(), traced.microBatches(), traced));
            for (int i = 0; i < candidates.size(); i++) {
                samples.get(i).add(runHere(candidates.get(i).split(), candidates.get(i).microBatches(), traced));
            }
        }
        return new Validation(traced.measured().tokensPerSecond(), baseline, samples);
    }

    /** Runs {@code split} with {@code microBatches} on the traced workload on the CPU, after a short warm-up; its measured tokens/s. */
    private static double runHere(Partition split, int microBatches, TracedRun traced) {
        try (Pipeline pipeline = Pipeline.builder().model(traced.model()).stages(split.stages())
                .split(split.toString()).microBatches(microBatches).build()) {
            pipeline.generate(Workload.generated(traced.model(), traced.requests(), traced.promptLength(),
                    Math.min(traced.decodeSteps(), VALIDATE_WARMUP_STEPS)));
            return pipeline.generate(Workload.generated(traced.model(), traced.requests(), traced.promptLength(),
                    traced.decodeSteps())).tokensPerSecond();
        }
    }

    private static void printText(PrintWriter out, CostFit fit, Planner planner, List<TracedRun> runs, int stagesCap,
                                  List<Planner.Candidate> best, Validation measured) {
        TracedRun first = runs.getFirst();
        out.printf(Locale.ROOT, "plan: model %s, %d requests x (%d prompt + %d decode) tokens; costs fitted on %d run(s); P up to %d%n",
                fit.model().name(), first.requests(), first.promptLength(), first.decodeSteps(), runs.size(), stagesCap);
        out.println("fit (Note [cost fit]): rows  prefill us/token layer  head  decode ms/forward layer  head");
        for (Integer rows : fit.decodePerForward().keySet()) {
            CostFit.StageCosts p = fit.prefillAt(rows);
            CostFit.StageCosts d = fit.decodeAt(rows);
            out.printf(Locale.ROOT, "  %4d  %8.2f  %8.2f  %8.3f  %8.3f%n", rows, p.layerNanos() / 1e3,
                    p.headNanos() / 1e3, d.layerNanos() / 1e6, d.headNanos() / 1e6);
        }
        for (Integer rows : fit.decodePerForward().keySet()) {
            CostFit.StageCosts d = fit.decodeAt(rows);
            if (!d.perLayerNanos().isEmpty()) {
                out.printf(Locale.ROOT, "  per layer (level 5, Note [per-layer costs]) at rows %d: decode ms/forward %s; "
                                + "embed %.3f%n", rows, d.perLayerNanos().stream()
                                .map(n -> String.format(Locale.ROOT, "%.3f", n / 1e6)).collect(Collectors.joining(" ")),
                        d.embedNanos() / 1e6);
            }
        }
        out.printf(Locale.ROOT, "transfer %.3f ns/byte; launch prefill %.1f us, decode %.1f us; "
                        + "overhead (Note [planner overhead]) %.2f ms at M 1%n", fit.transferNanosPerByte(),
                fit.prefillLaunchNanos() / 1e3, fit.decodeLaunchNanos() / 1e3, planner.overheadNanos(1) / 1e6);
        out.println(contentionLine(fit.contention()));
        for (TracedRun run : runs) {
            Planner.Traced t = planner.traced(run);
            out.printf(Locale.ROOT, "traced %s: P %d, split %s, M %d on %s: measured %.1f tokens/s, bubble %s; "
                            + "predicted %.1f tokens/s, bubble %s%n", run.source().substring("--input ".length()),
                    run.ranks(), run.split(), run.microBatches(), run.device(), run.measured().tokensPerSecond(),
                    percent(run.measured().measuredBubble()), t.predicted().tokensPerSecond(),
                    percent(t.predicted().bubble()));
        }
        List<Planner.Traced> disagreeing = planner.disagreeing(runs, DISAGREEMENT);
        if (!disagreeing.isEmpty()) {
            out.println("warning: one fit misses these traces' own tokens/s by more than " + Math.round(100 * DISAGREEMENT)
                    + "% (the load changed between the traces?): " + disagreeing.stream().map(t -> String.format(Locale.ROOT,
                    "%s %+.1f%%", t.run().source().substring("--input ".length()),
                    100 * (t.predicted().tokensPerSecond() / t.run().measured().tokensPerSecond() - 1)))
                    .collect(Collectors.joining(", ")));
        }
        out.println("rank  P  split            kind      M  rows   rows seen  predicted tok/s  bubble"
                + (measured == null ? "" : "  measured tok/s  error  at trace load"));
        for (int i = 0; i < best.size(); i++) {
            Planner.Candidate c = best.get(i);
            out.printf(Locale.ROOT, "%4d  %d  %-15s  %-8s  %d  %5.2f  %-9s  %15.1f  %6s", i + 1, c.stages(), c.split(),
                    c.splitKind(), c.microBatches(), (double) first.requests() / c.microBatches(),
                    c.rowsObserved() ? "yes" : "no", c.tokensPerSecond(), percent(c.bubble()));
            if (measured != null && i < measured.candidateSamples().size()) {
                out.printf(Locale.ROOT, "  %14.1f  %+5.1f%%  %+12.1f%%", measured.measured(i),
                        100 * measured.error(i, c.tokensPerSecond()),
                        100 * measured.errorAtTracedLoad(i, c.tokensPerSecond()));
            }
            out.println();
        }
        List<Integer> unseen = best.stream().filter(c -> !c.rowsObserved()).map(Planner.Candidate::microBatches)
                .distinct().sorted().toList();
        if (!unseen.isEmpty()) {
            out.println("rows not seen: no trace ran micro-batches of these candidates' rows, so their costs are held "
                    + "or interpolated (Note [cost fit]), and a forward's cost is not monotone in its rows "
                    + "(docs/PLANNER.md); trace the same workload with --micro-batches "
                    + unseen.stream().map(String::valueOf).collect(Collectors.joining(", ")) + " too and plan them together");
        }
        if (measured != null) {
            out.printf(Locale.ROOT, "validated in %d rounds (medians; Note [validation baseline]): the traced "
                            + "configuration ran at %.1f tokens/s here (rounds %.1f..%.1f) against %.1f in its trace (load ratio "
                            + "%.2f); at trace load = predicted x load ratio against measured%n", measured.rounds(),
                    measured.baselineTokensPerSecond(), Collections.min(measured.baselineSamples()),
                    Collections.max(measured.baselineSamples()), measured.tracedTokensPerSecond(), measured.loadRatio());
        }
    }

    /** How far a traced run's own prediction may be from its measurement before the text output warns: the issue's target. */
    private static final double DISAGREEMENT = 0.15;

    /** What the fit found of Note [shared device], in one line. */
    static String contentionLine(Contention c) {
        if (!c.shared()) {
            return "contention (Note [shared device]): not applied, the traced ranks did not all share one device";
        }
        if (c.groups() == 0) {
            return "contention (Note [shared device]): not measured (no stage traced at overlaps " + Contention.MIN_SPREAD
                    + " apart, e.g. one split and row count at M 1 and at M 2), taken as 0";
        }
        return String.format(Locale.ROOT, "contention (Note [shared device]): forward x (1 + %.3f x overlap share), "
                + "from %d stage(s) traced at different overlaps%s", c.perOverlap(), c.groups(),
                c.fitted() == c.perOverlap() ? "" : String.format(Locale.ROOT, " (fitted %.3f, held in 0..%.0f)",
                        c.fitted(), Contention.MAX_PER_OVERLAP));
    }

    private static Map<String, Object> json(CostFit fit, Planner planner, List<TracedRun> runs, int stagesCap,
                                            List<Planner.Candidate> best, Validation measured) {
        Map<String, Object> root = new LinkedHashMap<>();
        TracedRun first = runs.getFirst();
        root.put("model", fit.model().name());
        root.put("requests", first.requests());
        root.put("promptLength", first.promptLength());
        root.put("decodeSteps", first.decodeSteps());
        root.put("maxStages", stagesCap);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Integer r : fit.decodePerForward().keySet()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("rows", r);
            row.put("prefillLayerNanosPerToken", fit.prefillAt(r).layerNanos());
            row.put("prefillHeadNanosPerToken", fit.prefillAt(r).headNanos());
            row.put("decodeLayerNanosPerForward", fit.decodeAt(r).layerNanos());
            row.put("decodeHeadNanosPerForward", fit.decodeAt(r).headNanos());
            if (!fit.decodeAt(r).perLayerNanos().isEmpty()) {
                row.put("prefillNanosPerTokenByLayer", fit.prefillAt(r).perLayerNanos());
                row.put("prefillEmbedNanosPerToken", fit.prefillAt(r).embedNanos());
                row.put("decodeNanosPerForwardByLayer", fit.decodeAt(r).perLayerNanos());
                row.put("decodeEmbedNanosPerForward", fit.decodeAt(r).embedNanos());
            }
            rows.add(row);
        }
        Map<String, Object> fitJson = new LinkedHashMap<>();
        fitJson.put("byRows", rows);
        fitJson.put("transferNanosPerByte", fit.transferNanosPerByte());
        fitJson.put("prefillLaunchNanos", fit.prefillLaunchNanos());
        fitJson.put("decodeLaunchNanos", fit.decodeLaunchNanos());
        fitJson.put("overheadNanosAtOneMicroBatch", planner.overheadNanos(1));
        fitJson.put("contentionPerOverlap", fit.contention().perOverlap());
        fitJson.put("contentionFitted", fit.contention().fitted());
        fitJson.put("contentionGroups", fit.contention().groups());
        fitJson.put("sharedDevice", fit.contention().shared());
        root.put("fit", fitJson);
        List<Map<String, Object>> traced = new ArrayList<>();
        for (TracedRun run : runs) {
            Planner.Traced t = planner.traced(run);
            Map<String, Object> row = candidateJson(t.predicted(), run.requests());
            row.put("input", run.source().substring("--input ".length()));
            row.put("measuredTokensPerSecond", run.measured().tokensPerSecond());
            row.put("measuredBubble", run.measured().measuredBubble());
            traced.add(row);
        }
        root.put("traced", traced);
        List<Map<String, Object>> candidates = new ArrayList<>();
        for (int i = 0; i < best.size(); i++) {
            Map<String, Object> row = candidateJson(best.get(i), first.requests());
            if (measured != null && i < measured.candidateSamples().size()) {
                row.put("measuredTokensPerSecond", measured.measured(i));
                row.put("measuredSamples", measured.candidateSamples().get(i));
                row.put("errorAtTracedLoad", measured.errorAtTracedLoad(i, best.get(i).tokensPerSecond()));
            }
            candidates.add(row);
        }
        root.put("candidates", candidates);
        if (measured != null) {
            Map<String, Object> validation = new LinkedHashMap<>();
            validation.put("rounds", measured.rounds());
            validation.put("tracedConfigurationSamples", measured.baselineSamples());
            validation.put("tracedConfigurationTokensPerSecond", measured.baselineTokensPerSecond());
            validation.put("loadRatio", measured.loadRatio());
            root.put("validation", validation);
        }
        return root;
    }

    private static Map<String, Object> candidateJson(Planner.Candidate c, int requests) {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("stages", c.stages());
        row.put("split", c.split().toString());
        row.put("splitKind", c.splitKind().name());
        row.put("microBatches", c.microBatches());
        row.put("rows", (double) requests / c.microBatches());
        row.put("rowsObserved", c.rowsObserved());
        row.put("predictedTokensPerSecond", c.tokensPerSecond());
        row.put("predictedBubble", c.bubble());
        return row;
    }

    private static String percent(double share) {
        return Double.isNaN(share) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * share);
    }
}
