/*
 * A stand-in for libnccl, built by StubNccl with gcc once per test JVM. It declares only the ABI the
 * bindings use (ncclResult_t values, ncclFloat32 = 7, a 128-byte ncclUniqueId passed by value, the
 * head of ncclConfig_t). It writes one line per call into a log the tests read, and can be told to
 * answer ncclInProgress for a number of polls (or forever), to fail one call, or to raise an
 * asynchronous error on every communicator. Device memory is host memory under the stub libcuda, whose streams
 * run each operation when it is enqueued; so does this stub (Note [stub wire]).
 *
 * Note [stub wire]: ncclGetUniqueId draws 16 random bytes; a communicator's rank r listens on the abstract Unix
 * socket "ppexec-nccl-<hex of those bytes>-r" (abstract: no file is left behind, and it is gone with the process). A
 * send to another rank connects to that rank's socket at its first use (retrying while the peer has not created its
 * communicator yet) and writes the floats at ncclGroupEnd, as the stub driver would have run it on the stream. A
 * receive from another rank is completed at ncclGroupEnd when the peer's bytes are there, else ncclGroupEnd answers
 * ncclInProgress and ncclCommGetAsyncError completes it once they arrive (non-blocking mode: the operation counts as
 * enqueued, which is run, under the stub driver). A peer's connection that closes, or a peer that cannot be reached,
 * is the communicator's asynchronous error ncclRemoteError, as a real NCCL's watchdog would see it. A send to itself
 * is copied into its matching receive at ncclGroupEnd. The knob "wire" = 0 only logs transfers to other ranks (the
 * call-shape tests use made-up addresses).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SUCCESS 0
#define INVALID_ARGUMENT 4
#define INVALID_USAGE 5
#define SYSTEM_ERROR 2
#define REMOTE_ERROR 6
#define IN_PROGRESS 7
#define MAX_PENDING 64
#define CONNECT_MILLIS 60000
#define MAGIC 0xcafebeefu
#define ID_BYTES 128

typedef struct { char internal[ID_BYTES]; } unique_id;
typedef struct { size_t size; unsigned int magic; unsigned int version; int blocking; } config_head;

/* A receive from another rank that waits for the peer's bytes. */
struct pending_recv { void *buffer; size_t bytes; int peer; };

/* pending_polls: what an operation still owes, polls left before it finishes (-1: never). */
struct comm {
    int rank; int nranks; long pending_polls; int destroyed;
    char name[48];    /* the socket name without the rank */
    int listen_fd;    /* -1: none (wire off) */
    int *out_fd;      /* [peer] connected socket to the peer, -1 until the first send */
    int *in_fd;       /* [peer] accepted socket from the peer, -1 until it connected */
    int error;        /* the communicator's own asynchronous error (Note [stub wire]) */
    struct pending_recv pending[MAX_PENDING];
    int pending_count;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char log_text[1 << 16];
static size_t log_length;
static long init_polls, group_polls, finalize_polls;
static int async_error;
static int wire = 1;
static char fail_call[64];
static int fail_status;
static long live_comms, async_polls;
static __thread int group_depth;
/* A group's transfers, run at its ncclGroupEnd. */
struct transfer { struct comm *comm; int send; int used; void *buffer; size_t count; int peer; };
static __thread struct transfer transfers[MAX_PENDING];
static __thread int transfer_count;
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
    wire = 1;
    pthread_mutex_unlock(&lock);
}

/* "wire": 0 or 1 (Note [stub wire]). "init_polls", "group_polls", "finalize_polls": ncclInProgress for that many polls of ncclCommGetAsyncError (-1: forever). */
int nccl_stub_set(const char *knob, long value) {
    pthread_mutex_lock(&lock);
    int known = 1;
    if (strcmp(knob, "init_polls") == 0) init_polls = value;
    else if (strcmp(knob, "group_polls") == 0) group_polls = value;
    else if (strcmp(knob, "finalize_polls") == 0) finalize_polls = value;
    else if (strcmp(knob, "wire") == 0) wire = (int) value;
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
    memset(id->internal, 0, ID_BYTES);
    if (getrandom(id->internal, 16, 0) != 16) {
        snprintf(last_error, sizeof last_error, "stub: getrandom failed: %s", strerror(errno));
        return SYSTEM_ERROR;
    }
    return SUCCESS;
}

/* ---- the wire (Note [stub wire]) ---- */

