package dev.ppexec.runtime;

import dev.ppexec.backend.Device;
import dev.ppexec.backend.cpu.CpuDevice;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.model.Partition;
import dev.ppexec.schedule.Bubble;
import dev.ppexec.schedule.CostModel;
import dev.ppexec.schedule.Schedule;
import dev.ppexec.schedule.ScheduleValidator;
import dev.ppexec.schedule.Schedules;
import dev.ppexec.schedule.Simulator;
import dev.ppexec.stage.StageWeights;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * A model split into PP stages, one rank per stage, with each stage's weights on its device. The
 * public entry point for embedding the executor:
 *
 * <pre>{@code
 * try (Pipeline p = Pipeline.builder().model(ModelConfig.preset("toy", 42)).stages(2).microBatches(4).build()) {
 *     RunResult r = p.generate(Workload.generated(p.model(), 8, 32, 16));
 * }
 * }</pre>
 *
 * Rank r runs on {@code devices.get(r % devices.size())}; several ranks may share a device, each
 * with its own compute and copy streams.
 */
public final class Pipeline implements AutoCloseable {

    private final ModelConfig model;
    private final Partition partition;
    private final int microBatches;
    private final List<Device> rankDevices;
    private final List<StageWeights> weights;
    private final List<Device> ownedDevices;
    private final ActionHook hook;
    private final List<RunListener> listeners;
    /** The one rank this process runs, or -1 for all of them. */
    private final int localRank;
    private final Transport.Factory transports;
    private final boolean cudaGraphs;

    private Pipeline(Builder b) {
        this.model = Objects.requireNonNull(b.model, "model");
        this.partition = b.split != null ? Partition.parse(b.split, model.layers())
                : Partition.balanced(model.layers(), b.stages);
        if (b.microBatches < 1) {
            throw new IllegalArgumentException("microBatches " + b.microBatches + " is not positive; allowed: an integer >= 1");
        }
        this.microBatches = b.microBatches;
        this.hook = b.hook;
        this.listeners = List.copyOf(b.listeners);
        if (b.localRank < -1 || b.localRank >= partition.stages()) {
            throw new IllegalArgumentException("localRank " + b.localRank + " is out of range; allowed: 0.."
                    + (partition.stages() - 1) + " (one rank per stage)");
        }
        this.localRank = b.localRank;
        this.transports = b.transports;
        this.cudaGraphs = b.cudaGraphs;
        List<Device> devices = b.devices;
        this.ownedDevices = devices.isEmpty() ? List.of(new CpuDevice()) : List.of();
        if (devices.isEmpty()) {
            devices = ownedDevices;
        }
        List<Device> placed = new ArrayList<>();
        List<StageWeights> ws = new ArrayList<>();
        try {
            for (int r = 0; r < partition.stages(); r++) {
                Device d = devices.get(r % devices.size());
                placed.add(d);
                ws.add(isLocal(r) ? new StageWeights(d, model, partition.first(r), partition.end(r)) : null);
            }
        } catch (RuntimeException | Error e) {
            ws.stream().filter(Objects::nonNull).forEach(StageWeights::close);
            ownedDevices.forEach(Device::close);
            throw e;
        }
        this.rankDevices = List.copyOf(placed);
        this.weights = Collections.unmodifiableList(ws); // null where a rank lives in another process
    }

    public static Builder builder() {
        return new Builder();
    }

    public ModelConfig model() {
        return model;
    }

    public Partition partition() {
        return partition;
    }

    public int microBatches() {
        return microBatches;
    }

    public int ranks() {
        return partition.stages();
    }

    public Device device(int rank) {
        return rankDevices.get(rank);
    }

    /**
     * Whether decode steps replay one graph per rank and micro-batch (Note [decode graphs] in PipelineRun): asked
     * for, and every rank of this process is on a device that {@linkplain Device#supportsGraphs() has graphs}.
     */
    public boolean decodeGraphs() {
        if (!cudaGraphs) {
            return false;
        }
        for (int r = 0; r < ranks(); r++) {
            if (isLocal(r) && !rankDevices.get(r).supportsGraphs()) {
                return false;
            }
        }
        return true;
    }

    /** How decode steps are launched, and why, for a run's summary. */
    public String decodeLaunches() {
        if (decodeGraphs()) {
            return "CUDA graphs on (one per rank and micro-batch, replayed every decode step)";
        }
        return "CUDA graphs off (" + (cudaGraphs ? device(0).name() + " has no graphs" : "--cuda-graphs off")
                + "): launched kernel by kernel";
    }

    /** Whether {@code rank} runs in this process; the others are reached only through the transport. */
    public boolean isLocal(int rank) {
        return localRank < 0 || rank == localRank;
    }

    /**
     * Runs prefill and {@code decodeSteps} greedy decode steps for every request, micro-batches
     * flowing through the ranks; blocks until done. On any rank's failure every rank stops within a
     * bounded time and a {@link PipelineException} names the first cause.
     */
    public RunResult generate(Workload workload) {
        return generate(workload, stepsDone -> {});
    }

