/*
 * PHP executor threads and their side of the handoff.
 *
 * Sleeping and waking, without a lost wake-up: runtime/park.h (an executor
 * parks on its `sleeping` word when its requests ring is empty; the I/O
 * thread unparks it after pushing). The same handshake, with the shard's
 * eventfd in place of the futex, wakes the I/O thread when response parts
 * are pushed (torus_io_waker_wake).
 *
 * Both directions batch their wake-ups, because the I/O thread and its
 * executors share one CPU: waking the other side per item would switch
 * threads per request. The I/O thread wakes an executor once per loop
 * iteration, just before it blocks; an executor wakes the I/O thread when it
 * runs out of requests, after a part that is not a response's end (streamed
 * output must leave now), or every TORUS_EXECUTOR_WAKE_BATCH parts.
 */
#include "runtime/executor.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "runtime/chunk.h"
#include "runtime/response_head.h"
#include "runtime/log.h"
#include "runtime/park.h"
#include "sapi/sapi.h"

#define TORUS_EXECUTOR_WAKE_BATCH 16

/* Whether a parking executor must look again (runtime/park.h): a request, or a stop. */
static bool executor_has_work(void *arg)
{
    struct torus_executor *e = arg;
    return !torus_handoff_empty(&e->requests) ||
           atomic_load_explicit(&e->stopping, memory_order_seq_cst);
}

/*
 * The fatal signals reach an executor only while it runs a request: a
 * script's kill() of its own process (posix_kill(getmypid(), SIGABRT), an
 * extension's abort()) is then taken by the executor running it, which dies
 * before it answers, and never by one that sleeps or boots, which would let
 * the answer leave first. Faults are delivered to the faulting thread anyway.
 * Changed per batch of requests, not per request.
 */
static void executor_fatal_signals(struct torus_executor *e, bool take)
{
    if (e->fatal_taken == take)
        return;
    pthread_sigmask(take ? SIG_UNBLOCK : SIG_BLOCK, &e->fatal_signals, NULL);
    e->fatal_taken = take;
}

static struct torus_request *port_wait_request(struct torus_executor_port *port)
{
    struct torus_executor *e = torus_container_of(port, struct torus_executor, port);
    struct torus_request *request;
    struct torus_executor_slot *slot = e->slot;
    if (slow_path(!atomic_load_explicit(&slot->ready, memory_order_relaxed)))
        atomic_store_explicit(&slot->ready, true, memory_order_release);
    atomic_store_explicit(&slot->busy, false, memory_order_relaxed);
    /* How long the request took, for the dispatcher (net/dispatch.c): two clock reads. */
    uint64_t since = atomic_load_explicit(&e->running_since_ns, memory_order_relaxed);
    if (since) {
        uint64_t now = torus_monotonic_ns();
        if (now - since >= TORUS_EXECUTOR_SLOW_NS)
            atomic_store_explicit(&e->slow_seen_ns, now, memory_order_relaxed);
        atomic_store_explicit(&e->running_since_ns, 0, memory_order_relaxed);
    }
    for (;;) {
        /* A reload comes before queued requests: they wait in the ring for the new worker. */
        if (slow_path(atomic_load_explicit(&e->reload, memory_order_acquire)))
            return NULL; /* the SAPI sees reload_requested() and restarts the worker script */
        if (torus_handoff_pop(&e->requests, &request) == TORUS_OK) {
            executor_fatal_signals(e, true);
            atomic_store_explicit(&e->running_since_ns, torus_monotonic_ns(), memory_order_relaxed);
            torus_executor_slot_begin(slot, request, e->worker ? e->worker->script : NULL);
            atomic_store_explicit(&slot->busy, true, memory_order_release);
            return request;
        }
        if (e->unsignaled) {
            /* Out of work: the I/O thread must now send what we produced. */
            e->unsignaled = 0;
            torus_io_waker_wake(e->waker);
        }
        if (atomic_load_explicit(&e->stopping, memory_order_acquire))
            return NULL;
        executor_fatal_signals(e, false);
        torus_park(&e->sleeping, executor_has_work, e);
    }
}

static void port_note(struct torus_executor_port *port, enum torus_executor_event event)
{
    struct torus_executor *e = torus_container_of(port, struct torus_executor, port);
    if ((unsigned)event < TORUS_EXECUTOR_EVENTS)
        atomic_store_explicit(&e->slot->events[event],
                              atomic_load_explicit(&e->slot->events[event], memory_order_relaxed) +
                                  1,
                              memory_order_relaxed);
}

static bool port_reload_requested(struct torus_executor_port *port)
{
    struct torus_executor *e = torus_container_of(port, struct torus_executor, port);
    if (atomic_load_explicit(&e->reload, memory_order_acquire) == 0)
        return false;
    atomic_store_explicit(&e->reload, 0, memory_order_relaxed);
    atomic_store_explicit(&e->slot->ready, false, memory_order_relaxed);
    return true;
}

