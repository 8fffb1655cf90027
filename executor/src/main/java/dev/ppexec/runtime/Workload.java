package dev.ppexec.runtime;

import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Prompts;

/**
 * Requests to generate for: prompt token ids (all of one length) and the number of decode steps.
 * Each request yields {@code decodeSteps + 1} tokens and uses {@code promptLength + decodeSteps} positions.
 */
public record Workload(int[][] prompts, int decodeSteps) {

    public Workload {
        if (prompts.length < 1) {
            throw new IllegalArgumentException("requests " + prompts.length + " is not positive; allowed: an integer >= 1");
        }
        int length = prompts[0].length;
        if (length < 1) {
            throw new IllegalArgumentException("promptLength " + length + " is not positive; allowed: an integer >= 1");
        }
        for (int[] p : prompts) {
            if (p.length != length) {
                throw new IllegalArgumentException("prompts have different lengths (" + length + " and " + p.length
                        + "); allowed: one length for all requests");
            }
        }
        if (decodeSteps < 0) {
            throw new IllegalArgumentException("decodeSteps " + decodeSteps + " is negative; allowed: an integer >= 0");
        }
    }

    /** R prompts of length T drawn from the model's seed (DESIGN.md, "Prompts"). */
    public static Workload generated(ModelConfig model, int requests, int promptLength, int decodeSteps) {
        if (requests < 1) {
            throw new IllegalArgumentException("requests " + requests + " is not positive; allowed: an integer >= 1");
        }
        if (promptLength < 1) {
            throw new IllegalArgumentException("promptLength " + promptLength + " is not positive; allowed: an integer >= 1");
        }
        return new Workload(Prompts.prompts(model.seed(), requests, promptLength, model.vocab()), decodeSteps);
    }

    public int requests() {
        return prompts.length;
    }

    public int promptLength() {
        return prompts[0].length;
    }

    /** Checks the workload against a model: positions fit maxSeq, ids fit the vocabulary. */
    void check(ModelConfig model) {
        long positions = (long) promptLength() + decodeSteps;
        if (positions > model.maxSeq()) {
            throw new IllegalArgumentException("promptLength " + promptLength() + " + decodeSteps " + decodeSteps + " = "
                    + positions + " positions; allowed: at most maxSeq " + model.maxSeq() + " of model " + model.name());
        }
        for (int r = 0; r < prompts.length; r++) {
            for (int id : prompts[r]) {
                if (id < 0 || id >= model.vocab()) {
                    throw new IllegalArgumentException("prompt of request " + r + " has token id " + id
                            + "; allowed: 0.." + (model.vocab() - 1));
                }
            }
        }
    }
}
