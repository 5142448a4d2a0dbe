/*
 * The scoreboard of runtime/scoreboard.c: slots do not overlap; what a
 * forked child writes, its parent reads (the mapping is shared, as between
 * the shard processes and the supervisor); a dead shard's gauges go back to
 * zero while its counters stay; readiness needs a running loop and a ready
 * executor; the request an executor runs is recorded, cut to the slot's size
 * and always NUL-terminated; /status.json's copy of it (method, path without
 * a query, start time) is read only while the executor is busy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/scoreboard.c"
#include "tests/unit/check.h"

static void test_layout(void)
{
    struct torus_scoreboard *board = torus_scoreboard_create(3, 4);
    CHECK(board != NULL);
    if (!board)
        return;
    CHECK(board->shard_count == 3 && board->executors_per_shard == 4);
    /* Fill every slot with its own byte pattern, then read all of them back. */
    for (int s = 0; s < 3; s++) {
        struct torus_shard_slot *slot = torus_scoreboard_shard(board, s);
        CHECK((uintptr_t)slot % 64 == 0);
        memset(slot, 0x10 + s, sizeof(*slot));
        for (int e = 0; e < 4; e++) {
            struct torus_executor_slot *x = torus_scoreboard_executor(board, s, e);
            CHECK((uintptr_t)x % 64 == 0);
            CHECK((char *)x >= (char *)slot + sizeof(*slot));
            memset(x, 0x40 + s * 4 + e, sizeof(*x));
        }
    }
    for (int s = 0; s < 3; s++) {
        const unsigned char *slot = (const unsigned char *)torus_scoreboard_shard(board, s);
        bool intact = true;
        for (size_t i = 0; i < sizeof(struct torus_shard_slot); i++)
            intact &= slot[i] == 0x10 + s;
        CHECK(intact);
        for (int e = 0; e < 4; e++) {
            const unsigned char *x = (const unsigned char *)torus_scoreboard_executor(board, s, e);
            intact = true;
            for (size_t i = 0; i < sizeof(struct torus_executor_slot); i++)
                intact &= x[i] == 0x40 + s * 4 + e;
            CHECK(intact);
        }
    }
    CHECK(board->shard_count == 3); /* the header was not overwritten either */
    torus_scoreboard_destroy(board);
}

static void test_shared_with_child(void)
{
    struct torus_scoreboard *board = torus_scoreboard_create(2, 1);
    pid_t pid = fork();
    if (pid == 0) {
        struct torus_shard_slot *slot = torus_scoreboard_shard(board, 1);
        torus_metric_add(&slot->metrics.requests, 41);
        torus_metric_add(&slot->metrics.requests, 1);
        atomic_store(&slot->loop_running, true);
        atomic_store(&torus_scoreboard_executor(board, 1, 0)->ready, true);
        _exit(0);
    }
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    struct torus_shard_slot *slot = torus_scoreboard_shard(board, 1);
    CHECK(torus_metric_get(&slot->metrics.requests) == 42);
    CHECK(torus_scoreboard_shard_ready(board, 1));
    CHECK(!torus_scoreboard_shard_ready(board, 0));
    CHECK(!torus_scoreboard_ready(board)); /* shard 0 never started */
    torus_scoreboard_destroy(board);
}

static void test_ready_and_down(void)
{
    struct torus_scoreboard *board = torus_scoreboard_create(1, 2);
    struct torus_shard_slot *slot = torus_scoreboard_shard(board, 0);
    struct torus_executor_slot *x0 = torus_scoreboard_executor(board, 0, 0);
    struct torus_executor_slot *x1 = torus_scoreboard_executor(board, 0, 1);
    CHECK(!torus_scoreboard_ready(board));
    atomic_store(&slot->loop_running, true);
    CHECK(!torus_scoreboard_ready(board)); /* no executor ready yet */
    atomic_store(&x1->ready, true);
    CHECK(torus_scoreboard_ready(board));
    atomic_store(&slot->draining, true);
    CHECK(!torus_scoreboard_ready(board));
    atomic_store(&slot->draining, false);
    atomic_store(&board->draining, true);
    CHECK(!torus_scoreboard_ready(board));
    atomic_store(&board->draining, false);

    torus_metric_add(&slot->metrics.requests, 7);
    torus_metric_add(&slot->metrics.connections_open, 3);
    torus_metric_add(&slot->metrics.connections_idle, 2);
    torus_metric_add(&slot->metrics.queue_depth, 5);
    atomic_store(&x0->busy, true);
    atomic_store(&x0->events[TORUS_EVENT_CRASH_TIMEOUT], 4);
    atomic_store(&slot->pid, 1234);
    torus_scoreboard_shard_down(board, 0);
    CHECK(!torus_scoreboard_ready(board));
    CHECK(atomic_load(&slot->pid) == 0);
    CHECK(torus_metric_get(&slot->metrics.connections_open) == 0);
    CHECK(torus_metric_get(&slot->metrics.connections_idle) == 0);
    CHECK(torus_metric_get(&slot->metrics.queue_depth) == 0);
    CHECK(!atomic_load(&x0->busy) && !atomic_load(&x1->ready));
    CHECK(torus_metric_get(&slot->metrics.requests) == 7);           /* counters stay */
    CHECK(atomic_load(&x0->events[TORUS_EVENT_CRASH_TIMEOUT]) == 4); /* so do events */
    torus_scoreboard_destroy(board);
}

