/*
 * Command-line parsing, driven by the table of flags (runtime/config_flags.c).
 *
 * Each row names a flag, the kind of value it takes, the default shown by
 * --help and one line of meaning. The parser accepts "--flag value",
 * "--flag=value", "-d key=value" and "-dkey=value"; it stops at the first
 * problem with a message that names the flag. Values that name files are
 * checked here too (readable, right kind), so a typo is reported before
 * anything starts.
 */
#include "runtime/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/compress_policy.h"
#include "runtime/config_flags.h"
#include "runtime/config_worker.h"
#include "runtime/log.h"

void torus_config_defaults(struct torus_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->threads = 0;              /* auto */
    cfg->php_threads_per_core = 0; /* auto: settled by main() once PHP is known */
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
    torus_compression_defaults(&cfg->compression);
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

/* --watch DIR[:GLOB]: the directory must exist; the glob defaults to TORUS_WATCH_DEFAULT_GLOB. */
static int add_watch(struct torus_config *cfg, const char *value, const char *flag, char *err,
                     size_t err_size)
{
    const char *colon = strchr(value, ':');
    char *dir_text = colon ? strndup(value, (size_t)(colon - value)) : strdup(value);
    const char *glob = colon ? colon + 1 : TORUS_WATCH_DEFAULT_GLOB;
    char why[256] = "out of memory";
    char *dir = dir_text ? checked_path(dir_text, true, why, sizeof(why)) : NULL;
    free(dir_text);
    if (!dir || !*glob) {
        snprintf(err, err_size, "%s %s: %s", flag, value, dir ? "empty glob" : why);
        free(dir);
        return TORUS_ERROR;
    }
    struct torus_watch_spec *grown =
        realloc(cfg->watch, sizeof(*grown) * (size_t)(cfg->watch_count + 1));
    char *glob_copy = grown ? strdup(glob) : NULL;
    if (grown)
        cfg->watch = grown;
    if (!glob_copy) {
        free(dir);
        snprintf(err, err_size, "%s: out of memory", flag);
        return TORUS_ERROR;
    }
    cfg->watch = grown;
    grown[cfg->watch_count++] = (struct torus_watch_spec){dir, glob_copy};
    return TORUS_OK;
}

/*
 * Applies one value of a flag; flag is the name a message gives (the flag as
 * typed, or its environment variable).
 */
static int apply(struct torus_config *cfg, const struct option_row *o, const char *flag,
                 const char *value, char *err, size_t err_size)
{
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
        return torus_config_worker_add(cfg, flag, value, err, err_size);
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
        if (strcmp(value, "auto") == 0) {
            cfg->php_threads_per_core = 0;
            return TORUS_OK;
        }
        if (parse_uint(value, 256, &u) != TORUS_OK || u == 0)
            BAD("expected a number from 1 to 256, or auto");
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
    case OPT_COMPRESS:
    case OPT_PRECOMPRESSED:
    case OPT_COMPRESS_STATIC:
    case OPT_COMPRESS_TYPES:
    case OPT_COMPRESS_MIN_SIZE:
    case OPT_COMPRESS_LEVEL_ZSTD:
    case OPT_COMPRESS_LEVEL_BR:
    case OPT_COMPRESS_LEVEL_GZIP: {
        const char *why; /* the OPT_COMPRESS* ids are in enum torus_compression_flag's order */
        if (torus_compression_set(&cfg->compression,
                                  (enum torus_compression_flag)(o->id - OPT_COMPRESS), value,
                                  &why) != TORUS_OK)
            BAD(why);
        return TORUS_OK;
    }
    case OPT_TRUSTED_PROXY: {
        struct torus_cidr ranges[4];
        int n = 0;
        char why[128];
        if (torus_cidr_parse(value, ranges, &n, why, sizeof(why)) != TORUS_OK)
            BAD(why);
        struct torus_cidr *grown =
            realloc(cfg->trusted_proxies, sizeof(*grown) * (size_t)(cfg->trusted_proxy_count + n));
        if (!grown)
            BAD("out of memory");
        memcpy(grown + cfg->trusted_proxy_count, ranges, sizeof(*grown) * (size_t)n);
        cfg->trusted_proxies = grown;
        cfg->trusted_proxy_count += n;
        return TORUS_OK;
    }
    case OPT_WATCH:
        return add_watch(cfg, value, flag, err, err_size);
    case OPT_SENDFILE_ROOT: {
        struct torus_sendfile_root root;
        char why[256];
        if (torus_sendfile_root_parse(value, &root, why, sizeof(why)) != TORUS_OK) {
            snprintf(err, err_size, "%s %s: %s", flag, value, why);
            return TORUS_ERROR;
        }
        struct torus_sendfile_root *grown =
            realloc(cfg->sendfile_roots, sizeof(*grown) * (size_t)(cfg->sendfile_root_count + 1));
        if (!grown) {
            free(root.prefix);
            free(root.dir);
            BAD("out of memory");
        }
        cfg->sendfile_roots = grown;
        grown[cfg->sendfile_root_count++] = root;
        return TORUS_OK;
    }
    case OPT_NO_PIN:
    case OPT_ALLOW_UNDERSCORES:
    case OPT_PROXY_PROTOCOL:
    case OPT_H2C:
    case OPT_COUNT:
    case OPT_HELP:
    case OPT_VERSION:
    case OPT_MODULES:
        break;
    }
#undef BAD
    return TORUS_OK;
}

