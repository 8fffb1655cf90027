package dev.ppexec.backend;

/**
 * Ordered work on a device. Every method except {@link #synchronize()} only enqueues and returns,
 * as on a GPU: the caller's thread never waits for the work it launches.
 */
public interface Stream extends AutoCloseable {

    Device device();

    /** e.g. {@code "compute"}, {@code "copy"}; the trace names the stream {@code "cpu stream 1"}. */
    String label();

    /** Stream number within its device, as shown in traces. */
    int id();

    /** Enqueues {@code launch} with its per-step arguments. */
    void launch(Launch launch, int tokens, int startPos);

    /** Enqueues a record of {@code event}: it completes when the stream reaches this point. */
    void record(Event event);

    /** Makes later work on this stream wait until {@code event}'s latest record (at the time of this call) completes. */
    void waitFor(Event event);

    /** Blocks the caller until all work enqueued so far has run; rethrows the first failure of the stream. */
    void synchronize();

    @Override
    void close();
}
