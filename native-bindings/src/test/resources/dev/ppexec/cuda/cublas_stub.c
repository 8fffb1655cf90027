/*
 * A stand-in for libcublas, built by StubDriver beside the stub libcuda: handles are counted, the
 * math mode and the last GEMM's arguments are kept for the tests, and cublasSgemm_v2 computes the
 * column-major product on the host (device memory is host memory under the stub driver), so the
 * row-major identity of the CUDA backend (Note [row-major GEMM] in Cublas.java) is checked by value.
 */
#include <stdio.h>
#include <stdlib.h>

#define SUCCESS 0
#define NOT_INITIALIZED 1
#define INVALID_VALUE 7

static int fail_create;
static long live_handles;
static int last_math_mode = -1;
static long last_gemm[6]; /* m, n, k, lda, ldb, ldc */

struct handle { void *stream; int math_mode; };

void cublas_stub_fail_create(int status) { fail_create = status; }
long cublas_stub_live_handles(void) { return live_handles; }
int cublas_stub_last_math_mode(void) { return last_math_mode; }
long cublas_stub_last_gemm(int i) { return last_gemm[i]; }

const char *cublasGetStatusName(int status) {
    switch (status) {
        case SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
        case INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        default: return "CUBLAS_STATUS_UNKNOWN";
    }
}

int cublasCreate_v2(struct handle **out) {
    if (fail_create) {
        int s = fail_create;
        fail_create = 0;
        return s;
    }
    *out = calloc(1, sizeof **out);
    live_handles++;
    return SUCCESS;
}

int cublasDestroy_v2(struct handle *h) { free(h); live_handles--; return SUCCESS; }

int cublasSetStream_v2(struct handle *h, void *stream) { h->stream = stream; return SUCCESS; }

int cublasSetMathMode(struct handle *h, int mode) {
    if (mode != 0 && mode != 3) return INVALID_VALUE;
    h->math_mode = mode;
    last_math_mode = mode;
    return SUCCESS;
}

/* C = alpha A B + beta C, column-major, no transposes (the backend never asks for one). */
int cublasSgemm_v2(struct handle *h, int transa, int transb, int m, int n, int k, const float *alpha,
                   const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc) {
    (void)h;
    if (transa != 0 || transb != 0 || m < 0 || n < 0 || k < 0 || lda < m || ldb < k || ldc < m) return INVALID_VALUE;
    last_gemm[0] = m; last_gemm[1] = n; last_gemm[2] = k; last_gemm[3] = lda; last_gemm[4] = ldb; last_gemm[5] = ldc;
    for (int j = 0; j < n; j++) {
        for (int i = 0; i < m; i++) {
            float sum = 0.0f;
            for (int p = 0; p < k; p++) {
                sum += a[i + (long)p * lda] * b[p + (long)j * ldb];
            }
            c[i + (long)j * ldc] = *alpha * sum + (*beta == 0.0f ? 0.0f : *beta * c[i + (long)j * ldc]);
        }
    }
    return SUCCESS;
}
