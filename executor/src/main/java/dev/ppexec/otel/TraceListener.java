package dev.ppexec.otel;

import dev.ppexec.failure.Failures;
import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.trace.EpochClock;
import dev.ppexec.trace.SpanContract;
import dev.ppexec.trace.ThreadInfo;
import dev.ppexec.trace.TraceLevel;
import dev.ppexec.trace.TraceSchema;
import dev.ppexec.trace.TraceStage;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static dev.ppexec.otel.ContractKeys.BATCH_SIZE;
import static dev.ppexec.otel.ContractKeys.DEVICE;
import static dev.ppexec.otel.ContractKeys.DP_RANK;
import static dev.ppexec.otel.ContractKeys.FORWARD_MODE;
import static dev.ppexec.otel.ContractKeys.HOST_ID;
import static dev.ppexec.otel.ContractKeys.MODULE;
import static dev.ppexec.otel.ContractKeys.OUTPUT_TOKENS;
import static dev.ppexec.otel.ContractKeys.PEER_RANK;
import static dev.ppexec.otel.ContractKeys.PID;
import static dev.ppexec.otel.ContractKeys.PP_MB_ID;
import static dev.ppexec.otel.ContractKeys.PP_RANK;
import static dev.ppexec.otel.ContractKeys.PROMPT_LEN;
import static dev.ppexec.otel.ContractKeys.RID;
import static dev.ppexec.otel.ContractKeys.STEP;
import static dev.ppexec.otel.ContractKeys.STREAM;
import static dev.ppexec.otel.ContractKeys.TRANSPORT;
import static dev.ppexec.otel.ContractKeys.THREAD_ID;
import static dev.ppexec.otel.ContractKeys.THREAD_LABEL;
import static dev.ppexec.otel.ContractKeys.TP_RANK;

/**
 * Turns a run's timed actions into OpenTelemetry spans while the run goes on, as docs/TRACING.md
 * lists them: per request a root {@code Req {rid}}, a thread span per rank, and the rank's slices
 * below it, with explicit epoch start and end times. It hears the actions on the run's trace
 * delivery thread as their device times resolve (see {@link RunListener}): the ranks never touch
 * the SDK.
 *
 * <p>Note [streaming spans]: a slice span is ended as soon as its action is heard. Its parents
 * need only be started: a request's root starts (at the request's arrival) and a rank's thread
 * span starts when the rank's first pass of the micro-batch is wholly known (its forward, and at
 * level 4 the transfers in and out), since the earliest of those sets the thread span's start;
 * records heard before that wait in the cell. A thread span ends when the last pass's records are
 * known, a root when all its ranks' thread spans ended. Memory is one cell per rank and
 * micro-batch plus the records waiting there, whatever the run's length. A run that fails ends
 * what it cut short with an ERROR status and the cause (status description and an
 * {@code exception} event).
 *
 * <p>pp_send is timed as the receiver's copy seen from the sender's side: the transfer is one copy
 * on the receiving rank's copy stream, so rank r's pp_send and rank r+1's pp_recv of a micro-batch
 * and step have the same times and the same {@code stream}. The ring hand-off of next tokens from
 * the last rank to rank 0 is not a pp_send/pp_recv pair.
 *
 * <p>With {@link TraceSchema#SGLANG} the spans are the same, plus what sglang's converter looks
 * for: {@code module} on each root and {@code pid} (the OS thread id) on each thread span.
 */
public final class TraceListener implements RunListener {

    private static final AttributeKey<String> EXCEPTION_TYPE = AttributeKey.stringKey("exception.type");
    private static final AttributeKey<String> EXCEPTION_MESSAGE = AttributeKey.stringKey("exception.message");

    private final Tracer tracer;
    private final TraceLevel level;
    private final EpochClock clock;
    private final String hostName;
    private final TraceSchema schema;
    private Run run;

    public TraceListener(Tracer tracer, TraceLevel level, TraceSchema schema, EpochClock clock, String hostName) {
        this.tracer = Objects.requireNonNull(tracer, "tracer");
        this.schema = Objects.requireNonNull(schema, "schema");
        this.level = Objects.requireNonNull(level, "level");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.hostName = Objects.requireNonNull(hostName, "hostName");
    }

