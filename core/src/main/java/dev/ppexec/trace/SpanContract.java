package dev.ppexec.trace;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The span contract, in one place: the names of a run's spans (the request root, the rank's
 * thread span, the {@link TraceStage} slices with their levels) and every attribute key a span
 * carries, with its type. The writer (otel's TraceListener) and every reader (the OTLP reader's
 * span kinds, the Perfetto slice table, the report) take names and keys from here; a test runs a
 * real traced run and fails on any span name or attribute the contract does not name.
 */
public final class SpanContract {

    private SpanContract() {}

    /** The value type of an attribute, as OTLP carries it. */
    public enum Type { STRING, LONG, DOUBLE }

    /** One attribute key and its type. */
    public record Key(String name, Type type) {}

    /** The root span of a request is named {@code "Req {rid}"}. */
    public static final String REQUEST_PREFIX = "Req ";
    /** A rank's thread span is named {@code "Scheduler [PP r] (host:… | tid:…)"} ({@link ThreadInfo#spanName()}). */
    public static final String THREAD_PREFIX = "Scheduler [PP ";

    // Span attributes.
    public static final Key RID = new Key("rid", Type.STRING);
    public static final Key PROMPT_LEN = new Key("prompt_len", Type.LONG);
    public static final Key OUTPUT_TOKENS = new Key("output_tokens", Type.LONG);
    public static final Key PP_RANK = new Key("pp_rank", Type.LONG);
    public static final Key TP_RANK = new Key("tp_rank", Type.LONG);
    public static final Key DP_RANK = new Key("dp_rank", Type.LONG);
    public static final Key HOST_ID = new Key("host_id", Type.STRING);
    public static final Key THREAD_ID = new Key("thread_id", Type.LONG);
    public static final Key THREAD_LABEL = new Key("thread_label", Type.STRING);
    public static final Key PP_MB_ID = new Key("pp_mb_id", Type.LONG);
    public static final Key STEP = new Key("step", Type.LONG);
    public static final Key FORWARD_MODE = new Key("forward_mode", Type.STRING);
    public static final Key BATCH_SIZE = new Key("batch_size", Type.LONG);
    public static final Key DEVICE = new Key("device", Type.STRING);
    public static final Key STREAM = new Key("stream", Type.STRING);
    public static final Key PEER_RANK = new Key("peer_rank", Type.LONG);
    /** Level 5: the kernel of a kernel slice, the first word of its name ({@code matmul}). */
    public static final Key KERNEL = new Key("kernel", Type.STRING);
    /** Level 5: the rows a launch ran on (batch · tokens, or batch after gather_last). */
    public static final Key ROWS = new Key("rows", Type.LONG);
    /** Level 5, matmul only: the inner dimension of y[rows, n] = x[rows, k] · w[k, n]. */
    public static final Key K = new Key("k", Type.LONG);
    /** Level 5: the width of a launch's output rows (matmul: out; rmsnorm, attention, add: dim; argmax: vocab). */
    public static final Key N = new Key("n", Type.LONG);
    /**
     * run_batch_cpu: the host launches its forward made (setStep and the body of the list that ran: Note [fused
     * launches] in Kernels), what the stage cost the host in calls.
     */
    public static final Key LAUNCHES = new Key("launches", Type.LONG);
    /** How a pp_send/pp_recv travelled: {@code local} (one process), {@code host} (gRPC), {@code ipc} (CUDA IPC). */
    public static final Key TRANSPORT = new Key("transport", Type.STRING);
    /** sglang's schema ({@link TraceSchema#SGLANG}): {@link #SGLANG_REQUEST_MODULE} on a request's root. */
    public static final Key MODULE = new Key("module", Type.STRING);
    /** sglang's schema: the OS thread id of the rank's scheduler thread, on its thread span (sglang calls it pid). */
    public static final Key PID = new Key("pid", Type.LONG);

    /** The {@link #MODULE} of a request's root in sglang's schema: what sglang's converter takes as a root. */
    public static final String SGLANG_REQUEST_MODULE = "sglang::request";
    /** The service.name of sglang's engine, whose spans sglang's converter reads. */
    public static final String SGLANG_SERVICE = "sglang";
    /** The service.name of sglang's model gateway (its spans go to one process, {@code smg}). */
    public static final String SMG_SERVICE = "smg";

    /** Every attribute a span of ours may carry. */
    public static final List<Key> SPAN_KEYS = List.of(RID, PROMPT_LEN, OUTPUT_TOKENS, PP_RANK, TP_RANK, DP_RANK,
            HOST_ID, THREAD_ID, THREAD_LABEL, PP_MB_ID, STEP, FORWARD_MODE, BATCH_SIZE, DEVICE, STREAM, PEER_RANK, TRANSPORT,
            KERNEL, ROWS, K, N, LAUNCHES, MODULE, PID);

    /**
     * The kernels a stage launches, as the backends name them ({@code "matmul layers.3.wq"}: kernel, space,
     * label). A kernel slice (level 5) is named as its launch.
     */
    public static final List<String> KERNELS = List.of("embed", "rmsnorm", "matmul", "rope", "kv_append", "attention",
            "silu_mul", "add", "gather_last", "argmax", "norm_matmul", "matmul_add", "norm_gate_up", "silu_gate",
            "rope_kv_append");

    /** The keys only {@link TraceSchema#SGLANG} writes. */
    public static final List<Key> SGLANG_KEYS = List.of(MODULE, PID);

