/*
 * `torus status`: a client of the admin listener, in the same binary.
 *
 * Once a second: one blocking TCP connection to --admin HOST:PORT (connect,
 * send and every read bounded by TORUS_STATUS_TIMEOUT_MS, the whole fetch
 * too), "GET /status.json" with Connection: close, read to the end, check the
 * status line and Content-Length, parse the JSON (runtime/json_reader.c) and
 * print it as a table (runtime/status_table.c). Without --once the screen is
 * cleared and the cursor sent home (ANSI ESC[H ESC[2J) before each table,
 * which is built in memory first and written at once, so it does not
 * flicker.
 *
 * Failures: a bad flag or address, or a first fetch that fails, is one line
 * on stderr and exit code 2 (scripts can tell "no server" from "printed").
 * Once a table has been shown, a failed fetch (the server restarting) is
 * shown in place of the table and tried again a second later. SIGINT and
 * SIGTERM end the loop with exit code 0.
 */
#include "runtime/status_cli.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "runtime/common.h"
#include "runtime/config.h"
#include "runtime/json_reader.h"
#include "runtime/status_table.h"

/* A larger answer is not a status document. */
#define MAX_RESPONSE (16u << 20)
#define REFRESH_NS   1000000000ull

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: torus status --admin HOST:PORT [--once]\n"
                 "Shows the live status of a running torus (its --admin-listen address): per\n"
                 "shard the request rate, connections, queue, restarts, crashes and latency, and\n"
                 "what each PHP executor runs. Refreshes every second until Ctrl-C.\n\n"
                 "  --admin HOST:PORT   the server's --admin-listen address (required)\n"
                 "  --once              print the table once and exit 0 (for scripts)\n"
                 "  -h, --help          this text\n\n"
                 "Exit status 2, with one line on stderr, when the address is bad or nothing\n"
                 "answers there with a status document.\n");
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

/* Checks the status line and headers in response; the body's start and length on success. */
static int parse_response(const char *address, const char *target, char *response, size_t len,
                          char **body, size_t *body_len, char *err, size_t err_size)
{
    char *end = memmem(response, len, "\r\n\r\n", 4);
    int status = 0;
    if (!end || sscanf(response, "HTTP/1.%*1[01] %3d", &status) != 1) {
        snprintf(err, err_size, "%s did not answer HTTP (is it the --admin-listen address?)",
                 address);
        return TORUS_ERROR;
    }
    if (status != 200) {
        snprintf(err, err_size, "%s answered %d to %s (is it a torus --admin-listen address?)",
                 address, status, target);
        return TORUS_ERROR;
    }
    *end = '\0'; /* the head, as a string, to look for Content-Length */
    size_t offset = (size_t)(end + 4 - response);
    size_t have = len - offset;
    const char *cl = strcasestr(response, "\r\nContent-Length:");
    if (cl) {
        unsigned long long want = strtoull(cl + 17, NULL, 10);
        if (want > have) {
            snprintf(err, err_size, "%s closed the connection after %zu of %llu bytes", address,
                     have, want);
            return TORUS_ERROR;
        }
        have = (size_t)want;
    }
    *body = response + offset;
    *body_len = have;
    return TORUS_OK;
}

