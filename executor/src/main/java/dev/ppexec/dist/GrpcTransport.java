package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.otel.WorldTrace;
import dev.ppexec.runtime.Transport;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * The host data plane between rank processes (the CPU's, and host staging on CUDA, Note [host staging] in
 * CudaStaging): a SEND's payload goes, once its event completed, as one message on a
 * gRPC client stream to the receiving rank's process (Note [wire format] in Wire); the receiver queues it per
 * micro-batch and its RECV copies it into the destination on the copy stream. One transport per world, reused by
 * every run of it; a run binds its buffers anew.
 *
 * <p>Copies: on the sending side the staging into the message (on a sender thread, so the rank's next compute
 * overlaps the transfer); on the receiving side the copy out of the received message into the destination. gRPC's
 * framing copies once more on each side. No flow control of its own: the schedule lets at most one step per
 * micro-batch be in flight on a channel (Note [routing] in Schedule).
 */
final class GrpcTransport implements Transport {

    private static final ByteBuffer POISON = ByteBuffer.allocate(0);

    private final int localRank;
    private final int microBatches;
    private final IntFunction<ManagedChannel> channelTo;
    private final World world;
    /** How long a run's end waits for its last sends to go out (they normally take microseconds to milliseconds). */
    static final long DRAIN_BOUND_MILLIS = 5_000;

    private final ExecutorService sender;
    /** [micro-batch] received messages, envelope read, payload remaining; POISON once the world aborted. */
    private final BlockingQueue<ByteBuffer>[] inbox;
    /** [micro-batch] payloads taken by a RECV, waiting for its copy launch to run on the copy stream. */
    private final ConcurrentLinkedQueue<ByteBuffer>[] staged;
    private final Map<Integer, StreamObserver<byte[]>> outbound = new HashMap<>(); // sender thread only
    private final Source[] sources;
    private final Destination[] destinations;
    /** This process's tracing of the world, or null while it traces nothing. */
    private volatile WorldTrace trace;

    private record Source(Buffer buffer, int batch, int rowLength) {
    }

    private record Destination(int fromRank, Launch copyIn, int batch, int rowLength) {
    }

