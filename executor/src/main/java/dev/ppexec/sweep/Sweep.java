package dev.ppexec.sweep;

import dev.ppexec.backend.Device;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.runtime.Pipeline;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.runtime.Workload;
import dev.ppexec.schedule.Bubble;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.IntPredicate;

/**
 * The PP-overlap sweep: for each P and each M in {1, P, 2P, 4P}, generation runs whose prefill
 * (step 0) and decode (steps ≥ 1) forwards are measured separately. Repeats are interleaved (round
 * one visits every point, then round two, ...) so that a noisy stretch of a shared machine spreads
 * over all points instead of spoiling one. When a tracer is given, every untraced run is followed by
 * the same run traced, and each point reports traced / untraced throughput.
 *
 * <p>Note [devices across runs]: every run of a sweep uses the same opened devices. Opening a CUDA device
 * retains its primary context, loads the kernels' module and starts cuBLAS; closing the last user destroys the
 * context. Reopening per run would put context creation and cuBLAS start into each run's first timed forwards,
 * so the devices live as long as the sweep, and a run leaves nothing on them (its pipeline frees what it made).
 */
public final class Sweep {

    /**
     * The runs a sweep makes. {@code requests} must be at least the largest M (4 · max P); {@code listeners} hear
     * every measured run (not the warm-ups), e.g. the sweep's metrics. {@code devices} are opened once by the caller,
     * serve every run of the sweep and are closed by the caller (Note [devices across runs]).
     */
    public record Config(ModelConfig model, List<Integer> ranks, int requests, int promptLength, int decodeSteps,
                         int repeats, List<Device> devices, Tracer tracer, List<RunListener> listeners) {
        public Config {
            listeners = List.copyOf(listeners);
            Objects.requireNonNull(model, "model");
            ranks = List.copyOf(ranks);
            devices = List.copyOf(devices);
            if (devices.isEmpty()) {
                throw new IllegalArgumentException("devices is empty; allowed: at least one opened device");
            }
            if (repeats < 1) {
                throw new IllegalArgumentException("repeats " + repeats + " is not positive; allowed: an integer >= 1");
            }
            if (decodeSteps < 1) {
                throw new IllegalArgumentException("decodeSteps " + decodeSteps
                        + " is not positive; allowed: an integer >= 1 (the decode phase needs a step)");
            }
            for (int p : ranks) {
                if (p < 1 || p > model.layers()) {
                    throw new IllegalArgumentException("ranks " + p + " is out of range; allowed: 1.." + model.layers()
                            + " (model " + model.name() + " has " + model.layers() + " layers)");
                }
                int maxM = microBatches(p).getLast();
                if (requests < maxM) {
                    throw new IllegalArgumentException("requests " + requests + " is fewer than M = 4P = " + maxM
                            + "; allowed: at least " + maxM);
                }
            }
        }
    }

    /** Traces the runs that compare tracing on with off: a listener for one run, then that run's export. */
    public interface Tracer {
        RunListener start(Pipeline pipeline, Workload workload);

        /** Exports and ends the tracing of the run just made (not timed: spans are built after a run). */
        void finish();
    }

    /** Hears each run as it ends: {@code done} of {@code total}, and what ran. */
    public interface Progress {
        void ran(int done, int total, String what);
    }

    private static final IntPredicate PREFILL = step -> step == 0;
    private static final IntPredicate DECODE = step -> step >= 1;

    private Sweep() {}

    /** M ∈ {1, P, 2P, 4P}, without repeats. */
    public static List<Integer> microBatches(int ranks) {
        return List.copyOf(new TreeSet<>(List.of(1, ranks, 2 * ranks, 4 * ranks)));
    }

