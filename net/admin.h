/*
 * The admin endpoints of --admin-listen: /healthz, /readyz, /metrics,
 * /status.json and /status (net/admin.c, net/admin_status.c), and the small
 * poll-driven server the supervisor answers them with (net/admin_server.c).
 */
#ifndef TORUS_ADMIN_H
#define TORUS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "net/admin_status.h"
#include "runtime/chunk.h"
#include "net/http.h"

struct pollfd;

struct torus_scoreboard;
struct torus_admin_server;

/*
 * Builds the whole response (head and body) to an admin request for `path`
 * (without its query), from what the server's scoreboard and rate samples
 * say; *status is set to its status code. NULL when out of memory.
 */
struct torus_chunk *torus_admin_respond(struct torus_admin_server *server, const char *method,
                                        const char *path, size_t path_len, bool keep_alive,
                                        int *status);

/* Admin connections served at once; more wait in the listener's backlog. */
#define TORUS_ADMIN_MAX_CONNS 16

struct torus_admin_conn {
    int fd; /* -1: free */
    struct torus_http_parser parser;
    char in[8192]; /* the request head must fit */
    size_t in_len, parsed;
    struct torus_chunk *out; /* the response being written, NULL while reading */
    bool keep_alive;
    uint64_t deadline_ms; /* closed when it makes no progress until then */
};

struct torus_admin_server {
    int listen_fd; /* -1: no --admin-listen */
    struct torus_scoreboard *board;
    struct torus_http_limits limits;
    struct torus_admin_conn conns[TORUS_ADMIN_MAX_CONNS];
    uint64_t accept_paused_until_ms; /* out of descriptors: accept again from then on */
    uint64_t started_ms;             /* monotonic: when the server was prepared (uptime) */
    struct torus_status_rates rates; /* for /status.json's requests per second */
};

/* Prepares the server for a bound, listening socket (-1: none), answering from board. */
void torus_admin_server_init(struct torus_admin_server *server, int listen_fd,
                             struct torus_scoreboard *board);

/*
 * Fills fds (room for TORUS_ADMIN_MAX_CONNS + 1 entries) with what poll()
 * should watch for the server at now_ms (the monotonic clock); returns how
 * many entries it filled.
 */
int torus_admin_server_poll_fds(struct torus_admin_server *server, struct pollfd *fds,
                                uint64_t now_ms);

/*
 * After poll(): serves the entries of fds that torus_admin_server_poll_fds()
 * filled (count of them), and closes connections idle past their deadline.
 * now_ms is the monotonic clock in milliseconds.
 */
void torus_admin_server_handle(struct torus_admin_server *server, const struct pollfd *fds,
                               int count, uint64_t now_ms);

/*
 * Called on the supervisor's every tick with the monotonic clock in
 * milliseconds: takes the once-a-second samples /status.json's rates need.
 */
void torus_admin_server_tick(struct torus_admin_server *server, uint64_t now_ms);

/* Closes every connection and the listener, and frees the rate samples. */
void torus_admin_server_close(struct torus_admin_server *server);

#endif