    /**
     * As {@link #generate(Workload)}, telling {@code progress}, on the calling thread while the run goes, how many
     * steps had the TOKENS of all their micro-batches launched.
     */
    public RunResult generate(Workload workload, IntConsumer progress) {
        return generate(workload, progress, List.of());
    }

    /**
     * As {@link #generate(Workload, IntConsumer)}, with {@code runListeners} hearing this run only
     * (besides the pipeline's own listeners): e.g. tracing the measured run but not the warm-ups.
     */
    public RunResult generate(Workload workload, IntConsumer progress, List<RunListener> runListeners) {
        check(workload);
        return run(workload, schedule(workload.decodeSteps()), idealBubble(workload.decodeSteps()), progress,
                runListeners);
    }

    /**
     * Runs {@code schedule} instead of the generated one, after validating it: the runtime does what the list says, in
     * its order, with the peers it names. For tests of that contract; its ideal bubble comes from the simulator.
     */
    RunResult generate(Workload workload, Schedule schedule) {
        check(workload);
        if (schedule.ranks() != ranks() || schedule.microBatches() != microBatches
                || schedule.steps() != workload.decodeSteps()) {
            throw new IllegalArgumentException("schedule has ranks=" + schedule.ranks() + " microBatches="
                    + schedule.microBatches() + " steps=" + schedule.steps() + "; allowed: ranks=" + ranks()
                    + " microBatches=" + microBatches + " steps=" + workload.decodeSteps() + ", this run's");
        }
        ScheduleValidator.validate(schedule);
        double ideal = Simulator.simulate(schedule, CostModel.uniform(1, 0)).bubble();
        return run(workload, schedule, ideal, stepsDone -> {}, List.of());
    }

    private void check(Workload workload) {
        workload.check(model);
        if (microBatches > workload.requests()) {
            throw new IllegalArgumentException("microBatches " + microBatches + " is more than the workload's requests "
                    + workload.requests() + "; allowed: 1.." + workload.requests());
        }
    }

    private RunResult run(Workload workload, Schedule schedule, double idealBubble, IntConsumer progress,
                          List<RunListener> runListeners) {
        List<RunListener> all = new ArrayList<>(listeners);
        all.addAll(runListeners);
        try (PipelineRun run = new PipelineRun(this, schedule, workload, hook, List.copyOf(all), progress,
                transports.open(ranks(), microBatches))) {
            return run.execute(idealBubble);
        }
    }

    /** The bubble of this pipeline's schedule for {@code decodeSteps} with equal stage times and free transfers. */
    public double idealBubble(int decodeSteps) {
        return Bubble.idealGeneration(ranks(), microBatches, decodeSteps);
    }

    private Schedule schedule(int decodeSteps) {
        Schedule schedule = Schedules.generation(ranks(), microBatches, decodeSteps);
        ScheduleValidator.validate(schedule);
        return schedule;
    }

    StageWeights weights(int rank) {
        return weights.get(rank);
    }

    @Override
    public void close() {
        weights.stream().filter(Objects::nonNull).forEach(StageWeights::close);
        ownedDevices.forEach(Device::close);
    }

    public static final class Builder {
        private ModelConfig model;
        private int stages = 1;
        private String split;
        private int microBatches = 1;
        private List<Device> devices = List.of();
        private ActionHook hook = ActionHook.NONE;
        private final List<RunListener> listeners = new ArrayList<>();
        private int localRank = -1;
        private Transport.Factory transports = LocalTransport::new;
        private boolean cudaGraphs = true;

        public Builder model(ModelConfig model) {
            this.model = model;
            return this;
        }

        /** Balanced split over {@code stages} ranks. */
        public Builder stages(int stages) {
            this.stages = stages;
            return this;
        }

        /** Explicit split such as {@code "3,3,2"}; wins over {@link #stages}. */
        public Builder split(String split) {
            this.split = split;
            return this;
        }

        public Builder microBatches(int microBatches) {
            this.microBatches = microBatches;
            return this;
        }

        /** Devices ranks are placed on (rank r on device r mod n); default one CPU device, owned by the pipeline. */
        public Builder devices(List<Device> devices) {
            this.devices = List.copyOf(devices);
            return this;
        }

        /** Test hook run before every action on every rank. */
        public Builder actionHook(ActionHook hook) {
            this.hook = Objects.requireNonNull(hook, "hook");
            return this;
        }

        /** Hears what each rank did once a run's timings are resolved (tracing). */
        public Builder listener(RunListener listener) {
            this.listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * Ranks as processes: this process runs only {@code rank} (its stage's weights, its scheduler thread); the
         * other ranks are reached through the transports {@code transports} makes, one per run.
         */
        public Builder process(int rank, Transport.Factory transports) {
            this.localRank = rank;
            this.transports = Objects.requireNonNull(transports, "transports");
            return this;
        }

        /**
         * Whether decode steps replay CUDA graphs where the devices have them (default true); false launches every
         * kernel of every step from the host, as prefill always is.
         */
        public Builder cudaGraphs(boolean on) {
            this.cudaGraphs = on;
            return this;
        }

        public Pipeline build() {
            return new Pipeline(this);
        }
    }
}
