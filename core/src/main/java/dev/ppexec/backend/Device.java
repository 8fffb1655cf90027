package dev.ppexec.backend;

/** One compute device: the CPU fallback, or one CUDA GPU. Owns its streams, events and memory. */
public interface Device extends AutoCloseable {

    /** {@code "cpu"} or {@code "cuda:0"}, as traces and reports print it. */
    String name();

    Stream createStream(String label);

    /**
     * Whether its streams capture and replay {@link Graph}s. The CUDA backend does (CUDA graphs); the CPU backend
     * does not: its stream already takes a launch as one entry of its worker's ring, so a recorded list would save
     * the host nothing, and it does not pretend to.
     */
    default boolean supportsGraphs() {
        return false;
    }

    Event createEvent();

    Buffer allocate(Buffer.Type type, long length);

    /** Synchronous upload, used while building stages. */
    Buffer upload(float[] values);

    /** Synchronous upload, used while building stages. */
    Buffer upload(int[] values);

    /** Uploads a row-major {@code [in, out]} weight matrix. */
    Matrix uploadMatrix(float[] values, int in, int out);

    /**
     * Synchronous copy of a FLOAT32 buffer's first {@code into.length} elements to the host, after
     * all work enqueued on this device so far; for checks and tests, not for the hot path.
     */
    void download(Buffer buffer, float[] into);

    /** As {@link #download(Buffer, float[])}, for an INT32 buffer. */
    void download(Buffer buffer, int[] into);

    Kernels kernels();

    /**
     * Tells {@code listener} at once when a launch fails on any stream of this device (from the
     * stream's own thread, or the device's callback thread). The stream then skips later launches.
     */
    void onFailure(java.util.function.Consumer<StreamFailure> listener);

    @Override
    void close();
}
