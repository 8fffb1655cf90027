package dev.ppexec.backend;

/** A device-resident weight matrix {@code [in, out]} (y = x·W), in whatever layout the device's matmul wants. */
public interface Matrix extends AutoCloseable {

    int in();

    int out();

    @Override
    void close();
}
