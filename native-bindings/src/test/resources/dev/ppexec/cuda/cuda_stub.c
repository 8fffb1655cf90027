/*
 * A stand-in for libcuda.so.1, built by StubDriver in the tests, so that the FFM bindings and the
 * CUDA backend run in CI without a GPU: device memory is host memory (each allocation a memfd mapped
 * shared, so that CUDA IPC works between processes: a memory handle names the exporter's pid and
 * fd, which the importer maps through /proc/{pid}/fd), every operation runs at once
 * when it is enqueued (copies are memcpy, kernels run in the host emulation of cuda_emu.h, host
 * functions are called), events record the host clock. It counts what is alive, checks that a
 * context is current on the calling thread, and fails a chosen call on request (stub_fail).
 *
 * Stream capture (CUDA graphs) is emulated as the driver documents it: work enqueued on a capturing
 * stream becomes a node instead of running; a kernel node keeps a copy of its argument values as they
 * were at capture; a call that conflicts with the capture fails with the driver's error and
 * invalidates it, so that cuStreamEndCapture fails; a graph launch replays the nodes in order.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef void (*CUhostFn)(void *);

#define SUCCESS 0
#define ERROR_INVALID_VALUE 1
#define ERROR_OUT_OF_MEMORY 2
#define ERROR_NO_DEVICE 100
#define ERROR_INVALID_CONTEXT 201
#define ERROR_MAP_FAILED 205
#define ERROR_INVALID_HANDLE 400
#define ERROR_NOT_FOUND 500
#define ERROR_NOT_READY 600
#define ERROR_ILLEGAL_ADDRESS 700
#define ERROR_LAUNCH_FAILED 719
#define ERROR_NOT_SUPPORTED 801
#define ERROR_STREAM_CAPTURE_UNSUPPORTED 900
#define ERROR_STREAM_CAPTURE_INVALIDATED 901
#define ERROR_STREAM_CAPTURE_UNMATCHED 903
#define ERROR_STREAM_CAPTURE_ISOLATION 905
#define ERROR_CAPTURED_EVENT 907
#define ERROR_STREAM_CAPTURE_WRONG_THREAD 908
#define ERROR_ILLEGAL_STATE 401

/* CUstreamCaptureMode and CUstreamCaptureStatus */
#define MODE_GLOBAL 0
#define MODE_THREAD_LOCAL 1
#define MODE_RELAXED 2
#define CAPTURE_NONE 0
#define CAPTURE_ACTIVE 1
#define CAPTURE_INVALIDATED 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread void *current_context;
static int device_count = 1;
static size_t memory_limit = (size_t)1 << 30;
static size_t memory_used;
static char fail_call[64];
static int fail_status;
static long counters[24];
enum { LIVE_ALLOCATIONS, LIVE_HOST, LIVE_STREAMS, LIVE_EVENTS, CONTEXT_REFS, MODULES, LAUNCHES, HOST_FUNCTIONS,
       SET_CURRENT, LAST_GRID_X, LAST_GRID_Y, LAST_BLOCK_X, LAST_SHARED, LIVE_IMPORTS, IPC_EVENTS_OPENED,
       LIVE_GRAPHS, LIVE_GRAPH_EXECS, GRAPH_LAUNCHES, CAPTURED_NODES, COUNTER_COUNT };
static const char *counter_names[] = {"live_allocations", "live_host", "live_streams", "live_events", "context_refs",
                                      "modules", "launches", "host_functions", "set_current", "last_grid_x",
                                      "last_grid_y", "last_block_x", "last_shared", "live_imports",
                                      "ipc_events_opened", "live_graphs", "live_graph_execs", "graph_launches",
                                      "captured_nodes"};
static int contexts[8];

struct allocation { void *pointer; size_t size; int fd; struct allocation *next; };
static struct allocation *allocations;
static struct allocation *imports; /* other processes' allocations mapped here (fd unused) */

