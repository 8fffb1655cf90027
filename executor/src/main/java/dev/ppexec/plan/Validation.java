package dev.ppexec.plan;

import dev.ppexec.sweep.Stats;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Measured tokens/s of validated candidates beside a baseline: the traced configuration, run again in the same
 * invocation.
 *
 * <p>Note [validation baseline]: on a machine shared with other work, the same configuration measured 101 to 276
 * tokens/s within minutes (docs/PLANNER.md), so one run of a candidate long after the trace says as much about the
 * load as about the planner. Validation therefore runs the traced configuration and the candidates in interleaved
 * rounds and takes each one's median. The baseline's median against the trace's own tokens/s is the load ratio: how
 * much faster (or slower) this machine runs now than when it was traced. The plain error compares the prediction with
 * the median; the error at the trace's load compares the prediction scaled by the load ratio, that is the predicted
 * speed relative to the traced configuration against the measured one (a ratio to a baseline of the same invocation).
 *
 * @param tracedTokensPerSecond the traced run's measured tokens/s (from its trace)
 * @param baselineSamples       tokens/s of the traced configuration, one per round
 * @param candidateSamples      per validated candidate, its tokens/s, one per round
 */
public record Validation(double tracedTokensPerSecond, List<Double> baselineSamples,
                         List<List<Double>> candidateSamples) {

    public Validation {
        if (!(tracedTokensPerSecond > 0)) {
            throw new IllegalArgumentException("tracedTokensPerSecond " + tracedTokensPerSecond
                    + " is out of range; allowed: more than 0");
        }
        baselineSamples = List.copyOf(baselineSamples);
        if (baselineSamples.isEmpty()) {
            throw new IllegalArgumentException("baselineSamples is empty; allowed: one sample per round");
        }
        List<List<Double>> copy = new ArrayList<>();
        for (List<Double> samples : Objects.requireNonNull(candidateSamples, "candidateSamples")) {
            if (samples.size() != baselineSamples.size()) {
                throw new IllegalArgumentException("a candidate has " + samples.size() + " samples for "
                        + baselineSamples.size() + " rounds; allowed: one sample per round");
            }
            copy.add(List.copyOf(samples));
        }
        candidateSamples = List.copyOf(copy);
    }

    public int rounds() {
        return baselineSamples.size();
    }

    /** The traced configuration's median tokens/s here. */
    public double baselineTokensPerSecond() {
        return Stats.median(baselineSamples);
    }

    /** The baseline against the trace: above 1 when this machine runs faster now than when traced. */
    public double loadRatio() {
        return baselineTokensPerSecond() / tracedTokensPerSecond;
    }

    /** Candidate {@code i}'s median tokens/s. */
    public double measured(int i) {
        return Stats.median(candidateSamples.get(i));
    }

    /** (predicted − measured) / measured for candidate {@code i}. */
    public double error(int i, double predictedTokensPerSecond) {
        return (predictedTokensPerSecond - measured(i)) / measured(i);
    }

    /** The error of the prediction scaled by the load ratio (Note [validation baseline]). */
    public double errorAtTracedLoad(int i, double predictedTokensPerSecond) {
        return (predictedTokensPerSecond * loadRatio() - measured(i)) / measured(i);
    }
}
