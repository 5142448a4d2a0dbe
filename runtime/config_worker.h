/*
 * The --worker option: one worker script with its own options, given as one
 * string (repeatable: several workers in one server, each serving the
 * requests routed to it):
 *
 *     --worker 'FILE [match=PATTERN] [num=N] [max-requests=N] [env=KEY=VALUE]... [name=NAME]'
 *
 *   match=PATTERN     requests whose path matches go to this worker (FrankenPHP's
 *                     `match`, such as "/api/" followed by '*'; '*' matches any run of bytes, '/'
 * included; case is ignored). A worker without match is the front controller: it gets the requests
 * for its own script and those no file answers (at most one such worker). num=N executors running
 * it, per shard (default --php-threads-per-core) max-requests=N    restart it after N requests
 * (default --max-requests) env=KEY=VALUE     an environment variable only this worker sees, in
 *                     $_SERVER and getenv() (repeatable)
 *   name=NAME         its name in logs and /metrics (default: the script's file name)
 *
 * A bare path ("--worker app.php") is a worker with every default, as before.
 *
 * Executors of a shard, in order: each worker's num executors (workers in
 * the order given), then the classic executors, which run every other PHP
 * script (phpinfo.php, an admin tool) the classic way: --php-threads-per-core
 * of them, started with the shard. An NTS PHP (one executor per shard) gets
 * no classic executor: its single executor is the one worker, which then
 * also gets the requests for other scripts; a configuration that needs more
 * than one executor per shard is refused (torus_config_workers_finish()).
 */
#ifndef TORUS_CONFIG_WORKER_H
#define TORUS_CONFIG_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/config.h"

#define TORUS_MAX_WORKERS     16
#define TORUS_WORKER_NAME_MAX 32 /* a name's bytes, its NUL included */

struct torus_worker_config {
    char *script;          /* absolute, resolved */
    char *match;           /* path pattern; NULL: the front-controller worker */
    char *name;            /* for logs and /metrics */
    int num;               /* executors per shard; 0 until finished: --php-threads-per-core */
    uint64_t max_requests; /* 0: never */
    bool max_requests_set; /* else --max-requests applies */
    char **env;            /* "KEY=VALUE" strings */
    int env_count;
};

/*
 * Parses one --worker value and appends the worker to cfg->workers (and
 * sets cfg->worker to the first worker's script). flag: where the value came
 * from, for messages ("--worker", or "TORUS_WORKER"). TORUS_OK, or
 * TORUS_ERROR with a one-line message naming flag and the bad option in err.
 */
int torus_config_worker_add(struct torus_config *cfg, const char *flag, const char *value,
                            char *err, size_t err_size);

/*
 * After every option is read: fills the defaults that depend on other
 * options (num, max-requests) and counts the classic executors for a
 * thread-safe PHP or not (see the top of this file). TORUS_OK, or
 * TORUS_ERROR with a one-line message naming --worker in err.
 */
int torus_config_workers_finish(struct torus_config *cfg, bool thread_safe, char *err,
                                size_t err_size);

/* Executors per shard: every worker's num, then the classic executors. */
int torus_config_executors_per_shard(const struct torus_config *cfg);

/* The worker run by executor `index` of a shard, or NULL for a classic executor. */
const struct torus_worker_config *torus_config_executor_worker(const struct torus_config *cfg,
                                                               int index);

/* Whether `path` (len bytes) matches the pattern (glob with '*', case ignored). */
bool torus_worker_match(const char *pattern, const char *path, size_t len);

/* Frees the workers of cfg. */
void torus_config_workers_free(struct torus_config *cfg);

#endif