static const char *const event_names[TORUS_EXECUTOR_EVENTS] = {
    [TORUS_EVENT_RESTART_MAX_REQUESTS] = "max_requests",
    [TORUS_EVENT_RESTART_EXIT] = "exit",
    [TORUS_EVENT_RESTART_SCRIPT_END] = "script_end",
    [TORUS_EVENT_RESTART_RELOAD] = "reload",
    [TORUS_EVENT_RESTART_FATAL] = "fatal",
    [TORUS_EVENT_RESTART_BOOT_FAILURE] = "boot_failure",
    [TORUS_EVENT_CRASH_FATAL_ERROR] = "fatal_error",
    [TORUS_EVENT_CRASH_TIMEOUT] = "timeout",
    [TORUS_EVENT_CRASH_MEMORY] = "memory_limit",
    [TORUS_EVENT_CRASH_EXCEPTION] = "uncaught_exception",
};

const char *torus_executor_event_name(int event)
{
    return (event >= 0 && event < TORUS_EXECUTOR_EVENTS) ? event_names[event] : "unknown";
}

bool torus_executor_event_is_crash(int event)
{
    return event >= TORUS_EVENT_CRASH_FATAL_ERROR;
}

static _Atomic bool demotion_works = true;

void torus_executor_set_demoted(struct torus_executor *e, bool demote)
{
    int tid = atomic_load_explicit(&e->tid, memory_order_relaxed);
    if (e->demoted == demote || !tid ||
        !atomic_load_explicit(&demotion_works, memory_order_relaxed))
        return;
    if (setpriority(PRIO_PROCESS, (id_t)tid, demote ? 10 : 0) != 0) {
        /* Raising the priority back needs CAP_SYS_NICE: without it, stop demoting at all. */
        atomic_store(&demotion_works, false);
        if (!demote)
            return;
    }
    e->demoted = demote;
}

void torus_executor_reload(struct torus_executor *e)
{
    atomic_store_explicit(&e->reload, 1, memory_order_seq_cst);
    torus_unpark_always(&e->sleeping);
}

static bool flow_blocked(struct torus_request *request)
{
    return atomic_load_explicit(&request->throttled, memory_order_acquire) ||
           request->emitted - atomic_load_explicit(&request->taken, memory_order_acquire) >
               TORUS_OUTPUT_HIGH_MARK;
}

/*
 * After a part of a streamed response: waits while the client is too far
 * behind (runtime/request.h), or until it goes away. The same handshake as
 * the executor's sleep: announce, fence, look again, then sleep; the I/O
 * thread changes taken or throttled first, then fences and wakes. The
 * sleep is bounded anyway, and the time spent waiting does not count
 * towards max_execution_time (PHP-FPM's limit counts CPU time only).
 */
static void flow_wait(struct torus_executor *e, struct torus_request *request)
{
    if (fast_path(!flow_blocked(request)))
        return;
    uint64_t started = torus_monotonic_ns();
    while (flow_blocked(request) &&
           !atomic_load_explicit(&request->aborted, memory_order_acquire)) {
        e->unsignaled = 0;
        torus_io_waker_wake(e->waker); /* it must take and send what is queued */
        atomic_store_explicit(&request->flow_wait, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        if (!flow_blocked(request) || atomic_load_explicit(&request->aborted, memory_order_acquire))
            break;
        struct timespec limit = {0, 100 * 1000 * 1000};
        syscall(SYS_futex, (uint32_t *)&request->flow_wait, FUTEX_WAIT_PRIVATE, 1, &limit, NULL, 0);
    }
    atomic_store_explicit(&request->flow_wait, 0, memory_order_relaxed);
    torus_sapi_time_limit_extend(torus_monotonic_ns() - started);
}

static void port_emit(struct torus_executor_port *port, struct torus_request *request,
                      const char *data, size_t len, unsigned flags)
{
    struct torus_executor *e = torus_container_of(port, struct torus_executor, port);
    struct torus_response_part part = {.request = request, .chunk = NULL, .flags = flags};
    if (len) {
        /* Room around the bytes for the session's framing (runtime/response_head.h). */
        size_t front =
            (flags & TORUS_EMIT_HEAD) ? TORUS_RESPONSE_FRONT_ROOM : TORUS_RESPONSE_BODY_FRONT_ROOM;
        part.chunk = torus_chunk_new(front + len + TORUS_RESPONSE_TAIL_ROOM);
        if (slow_path(!part.chunk)) {
            /* No memory for the bytes: the response cannot be completed, so close the connection.
             */
            part.flags |= TORUS_EMIT_CLOSE | TORUS_EMIT_END;
            part.flags &= ~TORUS_EMIT_HEAD;
        } else {
            memcpy(part.chunk->data + front, data, len);
            part.chunk->sent = (uint32_t)front;
            part.chunk->len = (uint32_t)(front + len);
        }
    }
    while (torus_handoff_push(&e->responses, &part) != TORUS_OK) {
        /* The I/O thread is behind: make sure it runs, then give it the CPU. */
        torus_io_waker_wake(e->waker);
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
    }
    /* Only complete, released responses wait for the batch: streamed output and a response
     * ended early (fastcgi_finish_request) must leave now. */
    bool batchable =
        (flags & (TORUS_EMIT_END | TORUS_EMIT_RELEASE)) == (TORUS_EMIT_END | TORUS_EMIT_RELEASE);
    if (!batchable || ++e->unsignaled >= TORUS_EXECUTOR_WAKE_BATCH) {
        e->unsignaled = 0;
        torus_io_waker_wake(e->waker);
    }
    if (len && !(flags & TORUS_EMIT_END)) {
        request->emitted += len;
        flow_wait(e, request);
    }
}

void torus_executor_fatal_signals(sigset_t *set)
{
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS};
    sigemptyset(set);
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(fatal); i++)
        sigaddset(set, fatal[i]);
}

