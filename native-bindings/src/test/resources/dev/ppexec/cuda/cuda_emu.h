/*
 * Host emulation of the little CUDA the project's kernels use, so that the stub libcuda can run
 * the real kernels (src/main/cuda/*.cu, compiled here as C++) in CI. One launch at a time; the
 * blocks of a grid run one after another; the threads of a block are fibers on the calling thread,
 * switched at every __syncthreads and warp shuffle, so shared memory is a static array and a
 * barrier is one round over the fibers. A fiber starts with makecontext once per launch and then
 * switches with _setjmp/_longjmp, which save no signal mask (compile without _FORTIFY_SOURCE).
 * Kernel arguments are unpacked from the cuLaunchKernel parameter block with the types of the
 * kernel's own declaration, and copied with them when a launch is captured into a graph (emu_copy).
 */
#pragma once

#include <setjmp.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <utility>
#include <vector>

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};

static dim3 threadIdx, blockIdx, blockDim, gridDim;
alignas(16) static unsigned char emu_dynamic_shared[64 * 1024];
static float emu_lanes[1024];

static void emu_yield();

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define PPEXEC_EXTERN_SHARED(type, name) type *name = reinterpret_cast<type *>(emu_dynamic_shared)

static inline void __syncthreads() { emu_yield(); }

/* Every thread of the block calls the shuffles together in these kernels, so a block-wide
   exchange through emu_lanes gives the warp's answer. */
static inline float __shfl_xor_sync(unsigned, float value, int lane_mask) {
    unsigned t = threadIdx.y * blockDim.x + threadIdx.x;
    emu_lanes[t] = value;
    emu_yield();
    float other = emu_lanes[t ^ (unsigned)lane_mask];
    emu_yield();
    return other;
}

using std::max;
using std::min;

/* The fused decode products' vector loads and their split-k hand-off between blocks (blocks run one after
   another here, so a fence has nothing to order and an atomic nothing to race with). */
struct alignas(16) float4 {
    float x, y, z, w;
};

static inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

static inline void __threadfence() {}

static inline unsigned atomicAdd(unsigned *address, unsigned value) {
    unsigned old = *address;
    *address = old + value;
    return old;
}

/* ---- the fiber scheduler ---- */

static jmp_buf emu_main;
struct emu_point {
    jmp_buf at;
};

static std::vector<emu_point> emu_points;
static std::vector<ucontext_t> emu_contexts;
static std::vector<std::vector<char>> emu_stacks;
static std::vector<char> emu_started;
static std::vector<char> emu_done;
static int emu_current;
static void (*emu_body)(void **);
static void **emu_params;

static void emu_yield() {
    if (!_setjmp(emu_points[emu_current].at)) {
        _longjmp(emu_main, 1);
    }
}

/* A fiber runs one thread of every block of the launch, parking between blocks. */
static void emu_fiber() {
    for (;;) {
        emu_body(emu_params);
        emu_done[emu_current] = 1;
        emu_yield();
    }
}

static void emu_resume(int i) {
    if (_setjmp(emu_main)) {
        return;
    }
    if (emu_started[i]) {
        _longjmp(emu_points[i].at, 1);
    }
    emu_started[i] = 1;
    getcontext(&emu_contexts[i]);
    emu_contexts[i].uc_stack.ss_sp = emu_stacks[i].data();
    emu_contexts[i].uc_stack.ss_size = emu_stacks[i].size();
    emu_contexts[i].uc_link = nullptr;
    makecontext(&emu_contexts[i], emu_fiber, 0);
    ucontext_t here;
    swapcontext(&here, &emu_contexts[i]);  /* comes back through emu_main */
}

static void emu_start_launch(int threads) {
    if ((int)emu_points.size() < threads) {
        emu_points.resize(threads);
        emu_contexts.resize(threads);
        emu_stacks.resize(threads);
        emu_started.resize(threads);
        emu_done.resize(threads);
    }
    for (int i = 0; i < threads; i++) {
        emu_stacks[i].resize(64 * 1024);
        emu_started[i] = 0;
    }
}

static void emu_run_block(int threads) {
    for (int i = 0; i < threads; i++) {
        emu_done[i] = 0;
    }
    for (bool running = true; running;) {
        running = false;
        for (int i = 0; i < threads; i++) {
            if (emu_done[i]) {
                continue;
            }
            emu_current = i;
            threadIdx.x = i % blockDim.x;
            threadIdx.y = i / blockDim.x;
            emu_resume(i);
            running |= !emu_done[i];
        }
    }
}

template <typename... A, std::size_t... I>
static void emu_unpack(void (*kernel)(A...), void **p, std::index_sequence<I...>) {
    kernel(*static_cast<A *>(p[I])...);
}

template <typename... A>
static void emu_call(void (*kernel)(A...), void **p) {
    emu_unpack(kernel, p, std::index_sequence_for<A...>{});
}

/* A copy of a launch's argument values, as a captured kernel node keeps them: one block (freed with free()) holding
   the pointer array and, after it, each argument in a 16-byte aligned slot of its declared size. */
template <typename... A>
static void **emu_copy(void (*)(A...), void **p) {
    constexpr std::size_t n = sizeof...(A);
    const std::size_t sizes[n + 1] = {sizeof(A)..., 0};
    auto round = [](std::size_t b) { return (b + 15) / 16 * 16; };
    std::size_t bytes = round(n * sizeof(void *));
    for (std::size_t i = 0; i < n; i++) {
        bytes += round(sizes[i]);
    }
    void **out = static_cast<void **>(std::malloc(bytes == 0 ? 16 : bytes));
    char *slot = reinterpret_cast<char *>(out) + round(n * sizeof(void *));
    for (std::size_t i = 0; i < n; i++) {
        std::memcpy(slot, p[i], sizes[i]);
        out[i] = slot;
        slot += round(sizes[i]);
    }
    return out;
}

struct emu_kernel {
    const char *name;
    void (*body)(void **);
    void **(*copy)(void **);
};

#define EMU_KERNEL(name) {#name, [](void **p) { emu_call(name, p); }, [](void **p) { return emu_copy(name, p); }}