    /** Runs every point {@code repeats} times; returns prefill and decode points in (P, M) order. */
    public static List<SweepPoint> run(Config c, Progress progress) {
        record Key(int ranks, int microBatches) {}
        Map<Key, List<Sample>> untraced = new LinkedHashMap<>();
        Map<Key, List<Sample>> traced = new LinkedHashMap<>();
        for (int p : c.ranks()) {
            for (int m : microBatches(p)) {
                untraced.put(new Key(p, m), new ArrayList<>());
                traced.put(new Key(p, m), new ArrayList<>());
            }
        }
        Workload workload = Workload.generated(c.model(), c.requests(), c.promptLength(), c.decodeSteps());
        int total = untraced.size() * c.repeats() * (c.tracer() == null ? 1 : 2);
        Workload warm = Workload.generated(c.model(), c.requests(), c.promptLength(), Math.min(2, c.decodeSteps()));
        for (int p : c.ranks()) {
            once(c, p, p, warm, null, List.of()); // untimed: lets the JIT compile the kernels before the first measured run
        }
        int done = 0;
        for (int round = 0; round < c.repeats(); round++) {
            for (Key k : untraced.keySet()) {
                untraced.get(k).add(once(c, k.ranks(), k.microBatches(), workload, null, c.listeners()));
                progress.ran(++done, total, "P=" + k.ranks() + " M=" + k.microBatches());
                if (c.tracer() != null) {
                    traced.get(k).add(once(c, k.ranks(), k.microBatches(), workload, c.tracer(), c.listeners()));
                    progress.ran(++done, total, "P=" + k.ranks() + " M=" + k.microBatches() + " traced");
                }
            }
        }
        List<SweepPoint> points = new ArrayList<>();
        for (Key k : untraced.keySet()) {
            for (String phase : List.of("prefill", "decode")) {
                points.add(point(c, k.ranks(), k.microBatches(), phase, untraced.get(k), traced.get(k)));
            }
        }
        return points;
    }

    /** One run's two phases. */
    private record Sample(PhaseFigures prefill, PhaseFigures decode) {
        PhaseFigures of(String phase) {
            return phase.equals("prefill") ? prefill : decode;
        }
    }

    private static Sample once(Config c, int ranks, int microBatches, Workload workload, Tracer tracer,
                               List<RunListener> listeners) {
        Recorder recorder = new Recorder(ranks);
        Pipeline.Builder builder = Pipeline.builder().model(c.model()).stages(ranks).microBatches(microBatches)
                .devices(c.devices()).listener(recorder);
        listeners.forEach(builder::listener);
        try (Pipeline pipeline = builder.build()) {
            if (tracer == null) {
                pipeline.generate(workload);
            } else {
                try {
                    pipeline.generate(workload, steps -> {}, List.of(tracer.start(pipeline, workload)));
                } finally {
                    tracer.finish();
                }
            }
        }
        return new Sample(PhaseFigures.of(recorder.perRank, PREFILL), PhaseFigures.of(recorder.perRank, DECODE));
    }

    private static SweepPoint point(Config c, int ranks, int microBatches, String phase, List<Sample> runs,
                                    List<Sample> tracedRuns) {
        long tokens = phase.equals("prefill") ? (long) c.requests() * c.promptLength()
                : (long) c.requests() * c.decodeSteps();
        List<Double> rates = throughput(runs, phase, tokens);
        PhaseFigures median = runs.get(Stats.medianIndex(rates)).of(phase);
        double ideal = idealBubble(ranks, microBatches, c.decodeSteps(), phase);
        List<Double> cpu = new ArrayList<>();
        List<Double> device = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            cpu.add(median.meanCpuNanos(r) / 1e3);
            device.add(median.meanDeviceNanos(r) / 1e3);
        }
        double ratio = tracedRuns.isEmpty() ? Double.NaN
                : Stats.median(throughput(tracedRuns, phase, tokens)) / Stats.median(rates);
        return new SweepPoint(ranks, microBatches, phase, rates, median.bubble(), ideal, median.efficiency(ideal),
                cpu, device, ratio);
    }

    /** The phase's bubble with equal stage times and free transfers (Note [ideal bubble] in Bubble). */
    static double idealBubble(int ranks, int microBatches, int decodeSteps, String phase) {
        return phase.equals("prefill") ? Bubble.idealFillDrain(ranks, microBatches)
                : Bubble.idealDecode(ranks, microBatches, decodeSteps);
    }

    private static List<Double> throughput(List<Sample> runs, String phase, long tokens) {
        List<Double> rates = new ArrayList<>();
        for (Sample s : runs) {
            long span = s.of(phase).spanNanos();
            rates.add(span <= 0 ? 0.0 : tokens * 1e9 / span);
        }
        return rates;
    }

    /** Keeps each rank's forward records of one run. */
    private static final class Recorder implements RunListener {
        final List<List<ActionRecord>> perRank;

        Recorder(int ranks) {
            List<List<ActionRecord>> lists = new ArrayList<>();
            for (int r = 0; r < ranks; r++) {
                lists.add(Collections.synchronizedList(new ArrayList<>()));
            }
            this.perRank = List.copyOf(lists);
        }

        @Override
        public void action(RunInfo info, int rank, ActionRecord record) {
            perRank.get(rank).add(record);
        }
    }
}
