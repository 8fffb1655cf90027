/*
 * A stand-in for libnccl, built by StubNccl with gcc once per test JVM. It declares only the ABI the
 * bindings use (ncclResult_t values, ncclFloat32 = 7, a 128-byte ncclUniqueId passed by value, the
 * head of ncclConfig_t). It writes one line per call into a log the tests read, and can be told to
 * answer ncclInProgress for a number of polls (or forever), to fail one call, or to raise an
 * asynchronous error on every communicator. The only data it moves is a rank's send to itself, copied
 * into its matching receive at ncclGroupEnd (device memory is host memory under the stub libcuda).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUCCESS 0
#define INVALID_ARGUMENT 4
#define INVALID_USAGE 5
#define IN_PROGRESS 7
#define MAGIC 0xcafebeefu
#define ID_BYTES 128

typedef struct { char internal[ID_BYTES]; } unique_id;
typedef struct { size_t size; unsigned int magic; unsigned int version; int blocking; } config_head;

/* What an operation still owes: polls left before it finishes (-1: never). */
struct comm { int rank; int nranks; long pending_polls; int destroyed; };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static size_t log_length;
static long init_polls, group_polls, finalize_polls;
static int async_error;
static char fail_call[64];
static int fail_status;
static long live_comms, async_polls;
static __thread int group_depth;
/* A group's transfers between a rank and itself, matched at ncclGroupEnd. */
struct self_transfer { int send; int used; void *buffer; size_t count; };
static __thread struct self_transfer self_transfers[16];
static __thread int self_count;
static char last_error[256] = "";

static void log_line(const char *format, ...) {
    va_list args;
    va_start(args, format);
    pthread_mutex_lock(&lock);
    int n = vsnprintf(log_text + log_length, sizeof log_text - log_length, format, args);
    if (n > 0 && log_length + n + 1 < sizeof log_text) {
        log_length += n;
        log_text[log_length++] = '\n';
        log_text[log_length] = 0;
    }
    pthread_mutex_unlock(&lock);
    va_end(args);
}

/* The status the next call of `call` should return instead of running (then forgotten), or 0. */
static int injected(const char *call) {
    int s = 0;
    pthread_mutex_lock(&lock);
    if (fail_status && strcmp(fail_call, call) == 0) {
        s = fail_status;
        fail_status = 0;
        snprintf(last_error, sizeof last_error, "stub: %s failed as told", call);
    }
    pthread_mutex_unlock(&lock);
    return s;
}

/* ---- control, for the tests ---- */

void nccl_stub_reset(void) {
    pthread_mutex_lock(&lock);
    log_length = 0;
    log_text[0] = 0;
    init_polls = group_polls = finalize_polls = 0;
    async_error = 0;
    fail_status = 0;
    live_comms = async_polls = 0;
    last_error[0] = 0;
    pthread_mutex_unlock(&lock);
}

/* "init_polls", "group_polls", "finalize_polls": ncclInProgress for that many polls of ncclCommGetAsyncError (-1: forever). */
int nccl_stub_set(const char *knob, long value) {
    pthread_mutex_lock(&lock);
    int known = 1;
    if (strcmp(knob, "init_polls") == 0) init_polls = value;
    else if (strcmp(knob, "group_polls") == 0) group_polls = value;
    else if (strcmp(knob, "finalize_polls") == 0) finalize_polls = value;
    else known = 0;
    pthread_mutex_unlock(&lock);
    return known;
}

/* Every communicator's next ncclCommGetAsyncError reports `result`, and ncclGetLastError says `message`. */
void nccl_stub_raise(int result, const char *message) {
    pthread_mutex_lock(&lock);
    async_error = result;
    snprintf(last_error, sizeof last_error, "%s", message);
    pthread_mutex_unlock(&lock);
}

/* The next call of `call` returns `status`. */
void nccl_stub_fail(const char *call, int status) {
    pthread_mutex_lock(&lock);
    snprintf(fail_call, sizeof fail_call, "%s", call);
    fail_status = status;
    pthread_mutex_unlock(&lock);
}

const char *nccl_stub_log(void) { return log_text; }

long nccl_stub_counter(const char *name) {
    if (strcmp(name, "live_comms") == 0) return live_comms;
    if (strcmp(name, "async_polls") == 0) return async_polls;
    return -1;
}

/* ---- the NCCL entry points ---- */

