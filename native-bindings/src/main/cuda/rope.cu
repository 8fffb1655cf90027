#include "common.cuh"

// Rotates interleaved pairs (2i, 2i+1) of each head of x[rows, heads*headDim] by p*theta^(-2i/headDim),
// p = startPos + t. One thread per pair; grid ceil(rows*heads*headDim/2 / PPEXEC_BLOCK).
// The angle, cos and sin are computed in double and rounded once to float, as on the CPU.
extern "C" __global__ void ppexec_rope(float* x, int rows, int tokens, int startPos, int heads, int headDim,
                                       double theta) {
    int half = headDim / 2;
    long long pairs = (long long)rows * heads * half;
    long long k = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (k >= pairs) {
        return;
    }
    int i = (int)(k % half);
    long long rowHead = k / half;  // row * heads + head
    int row = (int)(rowHead / heads);
    int p = startPos + row % tokens;
    float c, s;
    rope_angle(p, i, headDim, theta, &c, &s);
    float* pair = x + rowHead * headDim + 2 * i;
    float x0 = pair[0];
    float x1 = pair[1];
    pair[0] = x0 * c - x1 * s;
    pair[1] = x0 * s + x1 * c;
}
