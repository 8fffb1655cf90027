#include "common.cuh"

// The fused launches of a layer (Note [fused launches] in core's backend/Kernels.java). Launches that depend on
// the pass's positions read startPos from the step buffer (step[0] = tokens, step[1] = startPos) written by
// ppexec_set_step, so that no argument and no grid of theirs depends on startPos (a captured graph replays them
// at any position); their host side checks the KV capacity before launching.

// step[0] = tokens, step[1] = startPos; grid 1, block 32.
extern "C" __global__ void ppexec_set_step(int* step, int tokens, int startPos) {
    if (threadIdx.x == 0) {
        step[0] = tokens;
        step[1] = startPos;
    }
}

// ---- Note [decode products]: y[rows, out] from x[rows, in] . w[in, out] for rows <= 16 ----
// Memory-bound: each weight is read once for all rows. A block owns 64 output columns (16 column threads of
// 4 adjacent columns, one float4 load per weight row where out and the pointer allow) and a chunk of at most
// GEMV_KC weight rows (16 k lanes, each a fmaf chain per row and column over its rows of the chunk). x's chunk
// (times the norm weight) is staged in shared memory and read as a broadcast. The lanes are summed in shared
// memory in lane order. Where in is split into several chunks (gridDim.y > 1, chosen on the host to fill the
// device when out is narrow), each block writes its sums to `partial` and the last block of a column tile to
// arrive (a counter per tile, reset by that block, so a replayed graph finds it at 0) adds the chunks in
// chunk order: deterministic. Then the epilogue: the rmsnorm scale of each row (x / sqrt(mean(x^2) + eps) is a
// per-row factor, applied after the product), the store, the residual add, or silu(a) * b of the packed w1|w3.
// grid (tiles, chunks), block 256; rows <= GEMV_ROWS.

#define GEMV_ROWS 16
#define GEMV_TX 16
#define GEMV_TY 16
#define GEMV_TN (GEMV_TX * 4)
#define GEMV_KC 256
#define GEMV_THREADS (GEMV_TX * GEMV_TY)  // two blocks per SM: at most 128 registers a thread

#define GEMV_STORE 0
#define GEMV_ADD 1
#define GEMV_GATE_UP 2

// The weight column of tile-local column j, or -1 past the end. GATE_UP tiles take 32 columns of w1 (j < 32)
// and the same 32 of w3 (j >= 32, `half` columns further), so that the epilogue pairs them within the block.
static __device__ __forceinline__ int gemv_column(int mode, int tile, int j, int out) {
    if (mode == GEMV_GATE_UP) {
        int half = out / 2;
        int c = tile * (GEMV_TN / 2) + (j & (GEMV_TN / 2 - 1));
        return c < half ? c + (j >= GEMV_TN / 2 ? half : 0) : -1;
    }
    int c = tile * GEMV_TN + j;
    return c < out ? c : -1;
}

template <int MODE>
static __device__ void gemv(const float* __restrict__ x, const float* __restrict__ norm, float eps,
                            const float* __restrict__ w, float* y, float* partial, unsigned* counters, int rows,
                            int in, int out, int kChunk, int vectorized) {
    __shared__ float xs[GEMV_ROWS * GEMV_KC];
    __shared__ float lanes[GEMV_TY * GEMV_TN];
    __shared__ float sums[GEMV_ROWS * GEMV_TN];
    __shared__ float scales[GEMV_ROWS];
    __shared__ float scratch[32];
    __shared__ int last;
    const int tid = threadIdx.x;
    const int tx = tid % GEMV_TX;
    const int ty = tid / GEMV_TX;
    const int tile = blockIdx.x;
    const int kBegin = blockIdx.y * kChunk;
    const int kLength = min(kChunk, in - kBegin);

    for (int i = tid; i < rows * kLength; i += blockDim.x) {
        int r = i / kLength;
        int kk = i - r * kLength;
        float v = x[(size_t)r * in + kBegin + kk];
        xs[r * GEMV_KC + kk] = norm != nullptr ? v * norm[kBegin + kk] : v;
    }
    __syncthreads();

    const int j0 = tx * 4;
    int cols[4];
    for (int c = 0; c < 4; c++) {
        cols[c] = gemv_column(MODE, tile, j0 + c, out);
    }
    float acc[GEMV_ROWS][4];
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) {
        acc[r][0] = acc[r][1] = acc[r][2] = acc[r][3] = 0.0f;
    }
