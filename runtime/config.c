/*
 * Command-line parsing, driven by one table of flags.
 *
 * Each row names a flag, the kind of value it takes, the default shown by
 * --help and one line of meaning. The parser accepts "--flag value",
 * "--flag=value", "-d key=value" and "-dkey=value"; it stops at the first
 * problem with a message that names the flag. Values that name files are
 * checked here too (readable, right kind), so a typo is reported before
 * anything starts.
 */
#include "runtime/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/log.h"

enum option_id {
    OPT_LISTEN,
    OPT_ROOT,
    OPT_THREADS,
    OPT_NO_PIN,
    OPT_ALLOW_UNDERSCORES,
    OPT_PHP_THREADS,
    OPT_WORKER,
    OPT_MAX_REQUESTS,
    OPT_MAX_FAILURES,
    OPT_INI,
    OPT_PHP_INI,
    OPT_LOG_LEVEL,
    OPT_MAX_BODY,
    OPT_BODY_BUFFER,
    OPT_MAX_HEADER,
    OPT_MAX_URI,
    OPT_MAX_CONNECTIONS,
    OPT_HEADER_TIMEOUT,
    OPT_BODY_TIMEOUT,
    OPT_IDLE_TIMEOUT,
    OPT_SEND_TIMEOUT,
    OPT_SHUTDOWN_TIMEOUT,
    OPT_TLS_LISTEN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_H2C,
    OPT_H2_MAX_STREAMS,
    OPT_ADMIN_LISTEN,
    OPT_ACCESS_LOG,
    OPT_ACCESS_LOG_FORMAT,
    OPT_USER,
    OPT_GROUP,
    OPT_HELP,
    OPT_VERSION,
    OPT_MODULES,
};

struct option_row {
    enum option_id id;
    const char *name;  /* long name without "--" */
    char short_name;   /* 0 when none */
    const char *value; /* metavariable for --help; NULL for a switch */
    const char *def;   /* default, as --help shows it */
    const char *help;
};

