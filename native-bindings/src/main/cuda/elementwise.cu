#include "common.cuh"

// a[i] = silu(a[i]) * b[i] for i < count; grid ceil(count / PPEXEC_BLOCK).
extern "C" __global__ void ppexec_silu_mul(float* a, const float* b, long long count) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        float v = a[i];
        a[i] = v / (1.0f + expf(-v)) * b[i];
    }
}

// x[i] += delta[i] for i < count; grid ceil(count / PPEXEC_BLOCK).
extern "C" __global__ void ppexec_add(float* x, const float* delta, long long count) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        x[i] += delta[i];
    }
}

// out[b, dim] = x[b*tokens + tokens - 1, dim]: the last position of each request; grid (batch).
extern "C" __global__ void ppexec_gather_last(const float* x, float* out, int tokens, int dim) {
    int b = blockIdx.x;
    const float* src = x + ((size_t)b * tokens + tokens - 1) * dim;
    float* dst = out + (size_t)b * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        dst[i] = src[i];
    }
}
