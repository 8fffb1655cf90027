#include "common.cuh"

// out[b, dim] = x[b*tokens + tokens - 1, dim]: the last position of each request; grid (batch).
extern "C" __global__ void ppexec_gather_last(const float* x, float* out, int tokens, int dim) {
    int b = blockIdx.x;
    const float* src = x + ((size_t)b * tokens + tokens - 1) * dim;
    float* dst = out + (size_t)b * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        dst[i] = src[i];
    }
}
