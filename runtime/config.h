/*
 * The command line: every flag of `torus`, its default and its meaning.
 *
 * The flags are described by one table (runtime/config_flags.c) from which both the
 * parser and `--help` are driven, so a flag cannot exist without its help
 * line. Parsing never exits the process: it fills a torus_config, or returns
 * TORUS_ERROR with a one-line message that names the flag and the problem;
 * main() prints it and exits with code 2 before any thread starts.
 *
 * Every flag that takes a value, and every switch, can also come from the
 * environment: TORUS_ then the flag's name in capitals with '-' made '_'
 * (--max-body-size -> TORUS_MAX_BODY_SIZE). A repeatable flag takes a list
 * there, split on newlines when the value holds one, else on commas (so a
 * -d value with a comma goes on its own line); a switch takes 1/0, true/false,
 * yes/no or on/off; an empty variable counts as unset. The command line wins: a flag given there
 * ignores its variable, and for a repeatable flag the command line's list replaces the
 * environment's. A bad value is reported under the variable's name
 * ("TORUS_MAX_BODY_SIZE: invalid value ..."). runtime/config_env.c holds the
 * helpers below; runtime/config.c applies them to its table of flags.
 */
#ifndef TORUS_CONFIG_H
#define TORUS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/sendfile_rules.h"
#include "net/trusted_proxy.h"
#include "runtime/common.h"
#include "runtime/watch.h"

#define TORUS_MAX_LISTENERS     16
#define TORUS_CONFIG_ERROR_SIZE 512

/*
 * Executors per shard when --php-threads-per-core is auto and PHP is thread
 * safe: enough that two CPU-bound requests leave a core answering the rest,
 * and free on quick requests, which queue at one executor (net/dispatch.c;
 * measured in docs/PERFORMANCE.md).
 */
#define TORUS_DEFAULT_EXECUTORS 4

/* What parsing asks main() to do besides running the server. */
#define TORUS_CONFIG_HELP    1
#define TORUS_CONFIG_VERSION 2
#define TORUS_CONFIG_MODULES 3 /* --modules: list PHP's extensions */

/* One address to listen on, as given and as resolved. */
struct torus_listen_addr {
    char text[128]; /* as the user wrote it, for messages */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tls;
};

/* A php.ini entry from -d KEY=VALUE. */
struct torus_ini_entry {
    char *key;
    char *value;
};

/* Response compression: --compress, --precompressed, --compress-static and the levels. */
struct torus_compression {
    bool enabled;         /* --compress: off turns every kind of compression off */
    bool precompressed;   /* --precompressed: serve app.js.zst/.br/.gz for app.js */
    bool compress_static; /* --compress-static: compress small static files, once, in the cache */
    int level_zstd;
    int level_br;
    int level_gzip;
    uint64_t min_size; /* --compress-min-size: smaller bodies are sent as they are */
    char *types;       /* --compress-types, NULL for the default list (net/compress_policy.h) */
};

struct torus_config {
    struct torus_listen_addr listeners[TORUS_MAX_LISTENERS];
    int listener_count;
    bool listen_given; /* --listen appeared: no default listener */

    char *root;  /* absolute, resolved document root */
    int threads; /* shards; resolved from the affinity mask when --threads auto */
    bool no_pin;
    int php_threads_per_core; /* 0 until main() settles auto */
    char *worker;             /* the first --worker script, absolute; NULL in classic mode */
    struct torus_worker_config *workers; /* every --worker (runtime/config_worker.h) */
    int worker_count;
    int classic_executors; /* per shard, in worker mode (torus_config_workers_finish()) */
    uint64_t max_requests;
    int max_consecutive_failures;

    struct torus_ini_entry *ini_entries;
    int ini_count;
    char *php_ini_file;

    int log_level;

    uint64_t max_body_size;
    uint64_t body_buffer_size;         /* larger request bodies are spooled to a temporary file */
    uint32_t max_header_size;          /* request line and headers together */
    uint32_t max_uri_size;             /* the request target */
    bool allow_underscores_in_headers; /* else headers named with '_' never reach PHP */
    uint32_t max_connections;          /* for the whole process, split over the shards */
    double header_timeout;             /* seconds */
    double body_timeout;
    double idle_timeout;
    double send_timeout;
    double shutdown_timeout;

    char *tls_cert;
    char *tls_key;
    bool h2c;                           /* plain listeners accept HTTP/2 with prior knowledge */
    uint32_t h2_max_concurrent_streams; /* per HTTP/2 connection */

    struct torus_listen_addr admin_listen;
    bool admin_enabled;
    char *access_log;
    char *access_log_format; /* "combined" or "json" */
    char *user;              /* --user: drop root for this user after binding */
    char *group;             /* --group */

    struct torus_compression compression;

    /* Behind a proxy (net/trusted_proxy.h, net/proxy_protocol.h). */
    struct torus_cidr *trusted_proxies; /* --trusted-proxy ranges */
    int trusted_proxy_count;
    bool proxy_protocol; /* every listener expects a PROXY header from a trusted peer */

    struct torus_watch_spec *watch; /* --watch DIR[:GLOB]: restart workers on changes */
    int watch_count;

    /* --sendfile-root [PREFIX=]DIR: X-Sendfile / X-Accel-Redirect allowed there (off: none) */
    struct torus_sendfile_root *sendfile_roots;
    int sendfile_root_count;
};

/* Fills cfg with every default. */
void torus_config_defaults(struct torus_config *cfg);

/*
 * Parses argv into cfg (which torus_config_defaults() has filled). Returns
 * TORUS_OK, TORUS_CONFIG_HELP, TORUS_CONFIG_VERSION, TORUS_CONFIG_MODULES (in
 * that order of precedence), or TORUS_ERROR with a one-line message (no
 * newline) in err.
 */
int torus_config_parse(struct torus_config *cfg, int argc, char **argv, char *err, size_t err_size);

/* Writes the --help text to f. */
void torus_config_print_help(void *file);

/* Frees what parsing allocated. */
void torus_config_free(struct torus_config *cfg);

/* Parses "64", "16K", "8M", "1G" (powers of 1024) into bytes. TORUS_OK or TORUS_ERROR. */
int torus_parse_size(const char *text, uint64_t *out);

/* Parses seconds, fractions allowed ("30", "0.5", "2.5s"); TORUS_OK or TORUS_ERROR. */
int torus_parse_duration(const char *text, double *out);

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" (every address); TORUS_OK or TORUS_ERROR. */
int torus_parse_listen(const char *text, struct torus_listen_addr *out, char *err, size_t err_size);

/* Writes the environment variable of a flag (its long name, without "--") into out. */
void torus_config_env_name(const char *flag, char *out, size_t out_size);

/* Parses a boolean from the environment: 1/0, true/false, yes/no, on/off, any case. */
int torus_config_env_bool(const char *text, bool *out);

/* Called by torus_config_env_split() for each item; returns TORUS_OK to go on. */
typedef int (*torus_config_env_item_fn)(const char *item, void *arg);

/*
 * Splits a repeatable flag's environment value into its items: on newlines
 * when the value holds one, else on commas; each item trimmed of blanks,
 * empty ones skipped. Returns TORUS_OK, or the first result of fn that is not
 * TORUS_OK (TORUS_ERROR when memory runs out).
 */
int torus_config_env_split(const char *value, torus_config_env_item_fn fn, void *arg);

/* The number of CPUs in the calling thread's affinity mask. */
int torus_config_cpu_count(void);

#endif
