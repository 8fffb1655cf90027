package dev.ppexec.otel;

import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.ReqTimeStats;
import dev.ppexec.trace.RequestTrace;
import dev.ppexec.trace.Slice;
import dev.ppexec.trace.ThreadInfo;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceStage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static dev.ppexec.trace.RequestTrace.Edge.END;
import static dev.ppexec.trace.RequestTrace.Edge.START;
import static dev.ppexec.trace.RequestTrace.NO_MICRO_BATCH;

/**
 * Turns a run's timed actions into OpenTelemetry spans, as docs/TRACING.md lists them: per request
 * a root {@code Req {rid}}, a thread span per rank, and the rank's slices below it, with explicit
 * epoch start and end times. It hears the actions after the run, on the thread that resolved them:
 * the ranks never touch the SDK (see {@link RunListener}).
 *
 * <p>pp_send is timed as the receiver's copy seen from the sender's side: the transfer is one copy
 * on the receiving rank's copy stream, so rank r's pp_send and rank r+1's pp_recv of a micro-batch
 * and step have the same times and the same {@code stream}. The ring hand-off of next tokens from
 * the last rank to rank 0 is not a pp_send/pp_recv pair.
 */
public final class TraceListener implements RunListener {

    static final AttributeKey<String> RID = AttributeKey.stringKey("rid");
    static final AttributeKey<Long> PROMPT_LEN = AttributeKey.longKey("prompt_len");
    static final AttributeKey<Long> OUTPUT_TOKENS = AttributeKey.longKey("output_tokens");
    static final AttributeKey<Long> PP_RANK = AttributeKey.longKey("pp_rank");
    static final AttributeKey<Long> TP_RANK = AttributeKey.longKey("tp_rank");
    static final AttributeKey<Long> DP_RANK = AttributeKey.longKey("dp_rank");
    static final AttributeKey<String> HOST_ID = AttributeKey.stringKey("host_id");
    static final AttributeKey<Long> THREAD_ID = AttributeKey.longKey("thread_id");
    static final AttributeKey<String> THREAD_LABEL = AttributeKey.stringKey("thread_label");
    static final AttributeKey<Long> PP_MB_ID = AttributeKey.longKey("pp_mb_id");
    static final AttributeKey<Long> STEP = AttributeKey.longKey("step");
    static final AttributeKey<String> FORWARD_MODE = AttributeKey.stringKey("forward_mode");
    static final AttributeKey<Long> BATCH_SIZE = AttributeKey.longKey("batch_size");
    static final AttributeKey<String> DEVICE = AttributeKey.stringKey("device");
    static final AttributeKey<String> STREAM = AttributeKey.stringKey("stream");
    static final AttributeKey<Long> PEER_RANK = AttributeKey.longKey("peer_rank");

    private final Tracer tracer;
    private final TraceLevel level;
    private final EpochClock clock;
    private final String hostName;
    private RequestTrace trace;

    public TraceListener(Tracer tracer, TraceLevel level, EpochClock clock, String hostName) {
        this.tracer = Objects.requireNonNull(tracer, "tracer");
        this.level = Objects.requireNonNull(level, "level");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.hostName = Objects.requireNonNull(hostName, "hostName");
    }

    @Override
    public void runStarted(RunInfo info) {
        int requests = info.requests();
        trace = new RequestTrace(level, requests, info.ranks());
        int[] all = IntStream.range(0, requests).toArray();
        trace.arriveBatch(all, info.arrivalNanos());
        trace.setTimeBatch(all, 0, TraceStage.PREFILL_WAITING, START, info.arrivalNanos(), NO_MICRO_BATCH, 0);
    }

    @Override
    public void action(RunInfo info, int rank, ActionRecord r) {
        int[] rids = info.members()[r.microBatch()];
        switch (r.kind()) {
            case FORWARD -> forward(info, rank, rids, r);
            case RECV -> {
                if (rank > 0) {
                    slice(rids, rank, TraceStage.PP_RECV, r.deviceStartNanos(), r.deviceEndNanos(), r.microBatch(), r.step());
                    slice(rids, rank - 1, TraceStage.PP_SEND, r.deviceStartNanos(), r.deviceEndNanos(), r.microBatch(),
                            r.step());
                }
            }
        }
    }

    private void forward(RunInfo info, int rank, int[] rids, ActionRecord r) {
        int step = r.step();
        if (step == 0) {
            if (rank == 0) {
                trace.setTimeBatch(rids, 0, TraceStage.PREFILL_WAITING, END, r.cpuStartNanos(), NO_MICRO_BATCH, 0);
            }
            slice(rids, rank, TraceStage.PREFILL_FORWARD, r.cpuStartNanos(), r.deviceEndNanos(), NO_MICRO_BATCH, 0);
        } else {
            slice(rids, rank, TraceStage.DECODE_FORWARD, r.cpuStartNanos(), r.deviceEndNanos(), NO_MICRO_BATCH, step);
            if (step == 1) {
                trace.setTimeBatch(rids, rank, TraceStage.DECODE_LOOP, START, r.cpuStartNanos(), NO_MICRO_BATCH, step);
            }
            if (step == info.decodeSteps()) {
                trace.setTimeBatch(rids, rank, TraceStage.DECODE_LOOP, END, r.deviceEndNanos(), NO_MICRO_BATCH, step);
            }
        }
        slice(rids, rank, TraceStage.RUN_BATCH_CPU, r.cpuStartNanos(), r.cpuEndNanos(), r.microBatch(), step);
        slice(rids, rank, TraceStage.RUN_BATCH_DEVICE, r.deviceStartNanos(), r.deviceEndNanos(), r.microBatch(), step);
        if (rank == info.ranks() - 1) {
            trace.tokenBatch(rids, r.deviceEndNanos());
        }
    }

