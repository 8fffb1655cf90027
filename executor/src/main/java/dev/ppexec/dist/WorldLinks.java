package dev.ppexec.dist;

import dev.ppexec.backend.Device;
import dev.ppexec.nccl.Nccl;
import dev.ppexec.runtime.Transport;

import java.util.ArrayList;
import java.util.List;

/**
 * This rank's two links in the world's ring: to the next rank (its SENDs) and from the previous one (its RECVs),
 * each decided from both ends' published facts (Note [transport choice] in TransportChoice). What CUDA IPC and NCCL
 * hold outlives the runs: {@link #leaving} before the world is left, {@link #close} after.
 */
public final class WorldLinks implements AutoCloseable {

    private static final String FACTS = "transport/facts/";

    private final int toRank;
    private final int fromRank;
    private final TransportChoice.Decision out;
    private final TransportChoice.Decision in;
    private final World world;
    private final List<DeviceLinks> devices; // CUDA IPC, NCCL: the links each serves

    private WorldLinks(World world, int toRank, TransportChoice.Decision out, int fromRank, TransportChoice.Decision in,
                       List<DeviceLinks> devices) {
        this.world = world;
        this.toRank = toRank;
        this.out = out;
        this.fromRank = fromRank;
        this.in = in;
        this.devices = devices;
    }

    /**
     * Publishes this rank's facts, reads its neighbours' (each within {@code timeoutMillis}) and decides both links
     * for the rank's {@code device}; makes the NCCL communicators of the links that take NCCL ({@code nccl}: the
     * loaded library, null when it does not load here).
     *
     * @throws IllegalArgumentException when the asked transport cannot serve a link, in one line
     */
    public static WorldLinks negotiate(World world, TransportChoice option, TransportChoice.Facts self, Device device,
                                       Nccl nccl, long timeoutMillis) {
        LaunchContract c = world.contract();
        world.set(FACTS + c.rank(), self.encode());
        int to = (c.rank() + 1) % c.worldSize();
        int from = (c.rank() + c.worldSize() - 1) % c.worldSize();
        TransportChoice.Facts next = TransportChoice.Facts.decode(world.get(FACTS + to, timeoutMillis));
        TransportChoice.Facts previous = TransportChoice.Facts.decode(world.get(FACTS + from, timeoutMillis));
        TransportChoice.Decision out = option.decide(self, next, to);
        TransportChoice.Decision in = option.decide(self, previous, from);
        List<DeviceLinks> devices = new ArrayList<>();
        if (out.transport() == TransportChoice.ipc || in.transport() == TransportChoice.ipc) {
            devices.add(new IpcLinks(world, device, out.transport() == TransportChoice.ipc,
                    in.transport() == TransportChoice.ipc, timeoutMillis));
        }
        if (out.transport() == TransportChoice.nccl || in.transport() == TransportChoice.nccl) {
            try {
                devices.add(new NcclLinks(world, device, nccl, out.transport() == TransportChoice.nccl,
                        in.transport() == TransportChoice.nccl, timeoutMillis));
            } catch (RuntimeException e) {
                DeviceLinks.closeAll(devices);
                throw new IllegalStateException("rank " + c.rank() + ": NCCL on its links failed: " + e.getMessage(), e);
            }
        }
        return new WorldLinks(world, to, out, from, in, List.copyOf(devices));
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

    /** Transports for the pipeline's runs over these links: each device transport wraps the one before. */
    public Transport.Factory transports() {
        Transport.Factory grpc = world.transports();
        return (ranks, microBatches) -> {
            Transport t = grpc.open(ranks, microBatches);
            for (DeviceLinks d : devices) {
                t = d.open(t, world.dataPlane(), microBatches);
            }
            return t;
        };
    }

    /** Before leaving the world, once the pipeline is closed: releases what this rank mapped of its neighbour's. */
    public void leaving() {
        devices.forEach(DeviceLinks::unmap);
    }

    /**
     * After the world was left (every rank released its mappings): frees what this rank exported and closes its NCCL
     * communicators.
     */
    @Override
    public void close() {
        DeviceLinks.closeAll(devices);
    }
}
