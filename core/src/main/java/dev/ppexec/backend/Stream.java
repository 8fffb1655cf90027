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

    /**
     * Captures the work that {@code launches} enqueues on this stream (launches and event records) into a
     * {@link Graph} instead of running it; the arguments each launch has at capture are the ones every replay uses.
     * {@code launches} runs on the calling thread and may not wait for the device (a synchronisation fails the
     * capture). Throws, naming the cause, when the capture fails; throws {@link UnsupportedOperationException}
     * where the device does not {@linkplain Device#supportsGraphs() support graphs}.
     */
    default Graph capture(String name, Runnable launches) {
        throw new UnsupportedOperationException(device().name() + " cannot capture graphs (stream " + id() + ", "
                + label() + ")");
    }

    /** Enqueues one replay of {@code graph}, which a stream of this device captured. */
    default void launch(Graph graph) {
        throw new UnsupportedOperationException(device().name() + " cannot launch graphs (graph '" + graph.name()
                + "')");
    }

    /** Enqueues a record of {@code event}: it completes when the stream reaches this point. */
    void record(Event event);

    /** Makes later work on this stream wait until {@code event}'s latest record (at the time of this call) completes. */
    void waitFor(Event event);

    /** Blocks the caller until all work enqueued so far has run; rethrows the first failure of the stream. */
    void synchronize();

    @Override
    void close();
}
