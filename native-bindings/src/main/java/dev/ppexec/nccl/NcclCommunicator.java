package dev.ppexec.nccl;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * One rank's NCCL communicator, made by {@link Nccl#initRank}: float32 point-to-point transfers on a CUDA stream, a
 * watchdog, and an orderly shutdown.
 *
 * <p>Note [NCCL watchdog]: a peer that dies mid-transfer leaves this rank's NCCL kernels waiting forever, with no
 * call to return an error. So a daemon thread per communicator ({@code nccl-watchdog rank r/w}) polls
 * {@code ncclCommGetAsyncError} every watchdog interval (1 ms to 1 s); on an error it aborts the communicator, which
 * ends the waiting kernels, and hands a {@link NcclException} naming this rank and the peers it exchanges with to
 * the {@link #onFailure} listeners; every later call throws the same exception. One lock guards the communicator
 * handle and every call on it, so the watchdog's abort never races a transfer's NCCL calls and no call ever sees
 * a freed communicator. {@link #close()} stops and joins the thread.
 *
 * <p>Buffers and streams are raw device addresses and {@code CUstream} handles (the CUDA backend owns them); the
 * calling thread's current CUDA context must be the communicator's device.
 */
public final class NcclCommunicator implements AutoCloseable {

    static final Duration MIN_WATCHDOG_INTERVAL = Duration.ofMillis(1);
    static final Duration MAX_WATCHDOG_INTERVAL = Duration.ofSeconds(1);

    private final Nccl nccl;
    private final int rank;
    private final int worldSize;
    private final Duration timeout;
    private final String where;
    private final ReentrantLock lock = new ReentrantLock();
    /** The {@code ncclComm_t}; 0 once destroyed or aborted. Guarded by {@link #lock}. */
    private long comm;
    /** The first failure; guarded by {@link #lock}, read without it. */
    private volatile NcclException failure;
    private final Set<Integer> peers = new TreeSet<>();
    private final List<Consumer<NcclException>> listeners = new CopyOnWriteArrayList<>();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread watchdog;

    NcclCommunicator(Nccl nccl, long comm, int rank, int worldSize, Duration timeout, Duration watchdogInterval) {
        this.nccl = nccl;
        this.comm = comm;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
        this.where = "rank " + rank + " of " + worldSize;
        long intervalNanos = watchdogInterval.toNanos();
        this.watchdog = Thread.ofPlatform().daemon().name("nccl-watchdog rank " + rank + "/" + worldSize)
                .start(() -> watch(intervalNanos));
    }

    static void requireWatchdogInterval(Duration interval) {
        Objects.requireNonNull(interval, "watchdogInterval");
        if (interval.compareTo(MIN_WATCHDOG_INTERVAL) < 0 || interval.compareTo(MAX_WATCHDOG_INTERVAL) > 0) {
            throw new IllegalArgumentException("watchdogInterval " + interval.toMillis() + " ms: allowed "
                    + MIN_WATCHDOG_INTERVAL.toMillis() + " to " + MAX_WATCHDOG_INTERVAL.toMillis() + " ms");
        }
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    /** {@code count} floats from device address {@code buffer} to rank {@code peer}, on {@code stream}. */
    public void send(long buffer, long count, int peer, long stream) {
        group("send", count, stream, new Transfer(true, buffer, peer));
    }

    /** {@code count} floats from rank {@code peer} into device address {@code buffer}, on {@code stream}. */
    public void recv(long buffer, long count, int peer, long stream) {
        group("recv", count, stream, new Transfer(false, buffer, peer));
    }

    /**
     * A pipeline rank's exchange with its two neighbours, in one NCCL group so that neither waits for the other:
     * {@code count} floats from {@code sendBuffer} to {@code sendPeer}, and {@code count} floats from
     * {@code recvPeer} into {@code recvBuffer}, on {@code stream}.
     */
    public void sendRecv(long sendBuffer, int sendPeer, long recvBuffer, int recvPeer, long count, long stream) {
        group("sendRecv", count, stream, new Transfer(true, sendBuffer, sendPeer),
                new Transfer(false, recvBuffer, recvPeer));
    }

    /** Called once, from the thread that saw it, with the communicator's first failure (at once if there is one). */
    public void onFailure(Consumer<NcclException> listener) {
        Objects.requireNonNull(listener, "listener");
        listeners.add(listener);
        NcclException seen = failure;
        if (seen != null && listeners.remove(listener)) {
            listener.accept(seen);
        }
    }

    /** The first failure, if any: after it the communicator is aborted and every call throws it. */
    public Optional<NcclException> failure() {
        return Optional.ofNullable(failure);
    }

    private record Transfer(boolean send, long buffer, int peer) {

        String describe(long count) {
            return send ? "send " + count + " floats to rank " + peer : "receive " + count + " floats from rank " + peer;
        }
    }

    private void group(String what, long count, long stream, Transfer... transfers) {
        if (count < 0) {
            throw new IllegalArgumentException(where + ": " + what + " of " + count + " floats: the count is >= 0");
        }
        for (Transfer t : transfers) {
            if (t.peer() < 0 || t.peer() >= worldSize) {
                throw new IllegalArgumentException(where + ": " + what + " with peer rank " + t.peer()
                        + ": allowed 0 to " + (worldSize - 1));
            }
        }
        NcclException failed = null;
        int end = Nccl.SUCCESS;
        lock.lock();
        try {
            long c = usable();
            for (Transfer t : transfers) {
                peers.add(t.peer());
            }
            int started = nccl.groupStart();
            if (started != Nccl.SUCCESS) {
                failed = nccl.failure("ncclGroupStart", started, where + ": ");
            } else {
                for (Transfer t : transfers) {
                    int r = t.send() ? nccl.send(t.buffer(), count, t.peer(), c, stream)
                            : nccl.recv(t.buffer(), count, t.peer(), c, stream);
                    if (r != Nccl.SUCCESS) {
                        failed = nccl.failure(t.send() ? "ncclSend" : "ncclRecv", r, where + ": ");
                        break;
                    }
                }
                end = nccl.groupEnd(); // a group that was started is ended, whatever happened inside it
                if (failed == null && end != Nccl.SUCCESS && end != Nccl.IN_PROGRESS) {
                    failed = nccl.failure("ncclGroupEnd", end, where + ": ");
                }
            }
        } finally {
            lock.unlock();
        }
        if (failed != null) {
            throw fail(withTransfers(failed, count, transfers));
        }
        if (end == Nccl.IN_PROGRESS) {
            try {
                nccl.awaitCompletion(this::pollState, "ncclGroupEnd", timeout, where, () -> transfers(count, transfers));
            } catch (NcclException e) {
                // a timeout's message names the transfers already; a failure recorded before is thrown as it was
                throw fail(e == failure || e.result() == Nccl.IN_PROGRESS ? e : withTransfers(e, count, transfers));
            }
        }
    }

    /** {@code " (send 64 floats to rank 2, receive 64 floats from rank 0)"}: built only for a message. */
    private static String transfers(long count, Transfer... transfers) {
        return " (" + Arrays.stream(transfers).map(t -> t.describe(count)).collect(Collectors.joining(", ")) + ")";
    }

    private static NcclException withTransfers(NcclException e, long count, Transfer... transfers) {
        return new NcclException(e.call(), e.result(), e.getMessage() + transfers(count, transfers));
    }

    /** The handle, or the failure or closed state that forbids using it. Called with {@link #lock} held. */
    private long usable() {
        NcclException seen = failure;
        if (seen != null) {
            throw seen;
        }
        if (comm == 0) {
            throw new IllegalStateException(where + ": the NCCL communicator is closed");
        }
        return comm;
    }

    /** One {@code ncclCommGetAsyncError}, under the lock; the failure or closed state when the handle is gone. */
    private int pollState() {
        lock.lock();
        try {
            return nccl.asyncError(usable());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records {@code e} as the communicator's failure unless one is recorded already, aborts the communicator, tells
     * the listeners; returns the first failure, for the caller to throw.
     */
    private NcclException fail(NcclException e) {
        NcclException first;
        boolean tell = false;
        lock.lock();
        try {
            if (failure == null) {
                failure = e;
                tell = true;
            }
            first = failure;
            if (comm != 0) {
                nccl.abort(comm);
                comm = 0;
            }
        } finally {
            lock.unlock();
        }
        if (tell) {
            for (Consumer<NcclException> listener : listeners) {
                if (listeners.remove(listener)) {
                    listener.accept(first);
                }
            }
        }
        return first;
    }

    /** The watchdog's loop (Note [NCCL watchdog]). */
    private void watch(long intervalNanos) {
        while (!closed.get()) {
            LockSupport.parkNanos(intervalNanos);
            if (closed.get()) {
                return;
            }
            int state;
            String peerList = "";
            lock.lock();
            try {
                if (comm == 0) {
                    return;
                }
                state = nccl.asyncError(comm);
                if (state != Nccl.SUCCESS && state != Nccl.IN_PROGRESS) {
                    peerList = peers.isEmpty() ? "no peer yet" : "peer rank" + (peers.size() > 1 ? "s " : " ")
                            + peers.stream().map(String::valueOf).collect(Collectors.joining(", "));
                }
            } finally {
                lock.unlock();
            }
            if (!peerList.isEmpty()) {
                fail(new NcclException("ncclCommGetAsyncError", state, where + ": asynchronous NCCL error on the"
                        + " communicator with " + peerList + " (a peer process died or its link failed?): "
                        + nccl.describe(state) + "; the communicator is aborted"));
                return;
            }
        }
    }

    /**
     * Stops the watchdog, then {@code ncclCommFinalize} (waiting for pending transfers, up to the timeout) and
     * {@code ncclCommDestroy}; when finalizing fails or times out, {@code ncclCommAbort} instead, and the failure is
     * thrown. A communicator aborted after a failure is only released (its failure went to the listeners and
     * callers). Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        LockSupport.unpark(watchdog);
        try {
            watchdog.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        long c;
        lock.lock();
        try {
            c = comm;
            comm = 0;
        } finally {
            lock.unlock();
        }
        if (c == 0) {
            return;
        }
        try {
            int r = nccl.finalizeComm(c);
            if (r == Nccl.IN_PROGRESS) {
                nccl.awaitCompletion(() -> nccl.asyncError(c), "ncclCommFinalize", timeout, where, () -> "");
            } else {
                nccl.check("ncclCommFinalize", r, where + ": ");
            }
        } catch (RuntimeException | Error e) {
            nccl.abort(c);
            throw e;
        }
        // No abort after a failed destroy: the communicator may be half freed by then.
        nccl.check("ncclCommDestroy", nccl.destroy(c), where + ": ");
    }

    /** Whether the watchdog thread still runs (for tests: closing leaks no thread). */
    boolean watchdogAlive() {
        return watchdog.isAlive();
    }
}
