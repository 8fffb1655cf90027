package dev.ppexec.backend.cpu;

import dev.ppexec.backend.Matrix;

/** A weight matrix packed once for {@link MatMul}. */
record CpuMatrix(PackedMatrix packed) implements Matrix {

    @Override
    public int in() {
        return packed.k();
    }

    @Override
    public int out() {
        return packed.n();
    }

    @Override
    public void close() {
        // Heap memory.
    }
}