static void set_error(struct comm *c, int result, const char *format, ...) {
    va_list args;
    va_start(args, format);
    pthread_mutex_lock(&lock);
    if (!c->error) {
        c->error = result;
        vsnprintf(last_error, sizeof last_error, format, args);
    }
    pthread_mutex_unlock(&lock);
    va_end(args);
}

static socklen_t address(struct sockaddr_un *a, const struct comm *c, int rank) {
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s-%d", c->name, rank); /* sun_path[0] = 0: abstract */
    return (socklen_t) (offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static long millis_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

static int write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t n) {
    char *p = data;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t) r;
    }
    return 0;
}

/* The connection to `peer`, made at the first send (the peer may not listen yet: retried up to CONNECT_MILLIS). */
static int connection_to(struct comm *c, int peer) {
    if (c->out_fd[peer] >= 0) return c->out_fd[peer];
    struct sockaddr_un a;
    socklen_t length = address(&a, c, peer);
    long deadline = millis_now() + CONNECT_MILLIS;
    while (1) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *) &a, length) == 0) {
            int self = c->rank;
            if (write_all(fd, &self, sizeof self) != 0) { close(fd); return -1; }
            c->out_fd[peer] = fd;
            return fd;
        }
        close(fd);
        if (millis_now() > deadline) return -1;
        usleep(1000);
    }
}

/* Accepts whoever connected since the last look; each connection names its rank first. */
static void accept_peers(struct comm *c) {
    while (1) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN: nobody waits */
        int peer = -1;
        if (read_all(fd, &peer, sizeof peer) != 0 || peer < 0 || peer >= c->nranks || c->in_fd[peer] >= 0) {
            close(fd);
            continue;
        }
        c->in_fd[peer] = fd;
    }
}

/* Completes the pending receives whose bytes arrived, in order per peer; 1 when none is left. */
static int progress(struct comm *c) {
    if (c->pending_count == 0) return 1;
    accept_peers(c);
    int kept = 0;
    int blocked[64] = {0}; /* a peer whose earlier receive still waits keeps its later ones waiting */
    for (int i = 0; i < c->pending_count; i++) {
        struct pending_recv r = c->pending[i];
        int fd = c->in_fd[r.peer];
        int ready = 0;
        if (!c->error && fd >= 0 && !(r.peer < 64 && blocked[r.peer])) {
            struct pollfd p = {fd, POLLIN, 0};
            ready = poll(&p, 1, 0) > 0;
        }
        if (ready) {
            unsigned long long bytes = 0;
            if (read_all(fd, &bytes, sizeof bytes) != 0) {
                set_error(c, REMOTE_ERROR, "stub: rank %d's connection to rank %d closed (its process exited?)",
                          r.peer, c->rank);
            } else if (bytes != r.bytes) {
                set_error(c, INVALID_USAGE, "stub: rank %d sent %llu bytes, rank %d receives %zu", r.peer, bytes,
                          c->rank, r.bytes);
            } else if (read_all(fd, r.buffer, r.bytes) != 0) {
                set_error(c, REMOTE_ERROR, "stub: rank %d's connection to rank %d closed mid-message", r.peer, c->rank);
            } else {
                continue; /* done */
            }
        }
        if (r.peer < 64) blocked[r.peer] = 1;
        c->pending[kept++] = r;
    }
    c->pending_count = kept;
    return kept == 0;
}

static void close_wire(struct comm *c) {
    if (c->listen_fd >= 0) close(c->listen_fd);
    for (int p = 0; p < c->nranks; p++) {
        if (c->out_fd[p] >= 0) close(c->out_fd[p]);
        if (c->in_fd[p] >= 0) close(c->in_fd[p]);
    }
    c->listen_fd = -1;
}

static int open_wire(struct comm *c, const unique_id *id) {
    int n = snprintf(c->name, sizeof c->name, "ppexec-nccl-");
    for (int i = 0; i < 16; i++) n += snprintf(c->name + n, sizeof c->name - n, "%02x", (unsigned char) id->internal[i]);
    c->out_fd = malloc(sizeof(int) * c->nranks);
    c->in_fd = malloc(sizeof(int) * c->nranks);
    for (int p = 0; p < c->nranks; p++) c->out_fd[p] = c->in_fd[p] = -1;
    c->listen_fd = -1;
    if (!wire) return SUCCESS;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    socklen_t length = address(&a, c, c->rank);
    if (fd < 0 || bind(fd, (struct sockaddr *) &a, length) != 0 || listen(fd, 64) != 0) {
        snprintf(last_error, sizeof last_error, "stub: rank %d cannot listen on @%s-%d: %s", c->rank, c->name, c->rank,
                 strerror(errno));
        if (fd >= 0) close(fd);
        return SYSTEM_ERROR;
    }
    c->listen_fd = fd;
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
    int opened = open_wire(c, &id);
    if (opened) {
        free(c->out_fd);
        free(c->in_fd);
        free(c);
        return opened;
    }
    *out = c;
    pthread_mutex_lock(&lock);
    live_comms++;
    c->pending_polls = init_polls;
    pthread_mutex_unlock(&lock);
    return c->pending_polls != 0 && config->blocking == 0 ? IN_PROGRESS : SUCCESS;
}