/* Sets a switch (a flag without a value) on or off. */
static void set_switch(struct torus_config *cfg, enum option_id id, bool on)
{
    if (id == OPT_NO_PIN)
        cfg->no_pin = on;
    else if (id == OPT_ALLOW_UNDERSCORES)
        cfg->allow_underscores_in_headers = on;
    else if (id == OPT_PROXY_PROTOCOL)
        cfg->proxy_protocol = on;
    else if (id == OPT_H2C)
        cfg->h2c = on;
}

/* One flag of the command line, resolved but not yet applied. */
struct given_flag {
    const struct option_row *o;
    const char *value; /* NULL for a switch */
    char shown[64];    /* as typed, for messages */
};

/* What torus_config_env_split() hands each item of a repeatable variable to. */
struct env_item_ctx {
    struct torus_config *cfg;
    const struct option_row *o;
    const char *var;
    char *err;
    size_t err_size;
};

static int apply_env_item(const char *item, void *arg)
{
    struct env_item_ctx *c = arg;
    return apply(c->cfg, c->o, c->var, item, c->err, c->err_size);
}

/* Applies the environment variable of every flag the command line does not give. */
static int apply_environment(struct torus_config *cfg, const bool *given, char *err,
                             size_t err_size)
{
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const struct option_row *o = &torus_config_flags[i];
        if (!torus_config_flag_from_environment(o->id) || given[i])
            continue;
        char var[64];
        torus_config_env_name(o->name, var, sizeof(var));
        const char *value = getenv(var);
        if (!value || !value[0])
            continue; /* an empty variable is an unset one (env files often leave them so) */
        if (!o->value) {
            bool on;
            if (torus_config_env_bool(value, &on) != TORUS_OK) {
                snprintf(err, err_size,
                         "%s: invalid value '%.100s' (expected 1/0, true/false, yes/no or on/off)",
                         var, value);
                return TORUS_ERROR;
            }
            set_switch(cfg, o->id, on);
            continue;
        }
        if (torus_config_flag_repeatable(o->id)) {
            struct env_item_ctx c = {cfg, o, var, err, err_size};
            if (torus_config_env_split(value, apply_env_item, &c) != TORUS_OK)
                return TORUS_ERROR;
            continue;
        }
        if (apply(cfg, o, var, value, err, err_size) != TORUS_OK)
            return TORUS_ERROR;
    }
    return TORUS_OK;
}

/*
 * Resolves argv[*i] (and its value, which may be the next argument) into g.
 * TORUS_OK or TORUS_ERROR with the message in err.
 */