static const struct option_row options[] = {
    {OPT_LISTEN, "listen", 0, "HOST:PORT", "127.0.0.1:8080",
     "address to serve plain HTTP on (repeatable; [::1]:PORT for IPv6, :PORT for all)"},
    {OPT_TLS_LISTEN, "tls-listen", 0, "HOST:PORT", "off", "address to serve HTTPS on (repeatable)"},
    {OPT_TLS_CERT, "tls-cert", 0, "FILE", "none", "PEM certificate chain for --tls-listen"},
    {OPT_TLS_KEY, "tls-key", 0, "FILE", "none", "PEM private key for --tls-listen"},
    {OPT_H2C, "h2c", 0, NULL, "off",
     "plain listeners also accept HTTP/2 with prior knowledge (--tls-listen offers h2 always)"},
    {OPT_H2_MAX_STREAMS, "h2-max-concurrent-streams", 0, "N", "100",
     "HTTP/2 streams a client may have open on one connection"},
    {OPT_ROOT, "root", 0, "DIR", "current directory",
     "document root: static files and PHP scripts"},
    {OPT_THREADS, "threads", 0, "N|auto", "auto",
     "shards (one I/O thread each); auto = the CPUs in the affinity mask"},
    {OPT_NO_PIN, "no-pin", 0, NULL, "pinned", "do not pin each shard's threads to its CPU"},
    {OPT_PHP_THREADS, "php-threads-per-core", 0, "K", "1", "PHP executor threads per shard"},
    {OPT_WORKER, "worker", 0, "FILE", "classic mode",
     "worker script run once per executor, looping on torus_handle_request()"},
    {OPT_MAX_REQUESTS, "max-requests", 0, "N", "0",
     "restart an executor's interpreter after N requests (0 = never)"},
    {OPT_MAX_FAILURES, "max-consecutive-failures", 0, "N", "6",
     "exit when a worker script fails to start N times in a row"},
    {OPT_INI, "define", 'd', "KEY=VALUE", "none", "php.ini setting (repeatable)"},
    {OPT_PHP_INI, "php-ini", 0, "FILE", "none", "php.ini file to load"},
    {OPT_LOG_LEVEL, "log-level", 0, "LEVEL", "info", "debug, info, warn or error"},
    {OPT_MAX_BODY, "max-body-size", 0, "SIZE", "8M", "largest request body; larger gets 413"},
    {OPT_BODY_BUFFER, "body-buffer-size", 0, "SIZE", "64K",
     "request body kept in memory; a larger one goes to an unlinked temporary file in $TMPDIR"},
    {OPT_MAX_HEADER, "max-header-size", 0, "SIZE", "32K",
     "largest request line plus headers; larger gets 431"},
    {OPT_MAX_URI, "max-uri-size", 0, "SIZE", "8K", "longest request target; longer gets 414"},
    {OPT_ALLOW_UNDERSCORES, "allow-underscores-in-headers", 0, NULL, "dropped",
     "pass request headers whose names hold '_' to PHP (nginx drops them: X-Forwarded_For "
     "would become HTTP_X_FORWARDED_FOR)"},
    {OPT_MAX_CONNECTIONS, "max-connections", 0, "N", "65536",
     "open client connections for the whole process"},
    {OPT_HEADER_TIMEOUT, "header-timeout", 0, "SECONDS", "60",
     "time for a whole request head to arrive, from its first byte"},
    {OPT_BODY_TIMEOUT, "body-timeout", 0, "SECONDS", "60",
     "longest pause between two reads of a request body"},
    {OPT_IDLE_TIMEOUT, "idle-timeout", 0, "SECONDS", "75",
     "how long a keep-alive connection may wait for its next request"},
    {OPT_SEND_TIMEOUT, "send-timeout", 0, "SECONDS", "60",
     "longest pause of a client that does not read its response"},
    {OPT_SHUTDOWN_TIMEOUT, "shutdown-timeout", 0, "SECONDS", "30",
     "on SIGTERM/SIGINT, how long in-flight requests may take to finish"},
    {OPT_ADMIN_LISTEN, "admin-listen", 0, "HOST:PORT", "off",
     "address for /healthz, /readyz and /metrics"},
    {OPT_ACCESS_LOG, "access-log", 0, "FILE|-", "off", "access log file (- for stdout)"},
    {OPT_ACCESS_LOG_FORMAT, "access-log-format", 0, "FORMAT", "combined", "combined or json"},
    {OPT_USER, "user", 0, "NAME", "unchanged",
     "when started as root, run as this user once the sockets are bound"},
    {OPT_GROUP, "group", 0, "NAME", "the user's group", "group to run as (with --user)"},
    {OPT_HELP, "help", 'h', NULL, NULL, "print this help and exit"},
    {OPT_VERSION, "version", 'v', NULL, NULL, "print the versions of Torus and its libraries"},
    {OPT_MODULES, "modules", 'm', NULL, NULL,
     "print the PHP extensions that load (as php -m; after --php-ini and -d) and exit"},
};

void torus_config_defaults(struct torus_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = 0; /* auto */
    cfg->php_threads_per_core = 1;
    cfg->max_consecutive_failures = 6;
    cfg->log_level = TORUS_LOG_INFO;
    cfg->max_body_size = 8u << 20;
    cfg->body_buffer_size = 64u << 10;
    cfg->max_header_size = 32u << 10;
    cfg->max_uri_size = 8u << 10;
    cfg->max_connections = 65536;
    cfg->h2_max_concurrent_streams = 100;
    cfg->header_timeout = 60;
    cfg->body_timeout = 60;
    cfg->idle_timeout = 75;
    cfg->send_timeout = 60;
    cfg->shutdown_timeout = 30;
}

