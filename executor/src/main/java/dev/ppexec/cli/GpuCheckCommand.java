package dev.ppexec.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.check.BackendComparison;
import dev.ppexec.check.DecodeRow;
import dev.ppexec.cuda.CudaDevice;
import dev.ppexec.cuda.CudaPlatform;
import dev.ppexec.failure.Failures;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.otlp.OtlpJsonReader;
import dev.ppexec.otlp.SpanRecord;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RankFigures;
import dev.ppexec.runtime.RunResult;
import dev.ppexec.runtime.Workload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * {@code ppexec gpu-check compare|bench|torch|decode-rows}: the Java side of {@code scripts/gpu-check}, run on a
 * GPU machine from the gpu-bundle. Each phase prints its findings, then one line per check of the
 * form {@code summary: CHECK | PASS|FAIL|WARN|INFO | DETAIL}, which the script gathers into the
 * table it prints last. Exit status 1 when a check failed.
 */
@Command(name = "gpu-check", hidden = true, mixinStandardHelpOptions = true,
        description = "Checks and benchmarks the CUDA backend against the CPU backend (run by scripts/gpu-check).")
final class GpuCheckCommand implements Runnable {

    /** CUDA logits must match the CPU's within this relative error in fp32 (max |diff| / max |logit| per row). */
    static final double LOGITS_TOLERANCE = 1e-4;

    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }

    private void summary(String check, String status, String detail) {
        out().println("summary: " + check + " | " + status + " | " + detail);
        out().flush();
    }

    /** A check that reports its own summary line and returns whether it passed. */
    @FunctionalInterface
    private interface Check {
        boolean run() throws Exception;
    }

    /** Runs one check; a failure becomes its FAIL line, and the next check still runs. */
    private boolean attempt(String check, Check body) {
        try {
            return body.run();
        } catch (Exception | OutOfMemoryError | StackOverflowError e) {
            summary(check, "FAIL", Failures.describe(e));
            return false;
        }
    }

    /** The first CUDA device, or a FAIL summary and null when there is none. */
    private Device gpu(CudaPlatform platform, String check) {
        if (platform.unavailableReason().isPresent()) {
            summary(check, "FAIL", "no usable CUDA device: " + platform.unavailableReason().get());
            return null;
        }
        Device d = platform.open(List.of(0), false).getFirst();
        out().println(check + ": on " + ((CudaDevice) d).info().describe() + "; matmul: " + ((CudaDevice) d).matmul());
        return d;
    }

    @Command(name = "compare", description = "CUDA vs CPU logits (prefill and decode) and tokens across P = 1, 2, 4.")
    int compare(@Option(names = "--models", split = ",", defaultValue = "tiny,toy") List<String> models) {
        CudaPlatform platform = CudaPlatform.detect();
        boolean ok = true;
        try (CpuDevice cpu = new CpuDevice()) {
            Device gpu = gpu(platform, "compare");
            if (gpu == null) {
                return 1;
            }
            try (gpu) {
                for (String name : models) {
                    String check = "logits " + name + " cuda vs cpu";
                    ok &= attempt(check, () -> {
                        BackendComparison.Result r = BackendComparison.logits(ModelConfig.preset(name, 42), cpu, gpu, 4,
                                16, 8);
                        boolean pass = r.passes(LOGITS_TOLERANCE);
                        summary(check, pass ? "PASS" : "FAIL",
                                r.describe() + String.format(Locale.ROOT, "; target <= %.0e", LOGITS_TOLERANCE));
                        return pass;
                    });
                }
                ok &= attempt("tokens toy P=1,2,4 on one GPU",
                        () -> tokensAcrossRanks(cpu, gpu, ModelConfig.preset("toy", 42)));
            }
        }
        return ok ? 0 : 1;
    }

    private boolean tokensAcrossRanks(Device cpu, Device gpu, ModelConfig model) {
        Workload w = Workload.generated(model, 8, 16, 16);
        int[][] reference = generate(model, List.of(cpu), 1, 4, w).tokens();
        int[][] single = null;
        List<String> notes = new ArrayList<>();
        boolean same = true;
        for (int p : new int[] {1, 2, 4}) {
            int[][] tokens = generate(model, List.of(gpu), p, 4, w).tokens();
            if (single == null) {
                single = tokens;
                int equal = equalRows(tokens, reference);
                notes.add(equal + "/" + tokens.length + " requests equal to the CPU's");
            } else if (!Arrays.deepEquals(tokens, single)) {
                same = false;
                notes.add("P=" + p + " differs from P=1 (" + equalRows(tokens, single) + "/" + tokens.length + " equal)");
            }
        }
        summary("tokens " + model.name() + " P=1,2,4 on one GPU", same ? "PASS" : "FAIL",
                (same ? "identical across P; " : "") + String.join("; ", notes));
        return same;
    }

    private static int equalRows(int[][] a, int[][] b) {
        int n = 0;
        for (int i = 0; i < a.length; i++) {
            n += Arrays.equals(a[i], b[i]) ? 1 : 0;
        }
        return n;
    }

    private static RunResult generate(ModelConfig model, List<Device> devices, int stages, int microBatches, Workload w) {
        try (Pipeline p = Pipeline.builder().model(model).stages(stages).microBatches(microBatches).devices(devices)
                .build()) {
            return p.generate(w);
        }
    }

    /** Warm-up (same shapes, at most 4 decode steps), then the timed run. */
    private static RunResult timed(Pipeline p, Workload w) {
        p.generate(new Workload(w.prompts(), Math.min(w.decodeSteps(), 4)));
        return p.generate(w);
    }

    @Command(name = "bench", description = "Tokens/s for P = 1, 2, 4 on one GPU; mean run_batch_cpu and run_batch_device per rank.")
    int bench(@Option(names = "--models", split = ",", defaultValue = "toy,small") List<String> models,
              @Option(names = "--stages", split = ",", defaultValue = "1,2,4") List<Integer> stages) {
        CudaPlatform platform = CudaPlatform.detect();
        Device gpu = gpu(platform, "bench");
        if (gpu == null) {
            return 1;
        }
        boolean ok = true;
        try (gpu) {
            for (String name : models) {
                ModelConfig model = ModelConfig.preset(name, 42);
                Workload w = name.equals("small") ? Workload.generated(model, 16, 64, 32)
                        : Workload.generated(model, 16, 32, 64);
                out().printf(Locale.ROOT, "bench %s: %d requests x (%d prompt + %d decode), 4 micro-batches%n", name,
                        w.requests(), w.promptLength(), w.decodeSteps());
                for (int p : stages) {
                    String check = String.format(Locale.ROOT, "bench %s P=%d", name, p);
                    ok &= attempt(check, () -> {
                        try (Pipeline pipeline = Pipeline.builder().model(model).stages(p).microBatches(4)
                                .devices(List.of(gpu)).build()) {
                            RunResult r = timed(pipeline, w);
                            StringBuilder ranks = new StringBuilder();
                            for (RankFigures f : r.ranks()) {
                                ranks.append(String.format(Locale.ROOT, " PP%d %.0f/%.0f", f.rank(),
                                        f.cpuLaunchNanos() / 1e3 / f.forwards(), f.deviceBusyNanos() / 1e3 / f.forwards()));
                            }
                            summary(check, "INFO", String.format(Locale.ROOT,
                                    "%.1f tok/s; bubble %.1f%%; mean run_batch_cpu/run_batch_device us:%s",
                                    r.tokensPerSecond(), 100 * r.measuredBubble(), ranks));
                            return true;
                        }
                    });
                }
            }
        }
        return ok ? 0 : 1;
    }

    @Command(name = "torch", description = "ppexec CUDA tokens and throughput against PyTorch reference outputs.")
    int torch(@Option(names = "--case", required = true,
            description = "LABEL=MODEL:REQUESTS:PROMPT_LEN:DECODE_STEPS:FILE.json (the reference's output)")
              List<String> cases) throws IOException {
        CudaPlatform platform = CudaPlatform.detect();
        Device gpu = gpu(platform, "torch");
        if (gpu == null) {
            return 1;
        }
        boolean ok = true;
        try (gpu) {
            for (String c : cases) {
                ok &= attempt("pytorch " + c.substring(0, Math.max(0, c.indexOf('='))), () -> torchCase(gpu, c));
            }
        }
        return ok ? 0 : 1;
    }

    private boolean torchCase(Device gpu, String spec) throws IOException {
        int eq = spec.indexOf('=');
        String[] f = spec.substring(eq + 1).split(":", 5);
        if (eq < 0 || f.length != 5) {
            throw new UsageException("--case '" + spec
                    + "' is malformed; allowed: LABEL=MODEL:REQUESTS:PROMPT_LEN:DECODE_STEPS:FILE.json");
        }
        String label = "pytorch " + spec.substring(0, eq);
        ModelConfig model = ModelConfig.preset(f[0], 42);
        Workload w = Workload.generated(model, Integer.parseInt(f[1]), Integer.parseInt(f[2]), Integer.parseInt(f[3]));
        Path file = Path.of(f[4]);
        if (!Files.isRegularFile(file)) {
            summary(label, "FAIL", "no reference output " + file.getFileName());
            return false;
        }
        JsonNode json = new ObjectMapper().readTree(file.toFile());
        RunResult ours;
        try (Pipeline p = Pipeline.builder().model(model).stages(1).microBatches(1).devices(List.of(gpu)).build()) {
            ours = timed(p, w);
        }
        int[][] theirs = tokens(json.path("tokens"));
        int equal = 0;
        String firstDiff = "";
        for (int r = 0; r < w.requests(); r++) {
            int[] expected = r < theirs.length ? theirs[r] : new int[0];
            int[] actual = ours.tokens()[r];
            int mismatch = Arrays.mismatch(actual, expected);
            if (mismatch < 0) {
                equal++;
            } else if (firstDiff.isEmpty()) {
                firstDiff = "; first difference: request " + r + " step " + mismatch;
            }
        }
        double torchRate = json.path("tokens_per_second").asDouble();
        String status = equal == w.requests() ? "PASS" : equal * 10 >= w.requests() * 9 ? "WARN" : "FAIL";
        summary(label, status, String.format(Locale.ROOT,
                "tokens %d/%d requests identical%s; ppexec %.1f tok/s, PyTorch %.1f tok/s (decode step %.3f ms): ratio %.2f",
                equal, w.requests(), firstDiff, ours.tokensPerSecond(), torchRate, json.path("decode_step_ms").asDouble(),
                torchRate > 0 ? ours.tokensPerSecond() / torchRate : Double.NaN));
        return !status.equals("FAIL");
    }

    @Command(name = "decode-rows", description = "Decode rows from ppexec run's --report and --trace-file (trace level 4) "
            + "against the HBM floor and PyTorch (scripts/reference_torch.py --batches ... --modes ... output).")
    int decodeRows(@Option(names = "--row", required = true, paramLabel = "LABEL=MODEL:BATCH:REPORT.json:TRACE.jsonl",
                           description = "One run: its label, model preset, requests, report and trace.") List<String> rows,
                   @Option(names = "--torch", paramLabel = "FILE.json",
                           description = "PyTorch runs of a model (every batch and mode); repeatable.") List<Path> torchFiles,
                   @Option(names = "--peak-gbps", defaultValue = "0", paramLabel = "GB/s",
                           description = "The device's peak memory bandwidth (ppexec devices); 0: unknown.") double peakGbps) {
        UsageException.check(peakGbps >= 0 && Double.isFinite(peakGbps), "--peak-gbps " + peakGbps
                + " is not a bandwidth; allowed: a number >= 0 (GB/s; 0 when unknown)");
        List<JsonNode> torch = new ArrayList<>();
        boolean ok = true;
        for (Path file : torchFiles == null ? List.<Path>of() : torchFiles) {
            ok &= attempt("pytorch " + file.getFileName(), () -> {
                torch.add(new ObjectMapper().readTree(file.toFile()));
                return true;
            });
        }
        for (String row : rows) {
            int eq = row.indexOf('=');
            String[] f = row.substring(eq + 1).split(":", 4);
            UsageException.check(eq > 0 && f.length == 4 && f[1].matches("[1-9]\\d{0,5}"), "--row '" + row
                    + "' is malformed; allowed: LABEL=MODEL:BATCH:REPORT.json:TRACE.jsonl");
            String label = row.substring(0, eq);
            ok &= attempt(label, () -> decodeRow(label, f[0], Integer.parseInt(f[1]), Path.of(f[2]), Path.of(f[3]), torch,
                    peakGbps * 1e9));
        }
        return ok ? 0 : 1;
    }

    private boolean decodeRow(String label, String modelName, int batch, Path report, Path trace, List<JsonNode> torch,
                              double peakBytesPerSecond) throws IOException {
        for (Path p : List.of(report, trace)) {
            if (!Files.isRegularFile(p)) {
                summary(label, "FAIL", "no " + p.getFileName() + " (the run failed or was not made; see its log)");
                return false;
            }
        }
        ModelConfig model = ModelConfig.preset(modelName, 42);
        int[][] tokens = tokens(new ObjectMapper().readTree(report.toFile()).path("tokens"));
        List<SpanRecord> spans = new ArrayList<>();
        OtlpJsonReader.read(trace, false, spans::add, skipped -> { });
        DecodeRow.Figures figures = DecodeRow.decodeFigures(spans);
        List<DecodeRow.Torch> theirs = new ArrayList<>();
        for (JsonNode file : torch) {
            for (JsonNode run : file.path("runs")) {
                if (file.path("model").asText().equals(modelName) && run.path("requests").asInt() == batch) {
                    theirs.add(new DecodeRow.Torch(run.path("mode").asText(), run.path("decode_step_ms").asDouble(),
                            tokens(run.path("tokens"))));
                }
            }
        }
        DecodeRow.Line line = DecodeRow.line(model, batch, figures, peakBytesPerSecond, tokens, theirs);
        summary(label, line.status(), line.detail());
        return !line.status().equals("FAIL");
    }

    private static int[][] tokens(JsonNode rows) {
        int[][] out = new int[rows.size()][];
        for (int r = 0; r < out.length; r++) {
            JsonNode row = rows.get(r);
            out[r] = new int[row.size()];
            for (int i = 0; i < out[r].length; i++) {
                out[r][i] = row.get(i).asInt();
            }
        }
        return out;
    }
}