    @Override
    public void runStarted(RunInfo info) {
        run = level.isOff() ? null : new Run(info);
    }

    @Override
    public void action(RunInfo info, int rank, ActionRecord r) {
        if (run != null) {
            run.action(rank, r);
        }
    }

    @Override
    public void runFinished(RunInfo info, Throwable failure) {
        Run done = run;
        run = null;
        if (done != null) {
            done.finish(failure);
        }
    }

    /** Which of a rank's slices a record makes. */
    private enum Role { FORWARD, RECV_IN, SEND }

    private record Pending(Role role, ActionRecord record) {}

    /** One run's open spans. */
    private final class Run {
        final RunInfo info;
        final int ranks;
        final int lastStep;
        final boolean transfers;
        final Span[] roots;
        final long[] rootEndNanos;
        final int[] ranksDone;
        final int[] microBatchOf;
        final Cell[][] cells;
        long lastEndNanos;

        Run(RunInfo info) {
            this.info = info;
            this.ranks = info.ranks();
            this.lastStep = info.decodeSteps();
            this.transfers = level.records(TraceStage.PP_RECV) && ranks > 1;
            int requests = info.requests();
            this.roots = new Span[requests];
            this.rootEndNanos = new long[requests];
            this.ranksDone = new int[info.microBatches()];
            this.microBatchOf = new int[requests];
            for (int m = 0; m < info.microBatches(); m++) {
                for (int rid : info.members()[m]) {
                    microBatchOf[rid] = m;
                }
            }
            this.cells = new Cell[ranks][info.microBatches()];
            for (int r = 0; r < ranks; r++) {
                for (int m = 0; m < info.microBatches(); m++) {
                    cells[r][m] = new Cell(this, r, m);
                }
            }
            this.lastEndNanos = info.arrivalNanos();
        }

        void action(int rank, ActionRecord r) {
            switch (r.kind()) {
                case FORWARD -> cells[rank][r.microBatch()].add(Role.FORWARD, r);
                case RECV -> {
                    if (rank > 0 && transfers) {
                        cells[rank][r.microBatch()].add(Role.RECV_IN, r);
                        cells[rank - 1][r.microBatch()].add(Role.SEND, r);
                    }
                }
            }
        }

        Span root(int rid) {
            if (roots[rid] == null) {
                String name = Integer.toString(rid);
                SpanBuilder root = tracer.spanBuilder(SpanContract.REQUEST_PREFIX + name).setNoParent()
                        .setStartTimestamp(clock.epochNanos(info.arrivalNanos()), TimeUnit.NANOSECONDS)
                        .setAttribute(RID, name)
                        .setAttribute(PROMPT_LEN, (long) info.promptLength())
                        .setAttribute(OUTPUT_TOKENS, info.decodeSteps() + 1L);
                if (schema == TraceSchema.SGLANG) {
                    root.setAttribute(MODULE, SpanContract.SGLANG_REQUEST_MODULE);
                }
                roots[rid] = root.startSpan();
                rootEndNanos[rid] = info.arrivalNanos();
            }
            return roots[rid];
        }

        void rankDone(Cell c) {
            int[] rids = info.members()[c.microBatch];
            for (int rid : rids) {
                rootEndNanos[rid] = Math.max(rootEndNanos[rid], c.endNanos);
            }
            if (++ranksDone[c.microBatch] == ranks) {
                for (int rid : rids) {
                    roots[rid].end(clock.epochNanos(rootEndNanos[rid]), TimeUnit.NANOSECONDS);
                    roots[rid] = null;
                }
            }
        }

        /** Ends what is still open; with a failure, marks it ERROR with the cause. */
        void finish(Throwable failure) {
            String cause = failure != null ? Failures.describe(failure)
                    : "the run ended before this request's last records were heard";
            for (Cell[] rank : cells) {
                for (Cell c : rank) {
                    c.cut(cause);
                }
            }
            for (int rid = 0; rid < roots.length; rid++) {
                boolean open = roots[rid] != null || ranksDone[microBatchOf[rid]] < ranks;
                if (open) {
                    Span root = root(rid);
                    markError(root, failure, cause);
                    root.end(clock.epochNanos(Math.max(rootEndNanos[rid], lastEndNanos)), TimeUnit.NANOSECONDS);
                    roots[rid] = null;
                }
            }
        }
    }

