#include "common.cuh"

// out[rows, dim] = x / sqrt(mean(x^2) + eps) * weight; grid (rows), block PPEXEC_BLOCK.
// As on the CPU: the mean square in fp32, the scale 1/sqrt in double, rounded once to float.
extern "C" __global__ void ppexec_rmsnorm(const float* x, const float* weight, float* out, int dim, float eps) {
    __shared__ float scratch[32];
    const float* in = x + (size_t)blockIdx.x * dim;
    float* o = out + (size_t)blockIdx.x * dim;
    float partial = 0.0f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        partial = fmaf(in[i], in[i], partial);
    }
    float meanSquare = block_sum(partial, scratch) / (float)dim;
    float scale = (float)(1.0 / sqrt((double)(meanSquare + eps)));
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        o[i] = in[i] * scale * weight[i];
    }
}
