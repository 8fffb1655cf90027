/*
 * A stand-in for libcuda.so.1, built by StubDriver in the tests, so that the FFM bindings and the
 * CUDA backend run in CI without a GPU: device memory is host memory (each allocation a memfd mapped
 * shared, so that CUDA IPC works between processes: a memory handle names the exporter's pid and
 * fd, which the importer maps through /proc/{pid}/fd), every operation runs at once
 * when it is enqueued (copies are memcpy, kernels run in the host emulation of cuda_emu.h, host
 * functions are called), events record the host clock. It counts what is alive, checks that a
 * context is current on the calling thread, and fails a chosen call on request (stub_fail).
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

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread void *current_context;
static int device_count = 1;
static size_t memory_limit = (size_t)1 << 30;
static size_t memory_used;
static char fail_call[64];
static int fail_status;
static long counters[16];
enum { LIVE_ALLOCATIONS, LIVE_HOST, LIVE_STREAMS, LIVE_EVENTS, CONTEXT_REFS, MODULES, LAUNCHES, HOST_FUNCTIONS,
       SET_CURRENT, LAST_GRID_X, LAST_GRID_Y, LAST_BLOCK_X, LAST_SHARED, LIVE_IMPORTS, IPC_EVENTS_OPENED,
       COUNTER_COUNT };
static const char *counter_names[] = {"live_allocations", "live_host", "live_streams", "live_events", "context_refs",
                                      "modules", "launches", "host_functions", "set_current", "last_grid_x",
                                      "last_grid_y", "last_block_x", "last_shared", "live_imports",
                                      "ipc_events_opened"};
static int contexts[8];

struct allocation { void *pointer; size_t size; int fd; struct allocation *next; };
static struct allocation *allocations;
static struct allocation *imports; /* other processes' allocations mapped here (fd unused) */

struct event { double millis; int recorded; unsigned flags; };

/* What a CUipcMemHandle holds here: the exporter's pid and the allocation's memfd. */
struct ipc_mem { unsigned magic; int pid; int fd; size_t size; };
#define IPC_MEM_MAGIC 0x50504d31u
#define IPC_EVENT_MAGIC 0x50504531u
typedef struct { char reserved[64]; } CUipcHandle;

/* The host emulation of the kernels (cuda_emu.h): a kernel by name, and one launch of it. */
void *emu_find(const char *name);
int emu_launch(void *kernel, unsigned gx, unsigned gy, unsigned bx, unsigned by, unsigned shared, void **params);
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

CUresult cuCtxSynchronize(void) { NEED_CONTEXT(); CHECK("cuCtxSynchronize"); return SUCCESS; }

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
    memset((void *)(uintptr_t)pointer, value, n);
    return SUCCESS;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
    NEED_CONTEXT();
    CHECK("cuMemcpyHtoD_v2");
    memcpy((void *)(uintptr_t)dst, src, n);
    return SUCCESS;
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
    NEED_CONTEXT();
    memcpy(dst, (void *)(uintptr_t)src, n);
    return SUCCESS;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, void *stream) {
    (void)stream;
    NEED_CONTEXT();
    memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n);
    return SUCCESS;
}

CUresult cuMemcpyPeerAsync(CUdeviceptr dst, void *dst_context, CUdeviceptr src, void *src_context, size_t n,
                           void *stream) {
    (void)dst_context; (void)src_context; (void)stream;
    NEED_CONTEXT();
    memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n);
    return SUCCESS;
}

CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t n, void *stream) {
    (void)stream;
    NEED_CONTEXT();
    memcpy(dst, (void *)(uintptr_t)src, n);
    return SUCCESS;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t n, void *stream) {
    (void)stream;
    NEED_CONTEXT();
    CHECK("cuMemcpyHtoDAsync_v2");
    memcpy((void *)(uintptr_t)dst, src, n);
    return SUCCESS;
}

/* ---- streams and events ---- */

CUresult cuStreamCreate(void **stream, unsigned int flags) {
    NEED_CONTEXT();
    CHECK("cuStreamCreate");
    if (flags != 1) return ERROR_INVALID_VALUE; /* the backend's streams are non-blocking */
    *stream = malloc(16);
    count(LIVE_STREAMS, 1);
    return SUCCESS;
}

CUresult cuStreamDestroy_v2(void *stream) { free(stream); count(LIVE_STREAMS, -1); return SUCCESS; }

CUresult cuStreamSynchronize(void *stream) { (void)stream; NEED_CONTEXT(); CHECK("cuStreamSynchronize"); return SUCCESS; }

CUresult cuStreamWaitEvent(void *stream, void *event, unsigned int flags) {
    (void)stream;
    NEED_CONTEXT();
    return event == NULL || flags != 0 ? ERROR_INVALID_VALUE : SUCCESS;
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

CUresult cuEventRecord(void *event, void *stream) {
    (void)stream;
    NEED_CONTEXT();
    struct event *e = event;
    e->millis = now_millis();
    e->recorded = 1;
    return SUCCESS;
}

CUresult cuEventQuery(void *event) { (void)event; CHECK("cuEventQuery"); return SUCCESS; }

CUresult cuEventSynchronize(void *event) { (void)event; CHECK("cuEventSynchronize"); return SUCCESS; }

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

CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shared, void *stream, void **params, void **extra) {
    (void)stream;
    NEED_CONTEXT();
    CHECK("cuLaunchKernel");
    if (f == NULL || params == NULL || extra != NULL || gx == 0 || gy == 0 || gz != 1 || bx == 0 || bz != 1
        || bx * by % 32 != 0) return ERROR_INVALID_VALUE;
    counters[LAST_GRID_X] = gx;
    counters[LAST_GRID_Y] = gy;
    counters[LAST_BLOCK_X] = bx;
    counters[LAST_SHARED] = shared;
    count(LAUNCHES, 1);
    return emu_launch(f, gx, gy, bx, by, shared, params) ? ERROR_INVALID_VALUE : SUCCESS;
}

CUresult cuLaunchHostFunc(void *stream, CUhostFn fn, void *user_data) {
    (void)stream;
    NEED_CONTEXT();
    CHECK("cuLaunchHostFunc");
    count(HOST_FUNCTIONS, 1);
    fn(user_data);
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
