package dev.ppexec.runtime;

import dev.ppexec.backend.Event;
import dev.ppexec.backend.Stream;

/**
 * Hand-off of a micro-batch's activations (or next tokens) from one rank to the next. The runtime
 * only says what is ready and where it must arrive; where the next rank lives is the transport's
 * business: {@link LocalTransport} copies between ranks of one process today; ranks in separate
 * processes (NCCL for device tensors, gRPC for the CPU fallback) implement the same interface.
 */
public interface Transport extends AutoCloseable {

    /**
     * Sender side, called on the sending rank's thread after it enqueued the work that produces the
     * payload: the payload is ready once {@code ready} completes. Never blocks. The schedule names the
     * peer: {@code toRank} and the {@code step} its RECV of {@code microBatch} names (Note [routing] in
     * Schedule); the transport only carries it there.
     */
    void send(int fromRank, int toRank, int microBatch, int step, Event ready);

    /**
     * Receiver side: blocks the calling host thread until the matching send was posted (not until the
     * data exists), enqueues the transfer on {@code copyStream} between records of {@code started} and
     * {@code done}, and returns at once. The caller's compute stream then waits on {@code done}.
     *
     * @param tokens positions per request in this pass (sizes the copy)
     */
    void receive(int toRank, int microBatch, int step, int tokens, Stream copyStream, Event started, Event done)
            throws InterruptedException;

    @Override
    void close();
}
