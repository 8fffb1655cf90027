/*
 * A stand-in for libcublas, built by StubDriver beside the stub libcuda: handles are counted, the
 * math mode and the last GEMM's arguments are kept for the tests, and cublasSgemm_v2 computes the
 * column-major product on the host (device memory is host memory under the stub driver), so the
 * row-major identity of the CUDA backend (Note [row-major GEMM] in Cublas.java) is checked by value.
 * It is linked against the stub libcuda: a GEMM goes through stub_enqueue, so on a capturing stream it
 * becomes a node (with its arguments, alpha and beta copied, as cuBLAS reads host scalars at the call).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define SUCCESS 0
#define NOT_INITIALIZED 1
#define INVALID_VALUE 7
#define EXECUTION_FAILED 13

static int fail_create;
static long live_handles;
static int last_math_mode = -1;
static long last_gemm[7]; /* m, n, k, lda, ldb, ldc, workspace bytes of the handle */

struct handle { void *stream; int math_mode; void *workspace; size_t workspace_bytes; };

/* From the stub libcuda: runs fn(data) now, or appends it as a node when the stream is capturing. */
int stub_enqueue(void *stream, void (*fn)(void *), const void *data, size_t bytes);

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
        case EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
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

int cublasSetWorkspace_v2(struct handle *h, void *workspace, size_t bytes) {
    if (workspace == NULL && bytes != 0) return INVALID_VALUE;
    h->workspace = workspace;
    h->workspace_bytes = bytes;
    return SUCCESS;
}

int cublasSetMathMode(struct handle *h, int mode) {
    if (mode != 0 && mode != 3) return INVALID_VALUE;
    h->math_mode = mode;
    last_math_mode = mode;
    return SUCCESS;
}

struct gemm { int m, n, k, lda, ldb, ldc; float alpha, beta; const float *a, *b; float *c; };

/* C = alpha A B + beta C, column-major. */
static void run_gemm(void *arg) {
    const struct gemm *g = arg;
    for (int j = 0; j < g->n; j++) {
        for (int i = 0; i < g->m; i++) {
            float sum = 0.0f;
            for (int p = 0; p < g->k; p++) {
                sum += g->a[i + (long)p * g->lda] * g->b[p + (long)j * g->ldb];
            }
            float *c = &g->c[i + (long)j * g->ldc];
            *c = g->alpha * sum + (g->beta == 0.0f ? 0.0f : g->beta * *c);
        }
    }
}

/* No transposes (the backend never asks for one). */
int cublasSgemm_v2(struct handle *h, int transa, int transb, int m, int n, int k, const float *alpha,
                   const float *a, int lda, const float *b, int ldb, const float *beta, float *c, int ldc) {
    if (transa != 0 || transb != 0 || m < 0 || n < 0 || k < 0 || lda < m || ldb < k || ldc < m) return INVALID_VALUE;
    last_gemm[0] = m; last_gemm[1] = n; last_gemm[2] = k; last_gemm[3] = lda; last_gemm[4] = ldb; last_gemm[5] = ldc;
    last_gemm[6] = (long)h->workspace_bytes;
    struct gemm g = {m, n, k, lda, ldb, ldc, *alpha, *beta, a, b, c};
    return stub_enqueue(h->stream, run_gemm, &g, sizeof g) == 0 ? SUCCESS : EXECUTION_FAILED;
}
