package dev.ppexec.dist;

import dev.ppexec.runtime.Transport;

/**
 * This rank's two links in the world's ring: to the next rank (its SENDs) and from the previous one (its RECVs),
 * each decided from both ends' published facts (Note [transport choice] in TransportChoice).
 */
public final class WorldLinks {

    private static final String FACTS = "transport/facts/";

    private final int toRank;
    private final int fromRank;
    private final TransportChoice.Decision out;
    private final TransportChoice.Decision in;
    private final World world;

    private WorldLinks(World world, int toRank, TransportChoice.Decision out, int fromRank, TransportChoice.Decision in) {
        this.world = world;
        this.toRank = toRank;
        this.out = out;
        this.fromRank = fromRank;
        this.in = in;
    }

    /** Publishes this rank's facts, reads its neighbours' (each within {@code timeoutMillis}) and decides both links. */
    public static WorldLinks negotiate(World world, TransportChoice option, TransportChoice.Facts self, long timeoutMillis) {
        LaunchContract c = world.contract();
        world.set(FACTS + c.rank(), self.encode());
        int to = (c.rank() + 1) % c.worldSize();
        int from = (c.rank() + c.worldSize() - 1) % c.worldSize();
        TransportChoice.Facts next = TransportChoice.Facts.decode(world.get(FACTS + to, timeoutMillis));
        TransportChoice.Facts previous = TransportChoice.Facts.decode(world.get(FACTS + from, timeoutMillis));
        return new WorldLinks(world, to, option.decide(self, next, to), from, option.decide(self, previous, from));
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
        return world.transports();
    }
}