const char *ncclGetErrorString(int result) {
    switch (result) {
        case 0: return "no error";
        case 1: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case 2: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case 3: return "internal error - please report this issue to the NCCL developers";
        case 4: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case 5: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case 6: return "remote process exited or there was a network error";
        case 7: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}

const char *ncclGetLastError(struct comm *comm) {
    (void) comm;
    return last_error;
}

int ncclGetVersion(int *version) {
    log_line("ncclGetVersion");
    *version = 22803;
    return SUCCESS;
}

int ncclGetUniqueId(unique_id *id) {
    int s = injected("ncclGetUniqueId");
    log_line("ncclGetUniqueId");
    if (s) return s;
    for (int i = 0; i < ID_BYTES; i++) id->internal[i] = (char) (i * 7 + 1);
    return SUCCESS;
}

int ncclCommInitRankConfig(struct comm **out, int nranks, unique_id id, int rank, config_head *config) {
    unsigned long sum = 0;
    for (int i = 0; i < ID_BYTES; i++) sum = sum * 31 + (unsigned char) id.internal[i];
    log_line("ncclCommInitRankConfig nranks=%d rank=%d id=%016lx config.size=%zu magic=%x version=%u blocking=%d",
             nranks, rank, sum, config->size, config->magic, config->version, config->blocking);
    int s = injected("ncclCommInitRankConfig");
    if (s) return s;
    if (config->magic != MAGIC || config->size < sizeof(config_head)) return INVALID_ARGUMENT;
    if (rank < 0 || rank >= nranks) return INVALID_ARGUMENT;
    struct comm *c = calloc(1, sizeof *c);
    c->rank = rank;
    c->nranks = nranks;
    *out = c;
    pthread_mutex_lock(&lock);
    live_comms++;
    c->pending_polls = init_polls;
    pthread_mutex_unlock(&lock);
    return c->pending_polls != 0 && config->blocking == 0 ? IN_PROGRESS : SUCCESS;
}

int ncclCommGetAsyncError(struct comm *comm, int *result) {
    pthread_mutex_lock(&lock);
    async_polls++;
    if (comm->destroyed) {
        *result = INVALID_USAGE; /* a use after destroy: the bindings must never do this */
    } else if (async_error) {
        *result = async_error;
    } else if (comm->pending_polls != 0) {
        if (comm->pending_polls > 0) comm->pending_polls--;
        *result = IN_PROGRESS;
    } else {
        *result = SUCCESS;
    }
    pthread_mutex_unlock(&lock);
    return SUCCESS;
}

int ncclGroupStart(void) {
    group_depth++;
    log_line("ncclGroupStart depth=%d", group_depth);
    return SUCCESS;
}

int ncclGroupEnd(void) {
    if (group_depth == 0) {
        log_line("ncclGroupEnd without ncclGroupStart");
        return INVALID_USAGE;
    }
    group_depth--;
    log_line("ncclGroupEnd depth=%d", group_depth);
    if (group_depth == 0) {
        for (int r = 0; r < self_count; r++) {
            for (int s = 0; s < self_count && !self_transfers[r].send; s++) {
                struct self_transfer *t = &self_transfers[s];
                if (t->send && !t->used && t->count == self_transfers[r].count) {
                    memcpy(self_transfers[r].buffer, t->buffer, 4 * t->count); /* float32 */
                    t->used = 1;
                    break;
                }
            }
        }
        self_count = 0;
    }
    int s = injected("ncclGroupEnd");
    if (s) return s;
    return group_polls != 0 ? IN_PROGRESS : SUCCESS;
}

static int point_to_point(const char *call, const void *buffer, size_t count, int datatype, int peer, struct comm *comm,
                          void *stream) {
    log_line("%s rank=%d peer=%d count=%zu datatype=%d buffer=%p stream=%p depth=%d", call, comm->rank, peer, count,
             datatype, buffer, stream, group_depth);
    int s = injected(call);
    if (s) return s;
    if (peer < 0 || peer >= comm->nranks) return INVALID_ARGUMENT;
    if (peer == comm->rank && self_count < 16) {
        self_transfers[self_count++] = (struct self_transfer) {strcmp(call, "ncclSend") == 0, 0, (void *) buffer, count};
    }
    if (group_polls != 0) {
        pthread_mutex_lock(&lock);
        comm->pending_polls = group_polls;
        pthread_mutex_unlock(&lock);
    }
    return SUCCESS;
}

int ncclSend(const void *buffer, size_t count, int datatype, int peer, struct comm *comm, void *stream) {
    return point_to_point("ncclSend", buffer, count, datatype, peer, comm, stream);
}

int ncclRecv(void *buffer, size_t count, int datatype, int peer, struct comm *comm, void *stream) {
    return point_to_point("ncclRecv", buffer, count, datatype, peer, comm, stream);
}

int ncclCommFinalize(struct comm *comm) {
    log_line("ncclCommFinalize rank=%d", comm->rank);
    int s = injected("ncclCommFinalize");
    if (s) return s;
    pthread_mutex_lock(&lock);
    comm->pending_polls = finalize_polls;
    pthread_mutex_unlock(&lock);
    return finalize_polls != 0 ? IN_PROGRESS : SUCCESS;
}

static int release(const char *call, struct comm *comm) {
    log_line("%s rank=%d", call, comm->rank);
    pthread_mutex_lock(&lock);
    comm->destroyed = 1; /* kept, not freed, so that a use after destroy shows in the log instead of crashing */
    live_comms--;
    pthread_mutex_unlock(&lock);
    return SUCCESS;
}

int ncclCommDestroy(struct comm *comm) { return release("ncclCommDestroy", comm); }

int ncclCommAbort(struct comm *comm) { return release("ncclCommAbort", comm); }
