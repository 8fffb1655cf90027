package dev.ppexec.backend;

/**
 * Work captured once from a stream and replayed as one launch ({@link Stream#launch(Graph)}): a CUDA
 * graph. Every replay runs the same launches with the same arguments, so what changes per step (the
 * position, the KV length) must be read by its kernels from device memory, written before the replay.
 * Closing frees it; idempotent. Made only where {@link Device#supportsGraphs()}.
 */
public interface Graph extends AutoCloseable {

    /** A short name for errors ({@code "decode PP1 slot 0"}). */
    String name();

    @Override
    void close();
}
