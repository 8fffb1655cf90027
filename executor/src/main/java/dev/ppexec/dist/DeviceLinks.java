package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.otel.WorldTrace;
import dev.ppexec.runtime.Transport;

import java.util.Arrays;
import java.util.List;

/**
 * A device-to-device transport on this rank's links (CUDA IPC, NCCL): the payload moves on the devices' streams,
 * and only a notice without payload goes over the gRPC stream (it carries the requests' trace contexts and wakes the
 * receiver's RECV, or its abort).
 *
 * <p>Note [device-timed transfers]: a SEND enqueues, on this rank's own send stream ({@link SendTimer}), a wait for
 * the forward's event and the transport's send work between two events of that stream; a timing thread waits for the
 * second and hands both, mapped to the host clock by the stream's DeviceClock (Note [device clock anchor]: a mapped
 * time is at or after the true one, so never before the launch that enqueued it), to the world's trace as the
 * {@code pp_send} span. A RECV enqueues the transport's receive work between the {@code started} and {@code done}
 * events of the receiver's copy stream, which time {@code pp_recv} as in one process. Both spans are then moved onto
 * rank 0's clock like every span of the process (Note [clock offset] in ClockOffset). Host staging over gRPC
 * (GrpcTransport) stays host-timed: its pp_send is the sender thread's staging and hand-off to gRPC.
 */
abstract class DeviceLinks implements AutoCloseable {

    final World world;
    final Device device;
    final boolean sending;
    final boolean receiving;
    final long timeoutMillis;
    private SendTimer sender; // made at the first binding of a send
    private Event[] scratch; // the gRPC notice's own (empty) copy is timed by these, not by pp_recv's events

    /**
     * This transport on the link to the next rank when {@code sending}, on the link from the previous one when
     * {@code receiving}; the other link, if any, stays with the transport this one wraps.
     */
    DeviceLinks(World world, Device device, boolean sending, boolean receiving, long timeoutMillis) {
        this.world = world;
        this.device = device;
        this.sending = sending;
        this.receiving = receiving;
        this.timeoutMillis = timeoutMillis;
    }

    /** The {@code transport} span attribute and the summary's word for this transport. */
    abstract String kind();

    /** At a run's binding: the launch a SEND of {@code microBatch} enqueues on the send stream. */
    abstract Launch prepareSend(int fromRank, int microBatch, Buffer source, int batch, int rowLength,
                                int microBatches);

    /** After the send launch, on the send stream: what the receiver waits for, if the transport needs it. */
    void afterSend(Stream sendStream, int microBatch) {
    }

    /** At a run's binding: the launch a RECV of {@code microBatch} enqueues on the receiver's copy stream. */
    abstract Launch prepareReceive(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination,
                                   int batch, int rowLength, int microBatches);

    /** Before the receive launch and its {@code started} event, on the copy stream. */
    void beforeReceive(Stream copyStream, int microBatch) {
    }

    /** Before leaving the world, once the pipeline is closed: releases what this rank holds of its neighbour's. */
    void unmap() {
    }

    /** The send stream and its timing, made at the first binding of a send (Note [device-timed transfers]). */
    private synchronized SendTimer sender() {
        if (sender == null) {
            sender = new SendTimer(device, "pp_send " + kind(), world.contract().rank());
        }
        return sender;
    }

    /** One run over these links, wrapping {@code inner} (the links this transport does not serve) and {@code grpc}. */
    Transport open(Transport inner, GrpcTransport grpc, int microBatches) {
        return new Run(inner, grpc, microBatches);
    }

    /** Unmaps, then ends the send stream's work (bounded) and frees it, and the notice's events. */
    @Override
    public synchronized void close() {
        unmap();
        closeAll(Arrays.asList(sender, scratch == null ? null : scratch[0], scratch == null ? null : scratch[1]));
        sender = null;
        scratch = null;
    }

    /** Closes each of {@code resources} (nulls skipped), all of them; throws the first failure, the others suppressed. */
    static void closeAll(List<? extends AutoCloseable> resources) {
        RuntimeException failed = null;
        for (AutoCloseable r : resources) {
            try {
                if (r != null) {
                    r.close();
                }
            } catch (Exception e) {
                RuntimeException f = e instanceof RuntimeException re ? re : new IllegalStateException(e);
                if (failed == null) {
                    failed = f;
                } else {
                    failed.addSuppressed(f);
                }
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    private final class Run implements Transport {
        private final Transport inner;
        private final GrpcTransport grpc;
        private final int microBatches;
        private final Launch[] sends;    // [micro-batch] on the send stream
        private final Launch[] receives; // [micro-batch] on the receiver's copy stream

        Run(Transport inner, GrpcTransport grpc, int microBatches) {
            this.inner = inner;
            this.grpc = grpc;
            this.microBatches = microBatches;
            this.sends = new Launch[microBatches];
            this.receives = new Launch[microBatches];
        }

        @Override
        public void bindSource(int fromRank, int microBatch, Buffer source, int batch, int rowLength) {
            if (!sending) {
                inner.bindSource(fromRank, microBatch, source, batch, rowLength);
                return;
            }
            sender();
            sends[microBatch] = prepareSend(fromRank, microBatch, source, batch, rowLength, microBatches);
            grpc.bindSource(fromRank, microBatch, source, batch, 0); // the notice: no payload
        }

        @Override
        public void bindDestination(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination,
                                    int batch, int rowLength) {
            if (!receiving) {
                inner.bindDestination(toRank, fromRank, microBatch, receiver, destination, batch, rowLength);
                return;
            }
            synchronized (DeviceLinks.this) {
                if (scratch == null) {
                    scratch = new Event[] {device.createEvent(), device.createEvent()};
                }
            }
            receives[microBatch] = prepareReceive(toRank, fromRank, microBatch, receiver, destination, batch, rowLength,
                    microBatches);
            grpc.bindDestination(toRank, fromRank, microBatch, receiver, destination, batch, 0);
        }

        @Override
        public void send(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready) {
            if (!sending) {
                inner.send(fromRank, toRank, microBatch, step, tokens, ready);
                return;
            }
            WorldTrace t = toRank == fromRank + 1 ? grpc.trace() : null; // the ring's tokens back to rank 0 are no pp_send
            int token = t == null ? 0 : t.posted();
            sender().send(ready, sends[microBatch], tokens, s -> afterSend(s, microBatch), token == 0 ? null
                    : new SendTimer.Timed() {
                        @Override
                        public void sent(long startNanos, long endNanos) {
                            t.sent(token, microBatch, step, startNanos, endNanos);
                        }

                        @Override
                        public void dropped() {
                            t.dropped(token);
                        }
                    });
            grpc.notice(fromRank, toRank, microBatch, step, ready);
        }

        @Override
        public void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started,
                            Event done) throws InterruptedException {
            if (!receiving) {
                inner.receive(toRank, microBatch, step, tokens, copyStream, started, done);
                return;
            }
            grpc.receive(toRank, microBatch, step, tokens, copyStream, scratch[0], scratch[1]); // the notice
            beforeReceive(copyStream, microBatch);
            copyStream.record(started);
            copyStream.launch(receives[microBatch], tokens, 0);
            copyStream.record(done);
        }

        @Override
        public String kind(int toRank) {
            boolean into = toRank == world.contract().rank();
            return (into ? receiving : sending) ? DeviceLinks.this.kind() : inner.kind(toRank);
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
