#include "common.cuh"

#define PPEXEC_TILE 16

// y[rows, out] = x[rows, in] . w[in, out] (y += with accumulate != 0), all row-major: the fallback when cuBLAS
// cannot be opened.
// grid (ceil(out/16), ceil(rows/16)), block (16, 16). Each output is one fmaf chain over k in order,
// as the CPU backend's matmul computes it.
extern "C" __global__ void ppexec_matmul(const float* x, const float* w, float* y, int rows, int in, int out,
                                         int accumulate) {
    __shared__ float xs[PPEXEC_TILE][PPEXEC_TILE];
    __shared__ float ws[PPEXEC_TILE][PPEXEC_TILE + 1];
    int tx = threadIdx.x;
    int ty = threadIdx.y;
    int r = blockIdx.y * PPEXEC_TILE + ty;
    int c = blockIdx.x * PPEXEC_TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < in; k0 += PPEXEC_TILE) {
        xs[ty][tx] = (r < rows && k0 + tx < in) ? x[(size_t)r * in + k0 + tx] : 0.0f;
        ws[ty][tx] = (k0 + ty < in && c < out) ? w[(size_t)(k0 + ty) * out + c] : 0.0f;
        __syncthreads();
        int n = min(PPEXEC_TILE, in - k0);
        for (int kk = 0; kk < n; kk++) {
            acc = fmaf(xs[ty][kk], ws[kk][tx], acc);
        }
        __syncthreads();
    }
    if (r < rows && c < out) {
        size_t i = (size_t)r * out + c;
        y[i] = accumulate ? y[i] + acc : acc;
    }
}
