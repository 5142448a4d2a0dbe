/*
 * Access log lines, in nginx's combined format or as JSON objects, one per
 * line. See access_log.h for when lines are built and written.
 *
 * combined: 127.0.0.1 - - [23/Nov/2026:09:28:15 +0000] "GET /x?y HTTP/1.1" 200 13 "ref" "agent"
 * json:     {"time":"2026-11-23T09:28:15+00:00","remote_addr":"127.0.0.1","method":"GET",
 *            "uri":"/x?y","protocol":"HTTP/1.1","status":200,"bytes":13,"duration_ms":0.213,
 *            "referer":"ref","user_agent":"agent"}
 * Bytes a client controls are escaped (\xHH in combined, \uHHHH in JSON), so a
 * request cannot forge a line.
 */
#include "net/access_log.h"

#include "runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ACCESS_LOG_BUFFER (64 * 1024)

struct torus_access_pending {
    uint32_t split; /* text[0, split) comes before "status bytes", text[split, len) after */
    uint32_t len;
    char text[];
};

int torus_access_log_init(struct torus_access_log *log, int fd, bool json)
{
    memset(log, 0, sizeof(*log));
    log->fd = fd;
    log->json = json;
    log->buffer = malloc(ACCESS_LOG_BUFFER);
    log->writing = malloc(ACCESS_LOG_BUFFER);
    if (!log->buffer || !log->writing)
        return TORUS_ERROR;
    log->cap = log->writing_cap = ACCESS_LOG_BUFFER;
    struct stat st;
    log->slice_max = (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) ? SIZE_MAX : PIPE_BUF;
    return TORUS_OK;
}

void torus_access_log_release(struct torus_access_log *log)
{
    free(log->buffer);
    free(log->writing);
    log->buffer = log->writing = NULL;
}