    private static void markError(Span span, Throwable failure, String cause) {
        span.setStatus(StatusCode.ERROR, cause);
        if (failure != null) {
            span.addEvent("exception", Attributes.of(EXCEPTION_TYPE, failure.getClass().getName(), EXCEPTION_MESSAGE,
                    cause));
        }
    }

    /** One rank's share of one micro-batch's requests: a thread span per request, and their slices. */
    private final class Cell {
        final Run run;
        final int rank;
        final int microBatch;
        final int[] rids;
        /** Records of this cell's first pass (step 0) needed before the thread spans start. */
        final int needed;
        List<Pending> pending = new ArrayList<>();
        Span[] threads;
        Context[] contexts;
        Attributes[] base;
        int seenFirst;
        int seenLast;
        long endNanos = Long.MIN_VALUE;
        long loopStartNanos;
        boolean done;

        Cell(Run run, int rank, int microBatch) {
            this.run = run;
            this.rank = rank;
            this.microBatch = microBatch;
            this.rids = run.info.members()[microBatch];
            this.needed = 1 + (run.transfers ? (rank > 0 ? 1 : 0) + (rank < run.ranks - 1 ? 1 : 0) : 0);
        }

        void add(Role role, ActionRecord r) {
            if (threads != null) {
                emit(role, r);
                return;
            }
            pending.add(new Pending(role, r));
            if (r.step() == 0 && ++seenFirst == needed) {
                open();
            }
        }

        /** Starts the thread spans at the earliest start among the waiting records, then emits them. */
        private void open() {
            long first = Long.MAX_VALUE;
            for (Pending p : pending) {
                first = Math.min(first, startOf(p.role(), p.record()));
            }
            ThreadInfo thread = ThreadInfo.scheduler(rank, run.info.threadIds()[rank], hostName);
            AttributesBuilder threadBuilder = Attributes.builder()
                    .put(PP_RANK, thread.ppRank()).put(TP_RANK, thread.tpRank()).put(DP_RANK, thread.dpRank())
                    .put(HOST_ID, thread.hostId()).put(THREAD_ID, thread.threadId()).put(THREAD_LABEL, thread.label());
            if (schema == TraceSchema.SGLANG) {
                threadBuilder.put(PID, run.info.osThreadIds()[rank]);
            }
            Attributes threadAttributes = threadBuilder.build();
            threads = new Span[rids.length];
            contexts = new Context[rids.length];
            base = new Attributes[rids.length];
            for (int i = 0; i < rids.length; i++) {
                Context rootContext = Context.root().with(run.root(rids[i]));
                threads[i] = tracer.spanBuilder(thread.spanName()).setParent(rootContext)
                        .setStartTimestamp(clock.epochNanos(first), TimeUnit.NANOSECONDS)
                        .setAllAttributes(threadAttributes)
                        .startSpan();
                contexts[i] = rootContext.with(threads[i]);
                base[i] = Attributes.builder().put(RID, Integer.toString(rids[i])).put(PP_RANK, rank)
                        .put(TP_RANK, thread.tpRank()).put(DP_RANK, thread.dpRank()).build();
            }
            List<Pending> waiting = pending;
            pending = null;
            for (Pending p : waiting) {
                emit(p.role(), p.record());
            }
        }

        private long startOf(Role role, ActionRecord r) {
            if (role != Role.FORWARD) {
                return r.deviceStartNanos();
            }
            return rank == 0 && r.step() == 0 ? Math.min(run.info.arrivalNanos(), r.cpuStartNanos()) : r.cpuStartNanos();
        }

