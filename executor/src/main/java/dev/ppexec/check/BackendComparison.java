package dev.ppexec.check;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.stage.StageWeights;
import dev.ppexec.stage.Workspace;

import java.util.Arrays;
import java.util.Locale;

/**
 * Runs the same requests through one stage holding every layer on two devices (the CPU reference
 * and a candidate such as a GPU) and compares their logits step by step: prefill, then greedy
 * decode steps, each device feeding back its own argmax. Logits are compared while the tokens
 * agree; the error of a row is {@code max |candidate − reference| / max |reference|}.
 */
public final class BackendComparison {

    /**
     * @param stepsCompared      steps whose logits were compared (prefill counts as one)
     * @param maxRelativeError   the largest row error over those steps
     * @param firstTokenMismatch the first step whose tokens differ, or −1
     * @param worstAt            where the largest error was, e.g. {@code "step 3, request 1, index 17"}
     */
    public record Result(int stepsCompared, double maxRelativeError, int firstTokenMismatch, String worstAt) {

        public boolean passes(double tolerance) {
            return firstTokenMismatch < 0 && maxRelativeError <= tolerance;
        }

        public String describe() {
            return String.format(Locale.ROOT, "max relative error %.2e over %d step(s) (worst at %s)%s",
                    maxRelativeError, stepsCompared, worstAt,
                    firstTokenMismatch < 0 ? "; tokens identical" : "; tokens differ from step " + firstTokenMismatch);
        }
    }

    private BackendComparison() {}

    /** Compares {@code batch} requests of {@code promptLength} generated prompt tokens and {@code steps} decode steps. */
    public static Result logits(ModelConfig model, Device reference, Device candidate, int batch, int promptLength,
                                int steps) {
        int[][] prompts = Prompts.prompts(model.seed(), batch, promptLength, model.vocab());
        try (SingleStage ref = new SingleStage(reference, model, prompts, steps);
             SingleStage cand = new SingleStage(candidate, model, prompts, steps)) {
            double worst = 0;
            String worstAt = "nowhere";
            int compared = 0;
            for (int s = 0; s <= steps; s++) {
                float[] expected = ref.step(s);
                float[] actual = cand.step(s);
                compared++;
                for (int b = 0; b < batch; b++) {
                    int o = b * model.vocab();
                    double scale = 0;
                    double diff = 0;
                    int at = 0;
                    for (int i = 0; i < model.vocab(); i++) {
                        scale = Math.max(scale, Math.abs(expected[o + i]));
                        double d = Math.abs((double) actual[o + i] - expected[o + i]);
                        if (!(d <= diff)) {
                            diff = d;
                            at = i;
                        }
                    }
                    double error = diff / Math.max(scale, Float.MIN_NORMAL);
                    if (!(error <= worst)) {
                        worst = error;
                        worstAt = "step " + s + ", request " + b + ", index " + at;
                    }
                }
                for (int b = 0; b < batch; b++) {
                    if (ref.tokens[b][s] != cand.tokens[b][s]) {
                        return new Result(compared, worst, s, worstAt);
                    }
                }
            }
            return new Result(compared, worst, -1, worstAt);
        }
    }

    /** One stage with all layers, one micro-batch, on one device; the host sees logits and tokens after each step. */
    private static final class SingleStage implements AutoCloseable {
        private final Device device;
        private final StageWeights weights;
        private final Workspace workspace;
        private final StageProgram program;
        private final Stream stream;
        private final Launch feedback;
        private final int promptLength;
        final int[][] tokens;
        private final float[] logits;

        SingleStage(Device device, ModelConfig model, int[][] prompts, int steps) {
            this.device = device;
            int batch = prompts.length;
            this.promptLength = prompts[0].length;
            this.weights = new StageWeights(device, model, 0, model.layers());
            this.workspace = new Workspace(device, model, batch, promptLength, true);
            int[] requests = new int[batch];
            Arrays.setAll(requests, i -> i);
            this.tokens = new int[batch][steps + 1];
            this.program = new StageProgram(device, weights, workspace, prompts, requests, promptLength,
                    promptLength + steps, tokens);
            this.stream = device.createStream("check");
            this.feedback = device.kernels().copy("next tokens", program.nextIds(), program.inputIds(), batch, 1);
            this.logits = new float[batch * model.vocab()];
        }

        /** Runs step {@code s} (0 = prefill) and returns its logits [batch, vocab]. */
        float[] step(int s) {
            if (s == 0) {
                program.launchForward(stream, promptLength, 0);
            } else {
                stream.launch(feedback, 1, 0);
                program.launchForward(stream, 1, promptLength + s - 1);
            }
            program.launchTokensToHost(stream, s);
            stream.synchronize();
            device.download(workspace.logits(), logits);
            return logits;
        }

        @Override
        public void close() {
            stream.close();
            program.close();
            workspace.close();
            weights.close();
        }
    }
}