static int resolve_arg(int argc, char **argv, int *i, struct given_flag *g, char *err,
                       size_t err_size)
{
    const char *arg = argv[*i];
    const struct option_row *o = NULL;
    const char *value = NULL;

    if (arg[0] == '-' && arg[1] == '-' && arg[2] != '\0') {
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        o = torus_config_flag_long(name, len);
        snprintf(g->shown, sizeof(g->shown), "--%.*s", (int)TORUS_MIN(len, 40), name);
        if (!o) {
            snprintf(err, err_size, "%s: unknown flag (see torus --help)", g->shown);
            return TORUS_ERROR;
        }
        if (eq) {
            if (!o->value) {
                snprintf(err, err_size, "%s takes no value", g->shown);
                return TORUS_ERROR;
            }
            value = eq + 1;
        }
    } else if (arg[0] == '-' && arg[1] != '\0' && arg[1] != '-') {
        o = torus_config_flag_short(arg[1]);
        snprintf(g->shown, sizeof(g->shown), "-%c", arg[1]);
        if (!o) {
            snprintf(err, err_size, "%s: unknown flag (see torus --help)", g->shown);
            return TORUS_ERROR;
        }
        if (arg[2] != '\0') {
            if (!o->value) {
                snprintf(err, err_size, "%s takes no value", g->shown);
                return TORUS_ERROR;
            }
            value = arg + 2;
        }
    } else {
        snprintf(err, err_size, "unexpected argument '%.200s' (flags start with --)", arg);
        return TORUS_ERROR;
    }

    if (o->value && !value) {
        if (*i + 1 >= argc) {
            snprintf(err, err_size, "%s: missing value (%s)", g->shown, o->value);
            return TORUS_ERROR;
        }
        value = argv[++*i];
    }
    g->o = o;
    g->value = value;
    return TORUS_OK;
}

/* Whether -d set key. */
static bool ini_given(const struct torus_config *cfg, const char *key)
{
    for (int i = 0; i < cfg->ini_count; i++) {
        if (strcmp(cfg->ini_entries[i].key, key) == 0)
            return true;
    }
    return false;
}

/* Marks in given[] each flag of the command line, up to its first mistake. */
static void mark_given(int argc, char **argv, bool *given)
{
    char ignored[TORUS_CONFIG_ERROR_SIZE];
    for (int i = 1; i < argc; i++) {
        struct given_flag g;
        if (resolve_arg(argc, argv, &i, &g, ignored, sizeof(ignored)) != TORUS_OK)
            return;
        given[g.o - torus_config_flags] = true;
    }
}

int torus_config_parse(struct torus_config *cfg, int argc, char **argv, char *err, size_t err_size)
{
    bool given[OPT_COUNT] = {false};
    mark_given(argc, argv, given);
    int result = TORUS_OK;
    /* --help and --version print whatever the environment holds. */
    if (!given[torus_config_flag_short('h') - torus_config_flags] &&
        !given[torus_config_flag_short('v') - torus_config_flags])
        result = apply_environment(cfg, given, err, err_size);

    for (int i = 1; result != TORUS_ERROR && i < argc; i++) {
        struct given_flag g;
        if (resolve_arg(argc, argv, &i, &g, err, err_size) != TORUS_OK)
            return TORUS_ERROR;
        switch (g.o->id) {
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
        default:
            break;
        }
        char flag[48];
        snprintf(flag, sizeof(flag), "--%s", g.o->name);
        if (!g.o->value)
            set_switch(cfg, g.o->id, true);
        else if (apply(cfg, g.o, flag, g.value, err, err_size) != TORUS_OK)
            return TORUS_ERROR;
    }
    if (result == TORUS_ERROR)
        return TORUS_ERROR;
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
    if (cfg->proxy_protocol && cfg->trusted_proxy_count == 0) {
        snprintf(err, err_size,
                 "--proxy-protocol needs --trusted-proxy (the load balancers' "
                 "addresses): every other peer is refused");
        return TORUS_ERROR;
    }
    /* Under --watch, opcache checks a script's time stamp at every include (else a file edited
     * less than 2 s ago could still run its old code, after a reload too). */
    if (cfg->watch_count && !ini_given(cfg, "opcache.revalidate_freq") &&
        apply(cfg, torus_config_flag_short('d'), "--watch", "opcache.revalidate_freq=0", err,
              err_size) != TORUS_OK)
        return TORUS_ERROR;
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
    torus_config_workers_free(cfg);
    free(cfg->php_ini_file);
    free(cfg->tls_cert);
    free(cfg->tls_key);
    free(cfg->access_log);
    free(cfg->access_log_format);
    free(cfg->user);
    free(cfg->group);
    free(cfg->compression.types);
    free(cfg->trusted_proxies);
    for (int i = 0; i < cfg->watch_count; i++) {
        free(cfg->watch[i].dir);
        free(cfg->watch[i].glob);
    }
    free(cfg->watch);
    for (int i = 0; i < cfg->sendfile_root_count; i++) {
        free(cfg->sendfile_roots[i].prefix);
        free(cfg->sendfile_roots[i].dir);
    }
    free(cfg->sendfile_roots);
    memset(cfg, 0, sizeof(*cfg));
}
