package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.cuda.CudaIpc;
import dev.ppexec.runtime.Transport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * CUDA IPC on this rank's links to neighbours of the same host (Note [cuda ipc]).
 *
 * <p>Note [cuda ipc]: a sending rank exports, once, at its first run, one outbox per micro-batch (device memory the
 * size of its hand-off buffer) and one interprocess event, through the store ({@code ipc/{rank}/{mb}}); the receiving
 * rank maps them once. A SEND enqueues, on the sender's own IPC stream, a wait for the forward's event, the copy of
 * the hand-off into the outbox and a record of the interprocess event, then a notice without payload goes over the
 * gRPC stream. The receiver's RECV takes the notice, makes its copy stream wait for the interprocess event and copies
 * the outbox into its own buffer: one device-to-device copy, between the events that time {@code pp_recv}. An outbox
 * is written for step s+1 only after the receiver's forward of step s (the ring runs through it), which waited for
 * its copy. Outboxes live as long as the world, not a run, because an exporter must not free memory that another
 * process still maps: receivers unmap ({@link #unmap}) before they leave the world, exporters free ({@link #close})
 * after every rank left.
 */
final class IpcLinks implements AutoCloseable {

    private final World world;
    private final Device device;
    private final boolean sending;
    private final boolean receiving;
    private final long timeoutMillis;
    /** [micro-batch] this rank's exports: outboxes and their events; made at the first run. */
    private Buffer[] outboxes;
    private Event[] outboxEvents;
    private Stream sendStream;
    /** [micro-batch] the previous rank's exports, mapped here at the first run. */
    private Buffer[] inboxes;
    private Event[] inboxEvents;
    private Event[] scratch; // the gRPC notice's own (empty) copy is timed by these, not by pp_recv's events
    private final List<AutoCloseable> imported = new ArrayList<>();

    /**
     * IPC on the link to the next rank when {@code sending}, on the link from the previous one when {@code receiving};
     * the other link, if any, stays on gRPC.
     */
    IpcLinks(World world, Device device, boolean sending, boolean receiving, long timeoutMillis) {
        this.world = world;
        this.device = device;
        this.sending = sending;
        this.receiving = receiving;
        this.timeoutMillis = timeoutMillis;
    }

    private static String key(int rank, int microBatch) {
        return "ipc/" + rank + "/" + microBatch;
    }

    /** One run's transport: IPC on the links this rank has them on, {@code grpc} (this run's) for notices and the rest. */
    Transport open(Transport grpc, int microBatches) {
        return new Run(grpc, microBatches);
    }

    private synchronized void export(int rank, int microBatch, Buffer source, int microBatches) {
        if (outboxes == null) {
            outboxes = new Buffer[microBatches];
            outboxEvents = new Event[microBatches];
            sendStream = device.createStream("pp_send ipc");
        }
        if (outboxes[microBatch] == null) {
            outboxes[microBatch] = device.allocate(source.type(), source.length());
            outboxEvents[microBatch] = CudaIpc.interprocessEvent(device);
            ByteBuffer v = ByteBuffer.allocate(2 * CudaIpc.HANDLE_BYTES + 12).order(ByteOrder.LITTLE_ENDIAN);
            v.put(CudaIpc.export(outboxes[microBatch])).put(CudaIpc.export(outboxEvents[microBatch]))
                    .putLong(source.length()).putInt(source.type().ordinal());
            world.set(key(rank, microBatch), v.array());
        } else if (outboxes[microBatch].length() < source.length() || outboxes[microBatch].type() != source.type()) {
            throw new IllegalStateException("rank " + rank + " mb" + microBatch + ": a hand-off of " + source.length()
                    + " " + source.type() + " elements; its CUDA IPC outbox holds " + outboxes[microBatch].length() + " "
                    + outboxes[microBatch].type() + " (a world keeps the shapes of its first run)");
        }
    }

    private synchronized void map(int fromRank, int microBatch, int microBatches) {
        if (inboxes == null) {
            inboxes = new Buffer[microBatches];
            inboxEvents = new Event[microBatches];
            scratch = new Event[] {device.createEvent(), device.createEvent()};
            imported.addAll(Arrays.asList(scratch));
        }
        if (inboxes[microBatch] == null) {
            ByteBuffer v = ByteBuffer.wrap(world.get(key(fromRank, microBatch), timeoutMillis))
                    .order(ByteOrder.LITTLE_ENDIAN);
            byte[] memory = new byte[CudaIpc.HANDLE_BYTES];
            byte[] event = new byte[CudaIpc.HANDLE_BYTES];
            v.get(memory).get(event);
            long length = v.getLong();
            Buffer.Type type = Buffer.Type.values()[v.getInt()];
            inboxes[microBatch] = CudaIpc.open(device, memory, type, length);
            imported.add(inboxes[microBatch]);
            inboxEvents[microBatch] = CudaIpc.openEvent(device, event);
            imported.add(inboxEvents[microBatch]);
        }
    }

    /** The receiving side's part of leaving: unmaps what it mapped, so its exporter may free it. */
    synchronized void unmap() {
        for (AutoCloseable c : imported) {
            try {
                c.close();
            } catch (Exception e) {
                // Released as far as the driver allows (Buffer and Event close never throw checked exceptions).
            }
        }
        imported.clear();
        inboxes = null;
    }

    /** Frees the outboxes: only once every rank left the world (Note [cuda ipc]). */
    @Override
    public synchronized void close() {
        unmap();
        if (outboxes != null) {
            sendStream.close();
            for (int m = 0; m < outboxes.length; m++) {
                if (outboxes[m] != null) {
                    outboxes[m].close();
                    outboxEvents[m].close();
                }
            }
            outboxes = null;
        }
    }

    /** One run over these links. */
    private final class Run implements Transport {
        private final Transport grpc;
        private final int microBatches;
        private final Launch[] copyOut; // [micro-batch] hand-off -> outbox, on the send stream
        private final Launch[] copyIn;  // [micro-batch] inbox -> the receiver's buffer, on its copy stream

        Run(Transport grpc, int microBatches) {
            this.grpc = grpc;
            this.microBatches = microBatches;
            this.copyOut = new Launch[microBatches];
            this.copyIn = new Launch[microBatches];
        }

        @Override
        public void bindSource(int fromRank, int microBatch, Buffer source, int batch, int rowLength) {
            if (!sending) {
                grpc.bindSource(fromRank, microBatch, source, batch, rowLength);
                return;
            }
            export(fromRank, microBatch, source, microBatches);
            copyOut[microBatch] = device.kernels().copy("pp_send ipc rank " + fromRank + " mb" + microBatch, source,
                    outboxes[microBatch], batch, rowLength);
            grpc.bindSource(fromRank, microBatch, source, batch, 0); // the notice: no payload
        }

        @Override
        public void bindDestination(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination,
                                    int batch, int rowLength) {
            if (!receiving) {
                grpc.bindDestination(toRank, fromRank, microBatch, receiver, destination, batch, rowLength);
                return;
            }
            map(fromRank, microBatch, microBatches);
            copyIn[microBatch] = receiver.kernels().copy("pp_recv rank " + toRank + " mb" + microBatch + " (ipc)",
                    inboxes[microBatch], destination, batch, rowLength);
            grpc.bindDestination(toRank, fromRank, microBatch, receiver, destination, batch, 0);
        }

        @Override
        public void send(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready) {
            if (sending) {
                sendStream.waitFor(ready);
                sendStream.launch(copyOut[microBatch], tokens, 0);
                sendStream.record(outboxEvents[microBatch]); // before the notice leaves: the receiver waits for this record
            }
            grpc.send(fromRank, toRank, microBatch, step, tokens, ready);
        }

        @Override
        public void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started,
                            Event done) throws InterruptedException {
            if (!receiving) {
                grpc.receive(toRank, microBatch, step, tokens, copyStream, started, done);
                return;
            }
            grpc.receive(toRank, microBatch, step, tokens, copyStream, scratch[0], scratch[1]); // the notice
            copyStream.waitFor(inboxEvents[microBatch]);
            copyStream.record(started);
            copyStream.launch(copyIn[microBatch], tokens, 0);
            copyStream.record(done);
        }

        @Override
        public String kind(int toRank) {
            boolean into = toRank == world.contract().rank();
            return (into ? receiving : sending) ? "ipc" : grpc.kind(toRank);
        }

        @Override
        public void close() {
            grpc.close();
        }
    }
}
