package dev.ppexec.dist;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Launch;
import dev.ppexec.cuda.CudaNccl;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.nccl.NcclCommunicator;
import dev.ppexec.nccl.NcclUniqueId;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * NCCL on this rank's links to neighbours on other GPUs (Note [nccl links]).
 *
 * <p>Note [nccl links]: each link (sender r to receiver r+1) has its own NCCL communicator of two ranks: the sender is
 * its rank 0 and makes the unique id, which goes through the store ({@code nccl/{r}}); the receiver is its rank 1. One
 * communicator per link, not one for the world, because NCCL runs the operations of one communicator in the order they
 * were issued: with one communicator, a rank's send of micro-batch m+1 would have to finish before its receive of m
 * could start, while the neighbour's send of m waits for that receive (a deadlock once sends wait for their receiver,
 * as NCCL allows them to). Per link, a sender only sends and a receiver only receives, both in the schedule's order.
 * Every rank creates its communicators in the order of their sender ranks (non-blocking, bounded by
 * {@code --rendezvous-timeout}), so that no two ranks wait for each other's second one. A SEND is an {@code ncclSend}
 * on the rank's send stream after the forward's event; a RECV, once the notice came, an {@code ncclRecv} on the
 * receiver's copy stream (Note [device-timed transfers] in DeviceLinks). A communicator's watchdog (Note [NCCL
 * watchdog] in NcclCommunicator) turns an asynchronous error into the world's abort, naming the peer. Closing
 * finalizes, then destroys each communicator (abort on failure), after the world was left.
 */
final class NcclLinks extends DeviceLinks {

    /** How often each communicator's watchdog polls {@code ncclCommGetAsyncError}. */
    static final Duration WATCHDOG_INTERVAL = Duration.ofMillis(100);

    private final NcclCommunicator out; // to the next rank, or null
    private final NcclCommunicator in;  // from the previous rank, or null

    NcclLinks(World world, Device device, Nccl nccl, boolean sending, boolean receiving, long timeoutMillis) {
        super(world, device, sending, receiving, timeoutMillis);
        LaunchContract c = world.contract();
        int rank = c.rank();
        int from = (rank + c.worldSize() - 1) % c.worldSize();
        NcclCommunicator made0 = null;
        NcclCommunicator made1 = null;
        List<Integer> links = new ArrayList<>(); // by sender rank: the order every rank creates them in
        if (sending) {
            links.add(rank);
        }
        if (receiving) {
            links.add(from);
        }
        links.sort(null);
        Duration timeout = Duration.ofMillis(timeoutMillis);
        try {
            for (int link : links) {
                String key = "nccl/" + link;
                if (link == rank) {
                    NcclUniqueId id = nccl.uniqueId();
                    world.set(key, id.bytes());
                    made0 = watched(CudaNccl.join(nccl, device, id, 0, 2, timeout, WATCHDOG_INTERVAL), rank,
                            (rank + 1) % c.worldSize());
                } else {
                    NcclUniqueId id = NcclUniqueId.of(world.get(key, timeoutMillis));
                    made1 = watched(CudaNccl.join(nccl, device, id, 1, 2, timeout, WATCHDOG_INTERVAL), from, rank);
                }
            }
        } catch (RuntimeException e) {
            try {
                closeAll(Arrays.asList(made0, made1));
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            throw e;
        }
        this.out = made0;
        this.in = made1;
    }

    /** {@code comm} of the link from {@code sender} to {@code receiver}, whose failure aborts the world naming the peer. */
    private NcclCommunicator watched(NcclCommunicator comm, int sender, int receiver) {
        int peer = sender == world.contract().rank() ? receiver : sender;
        comm.onFailure(e -> world.abort("rank " + peer + " went away or its link failed: the NCCL link from rank "
                + sender + " to rank " + receiver + " failed: " + e.getMessage()));
        return comm;
    }

    @Override
    String kind() {
        return "nccl";
    }

    @Override
    Launch prepareSend(int fromRank, int microBatch, Buffer source, int batch, int rowLength, int microBatches) {
        int to = (fromRank + 1) % world.contract().worldSize();
        return CudaNccl.send("pp_send nccl rank " + fromRank + " mb" + microBatch + " to rank " + to, out, source, 1,
                batch * rowLength);
    }

    @Override
    Launch prepareReceive(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination, int batch,
                          int rowLength, int microBatches) {
        return CudaNccl.recv("pp_recv rank " + toRank + " mb" + microBatch + " (nccl from rank " + fromRank + ")", in,
                destination, 0, batch * rowLength);
    }

    /** Ends the send stream's work, then finalizes and destroys the communicators (Note [nccl links]). */
    @Override
    public synchronized void close() {
        super.close();
        closeAll(Arrays.asList(out, in));
    }
}