#pragma unroll 4
    for (int kk = ty; kk < kLength; kk += GEMV_TY) {
        const float* wRow = w + (size_t)(kBegin + kk) * out;
        float4 wv;
        if (vectorized) {
            // out % 4 == 0 (and half % 4 == 0): the 4 columns are all there or all past the end
            wv = cols[0] >= 0 ? *reinterpret_cast<const float4*>(wRow + cols[0]) : make_float4(0, 0, 0, 0);
        } else {
            wv.x = cols[0] >= 0 ? wRow[cols[0]] : 0.0f;
            wv.y = cols[1] >= 0 ? wRow[cols[1]] : 0.0f;
            wv.z = cols[2] >= 0 ? wRow[cols[2]] : 0.0f;
            wv.w = cols[3] >= 0 ? wRow[cols[3]] : 0.0f;
        }
        const float* xk = xs + kk;
#pragma unroll
        for (int r = 0; r < GEMV_ROWS; r++) {
            if (r < rows) {
                float xv = xk[r * GEMV_KC];
                acc[r][0] = fmaf(xv, wv.x, acc[r][0]);
                acc[r][1] = fmaf(xv, wv.y, acc[r][1]);
                acc[r][2] = fmaf(xv, wv.z, acc[r][2]);
                acc[r][3] = fmaf(xv, wv.w, acc[r][3]);
            }
        }
    }

    // The k lanes of each row, summed in lane order.
#pragma unroll
    for (int r = 0; r < GEMV_ROWS; r++) {
        if (r < rows) {
            for (int c = 0; c < 4; c++) {
                lanes[ty * GEMV_TN + j0 + c] = acc[r][c];
            }
            __syncthreads();
            if (tid < GEMV_TN) {
                float s = 0.0f;
                for (int l = 0; l < GEMV_TY; l++) {
                    s += lanes[l * GEMV_TN + tid];
                }
                sums[r * GEMV_TN + tid] = s;
            }
            __syncthreads();
        }
    }

    const int n = rows * GEMV_TN;
    if (gridDim.y > 1) {
        float* mine = partial + ((size_t)tile * gridDim.y + blockIdx.y) * GEMV_ROWS * GEMV_TN;
        for (int i = tid; i < n; i += blockDim.x) {
            mine[i] = sums[i];
        }
        __threadfence();
        __syncthreads();
        if (tid == 0) {
            last = atomicAdd(&counters[tile], 1u) == gridDim.y - 1;
        }
        __syncthreads();
        if (!last) {
            return;
        }
        __threadfence();
        const volatile float* chunks = partial + (size_t)tile * gridDim.y * GEMV_ROWS * GEMV_TN;
        for (int i = tid; i < n; i += blockDim.x) {
            float s = 0.0f;
            for (unsigned k = 0; k < gridDim.y; k++) {
                s += chunks[(size_t)k * GEMV_ROWS * GEMV_TN + i];
            }
            sums[i] = s;
        }
        if (tid == 0) {
            counters[tile] = 0;
        }
    }

    // As the CPU's rmsnorm: the mean square in fp32, the scale 1/sqrt in double, rounded once to float.
    if (MODE != GEMV_ADD) {
        for (int r = 0; r < rows; r++) {
            float partialSquares = 0.0f;
            for (int i = tid; i < in; i += blockDim.x) {
                float v = x[(size_t)r * in + i];
                partialSquares = fmaf(v, v, partialSquares);
            }
            float meanSquare = block_sum(partialSquares, scratch) / (float)in;
            if (tid == 0) {
                scales[r] = (float)(1.0 / sqrt((double)(meanSquare + eps)));
            }
        }
    }
    __syncthreads();

    if (MODE == GEMV_GATE_UP) {
        int half = out / 2;
        for (int i = tid; i < rows * (GEMV_TN / 2); i += blockDim.x) {
            int r = i / (GEMV_TN / 2);
            int j = i - r * (GEMV_TN / 2);
            int c = gemv_column(MODE, tile, j, out);
            if (c >= 0) {
                float a = sums[r * GEMV_TN + j] * scales[r];
                float b = sums[r * GEMV_TN + j + GEMV_TN / 2] * scales[r];
                y[(size_t)r * half + c] = a / (1.0f + expf(-a)) * b;
            }
        }
    } else {
        for (int i = tid; i < n; i += blockDim.x) {
            int r = i / GEMV_TN;
            int j = i - r * GEMV_TN;
            int c = gemv_column(MODE, tile, j, out);
            if (c >= 0) {
                if (MODE == GEMV_ADD) {
                    y[(size_t)r * out + c] += sums[i];
                } else {
                    y[(size_t)r * out + c] = sums[i] * scales[r];
                }
            }
        }
    }
}