int ncclCommGetAsyncError(struct comm *comm, int *result) {
    if (!comm->destroyed && comm->listen_fd >= 0) progress(comm); /* outside the lock: it may record an error */
    pthread_mutex_lock(&lock);
    async_polls++;
    if (comm->destroyed) {
        *result = INVALID_USAGE; /* a use after destroy: the bindings must never do this */
    } else if (async_error) {
        *result = async_error;
    } else if (comm->error) {
        *result = comm->error;
    } else if (comm->pending_count > 0) {
        *result = IN_PROGRESS;
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

/* Runs the group's transfers (Note [stub wire]); 1 when a receive still waits for its bytes. */
static int run_group(void) {
    for (int r = 0; r < transfer_count; r++) { /* to itself: the send's floats into the matching receive */
        struct transfer *in = &transfers[r];
        if (in->send || in->peer != in->comm->rank) continue;
        for (int s = 0; s < transfer_count; s++) {
            struct transfer *t = &transfers[s];
            if (t->send && !t->used && t->comm == in->comm && t->peer == t->comm->rank && t->count == in->count) {
                memcpy(in->buffer, t->buffer, 4 * t->count); /* float32 */
                t->used = 1;
                break;
            }
        }
    }
    int waiting = 0;
    for (int i = 0; i < transfer_count; i++) {
        struct transfer *t = &transfers[i];
        struct comm *c = t->comm;
        if (t->peer == c->rank || c->listen_fd < 0 || c->error) continue;
        if (t->send) {
            int fd = connection_to(c, t->peer);
            unsigned long long bytes = 4ull * t->count;
            if (fd < 0 || write_all(fd, &bytes, sizeof bytes) != 0 || write_all(fd, t->buffer, bytes) != 0) {
                set_error(c, REMOTE_ERROR, "stub: rank %d cannot reach rank %d (its process exited?)", c->rank, t->peer);
            }
        } else if (c->pending_count < MAX_PENDING) {
            c->pending[c->pending_count++] = (struct pending_recv) {t->buffer, 4 * t->count, t->peer};
        } else {
            set_error(c, INVALID_USAGE, "stub: more than %d receives pending on rank %d", MAX_PENDING, c->rank);
        }
    }
    for (int i = 0; i < transfer_count; i++) {
        struct comm *c = transfers[i].comm;
        if (c->listen_fd >= 0 && !progress(c)) waiting = 1;
    }
    transfer_count = 0;
    return waiting;
}

int ncclGroupEnd(void) {
    if (group_depth == 0) {
        log_line("ncclGroupEnd without ncclGroupStart");
        return INVALID_USAGE;
    }
    group_depth--;
    log_line("ncclGroupEnd depth=%d", group_depth);
    int waiting = 0;
    if (group_depth == 0) {
        waiting = run_group();
    }
    int s = injected("ncclGroupEnd");
    if (s) return s;
    return group_polls != 0 || waiting ? IN_PROGRESS : SUCCESS;
}

static int point_to_point(const char *call, const void *buffer, size_t count, int datatype, int peer, struct comm *comm,
                          void *stream) {
    log_line("%s rank=%d peer=%d count=%zu datatype=%d buffer=%p stream=%p depth=%d", call, comm->rank, peer, count,
             datatype, buffer, stream, group_depth);
    int s = injected(call);
    if (s) return s;
    if (peer < 0 || peer >= comm->nranks) return INVALID_ARGUMENT;
    if (transfer_count < MAX_PENDING) {
        transfers[transfer_count++] = (struct transfer) {comm, strcmp(call, "ncclSend") == 0, 0, (void *) buffer, count,
                                                         peer};
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
    close_wire(comm);
    live_comms--;
    pthread_mutex_unlock(&lock);
    return SUCCESS;
}

int ncclCommDestroy(struct comm *comm) { return release("ncclCommDestroy", comm); }

int ncclCommAbort(struct comm *comm) { return release("ncclCommAbort", comm); }
