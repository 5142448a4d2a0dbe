/*
 * `torus status`'s text: one line about the server, a table with a row per
 * shard, and a row per executor with the request it runs. Every number comes
 * from /status.json as it is; p50 and p99 are read off the latency buckets
 * (the upper bound of the bucket the quantile falls in, as the page shows).
 */
#include "runtime/status_table.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "runtime/common.h"
#include "runtime/json_reader.h"

#define PATH_COLUMNS 72

/*
 * Length of the character at s: a well-formed UTF-8 sequence, else 1.
 * *printable says whether a terminal may show it (no C0 or C1 control, no
 * DEL, no broken sequence).
 */
static size_t character_at(const unsigned char *s, bool *printable)
{
    unsigned char b = s[0];
    *printable = b >= 0x20 && b < 0x7F;
    if (b < 0x80)
        return 1;
    size_t len = b >= 0xC2 && b <= 0xDF   ? 2
                 : b >= 0xE0 && b <= 0xEF ? 3
                 : b >= 0xF0 && b <= 0xF4 ? 4
                                          : 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 1; /* broken: this byte alone, not printable */
    }
    if (len == 0)
        return 1;
    *printable = !(b == 0xC2 && s[1] < 0xA0); /* U+0080..U+009F: C1 controls (0x9B is CSI) */
    return len;
}

char *torus_status_terminal_text(const char *text, size_t max_columns, char *out, size_t size)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0, columns = 0;
    if (size == 0)
        return out;
    while (*s) {
        bool printable;
        size_t len = character_at(s, &printable);
        size_t width = printable ? len : 1;
        if (columns == max_columns || n + width + 4 > size) {
            if (n + 4 <= size) {
                memcpy(out + n, "...", 3);
                n += 3;
            }
            break;
        }
        if (printable)
            memcpy(out + n, s, len);
        else
            out[n] = '?';
        n += width;
        s += len;
        columns++;
    }
    out[n] = '\0';
    return out;
}

static void write_duration(FILE *out, double seconds)
{
    uint64_t s = seconds > 0 ? (uint64_t)seconds : 0;
    if (s >= 86400)
        fprintf(out, "%llud ", (unsigned long long)(s / 86400));
    if (s >= 3600)
        fprintf(out, "%lluh ", (unsigned long long)(s % 86400 / 3600));
    if (s >= 60)
        fprintf(out, "%llum ", (unsigned long long)(s % 3600 / 60));
    fprintf(out, "%llus", (unsigned long long)(s % 60));
}

/* "<=2.5ms", ">10s", or "-" with no requests: the bucket quantile q falls in. */
static void quantile(const struct torus_json_value *bounds, const struct torus_json_value *buckets,
                     double q, char *out, size_t size)
{
    size_t n = torus_json_length(buckets);
    double total = n ? torus_json_get_number(torus_json_item(buckets, n - 1), 0) : 0;
    snprintf(out, size, "-");
    if (total <= 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (torus_json_get_number(torus_json_item(buckets, i), 0) < q * total)
            continue;
        bool past = i >= torus_json_length(bounds);
        double b = torus_json_get_number(
            torus_json_item(bounds, past ? torus_json_length(bounds) - 1 : i), 0);
        if (b < 1)
            snprintf(out, size, "%s%gms", past ? ">" : "<=", b * 1000);
        else
            snprintf(out, size, "%s%gs", past ? ">" : "<=", b);
        return;
    }
}

static long long integer(const struct torus_json_value *object, const char *key)
{
    return (long long)torus_json_get_number(torus_json_member(object, key), 0);
}

static void write_shard_row(FILE *out, const struct torus_json_value *doc,
                            const struct torus_json_value *s)
{
    const struct torus_json_value *bounds = torus_json_member(doc, "latency_bounds_seconds");
    const struct torus_json_value *buckets = torus_json_member(s, "latency_buckets");
    char p50[24], p99[24], cpu[16];
    quantile(bounds, buckets, 0.5, p50, sizeof(p50));
    quantile(bounds, buckets, 0.99, p99, sizeof(p99));
    const struct torus_json_value *c = torus_json_member(s, "cpu");
    if (c->type == TORUS_JSON_NUMBER)
        snprintf(cpu, sizeof(cpu), "%lld", (long long)c->number);
    else
        snprintf(cpu, sizeof(cpu), "any");
    fprintf(out,
            "%5lld %7lld %4s  %-5s %8.1f %10lld %5lld %5lld %6lld %8lld %7lld %8lld  %-8s %s\n",
            integer(s, "shard"), integer(s, "pid"), cpu,
            torus_json_get_bool(torus_json_member(s, "up"), false) ? "up" : "down",
            torus_json_get_number(torus_json_member(s, "requests_per_second"), 0),
            integer(s, "requests_total"), integer(s, "connections_open"),
            integer(s, "connections_idle"), integer(s, "queue_depth"), integer(s, "restarts"),
            integer(s, "crashes"), integer(s, "worker_crashes"), p50, p99);
}