        private void emit(Role role, ActionRecord r) {
            int step = r.step();
            switch (role) {
                case FORWARD -> {
                    if (step == 0) {
                        if (rank == 0) {
                            slice(TraceStage.PREFILL_WAITING, run.info.arrivalNanos(), r.cpuStartNanos(), null);
                        }
                        slice(TraceStage.PREFILL_FORWARD, r.cpuStartNanos(), r.deviceEndNanos(), null);
                    } else {
                        slice(TraceStage.DECODE_FORWARD, r.cpuStartNanos(), r.deviceEndNanos(), null);
                        if (step == 1) {
                            loopStartNanos = r.cpuStartNanos();
                        }
                        if (step == run.lastStep) {
                            slice(TraceStage.DECODE_LOOP, loopStartNanos, r.deviceEndNanos(), null);
                        }
                    }
                    slice(TraceStage.RUN_BATCH_CPU, r.cpuStartNanos(), r.cpuEndNanos(), r);
                    slice(TraceStage.RUN_BATCH_DEVICE, r.deviceStartNanos(), r.deviceEndNanos(), r);
                }
                case RECV_IN -> slice(TraceStage.PP_RECV, r.deviceStartNanos(), r.deviceEndNanos(), r);
                case SEND -> slice(TraceStage.PP_SEND, r.deviceStartNanos(), r.deviceEndNanos(), r);
            }
            if (step == run.lastStep && ++seenLast == needed) {
                close();
            }
        }

        /** One slice per request of the cell; {@code batch} (the record) adds the micro-batch attributes. */
        private void slice(TraceStage stage, long startNanos, long endNanos, ActionRecord batch) {
            if (!level.records(stage)) {
                return;
            }
            for (int i = 0; i < rids.length; i++) {
                tracer.spanBuilder(stage.spanName()).setParent(contexts[i])
                        .setStartTimestamp(clock.epochNanos(startNanos), TimeUnit.NANOSECONDS)
                        .setAllAttributes(batch == null ? base[i] : batchAttributes(base[i], stage, batch.step()))
                        .startSpan()
                        .end(clock.epochNanos(endNanos), TimeUnit.NANOSECONDS);
            }
            endNanos(endNanos);
        }

        private void endNanos(long nanos) {
            endNanos = Math.max(endNanos, nanos);
            run.lastEndNanos = Math.max(run.lastEndNanos, nanos);
        }

        private Attributes batchAttributes(Attributes base, TraceStage stage, int step) {
            RunInfo info = run.info;
            AttributesBuilder b = base.toBuilder()
                    .put(PP_MB_ID, microBatch)
                    .put(STEP, step)
                    .put(FORWARD_MODE, step == 0 ? "prefill" : "decode")
                    .put(BATCH_SIZE, rids.length)
                    .put(DEVICE, info.rankDevices().get(rank));
            switch (stage) {
                case RUN_BATCH_DEVICE -> b.put(STREAM, stream(info, rank, info.computeStreams()[rank]));
                case PP_RECV -> b.put(STREAM, stream(info, rank, info.copyStreams()[rank])).put(PEER_RANK, rank - 1)
                        .put(TRANSPORT, info.transports().get(rank));
                case PP_SEND -> b.put(STREAM, stream(info, rank + 1, info.copyStreams()[rank + 1]))
                        .put(PEER_RANK, rank + 1).put(TRANSPORT, info.transports().get(rank + 1));
                default -> { }
            }
            return b.build();
        }

        private void close() {
            for (Span t : threads) {
                t.end(clock.epochNanos(endNanos), TimeUnit.NANOSECONDS);
            }
            done = true;
            run.rankDone(this);
        }

        /** After a failure: starts the thread spans if records wait, and ends them ERROR if still open. */
        void cut(String cause) {
            if (done) {
                return;
            }
            if (threads == null && pending != null && !pending.isEmpty()) {
                open();
            }
            if (threads == null || done) {
                return;
            }
            for (Span t : threads) {
                t.setStatus(StatusCode.ERROR, cause);
                t.end(clock.epochNanos(endNanos), TimeUnit.NANOSECONDS);
            }
            done = true;
            for (int rid : rids) {
                run.rootEndNanos[rid] = Math.max(run.rootEndNanos[rid], endNanos);
            }
        }
    }

    /** {@code "cpu stream 3"}: the device the stream belongs to, and its id there. */
    private static String stream(RunInfo info, int rank, int streamId) {
        return info.rankDevices().get(rank) + " stream " + streamId;
    }
}
