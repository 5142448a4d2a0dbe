/*
 * The admin listener (--admin-listen), served by the supervisor.
 *
 * The supervisor has no io_uring and no executors: it waits in poll() for
 * signals, dead shards and these connections together, so this is a small
 * poll-driven server. Each connection has one fixed input buffer; requests
 * are parsed by the same strict parser as the shards' (net/http.c), so a
 * malformed request gets the same status it would get there. A response is
 * built whole (net/admin.c) and written before the next pipelined request is
 * parsed. A connection that makes no progress for ADMIN_IDLE_MS is closed,
 * and past ADMIN_MAX_CONNS the listener is not polled, so a slow or idle
 * client never costs more than one slot.
 */
#include "net/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/http_response.h"
#include "runtime/log.h"
#include "runtime/scoreboard.h"

#define ADMIN_IDLE_MS 10000
/* Out of descriptors: how long the listener is left alone before the next try. */
#define ADMIN_ACCEPT_PAUSE_MS 100

static void conn_close(struct torus_admin_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    torus_http_release(&c->parser);
    torus_chunk_free(c->out);
    c->out = NULL;
}

/* A response to a request the parser refused; the connection closes after it. */
static struct torus_chunk *error_response(int status)
{
    const char *reason = torus_http_reason(status);
    char body[128];
    int body_len = snprintf(body, sizeof(body), "%d %s\n", status, reason);
    static const char extra[] = "Content-Type: text/plain; charset=utf-8\r\n";
    char head[512];
    size_t head_len =
        torus_http_head(head, sizeof(head), status, 1, false, extra, sizeof(extra) - 1, body_len);
    struct torus_chunk *chunk = torus_chunk_new(head_len + (size_t)body_len);
    if (chunk) {
        memcpy(chunk->data, head, head_len);
        memcpy(chunk->data + head_len, body, (size_t)body_len);
        chunk->len = (uint32_t)(head_len + (size_t)body_len);
    }
    return chunk;
}

/* The head of a request is parsed: build its response. */
static int respond(struct torus_admin_server *server, struct torus_admin_conn *c)
{
    struct torus_http_parser *p = &c->parser;
    if (torus_http_set_body_mode(p, TORUS_BODY_DISCARD) != TORUS_OK)
        return TORUS_ERROR;
    const char *path = p->url.data;
    size_t path_len = p->url.len;
    const char *query = memchr(path, '?', path_len);
    if (query)
        path_len = (size_t)(query - path);
    c->keep_alive = torus_http_keep_alive(p);
    int status;
    c->out =
        torus_admin_respond(server, torus_http_method(p), path, path_len, c->keep_alive, &status);
    torus_http_head_done(p);
    return c->out ? TORUS_OK : TORUS_ERROR;
}

/* Parses buffered input until a response waits to be written or more input is needed. */
static void conn_parse(struct torus_admin_server *server, struct torus_admin_conn *c)
{
    while (!c->out && c->parsed < c->in_len) {
        size_t consumed = 0;
        int rc =
            torus_http_execute(&c->parser, c->in + c->parsed, c->in_len - c->parsed, &consumed);
        c->parsed += consumed;
        if (rc == TORUS_HTTP_HEAD) {
            if (respond(server, c) != TORUS_OK) {
                int status = c->parser.error_status ? c->parser.error_status : 500;
                c->out = error_response(status);
                c->keep_alive = false;
            }
        } else if (rc == TORUS_HTTP_FAILED) {
            c->out = error_response(c->parser.error_status);
            c->keep_alive = false;
            c->in_len = c->parsed = 0; /* nothing after a bad request is read */
            break;
        } else if (rc == TORUS_AGAIN) {
            break;
        }
    }
    /* Keep only what is still needed: an incomplete head (the parser points into it) and
     * unparsed bytes, at the front of the buffer. */
    const char *from = c->in + c->parsed;
    if (torus_http_in_head(&c->parser) && c->parser.head_start)
        from = c->parser.head_start;
    size_t shift = (size_t)(from - c->in);
    if (shift) {
        memmove(c->in, from, c->in_len - shift);
        c->in_len -= shift;
        c->parsed -= shift;
        if (torus_http_in_head(&c->parser))
            torus_http_rebase(&c->parser, -(ptrdiff_t)shift);
    }
    if (!c->out && c->in_len == sizeof(c->in)) {
        /* A head larger than the buffer. */
        c->out = error_response(431);
        c->keep_alive = false;
    }
}

static void conn_read(struct torus_admin_server *server, struct torus_admin_conn *c)
{
    ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_close(c);
        return;
    }
    if (n > 0) {
        c->in_len += (size_t)n;
        conn_parse(server, c);
    }
}