static void write_executor_rows(FILE *out, const struct torus_json_value *s)
{
    const struct torus_json_value *executors = torus_json_member(s, "executors");
    for (size_t e = 0; e < torus_json_length(executors); e++) {
        const struct torus_json_value *x = torus_json_item(executors, e);
        char id[32], running[32] = "", request[PATH_COLUMNS * 4 + 96] = "";
        snprintf(id, sizeof(id), "%lld.%lld", integer(s, "shard"), integer(x, "executor"));
        const struct torus_json_value *ran = torus_json_member(x, "running_seconds");
        if (ran->type == TORUS_JSON_NUMBER)
            snprintf(running, sizeof(running), "%.2f s", ran->number);
        const char *method = torus_json_get_string(torus_json_member(x, "method"), NULL);
        const char *path = torus_json_get_string(torus_json_member(x, "path"), NULL);
        if (method && path) {
            char m[64], p[PATH_COLUMNS * 4 + 4];
            snprintf(request, sizeof(request), "%s %s",
                     torus_status_terminal_text(method, 16, m, sizeof(m)),
                     torus_status_terminal_text(path, PATH_COLUMNS, p, sizeof(p)));
        }
        char state[16];
        torus_status_terminal_text(torus_json_get_string(torus_json_member(x, "state"), "?"), 10,
                                   state, sizeof(state));
        if (running[0])
            fprintf(out, "%8s  %-9s %9s  %s\n", id, state, running, request);
        else
            fprintf(out, "%8s  %s\n", id, state);
    }
}

int torus_status_table_write(FILE *out, const struct torus_json_value *doc, const char *address)
{
    const char *version = torus_json_get_string(torus_json_member(doc, "version"), NULL);
    const struct torus_json_value *shards = torus_json_member(doc, "shards");
    if (!version || shards->type != TORUS_JSON_ARRAY)
        return TORUS_ERROR;

    double rate = 0;
    long long busy = 0, executors = 0, queued = 0;
    for (size_t i = 0; i < torus_json_length(shards); i++) {
        const struct torus_json_value *s = torus_json_item(shards, i);
        rate += torus_json_get_number(torus_json_member(s, "requests_per_second"), 0);
        queued += integer(s, "queue_depth");
        const struct torus_json_value *list = torus_json_member(s, "executors");
        for (size_t e = 0; e < torus_json_length(list); e++) {
            const char *state =
                torus_json_get_string(torus_json_member(torus_json_item(list, e), "state"), "");
            busy += strcmp(state, "busy") == 0;
            executors++;
        }
    }
    bool ready = torus_json_get_bool(torus_json_member(doc, "ready"), false);
    bool draining = torus_json_get_bool(torus_json_member(doc, "draining"), false);
    char v[32], a[160];
    fprintf(out, "torus %s at %s, up ", torus_status_terminal_text(version, 20, v, sizeof(v)),
            torus_status_terminal_text(address, 128, a, sizeof(a)));
    write_duration(out, torus_json_get_number(torus_json_member(doc, "uptime_seconds"), 0));
    fprintf(out, ", %s; %zu shard%s, %lld of %lld executors busy, %lld queued, %.1f req/s\n\n",
            draining ? "draining"
            : ready  ? "ready"
                     : "not ready",
            torus_json_length(shards), torus_json_length(shards) == 1 ? "" : "s", busy, executors,
            queued, rate);

    fprintf(out, "%5s %7s %4s  %-5s %8s %10s %5s %5s %6s %8s %7s %8s  %-8s %s\n", "shard", "pid",
            "cpu", "state", "req/s", "requests", "open", "idle", "queue", "restarts", "crashes",
            "php-fail", "p50", "p99");
    for (size_t i = 0; i < torus_json_length(shards); i++)
        write_shard_row(out, doc, torus_json_item(shards, i));

    fprintf(out, "\n%8s  %-9s %9s  %s\n", "executor", "state", "running", "request");
    for (size_t i = 0; i < torus_json_length(shards); i++)
        write_executor_rows(out, torus_json_item(shards, i));
    return TORUS_OK;
}