    // Resource attributes of a run (every span of the run carries them).
    public static final Key HOST_NAME = new Key("host.name", Type.STRING);
    public static final Key PROCESS_PID = new Key("process.pid", Type.LONG);
    public static final Key SERVICE_NAME = new Key("service.name", Type.STRING);
    public static final Key RUN_MODEL = new Key("ppexec.model", Type.STRING);
    public static final Key RUN_SPLIT = new Key("ppexec.split", Type.STRING);
    public static final Key RUN_STAGES = new Key("ppexec.stages", Type.LONG);
    public static final Key RUN_MICRO_BATCHES = new Key("ppexec.micro_batches", Type.LONG);
    public static final Key RUN_REQUESTS = new Key("ppexec.requests", Type.LONG);
    public static final Key RUN_PROMPT_LEN = new Key("ppexec.prompt_len", Type.LONG);
    public static final Key RUN_DECODE_STEPS = new Key("ppexec.decode_steps", Type.LONG);
    public static final Key RUN_DEVICE = new Key("ppexec.device", Type.STRING);
    public static final Key RUN_SEED = new Key("ppexec.seed", Type.LONG);
    public static final Key RUN_TRACE_LEVEL = new Key("ppexec.trace_level", Type.LONG);
    public static final Key RUN_IDEAL_BUBBLE = new Key("ppexec.ideal_bubble", Type.DOUBLE);
    /** A rank process's place in a world (ranks as processes); absent in a single-process run. */
    public static final Key WORLD_RANK = new Key("ppexec.world.rank", Type.LONG);
    public static final Key WORLD_SIZE = new Key("ppexec.world.size", Type.LONG);
    /** This process's clock minus rank 0's, estimated at rendezvous; its span times are already corrected by it. */
    public static final Key CLOCK_OFFSET_NS = new Key("ppexec.clock_offset_ns", Type.LONG);
    /** The round trip of the clock sample used: the uncertainty of the correction (0 on rank 0). */
    public static final Key CLOCK_RTT_NS = new Key("ppexec.clock_rtt_ns", Type.LONG);

    /** The run's own resource attributes ({@code --attr} adds the user's, outside {@code ppexec.*}). */
    public static final List<Key> RESOURCE_KEYS = List.of(HOST_NAME, PROCESS_PID, RUN_MODEL, RUN_SPLIT, RUN_STAGES,
            RUN_MICRO_BATCHES, RUN_REQUESTS, RUN_PROMPT_LEN, RUN_DECODE_STEPS, RUN_DEVICE, RUN_SEED, RUN_TRACE_LEVEL,
            RUN_IDEAL_BUBBLE);

    private static final Map<String, Key> BY_NAME = SPAN_KEYS.stream()
            .collect(Collectors.toUnmodifiableMap(Key::name, Function.identity()));

    /** The span attribute named {@code name}, or null when the contract has none. */
    public static Key spanKey(String name) {
        return BY_NAME.get(name);
    }

    /** Whether {@code name} is a span name of the contract: a root, a thread span or a stage. */
    public static boolean namesSpan(String name) {
        if (name.startsWith(REQUEST_PREFIX) || name.startsWith(THREAD_PREFIX)) {
            return true;
        }
        return stage(name) != null || isKernelSlice(name);
    }

    /** Whether {@code name} is a kernel slice's: one of {@link #KERNELS}, a space and the launch's label. */
    public static boolean isKernelSlice(String name) {
        int space = name.indexOf(' ');
        return space > 0 && space < name.length() - 1 && KERNELS.contains(name.substring(0, space));
    }

    /**
     * Spans one run exports: per request a root, a thread span per rank, and the slices of
     * {@link TraceStage} the level records, but level 5's kernel slices ({@link #kernelSpanCount}). Sizes the
     * export queues.
     */
    public static long spanCount(int requests, int ranks, int decodeSteps, TraceLevel level) {
        if (level.isOff()) {
            return 0;
        }
        long passes = decodeSteps + 1L;
        long perRequest = 1 + ranks;
        perRequest += 1 + ranks + (long) ranks * decodeSteps;               // level 1
        if (level.records(TraceStage.DECODE_LOOP) && decodeSteps > 0) {
            perRequest += ranks;                                              // level 3
        }
        if (level.records(TraceStage.RUN_BATCH_CPU)) {
            perRequest += passes * (2L * ranks + 2L * (ranks - 1));          // level 4
        }
        long spans = perRequest * requests;
        return Math.multiplyHigh(perRequest, requests) != 0 || spans < 0 ? Long.MAX_VALUE : spans; // saturates, never wraps
    }

    /**
     * Kernel slices one run exports at level 5 (none below): one per body launch of each micro-batch's forward on
     * each rank, for every pass; {@code prefillSlicesPerPass} and {@code decodeSlicesPerPass} are those of all stages
     * of one prefill and one decode pass (the lists differ: Note [fused launches] in Kernels).
     */
    public static long kernelSpanCount(int microBatches, int decodeSteps, int prefillSlicesPerPass,
                                       int decodeSlicesPerPass, TraceLevel level) {
        if (!level.records(TraceStage.KERNEL)) {
            return 0;
        }
        long prefill = (long) microBatches * prefillSlicesPerPass;
        long decodePasses = (long) microBatches * decodeSteps;
        long decode = decodePasses * decodeSlicesPerPass;
        long spans = prefill + decode;
        return Math.multiplyHigh(decodePasses, decodeSlicesPerPass) != 0 || decode < 0 || spans < 0
                ? Long.MAX_VALUE : spans; // saturates
    }

    /** The stage whose span is named {@code name}, or null. */
    public static TraceStage stage(String name) {
        for (TraceStage s : TraceStage.values()) {
            if (s.spanName().equals(name)) {
                return s;
            }
        }
        return null;
    }
}
