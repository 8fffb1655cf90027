// Shared by the kernels in this folder; built into one fatbin (see build-fatbin.sh).
// Conventions: row-major fp32, a pass has rows = batch * tokens, row b*tokens + t at position startPos + t.
// Blocks are multiples of 32 threads. Numerics follow the CPU backend (core/.../backend/cpu/CpuKernels.java):
// the build passes -fmad=false, so a*b+c rounds twice unless fmaf() says otherwise, as in Java.
#pragma once

#include <math.h>

#define PPEXEC_BLOCK 256

// The launch's dynamic shared memory as an array `name` of `type` (the stub driver's host
// emulation in the tests defines its own).
#ifndef PPEXEC_EXTERN_SHARED
#define PPEXEC_EXTERN_SHARED(type, name) extern __shared__ type name[]
#endif

// Sum of v over the block; every thread gets the result. `scratch` holds 32 floats.
static __device__ __forceinline__ float block_sum(float v, float* scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = (blockDim.x + 31) >> 5;
    __syncthreads();  // scratch may still be read by a previous reduction
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    v = lane < warps ? scratch[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    return v;
}

// Maximum of v over the block; every thread gets the result. `scratch` holds 32 floats.
static __device__ __forceinline__ float block_max(float v, float* scratch) {
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    int lane = threadIdx.x & 31;
    int warp = threadIdx.x >> 5;
    int warps = (blockDim.x + 31) >> 5;
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    v = lane < warps ? scratch[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    }
    return v;
}

// cos and sin of RoPE's angle p * theta^(-2i/headDim) for pair i at position p: computed in double and rounded
// once to float, as the CPU's table is.
static __device__ __forceinline__ void rope_angle(int p, int i, int headDim, double theta, float* c, float* s) {
    double angle = (double)p * pow(theta, -2.0 * i / headDim);
    *c = (float)cos(angle);
    *s = (float)sin(angle);
}
