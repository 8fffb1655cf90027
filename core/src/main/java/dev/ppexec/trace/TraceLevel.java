package dev.ppexec.trace;

/**
 * How much of a run is traced: 0 records nothing (tracing off), 1 the per-request forwards, 3 adds
 * {@code decode_loop}, 4 adds the per-micro-batch slices ({@code run_batch_cpu},
 * {@code run_batch_device}, {@code pp_send}, {@code pp_recv}), 5 adds one kernel slice per launch
 * inside each {@code run_batch_device}. Level 2 records what level 1 does: no stage of ours sits
 * there (sglang's level-2 stages have no counterpart in this executor).
 */
public record TraceLevel(int value) {

    public static final int MAX = 5;
    public static final TraceLevel OFF = new TraceLevel(0);
    /** The level a traced run gets unless told otherwise: everything but the kernel slices. */
    public static final TraceLevel DEFAULT = new TraceLevel(4);
    /** Everything, kernel slices included. */
    public static final TraceLevel KERNELS = new TraceLevel(MAX);

    public TraceLevel {
        if (value < 0 || value > MAX) {
            throw new IllegalArgumentException("trace level " + value + " is out of range; allowed: 0.." + MAX
                    + " (0 = off, 1 = forwards, 3 = + decode_loop, 4 = + per-micro-batch slices, 5 = + kernel slices)");
        }
    }

    public boolean isOff() {
        return value == 0;
    }

    /** Whether a slice of {@code stage} is recorded at this level. */
    public boolean records(TraceStage stage) {
        return stage.level() <= value;
    }
}
