/*
 * A connection's state machine (net/conn_state.c), without a socket: the
 * transition table against the list of transitions the design allows
 * (written out here again, so a change to the table must be a change to
 * this list too), its shape (every state reachable, CLOSED reachable from
 * every state and never left), a whole lifecycle walked through
 * conn_set_state(), an illegal transition in a child process (a Debug build
 * aborts naming both states, a release build logs them), and what
 * conn_finish_after_output() does in each state.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/conn_state.c"
#include "tests/unit/check.h"

#define N CONN_STATE_COUNT

/* The transitions the design allows, besides "any state but CLOSED -> CLOSED". */
static const struct {
    enum conn_state from, to;
} legal[] = {
    {CONN_READING_HEAD, CONN_READING_BODY},  {CONN_READING_HEAD, CONN_OUTPUT_FULL},
    {CONN_READING_HEAD, CONN_WRITING_LAST},  {CONN_READING_BODY, CONN_READING_HEAD},
    {CONN_READING_BODY, CONN_WRITING_FILE},  {CONN_READING_BODY, CONN_WRITING_LAST},
    {CONN_READING_BODY, CONN_SPOOLING_BODY}, {CONN_READING_BODY, CONN_EXECUTING},
    {CONN_READING_BODY, CONN_PARKED},        {CONN_SPOOLING_BODY, CONN_EXECUTING},
    {CONN_SPOOLING_BODY, CONN_PARKED},       {CONN_SPOOLING_BODY, CONN_WRITING_LAST},
    {CONN_PARKED, CONN_EXECUTING},           {CONN_EXECUTING, CONN_READING_HEAD},
    {CONN_EXECUTING, CONN_WRITING_LAST},     {CONN_WRITING_FILE, CONN_READING_HEAD},
    {CONN_WRITING_FILE, CONN_WRITING_LAST},  {CONN_OUTPUT_FULL, CONN_READING_HEAD},
    {CONN_OUTPUT_FULL, CONN_WRITING_LAST},   {CONN_WRITING_LAST, CONN_TLS_CLOSING},
    {CONN_WRITING_LAST, CONN_LINGERING},     {CONN_TLS_CLOSING, CONN_LINGERING},
    {CONN_READING_HEAD, CONN_ROUTING},       {CONN_ROUTING, CONN_READING_BODY},
    {CONN_ROUTING, CONN_WRITING_LAST},       {CONN_EXECUTING, CONN_WRITING_FILE},
};

static bool expected(enum conn_state from, enum conn_state to)
{
    if (to == CONN_CLOSED)
        return from != CONN_CLOSED;
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(legal); i++) {
        if (legal[i].from == from && legal[i].to == to)
            return true;
    }
    return false;
}

/* Every pair: the legal ones accepted, every other one refused. */
static void test_table(void)
{
    int accepted = 0;
    for (int from = 0; from < N; from++) {
        for (int to = 0; to < N; to++) {
            bool allowed = conn_state_allowed(from, to);
            if (allowed != expected(from, to))
                fprintf(stderr, "%s -> %s: the table says %s\n", conn_state_name(from),
                        conn_state_name(to), allowed ? "allowed" : "refused");
            CHECK(allowed == expected(from, to));
            accepted += allowed;
        }
    }
    CHECK(accepted == (int)TORUS_ARRAY_SIZE(legal) + N - 1);

    /* Representative illegal ones, by name. */
    CHECK(!conn_state_allowed(CONN_CLOSED, CONN_READING_HEAD));    /* a closed one never reopens */
    CHECK(!conn_state_allowed(CONN_LINGERING, CONN_WRITING_LAST)); /* nothing is sent after FIN */
    CHECK(!conn_state_allowed(CONN_READING_HEAD, CONN_EXECUTING)); /* no PHP before a body */
    CHECK(!conn_state_allowed(CONN_EXECUTING, CONN_READING_BODY)); /* nor parsing during PHP */
    CHECK(!conn_state_allowed(CONN_EXECUTING, CONN_PARKED));
    CHECK(!conn_state_allowed(CONN_PARKED, CONN_READING_HEAD)); /* a parked one runs first */
    CHECK(!conn_state_allowed(CONN_PARKED, CONN_WRITING_LAST));
    CHECK(!conn_state_allowed(CONN_WRITING_FILE, CONN_READING_BODY));
    CHECK(!conn_state_allowed(CONN_OUTPUT_FULL, CONN_READING_BODY));
    CHECK(!conn_state_allowed(CONN_WRITING_LAST, CONN_READING_HEAD)); /* the last is the last */
    CHECK(!conn_state_allowed(CONN_TLS_CLOSING, CONN_WRITING_LAST));
    CHECK(!conn_state_allowed(CONN_READING_HEAD, CONN_LINGERING)); /* only after the output */
    for (int s = 0; s < N; s++)
        CHECK(!conn_state_allowed(s, s)); /* no state is entered twice in a row */
    CHECK(!conn_state_allowed(N, CONN_CLOSED));
    CHECK(!conn_state_allowed(CONN_READING_HEAD, N));
}

