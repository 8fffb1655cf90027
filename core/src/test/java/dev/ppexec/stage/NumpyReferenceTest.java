package dev.ppexec.stage;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.cpu.CpuBufferAccess;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The CPU backend against {@code scripts/reference_numpy.py}: an independent numpy implementation of
 * DESIGN.md's model, computed in float64 from the same seed.
 *
 * <p>Logits, per request and step: relative error = max<sub>j</sub> |cpu<sub>j</sub> − ref<sub>j</sub>| /
 * max(max<sub>j</sub> |ref<sub>j</sub>|, 1e-6), the max-norm of the difference over the max-norm of the
 * reference row, must be at most {@value #BOUND}. Tokens: equal, except where the reference's top two
 * logits are closer than the same bound (relative to the same row scale); there a different greedy choice
 * is within tolerance, the test prints the position (in the test's output) and stops comparing that
 * request, whose later inputs then differ. Skipped, with the reason, where python3 or numpy is missing; under {@code CI=true} that fails.
 */
@Timeout(300)
class NumpyReferenceTest {

    static final double BOUND = 1e-4;
    private static final long SCRIPT_LIMIT_SECONDS = 240;

    /** Tokens [request][step] and logits [request][step][vocab] of one run. */
    record Run(int[][] tokens, double[][][] logits) {}

    @ParameterizedTest(name = "{0}: {1} requests x ({2} prompt + {3} decode)")
    @CsvSource({"tiny, 3, 6, 5", "toy, 2, 8, 3"})
    void cpuBackend_matchesFloat64NumpyReference(String model, int requests, int promptLen, int steps,
                                                 @TempDir Path dir) throws Exception {
        Path script = repositoryRoot().resolve("scripts/reference_numpy.py");
        requirePythonWithNumpy();
        ModelConfig cfg = ModelConfig.preset(model, 42);
        Run reference = runReference(script, dir.resolve("reference.json"), cfg, requests, promptLen, steps);
        Run cpu = runCpu(cfg, requests, promptLen, steps);

        double worst = 0;
        int compared = 0;
        List<String> nearTies = new ArrayList<>();
        for (int r = 0; r < requests; r++) {
            for (int s = 0; s <= steps; s++) {
                double[] ref = reference.logits()[r][s];
                double[] got = cpu.logits()[r][s];
                double scale = Math.max(maxAbs(ref), 1e-6);
                int at = worstIndex(got, ref);
                double error = Math.abs(got[at] - ref[at]) / scale;
                if (!(error <= BOUND)) {
                    fail(model + " request " + r + " step " + s + ": logits relative error " + error + " > " + BOUND
                            + " (worst at vocab index " + at + ": cpu " + got[at] + ", reference " + ref[at]
                            + ", row scale " + scale + ")");
                }
                worst = Math.max(worst, error);
                compared++;
                int cpuToken = cpu.tokens()[r][s];
                int refToken = reference.tokens()[r][s];
                if (cpuToken != refToken) {
                    double gap = topTwoGap(ref) / scale;
                    if (!(gap < BOUND)) {
                        fail(model + " request " + r + " step " + s + ": token " + cpuToken + " but reference " + refToken
                                + ", whose top-2 logit gap " + gap + " (relative) is not below " + BOUND);
                    }
                    nearTies.add("request " + r + " step " + s + ": token " + cpuToken + " vs reference " + refToken
                            + " (top-2 gap " + gap + " relative < " + BOUND + "); later steps not compared");
                    break;
                }
            }
        }
        System.out.printf("%s: %d request-steps compared, max logits relative error %.3g%n", model, compared, worst);
        nearTies.forEach(t -> System.out.println(model + " near tie: " + t));
        assertThat(compared).as("request-steps compared").isGreaterThanOrEqualTo(requests);
    }

    /** Prefill, then greedy decode, on one CPU stage holding every layer; reads the logits after each step. */
    static Run runCpu(ModelConfig cfg, int requests, int promptLen, int steps) {
        return runCpu(new CpuDevice(), cfg, requests, promptLen, steps);
    }

    /** {@link #runCpu(ModelConfig, int, int, int)} on {@code device}, which it closes. */
    static Run runCpu(CpuDevice device, ModelConfig cfg, int requests, int promptLen, int steps) {
        int[][] prompts = Prompts.prompts(cfg.seed(), requests, promptLen, cfg.vocab());
        int[] rows = IntStream.range(0, requests).toArray();
        int vocab = cfg.vocab();
        int[][] tokens = new int[requests][steps + 1];
        double[][][] logits = new double[requests][steps + 1][];
        try (device;
             StageWeights weights = new StageWeights(device, cfg, 0, cfg.layers());
             Workspace ws = new Workspace(device, cfg, requests, promptLen, true);
             StageProgram program = new StageProgram(device, weights, ws, prompts, rows, promptLen, promptLen + steps, tokens)) {
            Stream stream = device.createStream("reference test");
            Launch feedback = device.kernels().copy("next tokens", program.nextIds(), program.inputIds(), requests, 1);
            for (int step = 0; step <= steps; step++) {
                if (step > 0) {
                    stream.launch(feedback, 1, 0);
                }
                program.launchForward(stream, step == 0 ? promptLen : 1, step == 0 ? 0 : promptLen + step - 1);
                program.launchTokensToHost(stream, step);
                stream.synchronize();
                float[] all = CpuBufferAccess.floats(ws.logits); // [batch, vocab]
                for (int r = 0; r < requests; r++) {
                    logits[r][step] = toDoubles(Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab));
                }
            }
        }
        return new Run(tokens, logits);
    }

    static Run runReference(Path script, Path out, ModelConfig cfg, int requests, int promptLen, int steps)
            throws IOException, InterruptedException {
        Path log = out.resolveSibling("reference.log");
        Process p = new ProcessBuilder("python3", script.toString(), "--model", cfg.name(), "--requests",
                Integer.toString(requests), "--prompt-len", Integer.toString(promptLen), "--decode-steps",
                Integer.toString(steps), "--seed", Long.toString(cfg.seed()), "--out", out.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(SCRIPT_LIMIT_SECONDS, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail(script + " did not finish within " + SCRIPT_LIMIT_SECONDS + " s");
        }
        assertThat(p.exitValue()).as("exit status of %s; its output:%n%s", script, Files.readString(log)).isZero();
        JsonNode root = new ObjectMapper().readTree(out.toFile());
        int[][] tokens = new int[requests][steps + 1];
        double[][][] logits = new double[requests][steps + 1][];
        for (int r = 0; r < requests; r++) {
            for (int s = 0; s <= steps; s++) {
                tokens[r][s] = root.get("tokens").get(r).get(s).asInt();
                JsonNode row = root.get("logits").get(r).get(s);
                assertThat(row.size()).as("reference logits row length").isEqualTo(cfg.vocab());
                logits[r][s] = new double[row.size()];
                for (int j = 0; j < row.size(); j++) {
                    logits[r][s][j] = row.get(j).asDouble();
                }
            }
        }
        return new Run(tokens, logits);
    }

    /** Skips (or, under CI=true, fails) with the reason when python3 with numpy cannot run here. */
    static void requirePythonWithNumpy() throws InterruptedException {
        String reason;
        try {
            Process p = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            boolean done = p.waitFor(60, TimeUnit.SECONDS);
            if (done && p.exitValue() == 0) {
                return;
            }
            p.destroyForcibly();
            reason = "python3 is present but 'import numpy' failed (pip install numpy)";
        } catch (IOException e) {
            reason = "python3 is not on PATH";
        }
        if ("true".equals(System.getenv("CI"))) {
            fail("CI=true but the numpy reference cannot run: " + reason);
        }
        Assumptions.abort("numpy reference not run: " + reason);
    }

    /** The folder holding scripts/reference_numpy.py: the working directory or one above it. */
    static Path repositoryRoot() {
        for (Path dir = Path.of("").toAbsolutePath(); dir != null; dir = dir.getParent()) {
            if (Files.isRegularFile(dir.resolve("scripts/reference_numpy.py"))) {
                return dir;
            }
        }
        return fail("scripts/reference_numpy.py not found above " + Path.of("").toAbsolutePath());
    }

    private static double[] toDoubles(float[] values) {
        double[] out = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = values[i];
        }
        return out;
    }

    private static double maxAbs(double[] values) {
        double m = 0;
        for (double v : values) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    /** Index of the largest |got − ref|; the first NaN wins. */
    private static int worstIndex(double[] got, double[] ref) {
        int worst = 0;
        double largest = -1;
        for (int j = 0; j < ref.length; j++) {
            double d = Math.abs(got[j] - ref[j]);
            if (Double.isNaN(d)) {
                return j;
            }
            if (d > largest) {
                largest = d;
                worst = j;
            }
        }
        return worst;
    }

    private static double topTwoGap(double[] values) {
        double first = Double.NEGATIVE_INFINITY;
        double second = Double.NEGATIVE_INFINITY;
        for (double v : values) {
            if (v > first) {
                second = first;
                first = v;
            } else if (v > second) {
                second = v;
            }
        }
        return first - second;
    }
}
