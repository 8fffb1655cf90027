package dev.ppexec.backend;

/** Device memory holding {@code length} elements of float or int. Closing frees it; close is idempotent. */
public interface Buffer extends AutoCloseable {

    enum Type { FLOAT32, INT32 }

    Type type();

    long length();

    @Override
    void close();
}
