#include "common.cuh"

// ids[b] = argmax(logits[b, vocab]), the lowest index on ties; grid (batch), block PPEXEC_BLOCK.
extern "C" __global__ void ppexec_argmax(const float* logits, int* ids, int vocab) {
    __shared__ float bestValue[PPEXEC_BLOCK];
    __shared__ int bestIndex[PPEXEC_BLOCK];
    const float* row = logits + (size_t)blockIdx.x * vocab;
    int tid = threadIdx.x;
    float value = -INFINITY;
    int index = vocab;  // past the end: loses every tie
    for (int i = tid; i < vocab; i += blockDim.x) {
        float v = row[i];
        if (v > value || index == vocab) {
            value = v;
            index = i;
        }
    }
    bestValue[tid] = value;
    bestIndex[tid] = index;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride >>= 1) {
        if (tid < stride) {
            float v = bestValue[tid + stride];
            int j = bestIndex[tid + stride];
            if (j < vocab && (bestIndex[tid] == vocab || v > bestValue[tid]
                              || (v == bestValue[tid] && j < bestIndex[tid]))) {
                bestValue[tid] = v;
                bestIndex[tid] = j;
            }
        }
        __syncthreads();
    }
    if (tid == 0) {
        ids[blockIdx.x] = bestIndex[0];
    }
}
