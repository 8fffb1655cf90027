package dev.ppexec.otel;

import dev.ppexec.failure.Failures;
import dev.ppexec.runtime.ActionRecord;
import dev.ppexec.runtime.RunInfo;
import dev.ppexec.runtime.RunListener;
import dev.ppexec.stage.StageProgram;
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
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.Context;
import io.opentelemetry.context.propagation.TextMapGetter;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

import static dev.ppexec.otel.ContractKeys.BATCH_SIZE;
import static dev.ppexec.otel.ContractKeys.DEVICE;
import static dev.ppexec.otel.ContractKeys.DP_RANK;
import static dev.ppexec.otel.ContractKeys.FORWARD_MODE;
import static dev.ppexec.otel.ContractKeys.HOST_ID;
import static dev.ppexec.otel.ContractKeys.K;
import static dev.ppexec.otel.ContractKeys.KERNEL;
import static dev.ppexec.otel.ContractKeys.LAUNCHES;
import static dev.ppexec.otel.ContractKeys.N;
import static dev.ppexec.otel.ContractKeys.ROWS;
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
 * <p>At level 5 each forward's kernel slices (one per launch, named as the launch, with its shape) are
 * children of the {@code run_batch_device} of the micro-batch's first request only: they are the
 * micro-batch's, and one copy keeps level 5's span count to one per launch.
 *
 * <p>In a world of rank processes (Note [one trace across processes] in {@link WorldTrace}) the listener hears only
 * its own rank: rank 0 starts every root when the run starts and ends it with its own thread spans; a rank r > 0
 * exports only its thread spans and their slices, parented on the root's context that reached it, and its pp_send
 * slices are the transport's timing of the send.
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
    private static final String TRACEPARENT = "traceparent";
    private static final TextMapGetter<Map<String, String>> GETTER = new TextMapGetter<>() {
        @Override
        public Iterable<String> keys(Map<String, String> carrier) {
            return carrier.keySet();
        }

        @Override
        public String get(Map<String, String> carrier, String key) {
            return carrier == null ? null : carrier.get(key);
        }
    };

    private final TraceSchema schema;
    /** This process's rank of a world, or null when every rank runs here. */
    private final WorldTrace world;
    private Run run;

    public TraceListener(Tracer tracer, TraceLevel level, TraceSchema schema, EpochClock clock, String hostName) {
        this(tracer, level, schema, clock, hostName, null);
    }

    public TraceListener(Tracer tracer, TraceLevel level, TraceSchema schema, EpochClock clock, String hostName,
                         WorldTrace world) {
        this.world = world;
        this.tracer = Objects.requireNonNull(tracer, "tracer");
        this.schema = Objects.requireNonNull(schema, "schema");
        this.level = Objects.requireNonNull(level, "level");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.hostName = Objects.requireNonNull(hostName, "hostName");
    }

    @Override
    public boolean recordsKernels() {
        return level.records(TraceStage.KERNEL);
    }

    @Override
    public void runStarted(RunInfo info) {
        run = level.isOff() ? null : new Run(info);
        if (run != null && world != null && world.rank() == 0) {
            for (int m = 0; m < info.microBatches(); m++) {
                List<String> traceparents = new ArrayList<>();
                for (int rid : info.members()[m]) {
                    Map<String, String> carrier = new HashMap<>();
                    W3CTraceContextPropagator.getInstance().inject(Context.root().with(run.root(rid)), carrier,
                            Map::put);
                    traceparents.add(carrier.get(TRACEPARENT));
                }
                world.publish(m, traceparents);
            }
        }
    }

    @Override
    public void action(RunInfo info, int rank, ActionRecord r) {
        if (run != null) {
            run.action(rank, r);
            run.takeSends();
        }
    }

    @Override
    public void runFinished(RunInfo info, Throwable failure) {
        Run done = run;
        run = null;
        if (done != null) {
            if (world != null && failure == null) {
                try {
                    world.awaitSends();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // a signal: end with what was timed
                }
            }
            done.takeSends();
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
        /** Ranks whose records this process hears: all, or its own in a world. */
        final int localRanks;
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
            this.localRanks = world == null ? ranks : 1;
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
                        if (world == null) {
                            cells[rank - 1][r.microBatch()].add(Role.SEND, r);
                        }
                    }
                }
            }
        }

        /** In a world: the pp_send records this rank's transport timed since the last look. */
        void takeSends() {
            if (world == null) {
                return;
            }
            for (ActionRecord s = world.nextSend(); s != null; s = world.nextSend()) {
                if (transfers && world.rank() < ranks - 1) {
                    cells[world.rank()][s.microBatch()].add(Role.SEND, s);
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
            if (world != null && world.rank() > 0) {
                return; // the roots are rank 0's
            }
            int[] rids = info.members()[c.microBatch];
            for (int rid : rids) {
                rootEndNanos[rid] = Math.max(rootEndNanos[rid], c.endNanos);
            }
            if (++ranksDone[c.microBatch] == localRanks) {
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
            if (world != null && world.rank() > 0) {
                return; // the roots are rank 0's
            }
            for (int rid = 0; rid < roots.length; rid++) {
                boolean open = roots[rid] != null || ranksDone[microBatchOf[rid]] < localRanks;
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
            List<String> carried = world != null && rank > 0 ? world.parents(microBatch) : null;
            for (int i = 0; i < rids.length; i++) {
                Context rootContext = world != null && rank > 0 ? remoteRoot(carried, i)
                        : Context.root().with(run.root(rids[i]));
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

        /** Note [one trace across processes]: the root's context as rank 0 sent it, or none when none came. */
        private static Context remoteRoot(List<String> carried, int i) {
            if (carried == null || i >= carried.size()) {
                return Context.root();
            }
            return W3CTraceContextPropagator.getInstance().extract(Context.root(), Map.of(TRACEPARENT, carried.get(i)),
                    GETTER);
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
                    Span device = slice(TraceStage.RUN_BATCH_DEVICE, r.deviceStartNanos(), r.deviceEndNanos(), r);
                    if (device != null && r.kernelMarkNanos() != null) {
                        kernels(device, r);
                    }
                }
                case RECV_IN -> slice(TraceStage.PP_RECV, r.deviceStartNanos(), r.deviceEndNanos(), r);
                case SEND -> slice(TraceStage.PP_SEND, r.deviceStartNanos(), r.deviceEndNanos(), r);
            }
            if (step == run.lastStep && ++seenLast == needed) {
                close();
            }
        }

        /**
         * One slice per request of the cell; {@code batch} (the record) adds the micro-batch attributes. Returns the
         * first request's slice, or null when the level does not record the stage.
         */
        private Span slice(TraceStage stage, long startNanos, long endNanos, ActionRecord batch) {
            if (!level.records(stage)) {
                return null;
            }
            Span first = null;
            for (int i = 0; i < rids.length; i++) {
                Span s = tracer.spanBuilder(stage.spanName()).setParent(contexts[i])
                        .setStartTimestamp(clock.epochNanos(startNanos), TimeUnit.NANOSECONDS)
                        .setAllAttributes(batch == null ? base[i] : batchAttributes(base[i], stage, batch.step()))
                        .startSpan();
                s.end(clock.epochNanos(endNanos), TimeUnit.NANOSECONDS);
                first = first == null ? s : first;
            }
            endNanos(endNanos);
            return first;
        }

        /**
         * Level 5: the forward's kernel slices, children of {@code device}, the first request's run_batch_device. A
         * kernel slice carries only what its parent does not say for it (its rank, micro-batch, step and stream, for
         * readers that take it alone) and its shape: level 5 writes about thirty times the spans of level 4.
         */
        private void kernels(Span device, ActionRecord r) {
            int tokens = tokensOf(r.step());
            List<StageProgram.LaunchShape> launches = run.info.launches().get(rank).get(microBatch).of(tokens);
            long[] marks = r.kernelMarkNanos();
            Context parent = contexts[0].with(device);
            Attributes batch = Attributes.builder().put(PP_RANK, rank).put(PP_MB_ID, microBatch).put(STEP, r.step())
                    .put(STREAM, stream(run.info, rank, run.info.computeStreams()[rank])).build();
            long start = r.deviceStartNanos();
            for (int i = 0; i < launches.size(); i++) {
                StageProgram.LaunchShape launch = launches.get(i);
                // The marks array serves the longer list too: a shorter forward ends at its end event.
                long end = i < launches.size() - 1 ? marks[i] : r.deviceEndNanos();
                AttributesBuilder b = batch.toBuilder().put(KERNEL, launch.kernel())
                        .put(ROWS, launch.rows(rids.length, tokens)).put(N, launch.n());
                if (launch.k() > 0) {
                    b.put(K, launch.k());
                }
                tracer.spanBuilder(launch.name()).setParent(parent)
                        .setStartTimestamp(clock.epochNanos(start), TimeUnit.NANOSECONDS)
                        .setAllAttributes(b.build())
                        .startSpan()
                        .end(clock.epochNanos(end), TimeUnit.NANOSECONDS);
                start = end;
            }
        }

        /** Positions per request of the pass at {@code step}: the prompt at step 0, else one. */
        private int tokensOf(int step) {
            return step == 0 ? run.info.promptLength() : 1;
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
                case RUN_BATCH_CPU -> {
                    if (!info.launches().get(rank).isEmpty()) {
                        b.put(LAUNCHES, info.hostLaunches(rank, microBatch, step));
                    }
                }
                case RUN_BATCH_DEVICE -> b.put(STREAM, stream(info, rank, info.computeStreams()[rank]));
                case PP_RECV -> b.put(STREAM, stream(info, rank, info.copyStreams()[rank])).put(PEER_RANK, rank - 1)
                        .put(TRANSPORT, info.transports().get(rank));
                case PP_SEND -> b.put(STREAM, world != null ? info.rankDevices().get(rank) + " pp_send [PP " + rank + "]"
                        : stream(info, rank + 1, info.copyStreams()[rank + 1])).put(PEER_RANK, rank + 1)
                        .put(TRANSPORT, info.transports().get(rank + 1));
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
