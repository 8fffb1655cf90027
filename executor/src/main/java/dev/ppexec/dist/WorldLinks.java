package dev.ppexec.dist;

import dev.ppexec.backend.Device;
import dev.ppexec.runtime.Transport;

/**
 * This rank's two links in the world's ring: to the next rank (its SENDs) and from the previous one (its RECVs),
 * each decided from both ends' published facts (Note [transport choice] in TransportChoice). What CUDA IPC holds
 * outlives the runs: {@link #leaving} before the world is left, {@link #close} after.
 */
public final class WorldLinks implements AutoCloseable {

    private static final String FACTS = "transport/facts/";

    private final int toRank;
    private final int fromRank;
    private final TransportChoice.Decision out;
    private final TransportChoice.Decision in;
    private final World world;
    private final IpcLinks ipc; // null when neither link is CUDA IPC

    private WorldLinks(World world, int toRank, TransportChoice.Decision out, int fromRank, TransportChoice.Decision in,
                       IpcLinks ipc) {
        this.world = world;
        this.toRank = toRank;
        this.out = out;
        this.fromRank = fromRank;
        this.in = in;
        this.ipc = ipc;
    }

    /**
     * Publishes this rank's facts, reads its neighbours' (each within {@code timeoutMillis}) and decides both links
     * for the rank's {@code device}.
     *
     * @throws IllegalArgumentException when the asked transport cannot serve a link, in one line
     */
    public static WorldLinks negotiate(World world, TransportChoice option, TransportChoice.Facts self, Device device,
                                       long timeoutMillis) {
        LaunchContract c = world.contract();
        world.set(FACTS + c.rank(), self.encode());
        int to = (c.rank() + 1) % c.worldSize();
        int from = (c.rank() + c.worldSize() - 1) % c.worldSize();
        TransportChoice.Facts next = TransportChoice.Facts.decode(world.get(FACTS + to, timeoutMillis));
        TransportChoice.Facts previous = TransportChoice.Facts.decode(world.get(FACTS + from, timeoutMillis));
        TransportChoice.Decision out = option.decide(self, next, to);
        TransportChoice.Decision in = option.decide(self, previous, from);
        boolean ipcOut = out.transport() == TransportChoice.ipc;
        boolean ipcIn = in.transport() == TransportChoice.ipc;
        IpcLinks ipc = ipcOut || ipcIn ? new IpcLinks(world, device, ipcOut, ipcIn, timeoutMillis) : null;
        return new WorldLinks(world, to, out, from, in, ipc);
    }

    /** What each link uses: {@code transport: host to rank 1 and from rank 1 (auto: …)}. */
    public String line() {
        if (out.equals(in)) {
            return "transport: " + out.transport() + " to rank " + toRank + " and from rank " + fromRank + " ("
                    + out.why() + ")";
        }
        return "transport: " + out.transport() + " to rank " + toRank + " (" + out.why() + "), " + in.transport()
                + " from rank " + fromRank + " (" + in.why() + ")";
    }

    /** Transports for the pipeline's runs over these links. */
    public Transport.Factory transports() {
        Transport.Factory grpc = world.transports();
        if (ipc == null) {
            return grpc;
        }
        return (ranks, microBatches) -> ipc.open(grpc.open(ranks, microBatches), microBatches);
    }

    /** Before leaving the world, once the pipeline is closed: releases what this rank mapped of its neighbour's. */
    public void leaving() {
        if (ipc != null) {
            ipc.unmap();
        }
    }

    /** After the world was left (every rank released its mappings): frees what this rank exported. */
    @Override
    public void close() {
        if (ipc != null) {
            ipc.close();
        }
    }
}
