/*
 * Which executors answer a PHP request in worker mode (runtime/config_worker.h):
 *
 *   1. a worker whose match= pattern matches the path (before any file is
 *      looked at, as FrankenPHP's match overrides its try_files);
 *   2. else routing's rules (net/route.h): a request for a worker's own
 *      script goes to that worker; the front-controller worker (the one
 *      without match=) gets the requests no file answers and stands in for
 *      the document root's index.php ("/", "/index.php"), as FrankenPHP's
 *      `index worker.php` with `try_files {path} worker.php` (Laravel
 *      Octane's set-up) does;
 *   3. any other PHP script runs on the classic executors (phpinfo.php, an
 *      admin tool), or, with no classic executor (an NTS PHP), on the first
 *      worker.
 * A pool is TORUS_POOL_CLASSIC (0: a zeroed exchange is classic), or 1 + a
 * worker's index in config->workers.
 */
#ifndef TORUS_ROUTE_WORKER_H
#define TORUS_ROUTE_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/route.h"
#include "runtime/config.h"

#define TORUS_POOL_CLASSIC 0

/* Step 1: the worker whose match= pattern matches path (len bytes), or -1. */
int torus_route_worker_matched(const struct torus_config *cfg, const char *path, size_t len);

/* Fills route for the worker `pool` (a PHP route with no file: the worker's script runs). */
void torus_route_to_worker(struct torus_route *route);

/* Steps 2 and 3: the pool of a PHP route made by torus_route_resolve(). */
int torus_route_pool(const struct torus_config *cfg, const struct torus_route *route);

/*
 * Whether the worker `pool` answers route in place of the file routing found
 * (the root's index.php, another script on an NTS PHP): the request then
 * names the worker's script (SCRIPT_FILENAME, SCRIPT_NAME), not that file.
 */
bool torus_route_worker_replaces(const struct torus_config *cfg, int pool,
                                 const struct torus_route *route);

/* Whether routing sends requests no file answers to a worker (a front-controller worker exists). */
bool torus_route_has_front_worker(const struct torus_config *cfg);

#endif
