package dev.ppexec.dist;

import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rank 0's rendezvous store, in the role of torch's TCPStore: keys set once, gets that wait for a key, and an abort
 * that every rank hears (Note [wire format] in Wire). Thread-safe; every handler returns at once.
 */
final class Store {

    static final String ABORT = "abort";

    private final Map<String, byte[]> values = new HashMap<>();
    private final Map<String, List<StreamObserver<byte[]>>> waiters = new HashMap<>();
    private final Map<Integer, StreamObserver<byte[]>> watchers = new HashMap<>();
    private final Set<Integer> left = new HashSet<>();
    private final Map<Integer, Long> heardNanos = new HashMap<>();
    private long checkedNanos;
    private String abortReason;

    /*
     * Note [who is there]
     * Every rank holds a Watch call to rank 0 for as long as it is in the world; a rank leaves by setting
     * "left/{r}" first. When a watch ends while its rank has not left, the rank's process is gone (killed, or its
     * host lost): the store aborts the world naming it. On loopback the kernel closes a dead process's sockets at
     * once. A process that is alive but silent keeps its sockets open: Note [heartbeats] in Heartbeat catches it. A
     * rank whose watch breaks knows rank 0 is gone.
     */

    ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("ppexec.Store")
                .addMethod(Wire.SET, ServerCalls.asyncUnaryCall(this::set))
                .addMethod(Wire.GET, ServerCalls.asyncUnaryCall(this::get))
                .addMethod(Wire.CLOCK, ServerCalls.asyncUnaryCall(Store::clock))
                .addMethod(Wire.HEARTBEAT, ServerCalls.asyncUnaryCall(this::heartbeat))
                .addMethod(Wire.WATCH, ServerCalls.asyncServerStreamingCall(this::watch))
                .build();
    }

    /** Note [clock offset] in ClockOffset: rank 0's clock, in the domain its spans use. */
    private static void clock(byte[] request, StreamObserver<byte[]> response) {
        response.onNext(Wire.encode(World.clockNanos()));
        response.onCompleted();
    }

    private void set(byte[] request, StreamObserver<byte[]> response) {
        String key;
        byte[] value;
        try (DataInputStream in = Wire.decode(request)) {
            key = in.readUTF();
            value = Wire.bytes(in);
        } catch (IOException e) {
            response.onError(Status.INVALID_ARGUMENT.withDescription("malformed Set").asRuntimeException());
            return;
        }
        put(key, value);
        response.onNext(new byte[0]);
        response.onCompleted();
    }

    /** Stores {@code key} (the first value wins) and answers whoever waits for it; "abort" aborts the world. */
    void put(String key, byte[] value) {
        List<StreamObserver<byte[]>> answered;
        synchronized (this) {
            if (key.equals(ABORT)) {
                abort(new String(value, StandardCharsets.UTF_8));
                return;
            }
            if (key.startsWith("left/")) {
                left.add(Integer.parseInt(key.substring("left/".length())));
                notifyAll();
            }
            values.putIfAbsent(key, value);
            answered = waiters.remove(key);
            value = values.get(key);
        }
        if (answered != null) {
            for (StreamObserver<byte[]> w : answered) {
                answer(w, value);
            }
        }
    }

    private void get(byte[] request, StreamObserver<byte[]> response) {
        String key;
        try (DataInputStream in = Wire.decode(request)) {
            key = in.readUTF();
        } catch (IOException e) {
            response.onError(Status.INVALID_ARGUMENT.withDescription("malformed Get").asRuntimeException());
            return;
        }
        byte[] value;
        synchronized (this) {
            if (abortReason != null) {
                response.onError(Status.ABORTED.withDescription(abortReason).asRuntimeException());
                return;
            }
            value = values.get(key);
            if (value == null) {
                waiters.computeIfAbsent(key, k -> new ArrayList<>()).add(response);
                ((ServerCallStreamObserver<byte[]>) response).setOnCancelHandler(() -> forget(key, response));
                return;
            }
        }
        answer(response, value);
    }

    private synchronized void forget(String key, StreamObserver<byte[]> response) {
        List<StreamObserver<byte[]>> list = waiters.get(key);
        if (list != null) {
            list.remove(response);
        }
    }

    private static void answer(StreamObserver<byte[]> w, byte[] value) {
        try {
            w.onNext(value);
            w.onCompleted();
        } catch (RuntimeException e) {
            // The waiter went away (cancelled, deadline): nothing to answer.
        }
    }

    private void watch(byte[] request, StreamObserver<byte[]> response) {
        Integer rank = rankOf(request, "Watch", response);
        if (rank == null) {
            return;
        }
        String reason;
        synchronized (this) {
            reason = abortReason;
            if (reason == null) {
                watchers.put(rank, response);
                ((ServerCallStreamObserver<byte[]>) response).setOnCancelHandler(() -> gone(rank, response));
            }
        }
        if (reason != null) {
            tell(response, reason);
        }
    }

    /** The rank a {@code method} call names, or null after failing the call as malformed. */
    private static Integer rankOf(byte[] request, String method, StreamObserver<byte[]> response) {
        try (DataInputStream in = Wire.decode(request)) {
            return in.readInt();
        } catch (IOException e) {
            response.onError(Status.INVALID_ARGUMENT.withDescription("malformed " + method).asRuntimeException());
            return null;
        }
    }

    /** Note [heartbeats] in Heartbeat: rank r is there; an aborted world answers with the abort. */
    private void heartbeat(byte[] request, StreamObserver<byte[]> response) {
        Integer rank = rankOf(request, "Heartbeat", response);
        if (rank == null) {
            return;
        }
        String reason = heard(rank, System.nanoTime());
        if (reason != null) {
            response.onError(Status.ABORTED.withDescription(reason).asRuntimeException());
            return;
        }
        response.onNext(new byte[0]);
        response.onCompleted();
    }

    /** Records a heartbeat of {@code rank} at {@code nowNanos}; the abort's reason when the world was aborted. */
    synchronized String heard(int rank, long nowNanos) {
        if (heardNanos.containsKey(rank)) {
            heardNanos.put(rank, nowNanos);
        }
        return abortReason;
    }

    /** Note [heartbeats]: from {@code nowNanos} on, ranks 1 to {@code worldSize} - 1 must be heard. */
    synchronized void expect(int worldSize, long nowNanos) {
        for (int r = 1; r < worldSize; r++) {
            heardNanos.put(r, nowNanos);
        }
        checkedNanos = nowNanos;
    }

    /**
     * Note [heartbeats]: aborts the world naming the first rank not heard from for {@code boundNanos} that has not
     * left; a check that itself runs late by half the bound (rank 0 was stalled) hears every rank afresh instead.
     */
    void checkSilence(long nowNanos, long boundNanos) {
        int silent = -1;
        synchronized (this) {
            if (abortReason != null) {
                return;
            }
            if (nowNanos - checkedNanos > boundNanos / 2) {
                heardNanos.replaceAll((r, t) -> nowNanos);
            }
            checkedNanos = nowNanos;
            for (Map.Entry<Integer, Long> e : heardNanos.entrySet()) {
                if (!left.contains(e.getKey()) && nowNanos - e.getValue() > boundNanos
                        && (silent < 0 || e.getKey() < silent)) {
                    silent = e.getKey();
                }
            }
        }
        if (silent >= 0) {
            abort("rank " + silent + " went silent: no heartbeat for " + boundNanos / 1_000_000_000 + " s (its process "
                    + "is stopped, hung or cut off)");
        }
    }

    /** Note [who is there]: a watch ended; unless its rank left, its process is gone. */
    private void gone(int rank, StreamObserver<byte[]> response) {
        synchronized (this) {
            if (watchers.get(rank) != response) {
                return;
            }
            watchers.remove(rank);
            if (left.contains(rank) || abortReason != null) {
                return;
            }
        }
        abort("rank " + rank + " went away: its process ended without leaving the world");
    }

    /** Aborts the world once: every watcher hears {@code reason}, every waiting get fails with it. */
    void abort(String reason) {
        List<StreamObserver<byte[]>> told;
        List<StreamObserver<byte[]>> failed = new ArrayList<>();
        synchronized (this) {
            if (abortReason != null) {
                return;
            }
            abortReason = reason;
            told = new ArrayList<>(watchers.values());
            watchers.clear();
            waiters.values().forEach(failed::addAll);
            waiters.clear();
        }
        for (StreamObserver<byte[]> w : told) {
            tell(w, reason);
        }
        for (StreamObserver<byte[]> w : failed) {
            try {
                w.onError(Status.ABORTED.withDescription(reason).asRuntimeException());
            } catch (RuntimeException e) {
                // Gone already.
            }
        }
    }

    private static void tell(StreamObserver<byte[]> w, String reason) {
        try {
            w.onNext(Wire.encode(reason));
            w.onCompleted();
        } catch (RuntimeException e) {
            // Gone already.
        }
    }

    /** Ranks other than 0 that sent their configuration. */
    synchronized Set<Integer> arrivedRanks() {
        Set<Integer> out = new HashSet<>();
        for (String key : values.keySet()) {
            if (key.startsWith("config/") && !key.equals("config/0")) {
                out.add(Integer.parseInt(key.substring("config/".length())));
            }
        }
        return out;
    }

    /** Waits up to {@code millis} until every rank of {@code ranks} said "left/{r}". */
    synchronized void awaitLeft(Set<Integer> ranks, long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000;
        try {
            while (!left.containsAll(ranks)) {
                long leftNanos = deadline - System.nanoTime();
                if (leftNanos <= 0) {
                    return;
                }
                wait(Math.max(1, leftNanos / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