/* Names, and the shape of the machine. */
static void test_shape(void)
{
    for (int s = 0; s < N; s++) {
        CHECK(strcmp(conn_state_name(s), "?") != 0);
        for (int t = 0; t < s; t++)
            CHECK(strcmp(conn_state_name(s), conn_state_name(t)) != 0);
    }
    CHECK(strcmp(conn_state_name(CONN_READING_HEAD), "READING_HEAD") == 0);
    CHECK(strcmp(conn_state_name(N), "?") == 0);
    CHECK(conn_state_next[CONN_CLOSED] == 0);

    /* Every state is reachable from READING_HEAD, where accept leaves a connection. */
    bool seen[N] = {[CONN_READING_HEAD] = true};
    for (bool grew = true; grew;) {
        grew = false;
        for (int s = 0; s < N; s++) {
            for (int t = 0; t < N && seen[s]; t++) {
                if (!seen[t] && conn_state_allowed(s, t))
                    seen[t] = grew = true;
            }
        }
    }
    for (int s = 0; s < N; s++) {
        if (!seen[s])
            fprintf(stderr, "%s cannot be reached\n", conn_state_name(s));
        CHECK(seen[s]);
    }

    /* The reading states are the first two (conn_reading() relies on it). */
    struct torus_conn c = {.fd = -1};
    for (int s = 0; s < N; s++) {
        c.state = s;
        CHECK(conn_reading(&c) == (s == CONN_READING_HEAD || s == CONN_READING_BODY));
        CHECK(conn_closed(&c) == (s == CONN_CLOSED));
    }
}

/* A connection's life through conn_set_state(): keep-alive requests, then the last one. */
static void test_lifecycle(void)
{
    static const enum conn_state path[] = {
        CONN_READING_BODY,  CONN_READING_HEAD, /* GET /hello.txt, answered from the cache */
        CONN_READING_BODY,  CONN_WRITING_FILE, /* GET /big.bin, streamed */
        CONN_READING_HEAD,  CONN_OUTPUT_FULL,  /* pipelined answers piled up */
        CONN_READING_HEAD,  CONN_READING_BODY, /* POST /index.php */
        CONN_SPOOLING_BODY, CONN_PARKED,       /* its body in a file, no free executor */
        CONN_EXECUTING,     CONN_READING_HEAD, /* END, kept alive */
        CONN_READING_BODY,  CONN_EXECUTING,    /* GET /index.php, Connection: close */
        CONN_WRITING_LAST,  CONN_TLS_CLOSING,  CONN_LINGERING, CONN_CLOSED,
    };
    struct torus_conn c = {.fd = -1, .state = CONN_READING_HEAD};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(path); i++) {
        conn_set_state(&c, path[i]);
        CHECK(c.state == path[i]);
    }
}

