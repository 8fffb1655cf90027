package dev.ppexec.runtime;

import dev.ppexec.backend.Buffer;
import dev.ppexec.backend.Device;
import dev.ppexec.backend.Event;
import dev.ppexec.backend.Stream;

/**
 * Hand-off of a micro-batch's activations (or next tokens) from one rank to the next. The runtime
 * only says what is ready and where it must arrive; where the next rank lives is the transport's
 * business: {@link LocalTransport} copies between ranks of one process; {@code dev.ppexec.dist.GrpcTransport}
 * carries the same hand-offs between rank processes on the CPU (the GPU data plane between processes is [H2]).
 *
 * <p>A run binds its buffers first (every source, then every destination), then walks the schedule.
 */
public interface Transport extends AutoCloseable {

    /**
     * Binds what a SEND of {@code microBatch} from {@code fromRank} (a rank of this process) hands on: the first
     * {@code batch · tokens · rowLength} elements of {@code source}, tokens per pass as the receiver's step says.
     */
    void bindSource(int fromRank, int microBatch, Buffer source, int batch, int rowLength);

    /**
     * Binds where {@code toRank} (a rank of this process) receives {@code microBatch} from {@code fromRank}: into
     * {@code destination} on {@code receiver}, {@code batch} rows of {@code rowLength} elements per position.
     */
    void bindDestination(int toRank, int fromRank, int microBatch, Device receiver, Buffer destination, int batch,
                         int rowLength);

    /**
     * Sender side, called on the sending rank's thread after it enqueued the work that produces the
     * payload: the payload is ready once {@code ready} completes. Never blocks. The schedule names the
     * peer: {@code toRank} and the {@code step} its RECV of {@code microBatch} names (Note [routing] in
     * Schedule); the transport only carries it there.
     *
     * @param tokens positions per request in the receiver's pass (sizes the payload)
     */
    void send(int fromRank, int toRank, int microBatch, int step, int tokens, Event ready);

    /**
     * Receiver side: blocks the calling host thread until the matching send was posted (not until the
     * data exists), enqueues the transfer on {@code copyStream} between records of {@code started} and
     * {@code done}, and returns at once. The caller's compute stream then waits on {@code done}.
     *
     * @param tokens positions per request in this pass (sizes the copy)
     */
    void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started, Event done)
            throws InterruptedException;

    /** How hand-offs into {@code toRank} travel, as the {@code transport} span attribute names it ({@code local}, ...). */
    String kind(int toRank);

    /**
     * Ends this run's use of the transport, before the run frees its buffers: a transport that reads a source after
     * {@link #send} returned finishes (bounded) here. What outlives the run (connections) belongs to whoever made it.
     */
    @Override
    void close();

    /** Makes the transport of one run. */
    @FunctionalInterface
    interface Factory {
        Transport open(int ranks, int microBatches);
    }
}