struct stream;
/* captured_by: the capturing stream that made its latest record a node, until it is recorded again */
struct event { double millis; int recorded; unsigned flags; struct stream *captured_by; };

/* ---- graphs: what a capture records ---- */

enum { NODE_KERNEL, NODE_COPY, NODE_EVENT, NODE_HOST };
struct node {
    int kind;
    void *f; unsigned gx, gy, bx, by, shared; void **params; /* kernel; params: values copied at capture */
    void *dst; const void *src; size_t n;                   /* copy */
    struct event *event;                                    /* event record */
    void (*fn)(void *); void *data; int owns_data;          /* host work (a host function, a library's call) */
    struct node *next;
};
/* A graph's nodes are fixed once its capture ends; an executable graph shares them (refs). */
struct graph { struct node *first, *last; int refs; };
struct exec { struct graph *graph; };
struct stream { int capturing, invalidated, mode; pthread_t thread; struct graph *graph; struct stream *next; };
static struct stream *streams; /* every live stream, to find the captures in progress */

/* What a CUipcMemHandle holds here: the exporter's pid and the allocation's memfd. */
struct ipc_mem { unsigned magic; int pid; int fd; size_t size; };
#define IPC_MEM_MAGIC 0x50504d31u
#define IPC_EVENT_MAGIC 0x50504531u
typedef struct { char reserved[64]; } CUipcHandle;

/* The host emulation of the kernels (cuda_emu.h): a kernel by name, and one launch of it. */
void *emu_find(const char *name);
int emu_launch(void *kernel, unsigned gx, unsigned gy, unsigned bx, unsigned by, unsigned shared, void **params);
void **emu_copy_params(void *kernel, void **params);
static int module_token;

/* ---- control, for the test ---- */

void stub_reset(int devices, size_t memory) {
    pthread_mutex_lock(&lock);
    device_count = devices;
    memory_limit = memory;
    fail_call[0] = 0;
    pthread_mutex_unlock(&lock);
}

/* The next call of `call` returns `status`. */
void stub_fail(const char *call, int status) {
    pthread_mutex_lock(&lock);
    snprintf(fail_call, sizeof fail_call, "%s", call);
    fail_status = status;
    pthread_mutex_unlock(&lock);
}

long stub_counter(const char *name) {
    for (int i = 0; i < COUNTER_COUNT; i++) {
        if (strcmp(name, counter_names[i]) == 0) {
            return counters[i];
        }
    }
    return -1;
}

static int injected(const char *call) {
    int status = SUCCESS;
    pthread_mutex_lock(&lock);
    if (fail_call[0] && strcmp(fail_call, call) == 0) {
        status = fail_status;
        fail_call[0] = 0;
    }
    pthread_mutex_unlock(&lock);
    return status;
}

static void count(int which, long delta) {
    __atomic_add_fetch(&counters[which], delta, __ATOMIC_SEQ_CST);
}

#define CHECK(call) do { int s_ = injected(call); if (s_) return s_; } while (0)
#define NEED_CONTEXT() do { if (!current_context) return ERROR_INVALID_CONTEXT; } while (0)

/* ---- capture ---- */

#define AS_NODE (-1)

/* What becomes of work enqueued on `s`: SUCCESS when it runs now, AS_NODE when it becomes a node, or an error. */
static int capturing(struct stream *s) {
    if (s == NULL || !s->capturing) return SUCCESS;
    return s->invalidated ? ERROR_STREAM_CAPTURE_INVALIDATED : AS_NODE;
}

static void append(struct stream *s, struct node *n) {
    n->next = NULL;
    if (s->graph->last) s->graph->last->next = n; else s->graph->first = n;
    s->graph->last = n;
    count(CAPTURED_NODES, 1);
}

static struct node *new_node(int kind) {
    struct node *n = calloc(1, sizeof *n);
    n->kind = kind;
    return n;
}