/* An illegal transition, in a child: what it writes, and whether it dies. */
static void test_illegal(void)
{
    int pipe_fds[2];
    if (pipe(pipe_fds) != 0) {
        perror("pipe");
        exit(1);
    }
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipe_fds[1], 2);
        struct torus_conn c = {.fd = 42, .state = CONN_EXECUTING};
        conn_set_state(&c, CONN_READING_BODY);
        _exit(c.state == CONN_READING_BODY ? 3 : 4); /* release: logged, and done anyway */
    }
    close(pipe_fds[1]);
    char text[512] = {0};
    size_t len = 0;
    ssize_t n;
    while (len < sizeof(text) - 1 &&
           (n = read(pipe_fds[0], text + len, sizeof(text) - 1 - len)) > 0)
        len += (size_t)n;
    close(pipe_fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(strstr(text, "connection 42: illegal state transition EXECUTING -> READING_BODY") !=
          NULL);
#ifdef TORUS_DEBUG
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
#endif
}

static struct torus_exchange *unseen_exchange(void)
{
    struct torus_exchange *x = calloc(1, sizeof(*x));
    x->executor = -1; /* no executor has seen it */
    x->request.body.data = malloc(16);
    return x;
}

/* What a failure that ends the connection after its output does, state by state. */
static void test_finish_after_output(void)
{
    /* Reading a static request's body: its held response and file are dropped. */
    struct torus_conn c = {.fd = -1, .state = CONN_READING_BODY, .keep_alive = true};
    c.pending = torus_chunk_new(64);
    c.file_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    conn_finish_after_output(&c);
    CHECK(c.state == CONN_WRITING_LAST);
    CHECK(!c.keep_alive);
    CHECK(c.pending == NULL);
    CHECK(c.file_fd == -1);

    /* Reading a PHP request's body: its exchange, never handed over, is freed. */
    struct torus_conn d = {.fd = -1, .file_fd = -1, .state = CONN_READING_BODY, .held = 1};
    d.exchange = unseen_exchange();
    conn_finish_after_output(&d);
    CHECK(d.state == CONN_WRITING_LAST);
    CHECK(d.exchange == NULL);
    CHECK(d.held == 0);

    /* Streaming a file: the file goes on, then the close. */
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct torus_conn e = {.fd = -1, .file_fd = fd, .state = CONN_WRITING_FILE, .keep_alive = true};
    conn_finish_after_output(&e);
    CHECK(e.state == CONN_WRITING_LAST);
    CHECK(e.file_fd == fd);
    close(fd);

    struct torus_conn f = {.fd = -1, .file_fd = -1, .state = CONN_OUTPUT_FULL};
    conn_finish_after_output(&f);
    CHECK(f.state == CONN_WRITING_LAST);

    /* Waiting for a route: the request is dropped; the lookup still holds the connection. */
    struct torus_conn r = {
        .fd = -1, .file_fd = -1, .state = CONN_ROUTING, .keep_alive = true, .held = 1};
    conn_finish_after_output(&r);
    CHECK(r.state == CONN_WRITING_LAST);
    CHECK(!r.keep_alive);
    CHECK(r.held == 1);

    /* PHP has the request: its END decides, and it now decides to close. */
    static const enum conn_state php[] = {CONN_SPOOLING_BODY, CONN_PARKED, CONN_EXECUTING};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(php); i++) {
        struct torus_exchange x = {.executor = 0};
        struct torus_conn g = {.fd = -1, .file_fd = -1, .state = php[i], .keep_alive = true};
        g.exchange = &x;
        g.held = 1;
        conn_finish_after_output(&g);
        CHECK(g.state == php[i]);
        CHECK(!g.keep_alive);
        CHECK(g.exchange == &x && g.held == 1);
    }

    /* Already on its way out: nothing changes. */
    static const enum conn_state last[] = {CONN_WRITING_LAST, CONN_TLS_CLOSING, CONN_LINGERING,
                                           CONN_CLOSED};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(last); i++) {
        struct torus_conn h = {.fd = -1, .file_fd = -1, .state = last[i]};
        conn_finish_after_output(&h);
        CHECK(h.state == last[i]);
    }
}

int main(void)
{
    test_table();
    test_shape();
    test_lifecycle();
    test_illegal();
    test_finish_after_output();
    printf("test_conn_state: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
