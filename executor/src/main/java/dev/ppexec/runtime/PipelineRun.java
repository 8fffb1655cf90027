package dev.ppexec.runtime;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Graph;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.backend.StreamFailure;
import dev.ppexec.failure.Failures;
import dev.ppexec.model.ModelConfig;
import dev.ppexec.schedule.Action;
import dev.ppexec.schedule.ActionKind;
import dev.ppexec.schedule.Bubble;
import dev.ppexec.schedule.Schedule;
import dev.ppexec.stage.StageProgram;
import dev.ppexec.stage.StageWeights;
import dev.ppexec.stage.Workspace;
import dev.ppexec.trace.DeviceClock;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * One generation run: per-run resources (streams, slots, KV caches, events) and one scheduler
 * thread per rank that walks the rank's action list. The schedule decides the order; this class
 * only interprets it.
 *
 * <p>Note [decode graphs]: where {@link Pipeline#decodeGraphs()} (CUDA, {@code --cuda-graphs on}), each rank
 * captures, on its compute stream while the run is set up, the body of each slot's one-token forward
 * ({@link StageProgram#launchBody}) as one graph, and a decode step is then {@link StageProgram#launchStep} (the
 * pass's tokens and position to the slot's step buffer, which the body's kernels read) and one graph launch. The
 * capacity check stays on the host, in launchStep. Prefill stays eager. At level 5 the graph records its own marks
 * between the body's launches, one set per slot, and the rank reads an entry's marks before the slot's graph
 * replays again ({@link ForwardLog#marksIn}): by then the host has waited for the slot's previous step (Note [host
 * runs ahead by at most one step per slot]), so that replay, and every forward before it on the stream, finished.
 * A capture the driver refuses fails the run before any work, naming the rank, the slot and the driver's error.
 */
final class PipelineRun implements AutoCloseable {

    /** After a failure, how long ranks get to stop before the run gives up on them. */
    static final long STOP_BOUND_MILLIS = 5_000;

    /** Event pairs per rank log, at least: entries are resolved when their pair comes round again. */
    private static final int MIN_LOG_DEPTH = 64;

    /**
     * Entries a rank log keeps at most (Note [bounded logs] in ForwardLog): at ~40 bytes an entry, 640 KiB a log;
     * about a second of forwards of a small stage, many times the trace reader's {@link RecordDelivery#POLL_NANOS}.
     */
    static final int LOG_WINDOW = 1 << 14;

    private final Pipeline pipeline;
    private final Schedule schedule;
    private final Workload workload;
    private final ActionHook hook;
    private final List<RunListener> listeners;
    /** Trace level 5: forwards record events between their launches (Note [kernel slices] in ForwardLog). */
    private final boolean kernelSlices;
    /** Decode steps replay a graph per rank and slot (Note [decode graphs]). */
    private final boolean decodeGraphs;
    private final int ranks;
    private final int microBatches;
    private final int[][] members;
    private final int[][] tokens;
    /** [rank] this process's ranks; null where a rank lives in another process. */
    private final Rank[] rankStates;
    private final List<Rank> locals = new ArrayList<>();
    private final Transport transport;
    private final AtomicReference<PipelineException> failure = new AtomicReference<>();
    private final List<Thread> threads = new ArrayList<>();
    private long[] osThreadIds;
    private final IntConsumer progress;
    /** TOKENS actions launched so far; the caller's thread turns them into steps for {@link #progress}. */
    private final AtomicInteger tokensLaunched = new AtomicInteger();
    private int stepsReported = -1;

    PipelineRun(Pipeline pipeline, Schedule schedule, Workload workload, ActionHook hook, List<RunListener> listeners,
                IntConsumer progress, Transport transport) {
        this.progress = progress;
        this.transport = transport;
        this.pipeline = pipeline;
        this.schedule = schedule;
        this.workload = workload;
        this.hook = hook;
        this.listeners = listeners;
        this.kernelSlices = listeners.stream().anyMatch(RunListener::recordsKernels);
        this.decodeGraphs = pipeline.decodeGraphs() && workload.decodeSteps() > 0;
        this.ranks = pipeline.ranks();
        this.microBatches = pipeline.microBatches();
        this.members = splitRequests(workload.requests(), microBatches);
        this.tokens = new int[workload.requests()][workload.decodeSteps() + 1];
        this.rankStates = new Rank[ranks];
        try {
            for (int r = 0; r < ranks; r++) {
                if (pipeline.isLocal(r)) {
                    rankStates[r] = new Rank(r);
                    locals.add(rankStates[r]);
                }
            }
            connect();
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    private RunInfo runInfo(long arrivalNanos) {
        List<String> names = new ArrayList<>();
        List<String> kinds = new ArrayList<>();
        int[] compute = new int[ranks];
        int[] copy = new int[ranks];
        long[] threadIds = new long[ranks];
        List<List<StageProgram.Forwards>> launches = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            Rank rank = rankStates[r];
            launches.add(rank == null ? List.of() : Arrays.stream(rank.slots).map(StageProgram::forwards).toList());
            names.add(rank == null ? "rank " + r + "'s process" : rank.device.name());
            kinds.add(transport.kind(r));
            compute[r] = rank == null ? -1 : rank.compute.id();
            copy[r] = rank == null ? -1 : rank.copy.id();
        }
        for (int i = 0; i < locals.size(); i++) {
            threadIds[locals.get(i).index] = threads.get(i).threadId();
        }
        return new RunInfo(pipeline.model(), pipeline.partition(), microBatches, workload.promptLength(),
                workload.decodeSteps(), members, List.copyOf(names), compute, copy, List.copyOf(kinds), threadIds, osThreadIds,
                arrivalNanos, List.copyOf(launches), decodeGraphs);
    }

    /** Requests to micro-batches in contiguous blocks whose sizes differ by at most one. */
    static int[][] splitRequests(int requests, int microBatches) {
        int[][] out = new int[microBatches][];
        int next = 0;
        for (int m = 0; m < microBatches; m++) {
            int size = requests / microBatches + (m < requests % microBatches ? 1 : 0);
            out[m] = new int[size];
            for (int i = 0; i < size; i++) {
                out[m][i] = next++;
            }
        }
        return out;
    }

    /** Positions per request in a pass: the prompt at step 0, one token after. */
    private int tokensOf(int step) {
        return step == 0 ? workload.promptLength() : 1;
    }

    private int startPosOf(int step) {
        return step == 0 ? 0 : workload.promptLength() + step - 1;
    }

    /**
     * One channel into each rank that receives, from the rank the schedule says it receives from (Note [routing] in
     * Schedule): the last rank hands on next tokens, any other rank hidden states; rank 0 takes tokens as input ids.
     * This process binds the ends it holds: every source first, then every destination.
     */
    private void connect() {
        for (boolean sources : new boolean[] {true, false}) {
            for (int to = 0; to < ranks; to++) {
                int toRank = to;
                if (schedule.rank(toRank).stream().noneMatch(a -> a.kind() == ActionKind.RECV)) {
                    continue;
                }
                int fromRank = schedule.sourceRank(toRank);
                int rowLength = fromRank == ranks - 1 ? 1 : pipeline.model().dim();
                Rank from = rankStates[fromRank];
                Rank receiver = rankStates[toRank];
                for (int m = 0; m < microBatches; m++) {
                    if (sources && from != null) {
                        Buffer source = from.last ? from.slots[m].nextIds() : from.slots[m].hidden();
                        transport.bindSource(fromRank, m, source, members[m].length, rowLength);
                    } else if (!sources && receiver != null) {
                        Buffer destination = receiver.first ? receiver.slots[m].inputIds() : receiver.slots[m].hidden();
                        transport.bindDestination(toRank, fromRank, m, receiver.device, destination, members[m].length,
                                rowLength);
                    }
                }
            }
        }
    }

    RunResult execute(double idealBubble) {
        CountDownLatch done = new CountDownLatch(locals.size());
        long[] osIds = new long[ranks];
        osThreadIds = osIds;
        for (Rank r : locals) {
            threads.add(Thread.ofPlatform().name("Scheduler [PP " + r.index + "]").unstarted(() -> {
                try {
                    osIds[r.index] = OsThread.currentId();
                    r.walk();
                } finally {
                    done.countDown();
                }
            }));
        }
        RecordDelivery delivery = null;
        Throwable cause = null;
        try {
            for (Rank r : locals) {
                r.anchor();
            }
            long start = System.nanoTime();
            if (!listeners.isEmpty()) {
                delivery = new RecordDelivery(runInfo(start), listeners, logs());
                delivery.start();
            }
            threads.forEach(Thread::start);
            awaitRanks(done);
            reportProgress();
            throwIfFailed();
            for (Rank r : locals) {
                r.compute.synchronize();
                r.copy.synchronize();
            }
            long wall = System.nanoTime() - start;
            throwIfFailed();
            for (Rank r : locals) {
                r.forwards.resolveAll();
                r.receives.resolveAll();
            }
            return figures(wall, idealBubble);
        } catch (RuntimeException | Error e) {
            PipelineException first = failure.get();
            cause = first != null ? first : e;
            if (first != null && first != e) {
                throw first;
            }
            throw e;
        } finally {
            if (delivery != null) {
                if (cause != null) {
                    resolveFinished(done);
                }
                try {
                    delivery.finish(cause);
                } catch (RuntimeException e) {
                    if (cause == null) {
                        throw e;
                    }
                    cause.addSuppressed(e); // the run's own failure is the one to report
                }
            }
        }
    }

    /**
     * Tells {@link #progress} how many steps had all their TOKENS launched, when that changed: on the caller's
     * thread, since a rank never does terminal I/O.
     */
    private void reportProgress() {
        int steps = tokensLaunched.get() / microBatches;
        if (steps != stepsReported) {
            stepsReported = steps;
            progress.accept(steps);
        }
    }

    /** [rank] {forwards, receives}: what the trace delivery reads; null for a rank in another process. */
    private ForwardLog[][] logs() {
        ForwardLog[][] logs = new ForwardLog[ranks][];
        for (Rank r : locals) {
            logs[r.index] = new ForwardLog[] {r.forwards, r.receives};
        }
        return logs;
    }

    /**
     * After a failure: once every rank stopped (within {@link #STOP_BOUND_MILLIS}), the entries
     * whose device work finished get their times, so the trace holds them. A rank that did not stop
     * keeps its log: what it published is all the trace gets.
     */
    private void resolveFinished(CountDownLatch done) {
        boolean interrupted = Thread.interrupted();
        try {
            if (!done.await(STOP_BOUND_MILLIS, TimeUnit.MILLISECONDS)) {
                return;
            }
        } catch (InterruptedException e) {
            interrupted = true;
            return;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        for (Rank r : locals) {
            r.forwards.resolveFinished();
            r.receives.resolveFinished();
        }
    }

    private void awaitRanks(CountDownLatch done) {
        try {
            while (!done.await(50, TimeUnit.MILLISECONDS)) {
                reportProgress();
                if (failure.get() != null) {
                    if (!done.await(STOP_BOUND_MILLIS, TimeUnit.MILLISECONDS)) {
                        fail(-1, "stop", new IllegalStateException("ranks did not stop within " + STOP_BOUND_MILLIS + " ms"));
                    }
                    return;
                }
            }
        } catch (InterruptedException e) {
            fail(-1, "run", e);
            Thread.currentThread().interrupt();
        }
    }

    private void throwIfFailed() {
        PipelineException f = failure.get();
        if (f != null) {
            throw f;
        }
    }

    /** Records the first failure and stops every rank. */
    private void fail(int rank, String where, Throwable cause) {
        String message = (rank >= 0 ? "rank " + rank + ": " : "") + where + " failed: "
                + Failures.describe(cause);
        if (failure.compareAndSet(null, new PipelineException(rank, message, cause))) {
            for (Thread t : threads) {
                if (t != Thread.currentThread()) {
                    t.interrupt();
                }
            }
        }
    }

    private void onStreamFailure(StreamFailure f) {
        for (Rank r : rankStates) {
            if (r != null && (r.compute == f.stream() || r.copy == f.stream())) {
                fail(r.index, "kernel '" + f.launch() + "' on " + r.device.name() + " stream " + f.stream().id()
                        + " (" + f.stream().label() + ")", f.cause());
                return;
            }
        }
        fail(-1, "kernel '" + f.launch() + "'", f.cause());
    }

    private RunResult figures(long wallNanos, double idealBubble) {
        List<RankFigures> figures = new ArrayList<>();
        long busyTotal = 0;
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        for (Rank r : locals) {
            ForwardTotals t = r.forwards.totals();
            long busy = t.deviceBusyNanos();
            long rankFirst = t.firstDeviceStartNanos();
            long rankLast = t.lastDeviceEndNanos();
            int n = t.entries();
            figures.add(new RankFigures(r.index, r.device.name(), pipeline.partition().size(r.index), n,
                    t.cpuLaunchNanos(), busy, n == 0 ? 0 : rankLast - rankFirst, n == 0 ? 0 : t.launchLatencyNanos() / n));
            busyTotal += busy;
            first = Math.min(first, rankFirst);
            last = Math.max(last, rankLast);
        }
        long span = last - first;
        return new RunResult(tokens, wallNanos, List.copyOf(figures), Bubble.measured(busyTotal, locals.size(), span),
                idealBubble, span);
    }

    @Override
    public void close() {
        for (Thread t : threads) {
            try {
                t.join(STOP_BOUND_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        transport.close(); // first: a transport may still read the ranks' buffers for a send posted last
        for (Rank r : rankStates) {
            if (r != null) {
                r.close();
            }
        }
    }

    /** One rank's per-run state and its walk over the schedule. */
    private final class Rank {
        final int index;
        final Device device;
        final Stream compute;
        final Stream copy;
        final Workspace workspace;
        final StageProgram[] slots;
        /**
         * Per micro-batch, recorded after the last compute action on its step: what a SEND hands on, and what the
         * FORWARD of the next step waits for.
         */
        final Event[] sendReady;
        final Launch[] feedback;
        final Event computeReference;
        final Event copyReference;
        final DeviceClock computeClock;
        final DeviceClock copyClock;
        final ForwardLog forwards;
        final ForwardLog receives;
        /** [slot] the slot's decode body as a graph (Note [decode graphs]); null when decode steps launch eagerly. */
        final Graph[] graphs;
        /** [slot] the marks its graph records (level 5), and the forward entry that last replayed it (−1: none). */
        final Event[][] graphMarks;
        final int[] lastReplay;
        final boolean first;
        final boolean last;
        /**
         * The schedule's list for this rank; per SEND in it, the step its receiver's RECV names; per compute action,
         * whether {@link #sendReady} is recorded after it: when it is the last on its micro-batch and step, or the
         * last before a SEND of them.
         */
        final Action[] plan;
        final int[] deliveredStep;
        final boolean[] marksReady;
        final int destination;

        Rank(int index) {
            this.index = index;
            this.device = pipeline.device(index);
            device.onFailure(PipelineRun.this::onStreamFailure);
            StageWeights w = pipeline.weights(index);
            this.first = w.isFirst();
            this.last = w.isLast();
            this.plan = schedule.rank(index).toArray(Action[]::new);
            this.deliveredStep = new int[plan.length];
            this.marksReady = new boolean[plan.length];
            this.destination = schedule.destinationRank(index);
            Set<Action> laterCompute = new HashSet<>();
            Set<Action> laterSend = new HashSet<>();
            for (int i = plan.length - 1; i >= 0; i--) {
                Action a = plan[i];
                Action key = a.withKind(ActionKind.FORWARD);
                if (a.kind() == ActionKind.SEND) {
                    deliveredStep[i] = schedule.receiveFor(index, a).step();
                    laterSend.add(key);
                } else if (a.kind() != ActionKind.RECV) {
                    marksReady[i] = laterCompute.add(key) | laterSend.remove(key);
                }
            }
            // A failure half-way (out of device memory) frees what this rank already made.
            try {
                ModelConfig model = pipeline.model();
                int maxBatch = members[0].length;
                int capacity = workload.promptLength() + workload.decodeSteps();
                this.compute = device.createStream("PP" + index + " compute");
                this.copy = device.createStream("PP" + index + " copy");
                this.workspace = new Workspace(device, model, maxBatch, workload.promptLength(), last);
                this.slots = new StageProgram[microBatches];
                this.sendReady = new Event[microBatches];
                this.feedback = new Launch[microBatches];
                for (int m = 0; m < microBatches; m++) {
                    int[][] prompts = new int[members[m].length][];
                    for (int b = 0; b < prompts.length; b++) {
                        prompts[b] = workload.prompts()[members[m][b]];
                    }
                    slots[m] = new StageProgram(device, w, workspace, w.isFirst() ? prompts : null, members[m],
                            workload.promptLength(), capacity, last ? tokens : null);
                    sendReady[m] = device.createEvent();
                }
                for (Action a : plan) {
                    if (a.kind() == ActionKind.FEEDBACK && feedback[a.microBatch()] == null) {
                        int m = a.microBatch();
                        feedback[m] = device.kernels().copy("next tokens mb" + m, slots[m].nextIds(), slots[m].inputIds(),
                                members[m].length, 1);
                    }
                }
                this.computeReference = device.createEvent();
                this.copyReference = device.createEvent();
                this.computeClock = new DeviceClock(compute, computeReference, System::nanoTime);
                this.copyClock = new DeviceClock(copy, copyReference, System::nanoTime);
                // With the host at most one step ahead per slot, 2M + 2 pairs are never still in flight.
                int depth = Math.max(MIN_LOG_DEPTH, 2 * microBatches + 2);
                // A short run's log holds the run; a long one's, the window (Note [bounded logs] in ForwardLog).
                int window = Math.max(depth, Math.min(LOG_WINDOW, microBatches * (workload.decodeSteps() + 1)));
                int longestBody = 0;
                for (StageProgram slot : slots) {
                    longestBody = Math.max(longestBody, Math.max(slot.forwards().prefill().size(),
                            slot.forwards().oneToken().size()));
                }
                // One marks array per entry serves both lists (StageProgram.launchBodyMarked).
                this.forwards = new ForwardLog(device, computeClock, window, depth, kernelSlices ? longestBody : 0);
                this.receives = new ForwardLog(device, copyClock, ranks > 1 ? window : 0, depth);
                this.graphs = decodeGraphs ? new Graph[microBatches] : null;
                this.graphMarks = decodeGraphs && kernelSlices ? new Event[microBatches][] : null;
                this.lastReplay = new int[microBatches];
                Arrays.fill(lastReplay, -1);
                for (int m = 0; graphs != null && m < microBatches; m++) {
                    capture(m);
                }
            } catch (RuntimeException | Error e) {
                close();
                throw e;
            }
        }

        /** Captures slot {@code m}'s decode body (Note [decode graphs]); on the thread that sets the run up. */
        private void capture(int m) {
            StageProgram slot = slots[m];
            int decodeFrom = startPosOf(1); // any position: nothing in the body depends on it
            Runnable body = () -> slot.launchBody(compute, 1, decodeFrom);
            if (graphMarks != null) {
                Event[] marks = new Event[forwards.marksPerEntry()];
                graphMarks[m] = marks;
                for (int i = 0; i < marks.length; i++) {
                    marks[i] = device.createEvent();
                }
                body = () -> slot.launchBodyMarked(compute, 1, decodeFrom, marks);
            }
            try {
                graphs[m] = compute.capture("decode PP" + index + " mb" + m, body);
            } catch (RuntimeException e) {
                throw new PipelineException(index, "rank " + index + ": capture of the decode graph of micro-batch " + m
                        + " failed: " + Failures.describe(e), e);
            }
        }

        void anchor() {
            computeClock.anchor();
            copyClock.anchor();
        }

        /** Walks the schedule's list; every action, its order and its peer come from the schedule. */
        void walk() {
            Action current = null;
            try {
                for (int i = 0; i < plan.length; i++) {
                    Action a = plan[i];
                    current = a;
                    if (failure.get() != null) {
                        return;
                    }
                    hook.beforeAction(index, a);
                    int mb = a.microBatch();
                    switch (a.kind()) {
                        case RECV -> receive(mb, a.step());
                        case FORWARD -> forward(mb, a.step(), marksReady[i]);
                        case TOKENS -> {
                            slots[mb].launchTokensToHost(compute, a.step());
                            markReady(mb, marksReady[i]);
                            tokensLaunched.incrementAndGet();
                        }
                        case FEEDBACK -> {
                            compute.launch(feedback[mb], 1, 0);
                            markReady(mb, marksReady[i]);
                        }
                        case SEND -> transport.send(index, destination, mb, deliveredStep[i], tokensOf(deliveredStep[i]),
                                sendReady[mb]);
                    }
                }
            } catch (InterruptedException e) {
                if (failure.get() == null) {
                    fail(index, "action " + current + " (micro-batch " + current.microBatch() + ", step "
                            + current.step() + ")", e);
                }
            } catch (Throwable t) {
                String what = current == null ? "start" : "action " + current + " (micro-batch " + current.microBatch()
                        + ", step " + current.step() + ")";
                fail(index, what, t);
            }
        }

        private void receive(int mb, int step) throws InterruptedException {
            int e = receives.begin(mb, step, System.nanoTime());
            Event done = receives.endEvent(e);
            transport.receive(index, mb, step, tokensOf(step), copy, receives.startEvent(e), done);
            compute.waitFor(done);
            receives.end(e, System.nanoTime());
        }

        /**
         * run_batch: launch the stage on the compute stream and return without waiting.
         *
         * <p>Note [host runs ahead by at most one step per slot]: before launching step s of a
         * micro-batch, the host waits until the slot's step s−1 finished on this rank, as a
         * serving loop must see step s−1's tokens before it schedules step s (sglang synchronises
         * its d2h event there). The decode ring already implies this order on the device, so no
         * overlap is lost; without it the host would enqueue the whole run at once, and
         * run_batch_cpu would measure queue back-pressure instead of launch cost.
         */
        private void forward(int mb, int step, boolean marksReady) throws InterruptedException {
            long now;
            if (step > 0) {
                Event ready = sendReady[mb];
                boolean waits = !ready.isDone();
                ready.synchronize();
                now = System.nanoTime();
                if (waits) {
                    // Note [re-anchoring] in DeviceClock: the host just waited for this event.
                    computeClock.reanchor(ready, now);
                    copyClock.reanchor(ready, now);
                }
            } else {
                now = System.nanoTime();
            }
            int e = forwards.begin(mb, step, now);
            compute.record(forwards.startEvent(e));
            Event[] marks = forwards.marks(e);
            if (step > 0 && graphs != null) {
                if (marks != null) {
                    forwards.marksIn(e, graphMarks[mb], lastReplay[mb]);
                    lastReplay[mb] = e;
                }
                slots[mb].launchStep(compute, 1, startPosOf(step));
                compute.launch(graphs[mb]);
            } else if (marks == null) {
                slots[mb].launchForward(compute, tokensOf(step), startPosOf(step));
            } else {
                slots[mb].launchForwardMarked(compute, tokensOf(step), startPosOf(step), marks);
            }
            compute.record(forwards.endEvent(e));
            markReady(mb, marksReady);
            forwards.end(e, System.nanoTime());
        }

        private void markReady(int mb, boolean marksReady) {
            if (marksReady) {
                compute.record(sendReady[mb]);
            }
        }

        /** Frees what this rank made; null-safe, since a constructor that failed half-way calls it too. */
        void close() {
            for (int m = 0; graphs != null && m < graphs.length; m++) {
                release(graphs[m]);
                for (int i = 0; graphMarks != null && graphMarks[m] != null && i < graphMarks[m].length; i++) {
                    release(graphMarks[m][i]);
                }
            }
            for (AutoCloseable c : new AutoCloseable[] {compute, copy, workspace, computeReference, copyReference}) {
                release(c);
            }
            for (int m = 0; slots != null && m < slots.length; m++) {
                release(slots[m]);
                release(sendReady[m]);
            }
            if (forwards != null) {
                forwards.close();
            }
            if (receives != null) {
                receives.close();
            }
        }

        private static void release(AutoCloseable c) {
            if (c == null) {
                return;
            }
            try {
                c.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing a rank's resources", e);
            }
        }
    }
}