static void *executor_main(void *arg)
{
    struct torus_executor *e = arg;
    torus_executor_fatal_signals(&e->fatal_signals);
    pthread_sigmask(SIG_BLOCK, &e->fatal_signals, NULL); /* until its first request */
    e->fatal_taken = false;
    char name[16];
    snprintf(name, sizeof(name), "torus-php-%d.%d", e->shard_id, e->index);
    pthread_setname_np(pthread_self(), name);
    torus_arena_bind_thread();
    atomic_store(&e->tid, (int)syscall(SYS_gettid));
    int result = torus_sapi_executor_main(e->config, e->worker, &e->port);
    e->unsignaled = 0;
    atomic_store(&e->slot->ready, false);
    atomic_store(&e->slot->busy, false);
    atomic_store(&e->result, result);
    atomic_store(&e->finished, true);
    /* Wake the I/O thread so it notices (a worker that cannot start makes the shard give up). */
    torus_io_waker_wake(e->waker);
    return NULL;
}

int torus_executor_init(struct torus_executor *e, const struct torus_config *config,
                        struct torus_io_waker *waker, struct torus_executor_slot *slot,
                        int shard_id, int index, int cpu)
{
    memset(e, 0, sizeof(*e));
    if (torus_handoff_init(&e->requests, TORUS_EXECUTOR_RING_SIZE,
                           sizeof(struct torus_request *)) != TORUS_OK ||
        torus_handoff_init(&e->responses, TORUS_EXECUTOR_RING_SIZE,
                           sizeof(struct torus_response_part)) != TORUS_OK)
        return TORUS_ERROR;
    e->port.wait_request = port_wait_request;
    e->port.emit = port_emit;
    e->port.note = port_note;
    e->port.reload_requested = port_reload_requested;
    e->waker = waker;
    e->slot = slot;
    e->config = config;
    e->worker = torus_config_executor_worker(config, index);
    e->pool = e->worker ? 1 + (int)(e->worker - config->workers) : 0; /* net/route_worker.h */
    e->shard_id = shard_id;
    e->index = index;
    e->cpu = cpu;
    atomic_init(&e->sleeping, 0);
    atomic_init(&e->stopping, false);
    atomic_init(&e->result, TORUS_OK);
    atomic_init(&e->finished, false);
    atomic_init(&e->tid, 0);
    atomic_init(&e->reload, 0);
    atomic_store(&slot->ready, false);
    atomic_store(&slot->busy, false);
    atomic_store(&slot->beside_workers, !e->worker && config->worker_count > 0);
    snprintf(slot->worker_name, sizeof(slot->worker_name), "%s", e->worker ? e->worker->name : "");
    return TORUS_OK;
}

int torus_executor_start(struct torus_executor *e)
{
    int cpu = e->cpu;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* PHP recurses deeply (and ZTS keeps its globals elsewhere): give it the stack the CLI gets. */
    pthread_attr_setstacksize(&attr, 16u << 20);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
    }
    int rc = pthread_create(&e->thread, &attr, executor_main, e);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        torus_log_error("shard %d: cannot start executor %d: %s", e->shard_id, e->index,
                        strerror(rc));
        return TORUS_ERROR;
    }
    e->started = true;
    return TORUS_OK;
}

int torus_executor_push(struct torus_executor *e, struct torus_request *request)
{
    if (torus_handoff_push(&e->requests, &request) != TORUS_OK)
        return TORUS_AGAIN;
    e->needs_wake = true;
    return TORUS_OK;
}

void torus_executor_wake(struct torus_executor *e)
{
    if (!e->needs_wake)
        return;
    e->needs_wake = false;
    torus_unpark(&e->sleeping);
}

void torus_executor_stop(struct torus_executor *e)
{
    atomic_store_explicit(&e->stopping, true, memory_order_seq_cst);
    torus_unpark_always(&e->sleeping);
}

void torus_executor_join(struct torus_executor *e)
{
    if (e->started) {
        if (atomic_load(&e->finished))
            pthread_join(e->thread, NULL);
        else
            pthread_detach(e->thread); /* stuck in a script past the shutdown timeout: leave it */
        e->started = false;
    }
    if (atomic_load(&e->finished)) {
        torus_handoff_destroy(&e->requests);
        torus_handoff_destroy(&e->responses);
    }
}
