package dev.ppexec.backend;

/** A point in a stream's work. Reusable: each record replaces the previous point. */
public interface Event extends AutoCloseable {

    /** True once the latest record has been reached (true for a never-recorded event). */
    boolean isDone();

    /** Blocks until the latest record has been reached. */
    void synchronize();

    /**
     * Device time from {@code start} to this event, in nanoseconds; both must be done and on the same
     * device. On CUDA the resolution is about 0.5 µs.
     */
    long elapsedNanosSince(Event start);

    @Override
    void close();
}