/* Appends s escaped for the format into out (room: 4 * len + 1 for combined, 6 * len for JSON). */
static size_t escape(char *out, const char *s, size_t len, bool json)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !json)) {
            if (json) {
                memcpy(out + n, "\\u00", 4);
                n += 4;
            } else {
                out[n++] = '\\';
                out[n++] = 'x';
            }
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

struct torus_access_pending *torus_access_log_begin(const struct torus_access_log *log,
                                                    const char *remote_addr, const char *method,
                                                    torus_str target, uint8_t version,
                                                    const torus_str *referer,
                                                    const torus_str *user_agent)
{
    torus_str empty = {"", 0};
    torus_str ref = referer ? *referer : empty;
    torus_str agent = user_agent ? *user_agent : empty;
    /* Escaping grows a byte to at most 6; the rest is fixed text. */
    size_t room =
        256 + strlen(remote_addr) + 6 * (strlen(method) + target.len + ref.len + agent.len);
    struct torus_access_pending *p = malloc(sizeof(*p) + room);
    if (slow_path(!p))
        return NULL;
    char *o = p->text;
    size_t n = 0;

    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char when[64];
    if (log->json) {
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", &tm);
        n += (size_t)sprintf(o + n, "{\"time\":\"%s\",\"remote_addr\":\"%s\",\"method\":\"", when,
                             remote_addr);
        n += escape(o + n, method, strlen(method), true);
        n += (size_t)sprintf(o + n, "\",\"uri\":\"");
        n += escape(o + n, target.data, target.len, true);
        n +=
            (size_t)sprintf(o + n, "\",\"protocol\":\"HTTP/%u.%u\",", version / 10u, version % 10u);
        p->split = (uint32_t)n;
        n += (size_t)sprintf(o + n, ",\"referer\":\"");
        n += escape(o + n, ref.data, ref.len, true);
        n += (size_t)sprintf(o + n, "\",\"user_agent\":\"");
        n += escape(o + n, agent.data, agent.len, true);
        n += (size_t)sprintf(o + n, "\"}\n");
    } else {
        strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
        n += (size_t)sprintf(o + n, "%s - - [%s] \"", remote_addr, when);
        n += escape(o + n, method, strlen(method), false);
        o[n++] = ' ';
        n += escape(o + n, target.data, target.len, false);
        n += (size_t)sprintf(o + n, " HTTP/%u.%u\" ", version / 10u, version % 10u);
        p->split = (uint32_t)n;
        n += (size_t)sprintf(o + n, " \"");
        if (ref.len)
            n += escape(o + n, ref.data, ref.len, false);
        else
            o[n++] = '-';
        n += (size_t)sprintf(o + n, "\" \"");
        if (agent.len)
            n += escape(o + n, agent.data, agent.len, false);
        else
            o[n++] = '-';
        n += (size_t)sprintf(o + n, "\"\n");
    }
    p->len = (uint32_t)n;
    return p;
}

static int reserve(struct torus_access_log *log, size_t more)
{
    if (log->len + more <= log->cap)
        return TORUS_OK;
    size_t cap = log->cap * 2;
    while (cap < log->len + more)
        cap *= 2;
    char *grown = realloc(log->buffer, cap);
    if (!grown)
        return TORUS_ERROR;
    log->buffer = grown;
    log->cap = cap;
    return TORUS_OK;
}

void torus_access_log_end(struct torus_access_log *log, struct torus_access_pending *p, int status,
                          uint64_t bytes, uint64_t duration_ns)
{
    if (!p)
        return;
    char middle[96];
    int m;
    if (log->json)
        m = snprintf(middle, sizeof(middle), "\"status\":%d,\"bytes\":%llu,\"duration_ms\":%.3f",
                     status, (unsigned long long)bytes, (double)duration_ns / 1e6);
    else
        m = snprintf(middle, sizeof(middle), "%d %llu", status, (unsigned long long)bytes);
    /* Past a megabyte of lines the disk is not keeping up: drop lines rather than grow. */
    if (log->len < (1u << 20) && reserve(log, p->len + (size_t)m) == TORUS_OK) {
        memcpy(log->buffer + log->len, p->text, p->split);
        log->len += p->split;
        memcpy(log->buffer + log->len, middle, (size_t)m);
        log->len += (size_t)m;
        memcpy(log->buffer + log->len, p->text + p->split, p->len - p->split);
        log->len += p->len - p->split;
    }
    free(p);
}

void torus_access_log_drop(struct torus_access_pending *pending)
{
    free(pending);
}

/* The length of the next slice of [data, data + len): whole lines, at most max bytes. */
static size_t slice_length(const char *data, size_t len, size_t max)
{
    if (len <= max)
        return len;
    for (size_t n = max; n > 0; n--) {
        if (data[n - 1] == '\n')
            return n;
    }
    return max; /* one line longer than a slice: it cannot be whole anyway */
}

size_t torus_access_log_take(struct torus_access_log *log, uint64_t now_ms, const char **data)
{
    if (log->in_flight)
        return 0;
    if (log->written == log->writing_len) {
        /* The last batch is out: start the next one when it is due. */
        if (!log->len || (log->len < TORUS_ACCESS_LOG_BATCH && now_ms - log->taken_ms < 1000))
            return 0;
        char *full = log->buffer;
        size_t full_cap = log->cap;
        log->buffer = log->writing;
        log->cap = log->writing_cap;
        log->writing = full;
        log->writing_cap = full_cap;
        log->writing_len = log->len;
        log->written = 0;
        log->len = 0;
        log->taken_ms = now_ms;
    }
    *data = log->writing + log->written;
    log->in_flight = true;
    return slice_length(*data, log->writing_len - log->written, log->slice_max);
}

void torus_access_log_written(struct torus_access_log *log, int res)
{
    log->in_flight = false;
    if (res < 0) {
        /* A failed log write loses the rest of its batch; the server goes on. */
        torus_log_warn("access log write failed: %s", strerror(-res));
        log->written = log->writing_len;
        return;
    }
    log->written += (size_t)res;
}

void torus_access_log_flush_sync(struct torus_access_log *log)
{
    const char *parts[2] = {log->writing + log->written, log->buffer};
    size_t lens[2] = {log->writing_len - log->written, log->len};
    for (int i = 0; i < 2; i++) {
        size_t done = 0;
        while (done < lens[i]) {
            size_t n = slice_length(parts[i] + done, lens[i] - done, log->slice_max);
            ssize_t w = write(log->fd, parts[i] + done, n);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
    }
    log->writing_len = log->written = log->len = 0;
}

int torus_access_log_open(const char *path)
{
    if (strcmp(path, "-") == 0)
        return STDOUT_FILENO;
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int torus_access_log_reopen(const char *path, int fd)
{
    int fresh = torus_access_log_open(path);
    if (fresh < 0)
        return TORUS_ERROR;
    if (fresh == fd)
        return TORUS_OK;
    int rc = dup3(fresh, fd, O_CLOEXEC);
    int saved = errno;
    close(fresh);
    errno = saved;
    return rc < 0 ? TORUS_ERROR : TORUS_OK;
}