static void test_current_request(void)
{
    struct torus_scoreboard *board = torus_scoreboard_create(1, 1);
    struct torus_executor_slot *x = torus_scoreboard_executor(board, 0, 0);
    struct torus_request request;
    memset(&request, 0, sizeof(request));
    request.method = TORUS_STR("POST");
    request.path = TORUS_STR("/crash.php");
    request.script_filename = TORUS_STR("/srv/www/crash.php");
    char out[TORUS_SCOREBOARD_REQUEST_SIZE];

    torus_executor_slot_begin(x, &request, NULL);
    torus_executor_slot_request(x, out, sizeof(out));
    CHECK(strcmp(out, "") == 0); /* not busy: nothing is reported */
    atomic_store(&x->busy, true);
    torus_executor_slot_request(x, out, sizeof(out));
    CHECK(strcmp(out, "POST /crash.php (script /srv/www/crash.php)") == 0);

    /* A long path is cut, and the whole line always fits with its NUL. */
    char long_path[1000];
    memset(long_path, 'a', sizeof(long_path));
    long_path[0] = '/';
    request.path = (torus_str){long_path, sizeof(long_path)};
    char long_script[600];
    memset(long_script, 'b', sizeof(long_script));
    request.script_filename = (torus_str){long_script, sizeof(long_script)};
    torus_executor_slot_begin(x, &request, NULL);
    torus_executor_slot_request(x, out, sizeof(out));
    CHECK(strlen(out) == TORUS_SCOREBOARD_REQUEST_SIZE - 1);
    CHECK(strncmp(out, "POST /aaa", 9) == 0);
    CHECK(strstr(out, "(script bbb") != NULL);

    /* A smaller output buffer gets a cut copy. */
    char small[8];
    torus_executor_slot_request(x, small, sizeof(small));
    CHECK(strcmp(small, "POST /a") == 0);

    /* Without a script, no script part. */
    request.path = TORUS_STR("/x");
    request.script_filename = (torus_str){NULL, 0};
    torus_executor_slot_begin(x, &request, NULL);
    torus_executor_slot_request(x, out, sizeof(out));
    CHECK(strcmp(out, "POST /x") == 0);
    /* A worker's request names the worker script. */
    torus_executor_slot_begin(x, &request, "/srv/worker.php");
    torus_executor_slot_request(x, out, sizeof(out));
    CHECK(strcmp(out, "POST /x (worker /srv/worker.php)") == 0);
    torus_scoreboard_destroy(board);
}

static void test_status_copy(void)
{
    struct torus_scoreboard *board = torus_scoreboard_create(1, 1);
    struct torus_executor_slot *x = torus_scoreboard_executor(board, 0, 0);
    struct torus_request request;
    memset(&request, 0, sizeof(request));
    request.method = TORUS_STR("GET");
    request.path = TORUS_STR("/report.php/a%3Fb?c"); /* a decoded path may hold a '?' */
    request.script_filename = TORUS_STR("/srv/www/report.php");
    struct torus_executor_current current;

    uint64_t before = torus_scoreboard_clock_ns();
    torus_executor_slot_begin(x, &request, NULL);
    CHECK(!torus_executor_slot_current(x, &current)); /* idle */
    atomic_store(&x->busy, true);
    CHECK(torus_executor_slot_current(x, &current));
    CHECK(strcmp(current.method, "GET") == 0);
    CHECK(strcmp(current.path, "/report.php/a%3Fb") == 0);
    CHECK(current.started_ns >= before && current.started_ns <= torus_scoreboard_clock_ns());
    CHECK(atomic_load(&x->request_seq) % 2 == 0 && atomic_load(&x->request_seq) > 0);

    /* A long path is cut as the crash line cuts it; the script never shows. */
    char long_path[1000];
    memset(long_path, 'a', sizeof(long_path));
    long_path[0] = '/';
    request.path = (torus_str){long_path, sizeof(long_path)};
    torus_executor_slot_begin(x, &request, "/srv/worker.php");
    CHECK(torus_executor_slot_current(x, &current));
    CHECK(strlen(current.path) == 120 && current.path[0] == '/' && current.path[119] == 'a');

    /* A writer caught mid-update (odd sequence) is not read. */
    atomic_fetch_add(&x->request_seq, 1);
    CHECK(!torus_executor_slot_current(x, &current));
    atomic_fetch_add(&x->request_seq, 1);
    CHECK(torus_executor_slot_current(x, &current));
    torus_scoreboard_destroy(board);
}

int main(void)
{
    test_layout();
    test_shared_with_child();
    test_ready_and_down();
    test_current_request();
    test_status_copy();
    printf("test_scoreboard: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