void torus_config_print_help(void *file)
{
    FILE *f = file;
    fprintf(f, "Usage: torus [FLAGS]\n"
               "       torus status --admin HOST:PORT [--once]   a running server's live status\n"
               "Torus: an HTTP application server for PHP, one io_uring shard per CPU.\n\n"
               "Flags (sizes take K/M/G suffixes; durations are seconds, fractions allowed):\n");
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(options); i++) {
        const struct option_row *o = &options[i];
        char head[64];
        if (o->short_name)
            snprintf(head, sizeof(head), "-%c, --%s%s%s", o->short_name, o->name,
                     o->value ? " " : "", o->value ? o->value : "");
        else
            snprintf(head, sizeof(head), "    --%s%s%s", o->name, o->value ? " " : "",
                     o->value ? o->value : "");
        fprintf(f, "  %-36s %s", head, o->help);
        if (o->def)
            fprintf(f, " [default: %s]", o->def);
        fputc('\n', f);
    }
}

int torus_parse_size(const char *text, uint64_t *out)
{
    if (!isdigit((unsigned char)text[0]))
        return TORUS_ERROR;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return TORUS_ERROR;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return TORUS_ERROR;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return TORUS_ERROR;
    *out = (uint64_t)v << shift;
    return TORUS_OK;
}

int torus_parse_duration(const char *text, double *out)
{
    if (!isdigit((unsigned char)text[0]) && text[0] != '.')
        return TORUS_ERROR;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text)
        return TORUS_ERROR;
    if (*end == 's')
        end++;
    if (*end != '\0' || !isfinite(v) || v < 0 || v > 86400.0 * 365)
        return TORUS_ERROR;
    *out = v;
    return TORUS_OK;
}

int torus_parse_listen(const char *text, struct torus_listen_addr *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    if (strlen(text) >= sizeof(out->text)) {
        snprintf(err, err_size, "address too long");
        return TORUS_ERROR;
    }
    snprintf(out->text, sizeof(out->text), "%s", text);

    char host[128];
    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            snprintf(err, err_size, "expected [IPV6]:PORT");
            return TORUS_ERROR;
        }
        size_t n = (size_t)(close - text - 1);
        memcpy(host, text + 1, n);
        host[n] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(text, ':');
        if (!colon) {
            snprintf(err, err_size, "expected HOST:PORT");
            return TORUS_ERROR;
        }
        size_t n = (size_t)(colon - text);
        memcpy(host, text, n);
        host[n] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!port[0] || *end || errno || p < 0 || p > 65535) {
        snprintf(err, err_size, "bad port '%s'", port);
        return TORUS_ERROR;
    }

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, err_size, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return TORUS_ERROR;
    }
    /* With no host, prefer the IPv4 wildcard, as nginx's "listen PORT" does. */
    struct addrinfo *pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memcpy(&out->addr, pick->ai_addr, pick->ai_addrlen);
    out->addr_len = pick->ai_addrlen;
    freeaddrinfo(res);
    return TORUS_OK;
}

int torus_config_cpu_count(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return (int)sysconf(_SC_NPROCESSORS_ONLN);
    return CPU_COUNT(&set);
}

static int parse_uint(const char *text, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)text[0]))
        return TORUS_ERROR;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v > max)
        return TORUS_ERROR;
    *out = v;
    return TORUS_OK;
}

/* Resolves path to an absolute one and checks it is a readable file or directory. */
static char *checked_path(const char *path, bool want_dir, char *why, size_t why_size)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(why, why_size, "%s", strerror(errno));
        return NULL;
    }
    if (want_dir && !S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "not a directory");
        return NULL;
    }
    if (!want_dir && !S_ISREG(st.st_mode)) {
        snprintf(why, why_size, "not a regular file");
        return NULL;
    }
    if (access(path, want_dir ? (R_OK | X_OK) : R_OK) != 0) {
        snprintf(why, why_size, "%s", strerror(errno));
        return NULL;
    }
    char *abs = realpath(path, NULL);
    if (!abs)
        snprintf(why, why_size, "%s", strerror(errno));
    return abs;
}

static int set_file(char **slot, const char *value, bool want_dir, const char *flag, char *err,
                    size_t err_size)
{
    char why[256];
    char *abs = checked_path(value, want_dir, why, sizeof(why));
    if (!abs) {
        snprintf(err, err_size, "%s %s: %s", flag, value, why);
        return TORUS_ERROR;
    }
    free(*slot);
    *slot = abs;
    return TORUS_OK;
}

