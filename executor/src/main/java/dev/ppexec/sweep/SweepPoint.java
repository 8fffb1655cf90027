package dev.ppexec.sweep;

import java.util.List;

/**
 * One point of the PP-overlap sweep: P ranks, M micro-batches, one phase, over its repeats.
 * Per-rank means come from the repeat with the median throughput.
 *
 * @param phase            "prefill" (prompt tokens/s) or "decode" (generated tokens/s)
 * @param tokensPerSecond  every repeat, in run order
 * @param tracedRatio      traced / untraced median tokens/s, or NaN when tracing was not compared
 */
public record SweepPoint(int ranks, int microBatches, String phase, List<Double> tokensPerSecond, double measuredBubble,
                         double idealBubble, double efficiency, List<Double> meanCpuMicros,
                         List<Double> meanDeviceMicros, double tracedRatio) {

    public double median() {
        return Stats.median(tokensPerSecond);
    }

    public double min() {
        return tokensPerSecond.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    public double max() {
        return tokensPerSecond.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }
}
