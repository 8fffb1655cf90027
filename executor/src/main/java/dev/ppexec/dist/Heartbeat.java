package dev.ppexec.dist;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Liveness beyond a closed socket (Note [heartbeats]): every rank r > 0 sends rank 0's store a heartbeat each {@link #PERIOD_MILLIS}; rank 0 aborts
 * the world naming a rank it has not heard from for {@link #SILENCE_MILLIS}, and a rank whose heartbeats have not got
 * through for that long aborts naming rank 0. Stopped by {@link #close}.
 */
final class Heartbeat implements AutoCloseable {

    /*
     * Note [heartbeats]
     * Note [who is there] catches a process that ended: the kernel closes its sockets. A process that is alive but
     * silent (SIGSTOP, a hung host, a cut network) keeps its connections open, and grpc-java clamps a client's
     * keep-alive to at least 10 s, so the store hears a small Heartbeat call (under the world token, as every call)
     * from each rank every second. 4 s of silence is four missed beats: long enough that one slow beat on a loaded
     * machine does not end a world, short enough that every rank stops within 5 s of the fault (issue 15, item 7).
     * Either side first checks that it was not itself the one stalled: rank 0's check that runs late hears every
     * rank afresh, and a rank's sender counts silence only across beats that failed, never across its own pause.
     */

    static final long PERIOD_MILLIS = 1_000;
    static final long SILENCE_MILLIS = 4_000;

    private final ScheduledExecutorService timer;

    private Heartbeat(String name) {
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name(name).unstarted(r));
    }

    /** Rank 0: from now on, every rank of the world but 0 must be heard within the bound. */
    static Heartbeat watchRanks(Store store, int worldSize) {
        store.expect(worldSize, System.nanoTime());
        Heartbeat h = new Heartbeat("ppexec-heartbeat-check");
        h.timer.scheduleWithFixedDelay(() -> store.checkSilence(System.nanoTime(),
                        TimeUnit.MILLISECONDS.toNanos(SILENCE_MILLIS)), PERIOD_MILLIS, PERIOD_MILLIS,
                TimeUnit.MILLISECONDS);
        return h;
    }

    /** Rank {@code rank} > 0: beats to rank 0 over {@code master}; {@code abort} hears rank 0's silence or abort. */
    static Heartbeat sendTo(Channel master, int rank, Consumer<String> abort) {
        Heartbeat h = new Heartbeat("ppexec-heartbeat-send");
        long[] failingSinceNanos = {0};
        h.timer.scheduleWithFixedDelay(() -> {
            long attempt = System.nanoTime();
            try {
                ClientCalls.blockingUnaryCall(master, Wire.HEARTBEAT, CallOptions.DEFAULT
                        .withDeadlineAfter(PERIOD_MILLIS, TimeUnit.MILLISECONDS), Wire.encode(rank));
                failingSinceNanos[0] = 0;
            } catch (StatusRuntimeException e) {
                if (e.getStatus().getCode() == Status.Code.ABORTED) {
                    abort.accept(e.getStatus().getDescription());
                    return;
                }
                if (failingSinceNanos[0] == 0) {
                    failingSinceNanos[0] = attempt;
                }
                if (System.nanoTime() - failingSinceNanos[0] >= TimeUnit.MILLISECONDS.toNanos(SILENCE_MILLIS)) {
                    abort.accept("rank 0 went silent: no heartbeat of rank " + rank + " answered for "
                            + SILENCE_MILLIS / 1000 + " s (" + e.getStatus().getCode() + "; its process is stopped, "
                            + "hung or cut off)");
                }
            }
        }, 0, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
        return h;
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
