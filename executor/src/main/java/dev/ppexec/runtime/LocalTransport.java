package dev.ppexec.runtime;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Launch;
import dev.ppexec.backend.Stream;

/**
 * Ranks in one process: one channel per (receiving rank, micro-batch), bound at set-up to the
 * output buffer of the rank the schedule says it receives from and the receiver's input buffer.
 * The receiver's copy stream waits on the sender's event and copies; on CUDA the copy is a peer
 * copy when the two ranks' devices differ.
 * A channel holds one posted step at a time: the schedule guarantees the sender cannot post step
 * s+1 of a micro-batch before the receiver took step s (the ring passes through the receiver).
 */
public final class LocalTransport implements Transport {

    private static final int SPINS = 256;

    private static final class Channel {
        final Launch copy;
        volatile long postedStep = -1;
        volatile Event ready;

        Channel(Launch copy) {
            this.copy = copy;
        }
    }

    private final Channel[][] channels; // [toRank][microBatch]
    private final Buffer[][] sources; // [fromRank][microBatch]

    public LocalTransport(int ranks, int microBatches) {
        this.channels = new Channel[ranks][microBatches];
        this.sources = new Buffer[ranks][microBatches];
    }

    @Override
    public void bindSource(int fromRank, int microBatch, Buffer source, int batch, int rowLength) {
        sources[fromRank][microBatch] = source;
    }

    /** Binds the channel into {@code toRank} for {@code microBatch}: rows of {@code rowLength} elements. */
    @Override
    public void bindDestination(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination, int batch,
                                int rowLength) {
        Buffer source = sources[fromRank][microBatch];
        if (source == null) {
            throw new IllegalStateException("no source bound on rank " + fromRank + " for micro-batch " + microBatch
                    + "; bind every source before the destinations");
        }
        String label = "pp_recv rank " + toRank + " mb" + microBatch;
        channels[toRank][microBatch] = new Channel(receiver.kernels().copy(label, source, destination, batch, rowLength));
    }

    private Channel channel(int toRank, int microBatch) {
        Channel c = channels[toRank][microBatch];
        if (c == null) {
            throw new IllegalStateException("no channel into rank " + toRank + " for micro-batch " + microBatch);
        }
        return c;
    }

    @Override
    public void send(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready) {
        Channel c = channel(toRank, microBatch);
        c.ready = ready;
        synchronized (c) {
            c.postedStep = step;
            c.notifyAll();
        }
    }

    @Override
    public void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started, Event done)
            throws InterruptedException {
        Channel c = channel(toRank, microBatch);
        for (int i = 0; i < SPINS && c.postedStep < step; i++) {
            Thread.onSpinWait();
        }
        if (c.postedStep < step) {
            synchronized (c) {
                while (c.postedStep < step) {
                    c.wait();
                }
            }
        }
        if (c.postedStep != step) {
            throw new IllegalStateException("rank " + toRank + " mb" + microBatch + ": expected step " + step
                    + " but the sender already posted step " + c.postedStep);
        }
        copyStream.waitFor(c.ready);
        copyStream.record(started);
        copyStream.launch(c.copy, tokens, 0);
        copyStream.record(done);
    }

    @Override
    public String kind(int toRank) {
        return "local";
    }

    @Override
    public void close() {
        // Nothing held beyond the buffers, which the ranks own.
    }
}