// y[rows, out] = (rmsnorm(x) * norm) . w; Note [decode products].
extern "C" __global__ void __launch_bounds__(GEMV_THREADS, 2)
ppexec_norm_matmul(const float* x, const float* norm, float eps, const float* w, float* y, float* partial,
                   unsigned* counters, int rows, int in, int out, int kChunk, int vectorized) {
    gemv<GEMV_STORE>(x, norm, eps, w, y, partial, counters, rows, in, out, kChunk, vectorized);
}

// y[rows, out] += x . w (the residual y); Note [decode products]. norm and eps are unused (the arguments are those
// of the other products).
extern "C" __global__ void __launch_bounds__(GEMV_THREADS, 2)
ppexec_matmul_add(const float* x, const float* norm, float eps, const float* w, float* y, float* partial,
                  unsigned* counters, int rows, int in, int out, int kChunk, int vectorized) {
    gemv<GEMV_ADD>(x, nullptr, eps, w, y, partial, counters, rows, in, out, kChunk, vectorized);
}

// y[rows, out/2] = silu(h . w1) * (h . w3), h = rmsnorm(x) * norm, w13 = [w1 | w3] ([in, out]); Note [decode
// products], with tiles of 32 columns of each half.
extern "C" __global__ void __launch_bounds__(GEMV_THREADS, 2)
ppexec_norm_gate_up(const float* x, const float* norm, float eps, const float* w13, float* y, float* partial,
                    unsigned* counters, int rows, int in, int out, int kChunk, int vectorized) {
    gemv<GEMV_GATE_UP>(x, norm, eps, w13, y, partial, counters, rows, in, out, kChunk, vectorized);
}

// out[rows, n] = silu(upGate[r, 0..n)) * upGate[r, n..2n) for rows * n elements; grid ceil(count / PPEXEC_BLOCK).
extern "C" __global__ void ppexec_silu_gate(const float* upGate, float* out, int n, long long count) {
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) {
        long long r = i / n;
        long long c = i - r * n;
        float a = upGate[r * 2 * n + c];
        out[i] = a / (1.0f + expf(-a)) * upGate[r * 2 * n + n + c];
    }
}

// From qkv[rows, 3*dim] (q | k | v): q rotated into q[rows, dim], k rotated and v copied into the caches
// [batch, capacity, dim] at position step[1] + t of request b (row b*tokens + t). One thread per pair of q, k
// and v; grid (rows), block 128. A position past the capacity writes nothing (the host checks before).
extern "C" __global__ void ppexec_rope_kv_append(const float* qkv, float* q, float* kCache, float* vCache,
                                                 const int* step, int tokens, int heads, int headDim, int capacity,
                                                 double theta) {
    int row = blockIdx.x;
    int b = row / tokens;
    int p = step[1] + row % tokens;
    if (p >= capacity) {
        return;
    }
    int dim = heads * headDim;
    int half = headDim / 2;
    const float* src = qkv + (size_t)row * 3 * dim;
    size_t cache = ((size_t)b * capacity + p) * dim;
    for (int pair = threadIdx.x; pair < dim / 2; pair += blockDim.x) {
        int i = pair % half;
        int e = 2 * pair;  // (head, i) -> element head*headDim + 2i
        float c, s;
        rope_angle(p, i, headDim, theta, &c, &s);
        float q0 = src[e], q1 = src[e + 1];
        q[(size_t)row * dim + e] = q0 * c - q1 * s;
        q[(size_t)row * dim + e + 1] = q0 * s + q1 * c;
        float k0 = src[dim + e], k1 = src[dim + e + 1];
        kCache[cache + e] = k0 * c - k1 * s;
        kCache[cache + e + 1] = k0 * s + k1 * c;
        vCache[cache + e] = src[2 * dim + e];
        vCache[cache + e + 1] = src[2 * dim + e + 1];
    }
}
