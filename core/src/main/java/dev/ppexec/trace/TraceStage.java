package dev.ppexec.trace;

/**
 * The slices a request's trace is made of, each with its verbosity level (as sglang's
 * {@code RequestStage}): a slice is recorded when its level is at most the run's trace level. The
 * level is a threshold, not a nesting depth: every slice is a child of the rank's thread span.
 */
public enum TraceStage {
    /** Rank 0: the request's arrival to the start of its first prefill launch. */
    PREFILL_WAITING("prefill_waiting", 1),
    /** Per rank: the prefill launch's start to the end of its work on the device. */
    PREFILL_FORWARD("prefill_forward", 1),
    /** Per rank and decode step: the launch's start to the end of its work on the device. */
    DECODE_FORWARD("decode_forward", 1),
    /** Per rank: the first decode launch's start to the end of the last decode step on the device. */
    DECODE_LOOP("decode_loop", 3),
    /** Host time of one launch of a micro-batch's forward: launch start to launch return. */
    RUN_BATCH_CPU("run_batch_cpu", 4),
    /** Device time of the same forward, from events on the rank's compute stream. */
    RUN_BATCH_DEVICE("run_batch_device", 4),
    /** The device-timed transfer of a micro-batch to the next rank, on the sender's side. */
    PP_SEND("pp_send", 4),
    /** The same transfer on the receiver's side. */
    PP_RECV("pp_recv", 4),
    /**
     * One launch of a forward on the device, between events recorded around it, as a child of its
     * {@code run_batch_device}. Each slice is named as its launch ({@code matmul layers.3.wq}:
     * {@link SpanContract#isKernelSlice}); this stage's own name is only the level's.
     */
    KERNEL("kernel", 5);

    private final String spanName;
    private final int level;

    TraceStage(String spanName, int level) {
        this.spanName = spanName;
        this.level = level;
    }

    /** The span name, as in the span contract (docs/TRACING.md). */
    public String spanName() {
        return spanName;
    }

    /** The lowest trace level at which this slice is recorded (1..5). */
    public int level() {
        return level;
    }
}