static int add_listener(struct torus_config *cfg, const char *value, bool tls, const char *flag,
                        char *err, size_t err_size)
{
    if (cfg->listener_count == TORUS_MAX_LISTENERS) {
        snprintf(err, err_size, "%s %s: at most %d listeners", flag, value, TORUS_MAX_LISTENERS);
        return TORUS_ERROR;
    }
    char why[256];
    struct torus_listen_addr *l = &cfg->listeners[cfg->listener_count];
    if (torus_parse_listen(value, l, why, sizeof(why)) != TORUS_OK) {
        snprintf(err, err_size, "%s %s: %s", flag, value, why);
        return TORUS_ERROR;
    }
    l->tls = tls;
    cfg->listener_count++;
    cfg->listen_given = true;
    return TORUS_OK;
}

static int apply(struct torus_config *cfg, const struct option_row *o, const char *value, char *err,
                 size_t err_size)
{
    char flag[48];
    snprintf(flag, sizeof(flag), "--%s", o->name);
    uint64_t u;
    double d;

#define BAD(what)                                                                                  \
    do {                                                                                           \
        snprintf(err, err_size, "%s: invalid value '%s' (%s)", flag, value, what);                 \
        return TORUS_ERROR;                                                                        \
    } while (0)

    switch (o->id) {
    case OPT_LISTEN:
        return add_listener(cfg, value, false, flag, err, err_size);
    case OPT_TLS_LISTEN:
        return add_listener(cfg, value, true, flag, err, err_size);
    case OPT_TLS_CERT:
        return set_file(&cfg->tls_cert, value, false, flag, err, err_size);
    case OPT_TLS_KEY:
        return set_file(&cfg->tls_key, value, false, flag, err, err_size);
    case OPT_ROOT:
        return set_file(&cfg->root, value, true, flag, err, err_size);
    case OPT_WORKER:
        return set_file(&cfg->worker, value, false, flag, err, err_size);
    case OPT_PHP_INI:
        return set_file(&cfg->php_ini_file, value, false, flag, err, err_size);
    case OPT_THREADS:
        if (strcmp(value, "auto") == 0) {
            cfg->threads = 0;
            return TORUS_OK;
        }
        if (parse_uint(value, 1024, &u) != TORUS_OK || u == 0)
            BAD("expected a number from 1 to 1024, or auto");
        cfg->threads = (int)u;
        return TORUS_OK;
    case OPT_PHP_THREADS:
        if (parse_uint(value, 256, &u) != TORUS_OK || u == 0)
            BAD("expected a number from 1 to 256");
        cfg->php_threads_per_core = (int)u;
        return TORUS_OK;
    case OPT_MAX_REQUESTS:
        if (parse_uint(value, UINT64_MAX, &u) != TORUS_OK)
            BAD("expected a whole number");
        cfg->max_requests = u;
        return TORUS_OK;
    case OPT_MAX_FAILURES:
        if (parse_uint(value, 1000000, &u) != TORUS_OK || u == 0)
            BAD("expected a positive whole number");
        cfg->max_consecutive_failures = (int)u;
        return TORUS_OK;
    case OPT_H2C:
        cfg->h2c = true;
        return TORUS_OK;
    case OPT_H2_MAX_STREAMS:
        if (parse_uint(value, 1u << 20, &u) != TORUS_OK || u == 0)
            BAD("expected a number from 1 to 1048576");
        cfg->h2_max_concurrent_streams = (uint32_t)u;
        return TORUS_OK;
    case OPT_MAX_CONNECTIONS:
        if (parse_uint(value, 1u << 24, &u) != TORUS_OK || u == 0)
            BAD("expected a number from 1 to 16777216");
        cfg->max_connections = (uint32_t)u;
        return TORUS_OK;
    case OPT_INI: {
        const char *eq = strchr(value, '=');
        if (!eq || eq == value)
            BAD("expected KEY=VALUE");
        struct torus_ini_entry *grown =
            realloc(cfg->ini_entries, sizeof(*grown) * (size_t)(cfg->ini_count + 1));
        if (!grown)
            BAD("out of memory");
        cfg->ini_entries = grown;
        grown[cfg->ini_count].key = strndup(value, (size_t)(eq - value));
        grown[cfg->ini_count].value = strdup(eq + 1);
        cfg->ini_count++;
        return TORUS_OK;
    }
    case OPT_LOG_LEVEL: {
        int level = torus_log_level_parse(value);
        if (level < 0)
            BAD("expected debug, info, warn or error");
        cfg->log_level = level;
        return TORUS_OK;
    }
    case OPT_MAX_BODY:
        if (torus_parse_size(value, &u) != TORUS_OK)
            BAD("expected a size such as 512K, 8M or 1G");
        cfg->max_body_size = u;
        return TORUS_OK;
    case OPT_BODY_BUFFER:
        if (torus_parse_size(value, &u) != TORUS_OK || u < 4096 || u > (1u << 30))
            BAD("expected a size from 4K to 1G");
        cfg->body_buffer_size = u;
        return TORUS_OK;
    case OPT_MAX_HEADER:
        if (torus_parse_size(value, &u) != TORUS_OK || u < 256 || u > (64u << 20))
            BAD("expected a size from 256 to 64M");
        cfg->max_header_size = (uint32_t)u;
        return TORUS_OK;
    case OPT_MAX_URI:
        if (torus_parse_size(value, &u) != TORUS_OK || u < 16 || u > (64u << 20))
            BAD("expected a size from 16 to 64M");
        cfg->max_uri_size = (uint32_t)u;
        return TORUS_OK;
    case OPT_HEADER_TIMEOUT:
    case OPT_BODY_TIMEOUT:
    case OPT_IDLE_TIMEOUT:
    case OPT_SEND_TIMEOUT:
    case OPT_SHUTDOWN_TIMEOUT:
        if (torus_parse_duration(value, &d) != TORUS_OK)
            BAD("expected seconds, such as 30 or 0.5");
        if (o->id == OPT_HEADER_TIMEOUT)
            cfg->header_timeout = d;
        else if (o->id == OPT_BODY_TIMEOUT)
            cfg->body_timeout = d;
        else if (o->id == OPT_IDLE_TIMEOUT)
            cfg->idle_timeout = d;
        else if (o->id == OPT_SEND_TIMEOUT)
            cfg->send_timeout = d;
        else
            cfg->shutdown_timeout = d;
        return TORUS_OK;
    case OPT_ADMIN_LISTEN: {
        char why[256];
        if (torus_parse_listen(value, &cfg->admin_listen, why, sizeof(why)) != TORUS_OK) {
            snprintf(err, err_size, "%s %s: %s", flag, value, why);
            return TORUS_ERROR;
        }
        cfg->admin_enabled = true;
        return TORUS_OK;
    }
    case OPT_ACCESS_LOG:
        free(cfg->access_log);
        cfg->access_log = strdup(value);
        return TORUS_OK;
    case OPT_ACCESS_LOG_FORMAT:
        if (strcmp(value, "combined") != 0 && strcmp(value, "json") != 0)
            BAD("expected combined or json");
        free(cfg->access_log_format);
        cfg->access_log_format = strdup(value);
        return TORUS_OK;
    case OPT_USER:
        free(cfg->user);
        cfg->user = strdup(value);
        return TORUS_OK;
    case OPT_GROUP:
        free(cfg->group);
        cfg->group = strdup(value);
        return TORUS_OK;
    case OPT_NO_PIN:
    case OPT_ALLOW_UNDERSCORES:
    case OPT_HELP:
    case OPT_VERSION:
    case OPT_MODULES:
        break;
    }
#undef BAD
    return TORUS_OK;
}