int torus_status_fetch(const char *address, const char *target, char **body_out,
                       size_t *body_len_out, char *err, size_t err_size)
{
    struct torus_listen_addr addr;
    char why[256];
    if (torus_parse_listen(address, &addr, why, sizeof(why)) != TORUS_OK) {
        snprintf(err, err_size, "bad admin address '%s': %s", address, why);
        return TORUS_ERROR;
    }
    if (port_of(&addr.addr) == 0) {
        snprintf(err, err_size, "bad admin address '%s': port 0", address);
        return TORUS_ERROR;
    }
    int fd = socket(addr.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, err_size, "socket: %s", strerror(errno));
        return TORUS_ERROR;
    }
    struct timeval tv = {.tv_sec = TORUS_STATUS_TIMEOUT_MS / 1000,
                         .tv_usec = (TORUS_STATUS_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* bounds connect() too */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint64_t deadline = torus_monotonic_ns() + (uint64_t)TORUS_STATUS_TIMEOUT_MS * 1000000u;

    char *response = NULL;
    size_t len = 0, cap = 0;
    int rc = TORUS_ERROR;
    if (connect(fd, (struct sockaddr *)&addr.addr, addr.addr_len) != 0) {
        bool timeout = errno == EINPROGRESS || errno == EAGAIN;
        snprintf(err, err_size, "cannot connect to %s: %s", address,
                 timeout ? "timed out" : strerror(errno));
        goto out;
    }
    char request[512];
    int n = snprintf(request, sizeof(request),
                     "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: application/json\r\n"
                     "User-Agent: torus-status/%s\r\nConnection: close\r\n\r\n",
                     target, address, TORUS_VERSION);
    for (int sent = 0; sent < n;) {
        ssize_t w = send(fd, request + sent, (size_t)(n - sent), MSG_NOSIGNAL);
        if (w <= 0) {
            snprintf(err, err_size, "%s: cannot send the request: %s", address,
                     w < 0 && errno != EAGAIN ? strerror(errno) : "timed out");
            goto out;
        }
        sent += (int)w;
    }
    for (;;) {
        if (len + 4096 + 1 > cap) {
            if (cap >= MAX_RESPONSE) {
                snprintf(err, err_size, "%s: the answer is larger than %u MiB", address,
                         MAX_RESPONSE >> 20);
                goto out;
            }
            cap = cap ? cap * 2 : 65536;
            char *grown = realloc(response, cap);
            if (!grown) {
                snprintf(err, err_size, "out of memory");
                goto out;
            }
            response = grown;
        }
        ssize_t r = recv(fd, response + len, cap - len - 1, 0);
        if (r == 0)
            break;
        if (r < 0 && errno == EINTR && !stop_requested)
            continue;
        if (r < 0 || torus_monotonic_ns() > deadline) {
            bool timeout = r >= 0 || errno == EAGAIN || errno == EWOULDBLOCK;
            snprintf(err, err_size, "%s: no complete answer: %s", address,
                     timeout ? "timed out" : strerror(errno));
            goto out;
        }
        len += (size_t)r;
    }
    response[len] = '\0';
    char *body;
    size_t body_len;
    if (parse_response(address, target, response, len, &body, &body_len, err, err_size) != TORUS_OK)
        goto out;
    memmove(response, body, body_len);
    response[body_len] = '\0';
    *body_out = response;
    *body_len_out = body_len;
    response = NULL;
    rc = TORUS_OK;
out:
    free(response);
    close(fd);
    return rc;
}

/*
 * One round: fetch, parse and write the table into a memory buffer.
 * TORUS_OK with the text in *text, or TORUS_ERROR with the line in err.
 */
static int one_round(const char *address, char **text, size_t *text_len, char *err, size_t err_size)
{
    char *body;
    size_t body_len;
    if (torus_status_fetch(address, "/status.json", &body, &body_len, err, err_size) != TORUS_OK)
        return TORUS_ERROR;
    char why[160];
    struct torus_json_value *doc = torus_json_parse(body, body_len, why, sizeof(why));
    free(body);
    if (!doc) {
        snprintf(err, err_size, "%s: /status.json is not JSON (%s)", address, why);
        return TORUS_ERROR;
    }
    FILE *out = open_memstream(text, text_len);
    int rc = TORUS_ERROR;
    if (!out) {
        snprintf(err, err_size, "out of memory");
    } else {
        rc = torus_status_table_write(out, doc, address);
        fclose(out);
        if (rc != TORUS_OK) {
            free(*text);
            snprintf(err, err_size, "%s: /status.json is not a torus status document", address);
        }
    }
    torus_json_value_free(doc);
    return rc;
}

/* Sleeps until `until` (monotonic ns) or a stop signal. */
static void wait_until(uint64_t until)
{
    while (!stop_requested) {
        uint64_t now = torus_monotonic_ns();
        if (now >= until)
            return;
        struct timespec ts = {.tv_sec = (time_t)((until - now) / 1000000000u),
                              .tv_nsec = (long)((until - now) % 1000000000u)};
        nanosleep(&ts, NULL); /* a signal cuts it short */
    }
}

int torus_status_main(int argc, char **argv)
{
    const char *address = NULL;
    bool once = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--once") == 0) {
            once = true;
        } else if (strcmp(a, "--admin") == 0 || strcmp(a, "--admin-listen") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "torus status: %s needs HOST:PORT\n", a);
                return 2;
            }
            address = argv[++i];
        } else if (strncmp(a, "--admin=", 8) == 0) {
            address = a + 8;
        } else if (strncmp(a, "--admin-listen=", 15) == 0) {
            address = a + 15;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr,
                    "torus status: unknown argument '%s' (torus status --help lists them)\n", a);
            return 2;
        }
    }
    if (!address || !address[0]) {
        fprintf(stderr, "torus status: --admin HOST:PORT is required (the server's "
                        "--admin-listen address)\n");
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop; /* no SA_RESTART: a blocked read or sleep returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    for (bool first = true; !stop_requested; first = false) {
        uint64_t started = torus_monotonic_ns();
        char err[512];
        char *text = NULL;
        size_t text_len = 0;
        int rc = one_round(address, &text, &text_len, err, sizeof(err));
        if (rc != TORUS_OK && (first || once)) {
            fprintf(stderr, "torus status: %s\n", err);
            return 2;
        }
        if (!once)
            fputs("\033[H\033[2J", stdout);
        if (rc == TORUS_OK)
            fwrite(text, 1, text_len, stdout);
        else
            printf("torus status: %s; trying again every second (Ctrl-C stops)\n", err);
        free(text);
        fflush(stdout);
        if (once)
            return 0;
        wait_until(started + REFRESH_NS);
    }
    return 0;
}
