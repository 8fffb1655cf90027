package dev.ppexec.cuda;

import dev.ppexec.backend.Matrix;

/**
 * A weight matrix {@code [in, out]} on the device, row-major as the model defines it: cuBLAS reads
 * it as its column-major transpose (Note [row-major GEMM] in {@link Cublas}), the fallback kernel
 * reads it as it is.
 */
record CudaMatrix(CudaBuffer buffer, int in, int out) implements Matrix {

    @Override
    public void close() {
        buffer.close();
    }
}
