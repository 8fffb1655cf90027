package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;
import dev.ppexec.cuda.CudaIpc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * CUDA IPC on this rank's links to neighbours of the same host (Note [cuda ipc]).
 *
 * <p>Note [cuda ipc]: a sending rank exports, once, at its first run, one outbox per micro-batch (device memory the
 * size of its hand-off buffer) and one interprocess event, through the store ({@code ipc/{rank}/{mb}}); the receiving
 * rank maps them once. A SEND enqueues, on the sender's send stream, a wait for the forward's event, the copy of
 * the hand-off into the outbox and a record of the interprocess event, then a notice without payload goes over the
 * gRPC stream (Note [device-timed transfers] in DeviceLinks). The receiver's RECV takes the notice, makes its copy
 * stream wait for the interprocess event and copies the outbox into its own buffer: one device-to-device copy,
 * between the events that time {@code pp_recv}. An outbox
 * is written for step s+1 only after the receiver's forward of step s (the ring runs through it), which waited for
 * its copy. Outboxes live as long as the world, not a run, because an exporter must not free memory that another
 * process still maps: receivers unmap ({@link #unmap}) before they leave the world, exporters free ({@link #close})
 * after every rank left.
 */
final class IpcLinks extends DeviceLinks {

    /** [micro-batch] this rank's exports: outboxes and their events; made at the first run. */
    private Buffer[] outboxes;
    private Event[] outboxEvents;
    /** [micro-batch] the previous rank's exports, mapped here at the first run. */
    private Buffer[] inboxes;
    private Event[] inboxEvents;
    private final List<AutoCloseable> imported = new ArrayList<>();

    IpcLinks(World world, Device device, boolean sending, boolean receiving, long timeoutMillis) {
        super(world, device, sending, receiving, timeoutMillis);
    }

    private static String key(int rank, int microBatch) {
        return "ipc/" + rank + "/" + microBatch;
    }

    @Override
    String kind() {
        return "ipc";
    }

    @Override
    synchronized Launch prepareSend(int rank, int microBatch, Buffer source, int batch, int rowLength,
                                    int microBatches) {
        if (outboxes == null) {
            outboxes = new Buffer[microBatches];
            outboxEvents = new Event[microBatches];
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
        return device.kernels().copy("pp_send ipc rank " + rank + " mb" + microBatch, source, outboxes[microBatch],
                batch, rowLength);
    }

    @Override
    void afterSend(Stream sendStream, int microBatch) {
        sendStream.record(outboxEvents[microBatch]); // before the notice leaves: the receiver waits for this record
    }

    @Override
    synchronized Launch prepareReceive(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination,
                                       int batch, int rowLength, int microBatches) {
        if (inboxes == null) {
            inboxes = new Buffer[microBatches];
            inboxEvents = new Event[microBatches];
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
        return receiver.kernels().copy("pp_recv rank " + toRank + " mb" + microBatch + " (ipc)", inboxes[microBatch],
                destination, batch, rowLength);
    }

    @Override
    void beforeReceive(Stream copyStream, int microBatch) {
        copyStream.waitFor(inboxEvents[microBatch]);
    }

    /** The receiving side's part of leaving: unmaps what it mapped, so its exporter may free it. */
    @Override
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
        super.close(); // unmaps, ends the send stream's work
        if (outboxes != null) {
            for (int m = 0; m < outboxes.length; m++) {
                if (outboxes[m] != null) {
                    outboxes[m].close();
                    outboxEvents[m].close();
                }
            }
            outboxes = null;
        }
    }
}
