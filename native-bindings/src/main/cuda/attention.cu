#include "common.cuh"

// Causal attention of q[rows, heads*headDim] over cache positions 0..p of its request; out[rows, dim].
// grid (rows, heads), block 128; dynamic shared memory (headDim + capacity + 32) floats.
// Scores are q.k * scale (fp32), softmax with the maximum subtracted, then out = sum_j (e_j / sum) v_j
// accumulated over j in order with fmaf, as the CPU's axpy does.
static __device__ void attention(const float* q, const float* kCache, const float* vCache, float* out, int tokens,
                                 int startPos, int heads, int headDim, int capacity, float scale) {
    PPEXEC_EXTERN_SHARED(float, shared);
    float* qs = shared;                    // [headDim]
    float* scores = shared + headDim;      // [capacity]
    float* scratch = scores + capacity;    // [32]
    int row = blockIdx.x;
    int h = blockIdx.y;
    int b = row / tokens;
    int p = startPos + row % tokens;
    int dim = heads * headDim;
    const float* qRow = q + (size_t)row * dim + (size_t)h * headDim;
    const float* kBase = kCache + (size_t)b * capacity * dim + (size_t)h * headDim;
    const float* vBase = vCache + (size_t)b * capacity * dim + (size_t)h * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        qs[d] = qRow[d];
    }
    __syncthreads();

    float localMax = -INFINITY;
    for (int j = threadIdx.x; j <= p; j += blockDim.x) {
        const float* kj = kBase + (size_t)j * dim;
        float s = 0.0f;
        for (int d = 0; d < headDim; d++) {
            s = fmaf(qs[d], kj[d], s);
        }
        s = s * scale;
        scores[j] = s;
        localMax = fmaxf(localMax, s);
    }
    float max = block_max(localMax, scratch);

    float localSum = 0.0f;
    for (int j = threadIdx.x; j <= p; j += blockDim.x) {
        float e = expf(scores[j] - max);
        scores[j] = e;
        localSum += e;
    }
    float inv = 1.0f / block_sum(localSum, scratch);  // block_sum also publishes scores[] to the block

    float* o = out + (size_t)row * dim + (size_t)h * headDim;
    for (int d = threadIdx.x; d < headDim; d += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j <= p; j++) {
            acc = fmaf(scores[j] * inv, vBase[(size_t)j * dim + d], acc);
        }
        o[d] = acc;
    }
}

// attention() with startPos = step[1] (Note [fused launches]): nothing here depends on the position.
extern "C" __global__ void ppexec_attention_step(const float* q, const float* kCache, const float* vCache, float* out,
                                                 const int* step, int tokens, int heads, int headDim, int capacity,
                                                 float scale) {
    int startPos = step[1];
    if (startPos < 0 || startPos + tokens > capacity) {
        return;  // the host checks the capacity before launching; never read past the caches
    }
    attention(q, kCache, vCache, out, tokens, startPos, heads, headDim, capacity, scale);
}