    @SuppressWarnings("unchecked")
    GrpcTransport(int localRank, int microBatches, IntFunction<ManagedChannel> channelTo, World world) {
        this.localRank = localRank;
        this.microBatches = microBatches;
        this.channelTo = channelTo;
        this.world = world;
        this.sender = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("pp_send [PP " + localRank + "]").unstarted(r));
        this.inbox = new BlockingQueue[microBatches];
        this.staged = new ConcurrentLinkedQueue[microBatches];
        for (int m = 0; m < microBatches; m++) {
            inbox[m] = new LinkedBlockingQueue<>();
            staged[m] = new ConcurrentLinkedQueue<>();
        }
        this.sources = new Source[microBatches];
        this.destinations = new Destination[microBatches];
    }

    /** This transport for one run of {@code ranks} ranks and {@code microBatches} micro-batches. */
    Transport open(int ranks, int microBatches) {
        if (microBatches != this.microBatches) {
            throw new IllegalArgumentException("a run of " + microBatches + " micro-batches on a world set up for "
                    + this.microBatches + "; allowed: " + this.microBatches);
        }
        return this;
    }

    /** Traces the world's next runs with {@code trace} (null: none). */
    void trace(WorldTrace trace) {
        this.trace = trace;
    }

    /** The world's trace of its runs, or null while it traces nothing. */
    WorldTrace trace() {
        return trace;
    }

    /** Where other ranks' processes push to this one. */
    ServerServiceDefinition service() {
        return ServerServiceDefinition.builder("ppexec.Data")
                .addMethod(Wire.PUSH, ServerCalls.asyncClientStreamingCall(this::inbound))
                .build();
    }

    private StreamObserver<byte[]> inbound(StreamObserver<byte[]> response) {
        return new StreamObserver<>() {
            int fromRank = -1;

            @Override
            public void onNext(byte[] message) {
                ByteBuffer b = ByteBuffer.wrap(message).order(ByteOrder.LITTLE_ENDIAN);
                fromRank = b.getInt(0);
                int mb = b.getInt(4);
                if (mb < 0 || mb >= microBatches) {
                    world.abort("rank " + localRank + " got micro-batch " + mb + " from rank " + fromRank
                            + "; allowed: 0.." + (microBatches - 1));
                    return;
                }
                int contextBytes = b.getInt(16);
                WorldTrace t = trace;
                if (contextBytes > 0 && t != null) {
                    t.received(mb, Arrays.asList(new String(message, Wire.ENVELOPE_BYTES, contextBytes,
                            StandardCharsets.US_ASCII).split(",")));
                }
                inbox[mb].add(b);
            }

            @Override
            public void onError(Throwable t) {
                String sender = fromRank < 0 ? "a neighbour of rank " + localRank : "rank " + fromRank;
                world.abort(sender + " went away: its stream to rank " + localRank + " broke ("
                        + Status.fromThrowable(t).getCode() + ")");
            }

            @Override
            public void onCompleted() {
                response.onNext(new byte[0]);
                response.onCompleted();
            }
        };
    }

    @Override
    public void bindSource(int fromRank, int microBatch, Buffer source, int batch, int rowLength) {
        HostStaging.require(source);
        sources[microBatch] = new Source(source, batch, rowLength);
    }

    @Override
    public void bindDestination(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination, int batch,
                                int rowLength) {
        HostStaging.require(destination);
        ConcurrentLinkedQueue<ByteBuffer> payloads = staged[microBatch];
        Launch copyIn = HostStaging.write("pp_recv rank " + toRank + " mb" + microBatch, destination, payloads::poll);
        destinations[microBatch] = new Destination(fromRank, copyIn, batch, rowLength);
    }

    @Override
    public void send(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready) {
        post(fromRank, toRank, microBatch, step, tokens, ready, toRank == fromRank + 1 ? trace : null);
    }

    /**
     * A device transport's notice of a SEND whose payload it moves itself (Note [device-timed transfers] in
     * DeviceLinks): the envelope only, bound with no payload; the device transport times the pp_send.
     */
    void notice(int fromRank, int toRank, int microBatch, int step, Event ready) {
        post(fromRank, toRank, microBatch, step, 1, ready, null);
    }

    /** Posts a SEND to the sender thread; {@code t} times it as a pp_send (null: not timed here). */
    private void post(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready, WorldTrace t) {
        Source s = sources[microBatch];
        int elements = s.batch * tokens * s.rowLength;
        int timed = t == null ? 0 : t.posted();
        sender.execute(() -> {
            try {
                ready.synchronize();
                long start = System.nanoTime();
                WorldTrace carried = trace;
                byte[] contexts = carried == null || step != 0 || toRank != fromRank + 1 ? new byte[0]
                        : String.join(",", carried.outgoing(microBatch)).getBytes(StandardCharsets.US_ASCII);
                ByteBuffer b = ByteBuffer.allocate(Wire.ENVELOPE_BYTES + contexts.length + 4 * elements)
                        .order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(fromRank).putInt(microBatch).putInt(step).putInt(elements).putInt(contexts.length).put(contexts);
                HostStaging.read(s.buffer, elements, b);
                stream(toRank).onNext(b.array());
                if (t != null) {
                    t.sent(timed, microBatch, step, start, System.nanoTime());
                }
            } catch (RuntimeException | InterruptedException e) {
                if (t != null) {
                    t.dropped(timed);
                }
                world.abort("rank " + fromRank + ": sending micro-batch " + microBatch + " step " + step + " to rank "
                        + toRank + " failed: " + e.getMessage());
            }
        });
    }

    private StreamObserver<byte[]> stream(int toRank) {
        return outbound.computeIfAbsent(toRank, r -> ClientCalls.asyncClientStreamingCall(
                channelTo.apply(r).newCall(Wire.PUSH, CallOptions.DEFAULT), new StreamObserver<>() {
                    @Override
                    public void onNext(byte[] value) {
                    }

                    @Override
                    public void onError(Throwable t) {
                        world.abort("rank " + r + " went away: rank " + localRank + "'s stream to it broke ("
                                + Status.fromThrowable(t).getCode() + ")");
                    }

                    @Override
                    public void onCompleted() {
                    }
                }));
    }

    @Override
    public void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started, Event done)
            throws InterruptedException {
        ByteBuffer b = inbox[microBatch].take();
        if (b == POISON) {
            inbox[microBatch].add(POISON);
            throw new IllegalStateException("the world was aborted: " + world.abortReason());
        }
        Destination d = destinations[microBatch];
        int fromRank = b.getInt(0);
        int sentStep = b.getInt(8);
        int elements = b.getInt(12);
        int expected = d.batch * tokens * d.rowLength;
        if (fromRank != d.fromRank || sentStep != step || elements != expected) {
            throw new IllegalStateException("rank " + toRank + " mb" + microBatch + ": expected rank " + d.fromRank
                    + "'s step " + step + " (" + expected + " elements) but got rank " + fromRank + "'s step " + sentStep
                    + " (" + elements + " elements)");
        }
        b.position(Wire.ENVELOPE_BYTES + b.getInt(16));
        staged[microBatch].add(b.slice().order(ByteOrder.LITTLE_ENDIAN));
        copyStream.record(started);
        copyStream.launch(d.copyIn, tokens, 0);
        copyStream.record(done);
    }

    @Override
    public String kind(int toRank) {
        return "host";
    }

    /** Wakes every RECV that waits, and every later one, with the world's abort. */
    void abort() {
        for (BlockingQueue<ByteBuffer> q : inbox) {
            q.add(POISON);
        }
    }

    /**
     * Ends a run's use: waits, bounded, until the sends the run posted have gone out, since a send reads its source
     * buffer on the sender thread after the rank moved on, and the run frees its buffers once this returns (a rank's
     * last SEND of a run may still be queued when its walk ends). The connections stay for the world's next run.
     */
    @Override
    public void close() {
        if (world.aborted() != null) {
            return; // a send still queued fails against the abort, which already said why
        }
        CountDownLatch sent = new CountDownLatch(1);
        try {
            sender.execute(sent::countDown);
            sent.await(DRAIN_BOUND_MILLIS, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // The world shut down: nothing more goes out.
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Closes the outbound streams after what was sent went out; bounded. */
    void shutdown() {
        sender.execute(() -> outbound.values().forEach(o -> {
            try {
                o.onCompleted();
            } catch (RuntimeException e) {
                // Broken already: the abort said so.
            }
        }));
        stop(sender);
    }

    /** Shuts {@code executor} down, letting its queued tasks run for up to 5 s, then interrupting them. */
    static void stop(ExecutorService executor) {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
