/*
 * A connection's lifecycle on a real loop (tests/unit/loop_harness.h): the
 * states it goes through from accept to free, and the reference counting
 * that decides when a closed connection is freed.
 *
 *   - keep-alive, then Connection: close: READING_HEAD again after the
 *     first answer, WRITING_LAST and LINGERING after the second, freed at
 *     the client's FIN;
 *   - PHP closes (TORUS_EMIT_CLOSE): WRITING_LAST at the response's END;
 *   - a client that half-closes while PHP runs still gets its answer;
 *   - fastcgi_finish_request(): END before RELEASE, the next request read
 *     meanwhile (held reaches 2);
 *   - a client that resets while PHP has its request: CLOSED at once, freed
 *     only when the executor releases it (held), the request marked aborted;
 *     a parked one leaves the FIFO and is freed at once;
 *   - a bad request: 400, WRITING_LAST, LINGERING;
 *   - the idle and header timers close.
 */
#include "tests/unit/loop_harness.h"

static void short_timers(struct torus_config *cfg)
{
    cfg->idle_timeout = 0.2;
    cfg->header_timeout = 0.2;
}

static const char get_hello[] = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";
static const char get_php[] = "GET /index.php HTTP/1.1\r\nHost: t\r\n\r\n";

/* Resets the connection (RST) instead of closing it. */
static void reset(int client)
{
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(client);
}

static void test_keep_alive_then_close(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->timer.queue == &h.loop->header_timers); /* from accept */

    char buf[16384];
    harness_send(client, get_hello, sizeof(get_hello) - 1);
    harness_receive(&h, client, buf, sizeof(buf), 4096 + 100, 2000, NULL);
    CHECK(strstr(buf, "HTTP/1.1 200 OK\r\n") == buf);
    CHECK(HARNESS_PUMP_UNTIL(&h, !c->send_inflight, 1000));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->timer.queue == &h.loop->idle_timers);
    CHECK(c->in == NULL); /* an idle connection holds no parsing memory */

    static const char last[] = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    harness_send(client, last, sizeof(last) - 1);
    bool eof;
    harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 2000, &eof);
    CHECK(strstr(buf, "Connection: close\r\n") != NULL);
    CHECK(eof); /* our write side is shut after the last answer */
    CHECK(c->state == CONN_LINGERING);
    CHECK(c->timer.queue == &h.loop->linger_timers);
    CHECK(h.loop->conn_pool.in_use == 1);
    close(client); /* the FIN ends the lingering */
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    harness_free(&h);
}

static void test_php_closes(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    harness_send(client, get_php, sizeof(get_php) - 1);
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    if (r) {
        CHECK(r->keep_alive);
        harness_emit_ok(&h, r, TORUS_EMIT_END | TORUS_EMIT_CLOSE | TORUS_EMIT_RELEASE);
        char buf[256];
        bool eof;
        harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 2000, &eof);
        CHECK(harness_is_ok(buf));
        CHECK(eof);
        CHECK(c->state == CONN_LINGERING);
        CHECK(c->held == 0);
    }
    close(client);
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    harness_free(&h);
}

static void test_half_close_while_executing(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    harness_send(client, get_php, sizeof(get_php) - 1);
    shutdown(client, SHUT_WR);
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    CHECK(HARNESS_PUMP_UNTIL(&h, c->peer_closed, 2000));
    CHECK(c->state == CONN_EXECUTING); /* the FIN is a fact, not a phase */
    if (r) {
        harness_emit_ok(&h, r, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
        char buf[256];
        bool eof;
        harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 2000, &eof);
        CHECK(harness_is_ok(buf)); /* answered, then closed */
        CHECK(eof);
    }
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    close(client);
    harness_free(&h);
}

static void test_finish_request_early(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    harness_send(client, get_php, sizeof(get_php) - 1);
    struct torus_request *first = NULL, *second = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (first = harness_take_request(&h)) != NULL, 2000));
    if (!first) {
        close(client);
        harness_free(&h);
        return;
    }
    /* fastcgi_finish_request(): the response ends, the script goes on reading its request. */
    harness_emit_ok(&h, first, TORUS_EMIT_END);
    char buf[256];
    harness_receive(&h, client, buf, sizeof(buf), HARNESS_OK_LEN, 2000, NULL);
    CHECK(harness_is_ok(buf));
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->held == 1 && c->exchange == NULL);

    harness_send(client, get_php, sizeof(get_php) - 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, (second = harness_take_request(&h)) != NULL, 2000));
    CHECK(c->state == CONN_EXECUTING);
    CHECK(c->held == 2); /* the first script still runs */
    harness_emit(&h, first, NULL, 0, TORUS_EMIT_RELEASE);
    harness_pump(&h, 0);
    CHECK(c->held == 1);
    CHECK(c->state == CONN_EXECUTING); /* a RELEASE is not the END of the current one */
    if (second) {
        harness_emit_ok(&h, second, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
        harness_receive(&h, client, buf, sizeof(buf), HARNESS_OK_LEN, 2000, NULL);
        CHECK(harness_is_ok(buf));
        CHECK(c->state == CONN_READING_HEAD);
        CHECK(c->held == 0);
    }
    close(client);
    harness_free(&h);
}