static void release_graph(struct graph *g) {
    if (g == NULL || --g->refs > 0) return;
    for (struct node *n = g->first, *next; n; n = next) {
        next = n->next;
        free(n->params);
        if (n->owns_data) free(n->data);
        free(n);
    }
    free(g);
}

static void invalidate(struct stream *s) {
    if (s != NULL && s->capturing) s->invalidated = 1;
}

/* A call that may synchronise or allocate outside stream order is potentially unsafe during capture: it is
   prohibited on a thread whose own capture is not relaxed, and on every thread while another captures in global
   mode. It then fails, and the captures that prohibit it are invalidated. */
static int unsafe_call(void) {
    int prohibited = 0;
    pthread_t self = pthread_self();
    pthread_mutex_lock(&lock);
    for (struct stream *s = streams; s; s = s->next) {
        if (s->capturing && s->mode != MODE_RELAXED && (s->mode == MODE_GLOBAL || pthread_equal(s->thread, self))) {
            s->invalidated = 1;
            prohibited = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    return prohibited ? ERROR_STREAM_CAPTURE_UNSUPPORTED : SUCCESS;
}

#define UNSAFE() do { int u_ = unsafe_call(); if (u_) return u_; } while (0)

/* For a library built beside this stub (the stub cuBLAS): runs `fn(data)` now, or, on a capturing stream, appends
   a node holding a copy of the `bytes` at `data`. */
CUresult stub_enqueue(void *stream, void (*fn)(void *), const void *data, size_t bytes) {
    int c = capturing(stream);
    if (c == AS_NODE) {
        struct node *n = new_node(NODE_HOST);
        n->fn = fn;
        n->data = malloc(bytes);
        memcpy(n->data, data, bytes);
        n->owns_data = 1;
        append(stream, n);
        return SUCCESS;
    }
    if (c) return c;
    fn((void *)data);
    return SUCCESS;
}

/* ---- errors ---- */

static const struct { int code; const char *name; const char *text; } errors[] = {
    {SUCCESS, "CUDA_SUCCESS", "no error"},
    {ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {ERROR_MAP_FAILED, "CUDA_ERROR_MAP_FAILED", "mapping of buffer object failed"},
    {ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {ERROR_LAUNCH_FAILED, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE", "the operation cannot be performed in the present state"},
    {ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
    {ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED",
     "capture was not initiated in this stream"},
    {ERROR_STREAM_CAPTURE_ISOLATION, "CUDA_ERROR_STREAM_CAPTURE_ISOLATION",
     "dependency created on uncaptured work in another stream"},
    {ERROR_CAPTURED_EVENT, "CUDA_ERROR_CAPTURED_EVENT",
     "operation not permitted on an event last recorded in a capturing stream"},
    {ERROR_STREAM_CAPTURE_WRONG_THREAD, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD",
     "attempt to terminate a thread-local capture sequence from another thread"},
};

CUresult cuGetErrorName(CUresult error, const char **name) {
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (errors[i].code == error) { *name = errors[i].name; return SUCCESS; }
    }
    *name = NULL;
    return ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **text) {
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        if (errors[i].code == error) { *text = errors[i].text; return SUCCESS; }
    }
    *text = NULL;
    return ERROR_INVALID_VALUE;
}

/* ---- devices and contexts ---- */

CUresult cuInit(unsigned int flags) {
    CHECK("cuInit");
    const char *devices = getenv("PPEXEC_STUB_DEVICES"); /* for rank processes, which no test can stub_reset */
    if (devices != NULL) {
        device_count = atoi(devices);
    }
    return flags != 0 ? ERROR_INVALID_VALUE : device_count == 0 ? ERROR_NO_DEVICE : SUCCESS;
}

CUresult cuDriverGetVersion(int *version) { *version = 13000; return SUCCESS; }

CUresult cuDeviceGetCount(int *n) { CHECK("cuDeviceGetCount"); *n = device_count; return SUCCESS; }

CUresult cuDeviceGet(int *device, int ordinal) {
    if (ordinal < 0 || ordinal >= device_count) return ERROR_INVALID_VALUE;
    *device = ordinal;
    return SUCCESS;
}

CUresult cuDeviceGetName(char *name, int length, int device) {
    snprintf(name, (size_t)length, "Stub GPU %d", device);
    return SUCCESS;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, int device) { (void)device; *bytes = memory_limit; return SUCCESS; }

CUresult cuDeviceGetAttribute(int *value, int attribute, int device) {
    (void)device;
    if (attribute == 75) { *value = 9; return SUCCESS; }
    if (attribute == 76) { *value = 0; return SUCCESS; }
    if (attribute == 36) { *value = 1000000; return SUCCESS; } /* memory clock 1 GHz */
    if (attribute == 37) { *value = 256; return SUCCESS; }     /* bus 256 bits: peak 64 GB/s */
    return ERROR_INVALID_VALUE;
}

CUresult cuDevicePrimaryCtxRetain(void **context, int device) {
    CHECK("cuDevicePrimaryCtxRetain");
    *context = &contexts[device];
    count(CONTEXT_REFS, 1);
    return SUCCESS;
}

CUresult cuDevicePrimaryCtxRelease_v2(int device) { (void)device; count(CONTEXT_REFS, -1); return SUCCESS; }

CUresult cuCtxSetCurrent(void *context) { current_context = context; count(SET_CURRENT, 1); return SUCCESS; }

CUresult cuCtxSynchronize(void) { NEED_CONTEXT(); CHECK("cuCtxSynchronize"); UNSAFE(); return SUCCESS; }

/* ---- memory ---- */

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    NEED_CONTEXT();
    *free_bytes = memory_limit - memory_used;
    *total = memory_limit;
    return SUCCESS;
}

CUresult cuMemAlloc_v2(CUdeviceptr *pointer, size_t size) {
    NEED_CONTEXT();
    CHECK("cuMemAlloc_v2");
    UNSAFE();
    if (size == 0) return ERROR_INVALID_VALUE;
    pthread_mutex_lock(&lock);
    if (memory_used + size > memory_limit) { pthread_mutex_unlock(&lock); return ERROR_OUT_OF_MEMORY; }
    struct allocation *a = malloc(sizeof *a);
    a->fd = memfd_create("ppexec-stub-device", MFD_CLOEXEC);
    if (a->fd < 0 || ftruncate(a->fd, (off_t)size) != 0) {
        if (a->fd >= 0) close(a->fd);
        free(a);
        pthread_mutex_unlock(&lock);
        return ERROR_OUT_OF_MEMORY;
    }
    a->pointer = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, a->fd, 0);
    a->size = size;
    a->next = allocations;
    allocations = a;
    memory_used += size;
    pthread_mutex_unlock(&lock);
    *pointer = (CUdeviceptr)(uintptr_t)a->pointer;
    count(LIVE_ALLOCATIONS, 1);
    return SUCCESS;
}

CUresult cuMemFree_v2(CUdeviceptr pointer) {
    NEED_CONTEXT();
    UNSAFE();
    pthread_mutex_lock(&lock);
    for (struct allocation **p = &allocations; *p; p = &(*p)->next) {
        if ((*p)->pointer == (void *)(uintptr_t)pointer) {
            struct allocation *a = *p;
            *p = a->next;
            memory_used -= a->size;
            munmap(a->pointer, a->size);
            close(a->fd);
            free(a);
            pthread_mutex_unlock(&lock);
            count(LIVE_ALLOCATIONS, -1);
            return SUCCESS;
        }
    }
    pthread_mutex_unlock(&lock);
    return ERROR_INVALID_VALUE;
}

CUresult cuMemAllocHost_v2(void **pointer, size_t size) {
    NEED_CONTEXT();
    *pointer = malloc(size);
    count(LIVE_HOST, 1);
    return SUCCESS;
}

CUresult cuMemFreeHost(void *pointer) { free(pointer); count(LIVE_HOST, -1); return SUCCESS; }

CUresult cuMemsetD8_v2(CUdeviceptr pointer, unsigned char value, size_t n) {
    NEED_CONTEXT();
    UNSAFE();
    memset((void *)(uintptr_t)pointer, value, n);
    return SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    NEED_CONTEXT();
    CHECK("cuMemcpyHtoD_v2");
    UNSAFE();
    memcpy((void *)(uintptr_t)dst, src, n);
    return SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    NEED_CONTEXT();
    UNSAFE();
    memcpy(dst, (void *)(uintptr_t)src, n);
    return SUCCESS;
}

/* An asynchronous copy: now, or a copy node (which reads its source when the graph runs, as on a GPU). */
static CUresult copy_async(void *dst, const void *src, size_t n, void *stream) {
    int c = capturing(stream);
    if (c == AS_NODE) {
        struct node *node = new_node(NODE_COPY);
        node->dst = dst;
        node->src = src;
        node->n = n;
        append(stream, node);
        return SUCCESS;
    }
    if (c) return c;
    memmove(dst, src, n);
    return SUCCESS;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream) {
    NEED_CONTEXT();
    return copy_async((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n, stream);
}

CUresult cuMemcpyPeerAsync(CUdeviceptr dst, void *dst_context, CUdeviceptr src, void *src_context, size_t n,
                           void *stream) {
    (void)dst_context; (void)src_context;
    NEED_CONTEXT();
    return copy_async((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n, stream);
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
    NEED_CONTEXT();
    return copy_async(dst, (void *)(uintptr_t)src, n, stream);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
    NEED_CONTEXT();
    CHECK("cuMemcpyHtoDAsync_v2");
    return copy_async((void *)(uintptr_t)dst, src, n, stream);
}

/* ---- streams and events ---- */

CUresult cuStreamCreate(void **stream, unsigned int flags) {
    NEED_CONTEXT();
    CHECK("cuStreamCreate");
    if (flags != 1) return ERROR_INVALID_VALUE; /* the backend's streams are non-blocking */
    struct stream *s = calloc(1, sizeof *s);
    pthread_mutex_lock(&lock);
    s->next = streams;
    streams = s;
    pthread_mutex_unlock(&lock);
    *stream = s;
    count(LIVE_STREAMS, 1);
    return SUCCESS;
}

CUresult cuStreamDestroy_v2(void *stream) {
    struct stream *s = stream;
    pthread_mutex_lock(&lock);
    for (struct stream **p = &streams; *p; p = &(*p)->next) {
        if (*p == s) { *p = s->next; break; }
    }
    pthread_mutex_unlock(&lock);
    if (s->capturing) {
        release_graph(s->graph);
        count(LIVE_GRAPHS, -1);
    }
    free(s);
    count(LIVE_STREAMS, -1);
    return SUCCESS;
}

CUresult cuStreamSynchronize(void *stream) {
    struct stream *s = stream;
    NEED_CONTEXT();
    CHECK("cuStreamSynchronize");
    if (s == NULL) {
        UNSAFE(); /* the legacy stream */
    } else if (s->capturing) {
        s->invalidated = 1;
        return ERROR_STREAM_CAPTURE_UNSUPPORTED;
    }
    return SUCCESS;
}

CUresult cuStreamWaitEvent(void *stream, void *event, unsigned int flags) {
    struct stream *s = stream;
    NEED_CONTEXT();
    if (event == NULL || flags != 0) return ERROR_INVALID_VALUE;
    int c = capturing(s);
    if (c == AS_NODE && ((struct event *)event)->captured_by != s) {
        /* work outside this capture: only the stream's own order may cross its boundary */
        s->invalidated = 1;
        return ERROR_STREAM_CAPTURE_ISOLATION;
    }
    return c == AS_NODE ? SUCCESS : c; /* within one stream, a captured record is already ordered */
}

CUresult cuStreamBeginCapture_v2(void *stream, int mode) {
    struct stream *s = stream;
    NEED_CONTEXT();
    CHECK("cuStreamBeginCapture_v2");
    if (s == NULL || mode < MODE_GLOBAL || mode > MODE_RELAXED) return ERROR_INVALID_VALUE;
    if (s->capturing) return ERROR_ILLEGAL_STATE;
    s->graph = calloc(1, sizeof *s->graph);
    s->graph->refs = 1;
    s->mode = mode;
    s->thread = pthread_self();
    s->invalidated = 0;
    s->capturing = 1;
    count(LIVE_GRAPHS, 1);
    return SUCCESS;
}

CUresult cuStreamEndCapture(void *stream, void **graph) {
    struct stream *s = stream;
    NEED_CONTEXT();
    if (s == NULL || !s->capturing) return ERROR_STREAM_CAPTURE_UNMATCHED;
    if (s->mode != MODE_RELAXED && !pthread_equal(s->thread, pthread_self())) return ERROR_STREAM_CAPTURE_WRONG_THREAD;
    s->capturing = 0;
    if (s->invalidated) {
        release_graph(s->graph);
        count(LIVE_GRAPHS, -1);
        s->graph = NULL;
        *graph = NULL;
        return ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    *graph = s->graph;
    s->graph = NULL;
    return SUCCESS;
}

CUresult cuStreamIsCapturing(void *stream, int *status) {
    struct stream *s = stream;
    *status = s == NULL || !s->capturing ? CAPTURE_NONE : s->invalidated ? CAPTURE_INVALIDATED : CAPTURE_ACTIVE;
    return SUCCESS;
}

static double now_millis(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

CUresult cuEventCreate(void **event, unsigned int flags) {
    NEED_CONTEXT();
    if (flags != 0 && flags != 6) return ERROR_INVALID_VALUE; /* timing, or interprocess without timing */
    struct event *e = calloc(1, sizeof *e);
    e->flags = flags;
    *event = e;
    count(LIVE_EVENTS, 1);
    return SUCCESS;
}

static void record(struct event *e) {
    e->millis = now_millis();
    e->recorded = 1;
    e->captured_by = NULL;
}

CUresult cuEventRecord(void *event, void *stream) {
    NEED_CONTEXT();
    struct event *e = event;
    int c = capturing(stream);
    if (c == AS_NODE) {
        struct node *n = new_node(NODE_EVENT);
        n->event = e;
        append(stream, n);
        e->captured_by = stream;
        return SUCCESS;
    }
    if (c) return c;
    record(e);
    return SUCCESS;
}

/* An event whose latest record is a node of a capture cannot be waited for from the host. */
static int captured_event(struct event *e) {
    if (e->captured_by == NULL) return SUCCESS;
    pthread_mutex_lock(&lock);
    invalidate(e->captured_by);
    pthread_mutex_unlock(&lock);
    return ERROR_CAPTURED_EVENT;
}

CUresult cuEventQuery(void *event) { CHECK("cuEventQuery"); return captured_event(event); }

CUresult cuEventSynchronize(void *event) { CHECK("cuEventSynchronize"); return captured_event(event); }

CUresult cuEventElapsedTime_v2(float *millis, void *start, void *end) {
    struct event *s = start, *e = end;
    if (!s->recorded || !e->recorded || s->flags || e->flags) return ERROR_INVALID_HANDLE;
    *millis = (float)(e->millis - s->millis);
    return SUCCESS;
}

CUresult cuEventDestroy_v2(void *event) { free(event); count(LIVE_EVENTS, -1); return SUCCESS; }

/* ---- modules and launches ---- */

CUresult cuModuleLoadData(void **module, const void *image) {
    NEED_CONTEXT();
    CHECK("cuModuleLoadData");
    if (image == NULL) return ERROR_INVALID_VALUE;
    *module = &module_token;
    count(MODULES, 1);
    return SUCCESS;
}

CUresult cuModuleGetFunction(void **function, void *module, const char *name) {
    NEED_CONTEXT();
    CHECK("cuModuleGetFunction");
    if (module != &module_token) return ERROR_INVALID_HANDLE;
    *function = emu_find(name);
    return *function ? SUCCESS : ERROR_NOT_FOUND;
}

CUresult cuModuleUnload(void *module) { (void)module; count(MODULES, -1); return SUCCESS; }

static int run_kernel(void *f, unsigned gx, unsigned gy, unsigned bx, unsigned by, unsigned shared, void **params) {
    counters[LAST_GRID_X] = gx;
    counters[LAST_GRID_Y] = gy;
    counters[LAST_BLOCK_X] = bx;
    counters[LAST_SHARED] = shared;
    count(LAUNCHES, 1);
    return emu_launch(f, gx, gy, bx, by, shared, params) ? ERROR_INVALID_VALUE : SUCCESS;
}

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
    NEED_CONTEXT();
    CHECK("cuLaunchKernel");
    if (f == NULL || params == NULL || extra != NULL || gx == 0 || gy == 0 || gz != 1 || bx == 0 || bz != 1
        || bx * by % 32 != 0) return ERROR_INVALID_VALUE;
    int c = capturing(stream);
    if (c == AS_NODE) {
        struct node *n = new_node(NODE_KERNEL);
        n->f = f;
        n->gx = gx; n->gy = gy; n->bx = bx; n->by = by; n->shared = shared;
        n->params = emu_copy_params(f, params); /* the values now: a later change of the block does not reach it */
        append(stream, n);
        return SUCCESS;
    }
    if (c) return c;
    return run_kernel(f, gx, gy, bx, by, shared, params);
}

CUresult cuLaunchHostFunc(void *stream, CUhostFn fn, void *user_data) {
    NEED_CONTEXT();
    CHECK("cuLaunchHostFunc");
    int c = capturing(stream);
    if (c == AS_NODE) {
        struct node *n = new_node(NODE_HOST);
        n->fn = fn;
        n->data = user_data;
        append(stream, n);
        return SUCCESS;
    }
    if (c) return c;
    count(HOST_FUNCTIONS, 1);
    fn(user_data);
    return SUCCESS;
}

/* ---- graphs ---- */

CUresult cuGraphInstantiateWithFlags(void **exec, void *graph, unsigned long long flags) {
    NEED_CONTEXT();
    CHECK("cuGraphInstantiateWithFlags");
    if (graph == NULL || flags != 0) return ERROR_INVALID_VALUE;
    struct exec *x = malloc(sizeof *x);
    x->graph = graph;
    x->graph->refs++;
    *exec = x;
    count(LIVE_GRAPH_EXECS, 1);
    return SUCCESS;
}

CUresult cuGraphDestroy(void *graph) {
    if (graph == NULL) return ERROR_INVALID_VALUE;
    release_graph(graph);
    count(LIVE_GRAPHS, -1);
    return SUCCESS;
}

CUresult cuGraphExecDestroy(void *exec) {
    struct exec *x = exec;
    if (x == NULL) return ERROR_INVALID_VALUE;
    release_graph(x->graph);
    free(x);
    count(LIVE_GRAPH_EXECS, -1);
    return SUCCESS;
}

/* Replays the nodes in capture order; a kernel runs with the argument values it was captured with. */
CUresult cuGraphLaunch(void *exec, void *stream) {
    NEED_CONTEXT();
    CHECK("cuGraphLaunch");
    struct exec *x = exec;
    if (x == NULL) return ERROR_INVALID_VALUE;
    if (capturing(stream)) return ERROR_NOT_SUPPORTED; /* a graph inside a capture: not emulated */
    count(GRAPH_LAUNCHES, 1);
    for (struct node *n = x->graph->first; n; n = n->next) {
        switch (n->kind) {
            case NODE_KERNEL:
                if (run_kernel(n->f, n->gx, n->gy, n->bx, n->by, n->shared, n->params)) return ERROR_LAUNCH_FAILED;
                break;
            case NODE_COPY: memmove(n->dst, n->src, n->n); break;
            case NODE_EVENT: record(n->event); break;
            default: n->fn(n->data); break;
        }
    }
    return SUCCESS;
}

/* ---- interprocess ---- */

CUresult cuIpcGetMemHandle(CUipcHandle *handle, CUdeviceptr pointer) {
    NEED_CONTEXT();
    CHECK("cuIpcGetMemHandle");
    memset(handle, 0, sizeof *handle);
    pthread_mutex_lock(&lock);
    for (struct allocation *a = allocations; a; a = a->next) {
        if (a->pointer == (void *)(uintptr_t)pointer) {
            struct ipc_mem m = {IPC_MEM_MAGIC, (int)getpid(), a->fd, a->size};
            memcpy(handle->reserved, &m, sizeof m);
            pthread_mutex_unlock(&lock);
            return SUCCESS;
        }
    }
    pthread_mutex_unlock(&lock);
    return ERROR_INVALID_VALUE; /* not the base of an allocation */
}

CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pointer, CUipcHandle handle, unsigned int flags) {
    NEED_CONTEXT();
    CHECK("cuIpcOpenMemHandle_v2");
    struct ipc_mem m;
    memcpy(&m, handle.reserved, sizeof m);
    if (flags != 1 || m.magic != IPC_MEM_MAGIC) return ERROR_INVALID_VALUE;
    if (m.pid == (int)getpid()) return ERROR_INVALID_CONTEXT; /* as the driver: not in the exporting process */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", m.pid, m.fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return ERROR_MAP_FAILED;
    void *p = mmap(NULL, m.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return ERROR_MAP_FAILED;
    struct allocation *a = malloc(sizeof *a);
    a->pointer = p;
    a->size = m.size;
    a->fd = -1;
    pthread_mutex_lock(&lock);
    a->next = imports;
    imports = a;
    pthread_mutex_unlock(&lock);
    count(LIVE_IMPORTS, 1);
    *pointer = (CUdeviceptr)(uintptr_t)p;
    return SUCCESS;
}

CUresult cuIpcCloseMemHandle(CUdeviceptr pointer) {
    NEED_CONTEXT();
    pthread_mutex_lock(&lock);
    for (struct allocation **p = &imports; *p; p = &(*p)->next) {
        if ((*p)->pointer == (void *)(uintptr_t)pointer) {
            struct allocation *a = *p;
            *p = a->next;
            pthread_mutex_unlock(&lock);
            munmap(a->pointer, a->size);
            free(a);
            count(LIVE_IMPORTS, -1);
            return SUCCESS;
        }
    }
    pthread_mutex_unlock(&lock);
    return ERROR_INVALID_VALUE;
}

CUresult cuIpcGetEventHandle(CUipcHandle *handle, void *event) {
    NEED_CONTEXT();
    struct event *e = event;
    if (e == NULL || e->flags != 6) return ERROR_INVALID_VALUE; /* needs INTERPROCESS | DISABLE_TIMING */
    memset(handle, 0, sizeof *handle);
    unsigned magic = IPC_EVENT_MAGIC;
    memcpy(handle->reserved, &magic, sizeof magic);
    return SUCCESS;
}

/* Work runs when it is enqueued here, so every record of the exporter's event has completed: the opened event
   is one that has completed. */
CUresult cuIpcOpenEventHandle(void **event, CUipcHandle handle) {
    NEED_CONTEXT();
    unsigned magic;
    memcpy(&magic, handle.reserved, sizeof magic);
    if (magic != IPC_EVENT_MAGIC) return ERROR_INVALID_VALUE;
    struct event *e = calloc(1, sizeof *e);
    e->flags = 2; /* as the driver: disable timing */
    e->recorded = 1;
    *event = e;
    count(LIVE_EVENTS, 1);
    count(IPC_EVENTS_OPENED, 1);
    return SUCCESS;
}
