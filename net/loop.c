/*
 * The I/O loop of a shard: one io_uring, one thread, every client of a CPU.
 *
 * Each iteration of torus_loop_run() does the same four steps:
 *   1. take what the executors sent back (response parts) and put it on the
 *      connections, dispatch requests that waited for a free executor;
 *   2. announce the coming sleep to the executors (waker.sleeping = 1), look
 *      at their rings once more, and call io_uring_submit_and_wait_timeout()
 *      once: every SQE prepared since the last iteration is submitted by the
 *      same system call that waits, with the nearest timer as its timeout;
 *   3. take the routes the file-system worker found (net/route_lookup.c),
 *      then handle every completion: accepts, receives, sends, file reads,
 *      the eventfd through which executors and that worker wake us;
 *   4. expire timers.
 *
 * The rest of the loop lives beside this file (net/conn.h lists them):
 * accepting in net/listener.c, a connection's lifecycle in net/conn.c, HTTP
 * in net/http_session.c, executors in net/dispatch.c and the send path in
 * net/conn_output.c.
 */
#include "net/conn.h"
#include "net/route_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runtime/log.h"

static void start_drain(struct torus_loop *loop)
{
    if (loop->draining)
        return;
    loop->draining = true;
    loop->drain_deadline_ms = loop->now_ms + ms_of(loop->config->shutdown_timeout);
    for (int i = 0; i < loop->listener_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        if (l->armed) {
            struct io_uring_sqe *sqe = get_sqe(loop);
            io_uring_prep_cancel64(sqe, user_data(l, TAG_ACCEPT), 0);
            io_uring_sqe_set_data64(sqe, user_data(NULL, TAG_IGNORE));
        }
        /* Take what already waits in the backlog (a restart's new process may have joined the
         * port: these clients were routed here and must not be reset), then close the socket,
         * which takes it out of the port's reuseport group. */
        fcntl(l->fd, F_SETFL, fcntl(l->fd, F_GETFL) | O_NONBLOCK);
        int fd;
        while ((fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
            conn_open(loop, l, fd);
        close(l->fd);
        l->fd = -1;
    }
    for (struct torus_conn *c = loop->conns, *next; c; c = next) {
        next = c->next;
        /* Idle keep-alive connections get a short grace: a busy client's next request may be on
         * its way (closing now would lose it); it is answered with Connection: close. Every
         * other connection finishes its request and closes. */
        c->keep_alive = false;
        if (c->h2) {
            h2_session_drain(c); /* GOAWAY; its open streams finish, then it closes */
            continue;
        }
        if (c->state == CONN_LINGERING) {
            conn_close(c);
        } else if (c->timer.queue == &loop->idle_timers) {
            torus_timer_disarm(&c->timer);
            conn_update_timer(c);
        }
    }
}

static int setup_ring(struct torus_loop *loop)
{
    struct io_uring_params params;
    memset(&params, 0, sizeof(params));
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
                   IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    /* Multishot receives post many completions per submission: size the CQ for the connection
     * limit. */
    uint32_t cq = 4096;
    while (cq < loop->max_conns * 2u && cq < 65536u) /* the kernel's IORING_MAX_CQ_ENTRIES */
        cq <<= 1;
    params.cq_entries = cq;
    int rc = io_uring_queue_init_params(2048, &loop->ring, &params);
    if (rc == -EINVAL) {
        static _Atomic bool warned;
        if (!atomic_exchange(&warned, true))
            torus_log_warn("io_uring: SINGLE_ISSUER/DEFER_TASKRUN not supported by this kernel; "
                           "falling back to a plain ring");
        memset(&params, 0, sizeof(params));
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = cq;
        rc = io_uring_queue_init_params(2048, &loop->ring, &params);
    }
    if (rc < 0) {
        torus_log_error("shard %d: io_uring_queue_init: %s", loop->shard->id, strerror(-rc));
        return TORUS_ERROR;
    }

    /* The provided-buffer ring every receive of this shard draws from. */
    loop->buf_ring_bytes = RECV_BUFFER_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = NULL;
    if (posix_memalign(&ring_mem, 4096, loop->buf_ring_bytes) != 0)
        return TORUS_ERROR;
    memset(ring_mem, 0, loop->buf_ring_bytes);
    loop->buf_ring = ring_mem;
    loop->buf_base = malloc((size_t)RECV_BUFFER_SIZE * RECV_BUFFER_COUNT);
    if (!loop->buf_base)
        return TORUS_ERROR;
    struct io_uring_buf_reg reg;
    memset(&reg, 0, sizeof(reg));
    reg.ring_addr = (uint64_t)(uintptr_t)loop->buf_ring;
    reg.ring_entries = RECV_BUFFER_COUNT;
    reg.bgid = RECV_GROUP;
    rc = io_uring_register_buf_ring(&loop->ring, &reg, 0);
    if (rc < 0) {
        torus_log_error("shard %d: io_uring_register_buf_ring: %s (kernel 5.19 or later needed)",
                        loop->shard->id, strerror(-rc));
        return TORUS_ERROR;
    }
    io_uring_buf_ring_init(loop->buf_ring);
    for (int i = 0; i < RECV_BUFFER_COUNT; i++)
        io_uring_buf_ring_add(loop->buf_ring, loop->buf_base + (size_t)i * RECV_BUFFER_SIZE,
                              RECV_BUFFER_SIZE, (unsigned short)i,
                              io_uring_buf_ring_mask(RECV_BUFFER_COUNT), i);
    io_uring_buf_ring_advance(loop->buf_ring, RECV_BUFFER_COUNT);
    return TORUS_OK;
}

static void arm_wake(struct torus_loop *loop)
{
    struct io_uring_sqe *sqe = get_sqe(loop);
    io_uring_prep_read(sqe, loop->shard->waker.event_fd, &loop->wake_value,
                       sizeof(loop->wake_value), 0);
    io_uring_sqe_set_data64(sqe, user_data(loop, TAG_WAKE));
}

static void handle_cqe(struct torus_loop *loop, struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    void *ptr = (void *)(uintptr_t)(data & ~(uint64_t)TAG_MASK);
    switch ((enum op_tag)(data & TAG_MASK)) {
    case TAG_ACCEPT:
        listener_on_accept(ptr, cqe);
        break;
    case TAG_RECV:
        conn_on_recv(ptr, cqe);
        break;
    case TAG_SEND: {
        struct torus_conn *c = ptr;
        conn_on_send(c, cqe->res);
        c->ops--; /* dropped last: nothing in conn_on_send() can free the connection */
        if (conn_closed(c))
            conn_maybe_free(c);
        break;
    }
    case TAG_READ: {
        struct torus_conn *c = ptr;
        conn_on_file_read(c, cqe->res);
        c->ops--;
        if (conn_closed(c))
            conn_maybe_free(c);
        break;
    }
    case TAG_WAKE:
        arm_wake(loop);
        break;
    case TAG_LOG:
        torus_access_log_written(&loop->access_log, cqe->res);
        break;
    case TAG_SPOOL:
        spool_on_write(ptr, cqe->res);
        break;
    case TAG_IGNORE:
    default:
        break;
    }
}

/*
 * Whether an executor has been on one request for EXECUTOR_STALL_MS or more
 * (loop->stalled); then the answers corked behind pipelined requests go out
 * (net/conn_output.c): they would wait for a slow request otherwise.
 */
static void stalls_update(struct torus_loop *loop)
{
    struct torus_shard *shard = loop->shard;
    bool stalled = false;
    for (int i = 0; i < shard->executor_count && !stalled; i++) {
        const struct torus_executor *e = &shard->executors[i];
        stalled = e->inflight && loop->now_ms - e->progress_ms > EXECUTOR_STALL_MS;
    }
    loop->stalled = stalled;
    if (slow_path(stalled && loop->corked))
        out_uncork_all(loop);
}

/*
 * The I/O thread's scheduling policy. As SCHED_BATCH, its wake-ups do not
 * preempt the executor running on its CPU: each request that arrived while
 * PHP ran used to take the CPU from PHP for that one request and give it back,
 * two switches per request; now the arrivals are taken in one go when PHP waits
 * for work (worker-mode sqlite-read +10 to +20 %, alternating A/B runs). But
 * while an executor is on a long request (EXECUTOR_STALL_MS and more), a batch
 * I/O thread would wait for the end of PHP's time slice each time, and a static
 * file took 2 ms instead of 0.3 ms next to a CPU-bound script: then the I/O
 * thread is an ordinary thread again, preempting, until the executors move on.
 */
static void io_policy_update(struct torus_loop *loop)
{
    if (!loop->io_batch_works)
        return;
    struct torus_shard *shard = loop->shard;
    bool batch = !loop->stalled;
    if (batch == loop->io_batch)
        return;
    struct sched_param param = {.sched_priority = 0};
    if (pthread_setschedparam(pthread_self(), batch ? SCHED_BATCH : SCHED_OTHER, &param) != 0) {
        torus_log_debug("shard %d: SCHED_BATCH refused; the I/O thread keeps SCHED_OTHER",
                        shard->id);
        loop->io_batch_works = false;
        return;
    }
    loop->io_batch = batch;
}

/*
 * Right after the executors answered, instead of blocking as soon as the
 * ring is empty, poll it for a few microseconds: the next requests are
 * usually that close, and a CPU that goes idle and is woken again costs more
 * than the polls (measured: +6 % on worker-mode hello; on static files,
 * where no executor is involved, it costs a little, so it is not done
 * there). Only when no executor has work: they share this CPU, and polling
 * would keep them from it. Returns true when completions arrived.
 */
static bool spin_for_completions(struct torus_loop *loop)
{
    io_uring_submit(&loop->ring);
    uint64_t until = torus_monotonic_ns() + SPIN_NS;
    do {
        if (io_uring_cq_ready(&loop->ring))
            return true;
        io_uring_get_events(&loop->ring); /* runs the deferred completions without sleeping */
        if (io_uring_cq_ready(&loop->ring))
            return true;
    } while (torus_monotonic_ns() < until);
    return false;
}

/* Handles every completion in the ring, then gives the receive buffers back in one step. */
static void handle_completions(struct torus_loop *loop)
{
    unsigned head;
    unsigned seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&loop->ring, head, cqe)
    {
        handle_cqe(loop, cqe);
        seen++;
    }
    io_uring_cq_advance(&loop->ring, seen);
    if (loop->buf_returned) {
        io_uring_buf_ring_advance(loop->buf_ring, loop->buf_returned);
        loop->buf_returned = 0;
    }
}

static void loop_free(struct torus_loop *loop)
{
    route_lookup_stop(loop);
    spool_spares_close(loop);
    io_uring_queue_exit(&loop->ring);
    free(loop->buf_base);
    free(loop->buf_ring);
    if (loop->static_cache)
        torus_static_cache_free(loop->static_cache);
    torus_pool_destroy(&loop->conn_pool);
    free(loop);
}

/*
 * A shard's loop, ready to run: its limits and router from the
 * configuration, its timer queues, static cache, io_uring, file-system
 * workers and the eventfd read that wakes it; no listener armed yet. NULL
 * (nothing kept) when a part cannot be set up. The unit tests of connections
 * build their loop with it too.
 */
static struct torus_loop *loop_new(struct torus_shard *shard)
{
    const struct torus_config *cfg = shard->config;
    struct torus_loop *loop = calloc(1, sizeof(*loop));
    if (!loop)
        return NULL;
    loop->shard = shard;
    loop->config = cfg;
    loop->max_conns = (cfg->max_connections + (uint32_t)cfg->threads - 1) / (uint32_t)cfg->threads;
    loop->limits.max_uri_size = cfg->max_uri_size;
    loop->limits.max_header_size = cfg->max_header_size;
    loop->limits.max_body_size = cfg->max_body_size;
    loop->limits.body_preallocate = cfg->body_buffer_size;
    loop->router.root = cfg->root;
    loop->router.root_len = strlen(cfg->root);
    loop->router.php = true;
    loop->router.worker_mode = torus_route_has_front_worker(cfg);
    torus_pool_init(&loop->conn_pool, sizeof(struct torus_conn), 256);
    torus_timer_queue_init(&loop->header_timers, ms_of(cfg->header_timeout));
    torus_timer_queue_init(&loop->body_timers, ms_of(cfg->body_timeout));
    torus_timer_queue_init(&loop->idle_timers, ms_of(cfg->idle_timeout));
    torus_timer_queue_init(&loop->send_timers, ms_of(cfg->send_timeout));
    torus_timer_queue_init(&loop->linger_timers, LINGER_MS);
    torus_timer_queue_init(&loop->drain_timers, DRAIN_GRACE_MS);
    loop->now_ms = monotonic_ms();
    loop->now_s = time(NULL);
    loop->io_batch_works = true; /* io_policy_update() makes the thread SCHED_BATCH */

    loop->static_cache = torus_static_cache_new(64 * 1024, 32u << 20);
    if (!loop->static_cache || setup_ring(loop) != TORUS_OK ||
        route_lookup_start(loop) != TORUS_OK) {
        loop_free(loop);
        return NULL;
    }
    arm_wake(loop);
    return loop;
}

int torus_loop_run(struct torus_shard *shard)
{
    const struct torus_config *cfg = shard->config;
    struct torus_loop *loop = loop_new(shard);
    if (!loop)
        return TORUS_ERROR;
    shard->loop = loop;
    for (int i = 0; i < shard->listen_count; i++) {
        struct torus_listener *l = &loop->listeners[i];
        l->loop = loop;
        l->fd = shard->listen_fds[i];
        l->index = i;
        l->tls = cfg->listeners[i].tls;
        listener_arm(l);
    }
    loop->listener_count = shard->listen_count;
    spool_spares_refill(loop);
    if (shard->access_log_fd >= 0 &&
        torus_access_log_init(&loop->access_log, shard->access_log_fd,
                              strcmp(cfg->access_log_format, "json") == 0) == TORUS_OK)
        loop->logging = true;
    loop->access_log.taken_ms = loop->now_ms;
    atomic_store(&shard->slot->loop_running, true);

    struct torus_io_waker *waker = &shard->waker;
    for (;;) {
        dispatch_take_responses(loop);
        for (int i = 0; i < shard->executor_count; i++) {
            if (slow_path(
                    atomic_load_explicit(&shard->executors[i].finished, memory_order_acquire)) &&
                !loop->draining) {
                /* An executor gave up (a worker script that cannot start): the shard stops. */
                atomic_store(&shard->failed, true);
                atomic_store(&shard->draining, true);
            }
        }
        if (atomic_load_explicit(&shard->draining, memory_order_acquire))
            start_drain(loop);
        if (slow_path(loop->draining && atomic_load_explicit(&shard->hurry, memory_order_relaxed)))
            loop->drain_deadline_ms = loop->now_ms;
        if (loop->draining && (loop->open_conns == 0 || loop->now_ms >= loop->drain_deadline_ms))
            break;

        /* The access log goes out in batches (net/access_log.h says when). */
        const char *log_data;
        size_t log_len =
            loop->logging ? torus_access_log_take(&loop->access_log, loop->now_ms, &log_data) : 0;
        if (log_len) {
            struct io_uring_sqe *sqe = get_sqe(loop);
            /* Offset 0 on an O_APPEND file appends atomically (the position is the end, per write).
             */
            io_uring_prep_write(sqe, loop->access_log.fd, log_data, (unsigned)log_len, 0);
            io_uring_sqe_set_data64(sqe, user_data(loop, TAG_LOG));
        }

        /* Executors handed requests in this iteration get them as one batch, now; so does the
         * file-system worker its lookups. */
        for (int i = 0; i < shard->executor_count; i++)
            torus_executor_wake(&shard->executors[i]);
        torus_fs_pool_wake(&loop->fs);

        /* Announce the sleep, then look at the executors' rings one last time; the fence orders
         * the store before those loads (runtime/executor.c explains the handshake). */
        atomic_store_explicit(&waker->sleeping, 1, memory_order_relaxed);
        atomic_thread_fence(memory_order_seq_cst);
        bool work = dispatch_have_output(loop) || torus_fs_pool_has_done(&loop->fs) ||
                    atomic_load_explicit(&shard->draining, memory_order_seq_cst) != loop->draining;
        uint64_t deadline = conn_next_deadline(loop);
        if (loop->draining)
            deadline = TORUS_MIN(deadline, loop->drain_deadline_ms);
        uint64_t wait_ms =
            deadline == UINT64_MAX ? 1000 : (deadline > loop->now_ms ? deadline - loop->now_ms : 0);
        wait_ms = TORUS_MIN(wait_ms, loop->corked ? CORK_CHECK_MS : 1000);
        struct __kernel_timespec ts = {.tv_sec = (long long)(wait_ms / 1000),
                                       .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
        if (work || wait_ms == 0) {
            io_uring_submit(&loop->ring);
        } else if (!(loop->busy && dispatch_executors_idle(loop) && loop->fs.in_flight == 0 &&
                     spin_for_completions(loop))) {
            struct io_uring_cqe *cqe;
            int rc = io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &ts, NULL);
            if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
                torus_log_warn("shard %d: io_uring wait: %s", shard->id, strerror(-rc));
        }
        atomic_store_explicit(&waker->sleeping, 0, memory_order_relaxed);

        loop->now_ms = monotonic_ms();
        loop->now_s = time(NULL);
        torus_route_memo_forget(&loop->route_memo);
        route_lookup_reap(loop); /* before the new requests: they share what it found */
        handle_completions(loop);
        stalls_update(loop);
        io_policy_update(loop);
        /* Idle keep-alive connections are the idle and drain timer queues: publish their size. */
        atomic_store_explicit(&shard->metrics->connections_idle,
                              loop->idle_timers.count + loop->drain_timers.count,
                              memory_order_relaxed);
        conn_expire_timers(loop);
        listener_retry_all(loop);
    }

    /* Whatever is still open past the shutdown deadline is cut; then the cancelled operations
     * are reaped so every connection is freed. */
    for (struct torus_conn *c = loop->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    uint64_t reap_until = monotonic_ms() + 2000;
    while (loop->conn_pool.in_use > 0 && monotonic_ms() < reap_until) {
        dispatch_take_responses(loop); /* releases free the connections executors held */
        route_lookup_reap(loop);       /* and lookups the connections they waited for */
        struct __kernel_timespec tick = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
        struct io_uring_cqe *cqe;
        io_uring_submit_and_wait_timeout(&loop->ring, &cqe, 1, &tick, NULL);
        handle_completions(loop);
    }

    /* Let the executors finish what they hold; their last parts are dropped as they come. */
    for (int i = 0; i < shard->executor_count; i++) {
        torus_executor_wake(&shard->executors[i]);
        torus_executor_stop(&shard->executors[i]);
    }
    uint64_t give_up = monotonic_ms() + 5000;
    for (;;) {
        dispatch_take_responses(loop);
        bool all_done = true;
        for (int i = 0; i < shard->executor_count; i++)
            all_done &= atomic_load(&shard->executors[i].finished);
        if (all_done || monotonic_ms() > give_up)
            break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    dispatch_take_responses(loop);
    atomic_store(&shard->slot->loop_running, false);
    if (loop->logging) {
        /* Let an in-flight write land, then write the rest directly. */
        while (torus_access_log_busy(&loop->access_log)) {
            struct io_uring_cqe *cqe;
            if (io_uring_wait_cqe(&loop->ring, &cqe) != 0)
                break;
            handle_cqe(loop, cqe);
            io_uring_cqe_seen(&loop->ring, cqe);
        }
        torus_access_log_flush_sync(&loop->access_log);
        torus_access_log_release(&loop->access_log);
    }
    for (int i = 0; i < loop->listener_count; i++) {
        if (loop->listeners[i].fd >= 0)
            close(loop->listeners[i].fd);
    }
    loop_free(loop);
    shard->loop = NULL;
    return TORUS_OK;
}