static void test_reset_while_executing(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    harness_send(client, get_php, sizeof(get_php) - 1);
    struct torus_request *r = NULL;
    CHECK(HARNESS_PUMP_UNTIL(&h, (r = harness_take_request(&h)) != NULL, 2000));
    reset(client);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->state == CONN_CLOSED, 2000));
    CHECK(c->fd == -1);
    CHECK(h.loop->open_conns == 0 && h.loop->conns == NULL);
    /* Closed, but not freed: the executor still holds its request. */
    uint64_t until = monotonic_ms() + 100;
    while (monotonic_ms() < until)
        harness_pump(&h, 10);
    CHECK(h.loop->conn_pool.in_use == 1);
    CHECK(c->held == 1 && c->ops == 0);
    if (r) {
        CHECK(atomic_load(&r->aborted)); /* connection_aborted() */
        harness_emit_ok(&h, r, TORUS_EMIT_END | TORUS_EMIT_RELEASE);
    }
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000)); /* the release frees it */
    harness_free(&h);
}

static void test_reset_while_parked(void)
{
    struct harness h;
    harness_init(&h, NULL);
    h.shard.executor_count = 0;
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    harness_send(client, get_php, sizeof(get_php) - 1);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->state == CONN_PARKED, 2000));
    CHECK(c->held == 1);
    CHECK(h.metrics.queue_depth == 1);
    reset(client);
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000)); /* nobody else held it */
    CHECK(h.loop->parked_first == NULL && h.loop->parked_last == NULL);
    CHECK(h.metrics.queue_depth == 0);
    h.shard.executor_count = 1;
    harness_pump(&h, 0);
    CHECK(harness_take_request(&h) == NULL);
    harness_free(&h);
}

static void test_bad_request(void)
{
    struct harness h;
    harness_init(&h, NULL);
    struct torus_conn *c;
    int client = harness_connect(&h, &c, false);
    static const char bad[] = "GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n";
    harness_send(client, bad, sizeof(bad) - 1);
    char buf[4096];
    bool eof;
    harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 2000, &eof);
    CHECK(strstr(buf, "HTTP/1.1 400 ") == buf);
    CHECK(eof);
    CHECK(c->state == CONN_LINGERING);
    /* What the client still sends is discarded. */
    harness_send(client, get_hello, sizeof(get_hello) - 1);
    harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 100, &eof);
    CHECK(buf[0] == '\0');
    CHECK(c->state == CONN_LINGERING);
    close(client);
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    harness_free(&h);
}

static void test_timers(void)
{
    struct harness h;
    harness_init(&h, short_timers);
    struct torus_conn *c;

    /* Idle between two requests. */
    int client = harness_connect(&h, &c, false);
    char buf[16384];
    harness_send(client, get_hello, sizeof(get_hello) - 1);
    harness_receive(&h, client, buf, sizeof(buf), 4096 + 100, 2000, NULL);
    CHECK(HARNESS_PUMP_UNTIL(&h, c->timer.queue == &h.loop->idle_timers, 1000));
    uint64_t idle = monotonic_ms();
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    CHECK(monotonic_ms() - idle >= 150);
    close(client);

    /* Half a head. */
    client = harness_connect(&h, &c, false);
    harness_send(client, "GET /hello.txt HTTP/1.1\r\nHo", 27);
    harness_pump(&h, 1);
    CHECK(c->state == CONN_READING_HEAD);
    CHECK(c->timer.queue == &h.loop->header_timers);
    CHECK(HARNESS_PUMP_UNTIL(&h, h.loop->conn_pool.in_use == 0, 2000));
    bool eof;
    harness_receive(&h, client, buf, sizeof(buf), SIZE_MAX, 500, &eof);
    CHECK(eof && buf[0] == '\0'); /* closed without an answer */
    close(client);
    harness_free(&h);
}

int main(void)
{
    int fds = harness_open_fds();
    test_keep_alive_then_close();
    test_php_closes();
    test_half_close_while_executing();
    test_finish_request_early();
    test_reset_while_executing();
    test_reset_while_parked();
    test_bad_request();
    test_timers();
    CHECK(harness_open_fds() == fds);
    printf("test_conn_lifecycle: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
