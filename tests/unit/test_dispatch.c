/*
 * Which executor a request goes to (net/dispatch.c): with several executors
 * per shard, quick requests queue at the warm executor, and once a request
 * runs slow they go only to idle executors. Driven without threads: the
 * executors are initialised but never started, and the test writes the times
 * an executor thread would publish.
 */
#include "net/dispatch.c"

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define EXECUTORS 3

static struct torus_config config;
static struct torus_io_waker waker;
static struct torus_executor_slot slots[EXECUTORS];
static struct torus_executor executors[EXECUTORS];
static struct torus_shard shard;
static struct torus_loop loop;
static struct torus_exchange exchanges[EXECUTOR_DEPTH * EXECUTORS + 8];
static int used;

static void setup(int count)
{
    memset(&loop, 0, sizeof(loop));
    memset(&shard, 0, sizeof(shard));
    config.php_threads_per_core = count;
    for (int i = 0; i < count; i++) {
        if (torus_executor_init(&executors[i], &config, &waker, &slots[i], 0, i, -1) != TORUS_OK) {
            fprintf(stderr, "torus_executor_init failed\n");
            exit(1);
        }
        atomic_store(&slots[i].ready, true);
    }
    shard.executors = executors;
    shard.executor_count = count;
    shard.config = &config;
    loop.shard = &shard;
    loop.config = &config;
    used = 0;
}

static void teardown(int count)
{
    for (int i = 0; i < count; i++) {
        torus_handoff_destroy(&executors[i].requests);
        torus_handoff_destroy(&executors[i].responses);
    }
}

static bool next_http2; /* the next dispatch_one() is an HTTP/2 stream's request */

/* Dispatches one more request; returns the executor it went to, or -1 when none took it. */
static int dispatch_one(void)
{
    struct torus_exchange *x = &exchanges[used];
    memset(x, 0, sizeof(*x));
    x->http2 = next_http2;
    if (dispatch_request(&loop, x) != TORUS_OK)
        return -1;
    used++;
    return x->executor;
}

int main(void)
{
    /* One executor: requests queue at it up to EXECUTOR_DEPTH, then wait. */
    setup(1);
    for (int i = 0; i < EXECUTOR_DEPTH; i++)
        CHECK(dispatch_one() == 0);
    CHECK(dispatch_one() == -1);
    teardown(1);

    /* Several, all quick: the whole batch queues at the warm executor; the others sleep. */
    setup(EXECUTORS);
    for (int i = 0; i < 10; i++)
        CHECK(dispatch_one() == 0);
    CHECK(executors[0].inflight == 10 && executors[1].inflight == 0 && executors[2].inflight == 0);

    /* Once the warm executor is woken for its batch, a request that comes while it is still
     * busy goes to an idle one, which takes the next batch: nothing queues behind a request of
     * an earlier batch (it might be slow). */
    torus_executor_wake(&executors[0]);
    CHECK(dispatch_one() == 1);
    CHECK(dispatch_one() == 1);
    CHECK(executors[0].inflight == 10 && executors[1].inflight == 2);

    /* An idle warm executor takes the next batch even though it was woken before. */
    torus_executor_wake(&executors[1]);
    executors[1].inflight = 0; /* it answered both */
    CHECK(dispatch_one() == 1);
    CHECK(dispatch_one() == 1);

    /* Full: the next one goes to an idle executor, which becomes the warm one. */
    executors[1].inflight = EXECUTOR_DEPTH;
    CHECK(dispatch_one() == 2);
    CHECK(dispatch_one() == 2);

    /* The warm executor has been on one request for longer than TORUS_EXECUTOR_SLOW_NS: even
     * in its open batch it takes no more, and neither does any other busy one. */
    uint64_t now = torus_monotonic_ns();
    atomic_store(&executors[2].running_since_ns, now - 3 * TORUS_EXECUTOR_SLOW_NS);
    CHECK(dispatch_one() == -1); /* 0, 1 and 2 all busy: the request waits */
    executors[0].inflight = 0;
    CHECK(dispatch_one() == 0); /* the first one idle again takes it */
    teardown(EXECUTORS);

    /* HTTP/2 streams (a page's requests, sent together) run side by side: one goes to an idle
     * executor rather than queue behind the warm one, even in its open batch. */
    setup(EXECUTORS);
    CHECK(dispatch_one() == 0);
    next_http2 = true;
    CHECK(dispatch_one() == 1);
    CHECK(dispatch_one() == 2);
    CHECK(dispatch_one() == -1); /* none idle: it waits in the FIFO, where a reset frees it */
    next_http2 = false;
    teardown(EXECUTORS);

    /* A slow request finished a moment ago: requests still go only to idle executors. */
    setup(EXECUTORS);
    atomic_store(&executors[2].slow_seen_ns, torus_monotonic_ns());
    CHECK(dispatch_one() == 0);
    CHECK(dispatch_one() == 1);
    CHECK(dispatch_one() == 2);
    CHECK(dispatch_one() == -1);
    /* Long after it (the cool-down is over), queueing at the warm executor resumes. */
    atomic_store(&executors[2].slow_seen_ns, torus_monotonic_ns() - 2 * QUICK_COOLDOWN_NS);
    CHECK(dispatch_one() == 2);
    CHECK(executors[2].inflight == 2);
    teardown(EXECUTORS);

    /* An executor restarting its worker script (SIGHUP) is passed over while another is idle. */
    setup(EXECUTORS);
    atomic_store(&slots[0].ready, false);
    CHECK(dispatch_one() == 1);
    teardown(EXECUTORS);

    printf("test_dispatch: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
