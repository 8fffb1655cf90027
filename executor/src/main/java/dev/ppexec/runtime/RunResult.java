package dev.ppexec.runtime;

import java.util.List;

/**
 * The outcome of one generation run.
 *
 * @param tokens        [request][step] generated ids: step 0 from prefill, then one per decode step
 * @param wallNanos     first launch to last token on the host
 * @param measuredBubble 1 − Σ device busy / (ranks × pipeline span), from the stream events
 * @param idealBubble   the same figure for this schedule with equal stage times and free transfers
 */
public record RunResult(int[][] tokens, long wallNanos, List<RankFigures> ranks, double measuredBubble,
                        double idealBubble, long pipelineSpanNanos) {

    public long generatedTokens() {
        long n = 0;
        for (int[] t : tokens) {
            n += t.length;
        }
        return n;
    }

    public double tokensPerSecond() {
        return wallNanos <= 0 ? 0.0 : generatedTokens() * 1e9 / wallNanos;
    }
}