static void conn_write(struct torus_admin_server *server, struct torus_admin_conn *c)
{
    struct torus_chunk *out = c->out;
    ssize_t n = send(c->fd, out->data + out->sent, out->len - out->sent, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            conn_close(c);
        return;
    }
    out->sent += (uint32_t)n;
    if (out->sent < out->len)
        return;
    torus_chunk_free(out);
    c->out = NULL;
    if (!c->keep_alive) {
        conn_close(c);
        return;
    }
    conn_parse(server, c); /* a pipelined request may wait */
}

static void accept_all(struct torus_admin_server *server, uint64_t now_ms)
{
    for (;;) {
        struct torus_admin_conn *c = NULL;
        for (int i = 0; i < TORUS_ADMIN_MAX_CONNS && !c; i++) {
            if (server->conns[i].fd < 0)
                c = &server->conns[i];
        }
        if (!c)
            return;
        int fd = accept4(server->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* The listener stays readable: polling it again now would spin. */
                if (!server->accept_paused_until_ms)
                    torus_log_error("--admin-listen: cannot accept: %s; pausing accept",
                                    strerror(errno));
                server->accept_paused_until_ms = now_ms + ADMIN_ACCEPT_PAUSE_MS;
            }
            return;
        }
        server->accept_paused_until_ms = 0;
        c->fd = fd;
        c->in_len = c->parsed = 0;
        c->out = NULL;
        c->keep_alive = true;
        c->deadline_ms = now_ms + ADMIN_IDLE_MS;
        torus_http_init(&c->parser, &server->limits);
    }
}

void torus_admin_server_init(struct torus_admin_server *server, int listen_fd,
                             struct torus_scoreboard *board)
{
    memset(server, 0, sizeof(*server));
    server->listen_fd = listen_fd;
    server->board = board;
    server->limits.max_uri_size = 2048;
    server->limits.max_header_size = sizeof(server->conns[0].in);
    server->limits.max_body_size = 0;
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++)
        server->conns[i].fd = -1;
    server->started_ms = torus_monotonic_ns() / 1000000u;
    torus_status_rates_init(&server->rates, board ? board->shard_count : 0);
    if (listen_fd >= 0)
        fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
}

int torus_admin_server_poll_fds(struct torus_admin_server *server, struct pollfd *fds,
                                uint64_t now_ms)
{
    int n = 0;
    if (server->listen_fd < 0)
        return 0;
    bool room = false;
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++) {
        struct torus_admin_conn *c = &server->conns[i];
        if (c->fd < 0) {
            room = true;
            continue;
        }
        fds[n].fd = c->fd;
        fds[n].events = c->out ? POLLOUT : POLLIN;
        fds[n].revents = 0;
        n++;
    }
    /* Full, or out of descriptors: the kernel's backlog holds the rest meanwhile. */
    bool paused = now_ms < server->accept_paused_until_ms;
    fds[n].fd = room && !paused ? server->listen_fd : -1;
    fds[n].events = POLLIN;
    fds[n].revents = 0;
    return n + 1;
}

void torus_admin_server_handle(struct torus_admin_server *server, const struct pollfd *fds,
                               int count, uint64_t now_ms)
{
    for (int k = 0; k < count; k++) {
        if (!fds[k].revents || fds[k].fd < 0)
            continue;
        if (fds[k].fd == server->listen_fd) {
            accept_all(server, now_ms);
            continue;
        }
        for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++) {
            struct torus_admin_conn *c = &server->conns[i];
            if (c->fd != fds[k].fd)
                continue;
            c->deadline_ms = now_ms + ADMIN_IDLE_MS;
            if (c->out)
                conn_write(server, c);
            else
                conn_read(server, c);
            if (c->fd >= 0 && c->out && !(fds[k].revents & POLLOUT))
                conn_write(server, c); /* usually the whole response fits the socket at once */
            break;
        }
    }
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++) {
        struct torus_admin_conn *c = &server->conns[i];
        if (c->fd >= 0 && now_ms >= c->deadline_ms)
            conn_close(c);
    }
}

void torus_admin_server_tick(struct torus_admin_server *server, uint64_t now_ms)
{
    if (server->listen_fd >= 0)
        torus_status_rates_sample(&server->rates, server->board, now_ms);
}

void torus_admin_server_close(struct torus_admin_server *server)
{
    torus_status_rates_free(&server->rates);
    for (int i = 0; i < TORUS_ADMIN_MAX_CONNS; i++) {
        if (server->conns[i].fd >= 0)
            conn_close(&server->conns[i]);
    }
    if (server->listen_fd >= 0)
        close(server->listen_fd);
    server->listen_fd = -1;
}
