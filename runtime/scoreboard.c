/*
 * The scoreboard shared by the supervisor and the shard processes. See
 * scoreboard.h for the layout and who writes what.
 */
#include "runtime/scoreboard.h"

#include <string.h>
#include <sys/mman.h>

#include "runtime/common.h"

static size_t align_up(size_t n)
{
    return (n + 63) & ~(size_t)63; /* slots start on their own cache line */
}

static size_t header_size(void)
{
    return align_up(sizeof(struct torus_scoreboard));
}

static size_t mapping_size(int shard_count, size_t stride)
{
    return header_size() + (size_t)shard_count * stride;
}

struct torus_scoreboard *torus_scoreboard_create(int shard_count, int executors_per_shard)
{
    size_t stride = align_up(sizeof(struct torus_shard_slot)) +
                    (size_t)executors_per_shard * align_up(sizeof(struct torus_executor_slot));
    void *map = mmap(NULL, mapping_size(shard_count, stride), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    struct torus_scoreboard *board = map; /* anonymous mappings start zeroed */
    board->shard_count = shard_count;
    board->executors_per_shard = executors_per_shard;
    board->shard_stride = stride;
    return board;
}

void torus_scoreboard_destroy(struct torus_scoreboard *board)
{
    if (board)
        munmap(board, mapping_size(board->shard_count, board->shard_stride));
}

struct torus_shard_slot *torus_scoreboard_shard(struct torus_scoreboard *board, int shard)
{
    return (struct torus_shard_slot *)((char *)board + header_size() +
                                       (size_t)shard * board->shard_stride);
}

struct torus_executor_slot *torus_scoreboard_executor(struct torus_scoreboard *board, int shard,
                                                      int index)
{
    char *first =
        (char *)torus_scoreboard_shard(board, shard) + align_up(sizeof(struct torus_shard_slot));
    return (struct torus_executor_slot *)(first + (size_t)index *
                                                      align_up(sizeof(struct torus_executor_slot)));
}

void torus_scoreboard_shard_down(struct torus_scoreboard *board, int shard)
{
    struct torus_shard_slot *slot = torus_scoreboard_shard(board, shard);
    atomic_store(&slot->pid, 0);
    atomic_store(&slot->loop_running, false);
    atomic_store(&slot->draining, false);
    atomic_store(&slot->metrics.connections_open, 0);
    atomic_store(&slot->metrics.connections_idle, 0);
    atomic_store(&slot->metrics.queue_depth, 0);
    for (int e = 0; e < board->executors_per_shard; e++) {
        struct torus_executor_slot *x = torus_scoreboard_executor(board, shard, e);
        atomic_store(&x->ready, false);
        atomic_store(&x->busy, false);
        x->request[0] = '\0';
    }
}

bool torus_scoreboard_shard_ready(struct torus_scoreboard *board, int shard)
{
    struct torus_shard_slot *slot = torus_scoreboard_shard(board, shard);
    if (!atomic_load(&slot->loop_running) || atomic_load(&slot->draining))
        return false;
    for (int e = 0; e < board->executors_per_shard; e++) {
        struct torus_executor_slot *slot = torus_scoreboard_executor(board, shard, e);
        if (atomic_load_explicit(&slot->ready, memory_order_acquire) &&
            !atomic_load_explicit(&slot->beside_workers, memory_order_relaxed))
            return true;
    }
    return false;
}

bool torus_scoreboard_ready(struct torus_scoreboard *board)
{
    if (atomic_load(&board->draining))
        return false;
    for (int i = 0; i < board->shard_count; i++) {
        if (!torus_scoreboard_shard_ready(board, i))
            return false;
    }
    return board->shard_count > 0;
}

/* Appends at most the room left; returns the new length. */
static size_t put(char *out, size_t len, size_t size, const char *data, size_t n)
{
    if (len >= size)
        return len;
    n = TORUS_MIN(n, size - len);
    memcpy(out + len, data, n);
    return len + n;
}

uint64_t torus_scoreboard_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void torus_executor_slot_begin(struct torus_executor_slot *slot,
                               const struct torus_request *request, const char *worker)
{
    /* Sequence lock, one writer: odd while writing (see struct torus_executor_slot). */
    uint32_t seq = atomic_load_explicit(&slot->request_seq, memory_order_relaxed);
    atomic_store_explicit(&slot->request_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);

    /* The last byte stays NUL: a process that dies mid-copy leaves a string the supervisor can
     * still read. */
    char *out = slot->request;
    size_t size = sizeof(slot->request) - 1;
    size_t len = 0;
    len = put(out, len, size, request->method.data, request->method.len);
    slot->method_len = (uint16_t)len;
    len = put(out, len, size, " ", 1);
    size_t path_start = len;
    len = put(out, len, size, request->path.data, TORUS_MIN(request->path.len, 120));
    slot->path_len = (uint16_t)(len - path_start);
    slot->started_ns = torus_scoreboard_clock_ns();
    if (request->script_filename.len) {
        len = put(out, len, size, " (script ", 9);
        len = put(out, len, size, request->script_filename.data, request->script_filename.len);
        len = put(out, len, size, ")", 1);
    } else if (worker) {
        len = put(out, len, size, " (worker ", 9);
        len = put(out, len, size, worker, strlen(worker));
        len = put(out, len, size, ")", 1);
    }
    out[len] = '\0';

    atomic_store_explicit(&slot->request_seq, seq + 2, memory_order_release);
}

void torus_executor_slot_request(const struct torus_executor_slot *slot, char *out, size_t size)
{
    if (size == 0)
        return;
    out[0] = '\0';
    if (!atomic_load((_Atomic bool *)&slot->busy))
        return;
    size_t n = strnlen(slot->request, TORUS_MIN(size - 1, sizeof(slot->request) - 1));
    memcpy(out, slot->request, n);
    out[n] = '\0';
}

bool torus_executor_slot_current(const struct torus_executor_slot *slot,
                                 struct torus_executor_current *out)
{
    struct torus_executor_slot *s = (struct torus_executor_slot *)slot;
    for (int attempt = 0; attempt < 8; attempt++) {
        if (!atomic_load_explicit(&s->busy, memory_order_acquire))
            return false;
        uint32_t before = atomic_load_explicit(&s->request_seq, memory_order_acquire);
        if (before & 1)
            continue;
        /* Copied without looking, then checked: a torn copy is thrown away below. */
        char copy[sizeof(s->request)];
        memcpy(copy, s->request, sizeof(copy));
        size_t method_len = s->method_len, path_len = s->path_len;
        uint64_t started = s->started_ns;
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->request_seq, memory_order_relaxed) != before)
            continue;
        /* The lengths always fit (the writer cut its copy); clamped all the same. */
        method_len = TORUS_MIN(method_len, sizeof(copy) - 1);
        size_t path_start = TORUS_MIN(method_len + 1, sizeof(copy) - 1);
        path_len = TORUS_MIN(path_len, sizeof(copy) - 1 - path_start);
        size_t m = TORUS_MIN(method_len, sizeof(out->method) - 1);
        memcpy(out->method, copy, m);
        out->method[m] = '\0';
        const char *path = copy + path_start;
        const char *query = memchr(path, '?', path_len);
        if (query)
            path_len = (size_t)(query - path);
        memcpy(out->path, path, path_len);
        out->path[path_len] = '\0';
        out->started_ns = started;
        return true;
    }
    return false;
}