    private void slice(int[] rids, int rank, TraceStage stage, long start, long end, int mb, int step) {
        trace.setTimeBatch(rids, rank, stage, START, start, mb, step);
        trace.setTimeBatch(rids, rank, stage, END, end, mb, step);
    }

    @Override
    public void runFinished(RunInfo info, boolean ok) {
        RequestTrace done = trace;
        trace = null;
        if (ok && done != null) {
            for (int rid = 0; rid < done.requests(); rid++) {
                emit(info, done.request(rid));
            }
        }
    }

    private void emit(RunInfo info, ReqTimeStats req) {
        List<Slice> slices = req.slices();
        if (slices.isEmpty()) {
            return;
        }
        long last = req.lastTokenNanos();
        for (Slice s : slices) {
            last = Math.max(last, s.endNanos());
        }
        String rid = Integer.toString(req.rid());
        Span root = tracer.spanBuilder("Req " + rid).setNoParent()
                .setStartTimestamp(clock.epochNanos(req.arrivalNanos()), TimeUnit.NANOSECONDS)
                .setAttribute(RID, rid)
                .setAttribute(PROMPT_LEN, (long) info.promptLength())
                .setAttribute(OUTPUT_TOKENS, info.decodeSteps() + 1L)
                .startSpan();
        Context rootContext = Context.root().with(root);
        for (int rank = 0; rank < info.ranks(); rank++) {
            List<Slice> mine = new ArrayList<>();
            long first = Long.MAX_VALUE;
            long end = Long.MIN_VALUE;
            for (Slice s : slices) {
                if (s.rank() == rank) {
                    mine.add(s);
                    first = Math.min(first, s.startNanos());
                    end = Math.max(end, s.endNanos());
                }
            }
            if (mine.isEmpty()) {
                continue;
            }
            ThreadInfo thread = ThreadInfo.scheduler(rank, info.threadIds()[rank], hostName);
            Span threadSpan = tracer.spanBuilder(thread.spanName()).setParent(rootContext)
                    .setStartTimestamp(clock.epochNanos(first), TimeUnit.NANOSECONDS)
                    .setAllAttributes(threadAttributes(thread))
                    .startSpan();
            Context threadContext = rootContext.with(threadSpan);
            Attributes base = Attributes.builder().put(RID, rid).put(PP_RANK, rank).put(TP_RANK, thread.tpRank())
                    .put(DP_RANK, thread.dpRank()).build();
            for (Slice s : mine) {
                tracer.spanBuilder(s.stage().spanName()).setParent(threadContext)
                        .setStartTimestamp(clock.epochNanos(s.startNanos()), TimeUnit.NANOSECONDS)
                        .setAllAttributes(sliceAttributes(info, base, s))
                        .startSpan()
                        .end(clock.epochNanos(s.endNanos()), TimeUnit.NANOSECONDS);
            }
            threadSpan.end(clock.epochNanos(end), TimeUnit.NANOSECONDS);
        }
        root.end(clock.epochNanos(last), TimeUnit.NANOSECONDS);
    }

    private static Attributes threadAttributes(ThreadInfo t) {
        return Attributes.builder()
                .put(PP_RANK, t.ppRank()).put(TP_RANK, t.tpRank()).put(DP_RANK, t.dpRank())
                .put(HOST_ID, t.hostId()).put(THREAD_ID, t.threadId()).put(THREAD_LABEL, t.label())
                .build();
    }

    private static Attributes sliceAttributes(RunInfo info, Attributes base, Slice s) {
        if (s.microBatch() == NO_MICRO_BATCH) {
            return base;
        }
        int rank = s.rank();
        AttributesBuilder b = base.toBuilder()
                .put(PP_MB_ID, s.microBatch())
                .put(STEP, s.step())
                .put(FORWARD_MODE, s.step() == 0 ? "prefill" : "decode")
                .put(BATCH_SIZE, info.members()[s.microBatch()].length)
                .put(DEVICE, info.rankDevices().get(rank));
        switch (s.stage()) {
            case RUN_BATCH_DEVICE -> b.put(STREAM, stream(info, rank, info.computeStreams()[rank]));
            case PP_RECV -> b.put(STREAM, stream(info, rank, info.copyStreams()[rank])).put(PEER_RANK, rank - 1);
            case PP_SEND -> b.put(STREAM, stream(info, rank + 1, info.copyStreams()[rank + 1])).put(PEER_RANK, rank + 1);
            default -> { }
        }
        return b.build();
    }

    /** {@code "cpu stream 3"}: the device the stream belongs to, and its id there. */
    private static String stream(RunInfo info, int rank, int streamId) {
        return info.rankDevices().get(rank) + " stream " + streamId;
    }
}