static const struct option_row *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(options); i++) {
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    }
    return NULL;
}

static const struct option_row *find_short(char c)
{
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(options); i++) {
        if (options[i].short_name == c)
            return &options[i];
    }
    return NULL;
}

int torus_config_parse(struct torus_config *cfg, int argc, char **argv, char *err, size_t err_size)
{
    int result = TORUS_OK;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const struct option_row *o = NULL;
        const char *value = NULL;
        char shown[64];

        if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            o = find_long(name, len);
            snprintf(shown, sizeof(shown), "--%.*s", (int)TORUS_MIN(len, 40), name);
            if (!o) {
                snprintf(err, err_size, "%s: unknown flag (see torus --help)", shown);
                return TORUS_ERROR;
            }
            if (eq) {
                if (!o->value) {
                    snprintf(err, err_size, "%s takes no value", shown);
                    return TORUS_ERROR;
                }
                value = eq + 1;
            }
        } else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-') {
            o = find_short(arg[1]);
            snprintf(shown, sizeof(shown), "-%c", arg[1]);
            if (!o) {
                snprintf(err, err_size, "%s: unknown flag (see torus --help)", shown);
                return TORUS_ERROR;
            }
            if (arg[2] != '\0') {
                if (!o->value) {
                    snprintf(err, err_size, "%s takes no value", shown);
                    return TORUS_ERROR;
                }
                value = arg + 2;
            }
        } else {
            snprintf(err, err_size, "unexpected argument '%.200s' (flags start with --)", arg);
            return TORUS_ERROR;
        }

        if (o->value && !value) {
            if (i + 1 >= argc) {
                snprintf(err, err_size, "%s: missing value (%s)", shown, o->value);
                return TORUS_ERROR;
            }
            value = argv[++i];
        }

        switch (o->id) {
        case OPT_HELP:
            result = TORUS_CONFIG_HELP;
            continue;
        case OPT_VERSION:
            if (result == TORUS_OK || result == TORUS_CONFIG_MODULES)
                result = TORUS_CONFIG_VERSION;
            continue;
        case OPT_MODULES:
            if (result == TORUS_OK)
                result = TORUS_CONFIG_MODULES;
            continue;
        case OPT_NO_PIN:
            cfg->no_pin = true;
            continue;
        case OPT_ALLOW_UNDERSCORES:
            cfg->allow_underscores_in_headers = true;
            continue;
        default:
            break;
        }
        if (apply(cfg, o, value, err, err_size) != TORUS_OK)
            return TORUS_ERROR;
    }
    if (result != TORUS_OK)
        return result;

    if (!cfg->listen_given) {
        char why[256];
        if (torus_parse_listen("127.0.0.1:8080", &cfg->listeners[0], why, sizeof(why)) !=
            TORUS_OK) {
            snprintf(err, err_size, "default listener: %s", why);
            return TORUS_ERROR;
        }
        cfg->listener_count = 1;
    }
    if (!cfg->root) {
        char why[256];
        cfg->root = checked_path(".", true, why, sizeof(why));
        if (!cfg->root) {
            snprintf(err, err_size, "--root (current directory): %s", why);
            return TORUS_ERROR;
        }
    }
    bool any_tls = false;
    for (int i = 0; i < cfg->listener_count; i++)
        any_tls |= cfg->listeners[i].tls;
    if (any_tls && (!cfg->tls_cert || !cfg->tls_key)) {
        snprintf(err, err_size, "--tls-listen needs --tls-cert and --tls-key");
        return TORUS_ERROR;
    }
    if (!cfg->access_log_format)
        cfg->access_log_format = strdup("combined");
    if (cfg->threads == 0)
        cfg->threads = torus_config_cpu_count();
    return TORUS_OK;
}

void torus_config_free(struct torus_config *cfg)
{
    for (int i = 0; i < cfg->ini_count; i++) {
        free(cfg->ini_entries[i].key);
        free(cfg->ini_entries[i].value);
    }
    free(cfg->ini_entries);
    free(cfg->root);
    free(cfg->worker);
    free(cfg->php_ini_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->access_log);
    free(cfg->access_log_format);
    free(cfg->user);
    free(cfg->group);
    memset(cfg, 0, sizeof(*cfg));
}
