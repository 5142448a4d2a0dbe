/*
 * The PHP SAPI of Torus: a persistent interpreter per executor thread (ZTS:
 * several per process; Debian's NTS PHP: the process's one, one executor).
 *
 * Process-wide start-up (torus_sapi_startup) happens once on the main thread
 * before any shard starts; each executor thread then calls
 * torus_sapi_executor_main(), which sets up the thread's TSRM context once and
 * serves requests from its port until the port says stop:
 *   - classic mode: per request php_request_startup(), run the routed script,
 *     php_request_shutdown(); the thread's context is never torn down;
 *   - worker mode (--worker): the worker script runs once and loops on
 *     torus_handle_request() / frankenphp_handle_request().
 * Everything the script prints becomes response bytes through port->emit().
 */
#ifndef TORUS_SAPI_H
#define TORUS_SAPI_H

#include <stddef.h>

#include "runtime/config.h"
#include "runtime/config_worker.h"
#include "runtime/request.h"

/* The SAPI name PHP sees; chosen from opcache's allow-list so opcache stays on. */
extern const char torus_sapi_name[];

/*
 * Starts PHP for the whole process: TSRM for `max_threads` threads, php.ini
 * (--php-ini), the -d overrides, module start-up, opcache, then the session
 * folder (TORUS_SAPI_SESSION_DIR). Returns TORUS_OK, or TORUS_ERROR with a
 * one-line message in err.
 */
int torus_sapi_startup(const struct torus_config *cfg, int max_threads, char *err, size_t err_size);

/*
 * The default session.save_path: Debian's folder, made (mode 1733) by
 * torus_sapi_startup() when missing. A save path set in php.ini or by -d
 * that is not a folder fails the start-up instead.
 */
#define TORUS_SAPI_SESSION_DIR "/var/lib/php/sessions"

/*
 * Starts PHP as torus_sapi_startup() does (php.ini, -d, opcache), prints the
 * loaded modules to file (a FILE *) as `php -m` does, and shuts PHP down.
 * Returns TORUS_OK, or TORUS_ERROR with a one-line message in err.
 */
int torus_sapi_print_modules(const struct torus_config *cfg, void *file, char *err,
                             size_t err_size);

/* Shuts PHP down after every executor thread has returned. */
void torus_sapi_shutdown(void);

/*
 * Runs on an executor thread: serves requests from port until its
 * wait_request() returns NULL, then releases the thread's PHP context.
 * worker: the worker script the executor runs (NULL: classic mode; with
 * cfg->worker set and no cfg->workers, cfg->worker with every default).
 * Returns TORUS_OK, or TORUS_ERROR when a worker script failed to start
 * --max-consecutive-failures times in a row.
 */
int torus_sapi_executor_main(const struct torus_config *cfg,
                             const struct torus_worker_config *worker,
                             struct torus_executor_port *port);

/*
 * Executor thread: it waited `ns` for a slow client (output flow control),
 * so its max_execution_time deadline moves by as much: PHP-FPM's limit
 * counts CPU time, and waiting on a client never counted. A no-op where PHP
 * keeps its own per-thread timers (ZEND_MAX_EXECUTION_TIMERS).
 */
void torus_sapi_time_limit_extend(uint64_t ns);

/* "8.2.32 (ZTS)": the linked PHP's version, for --version and the start-up line. */
const char *torus_sapi_php_version(void);

/*
 * Whether the linked PHP is thread-safe (ZTS: several executor threads per
 * shard). An NTS PHP (Debian's libphpX.Y-embed) runs one executor per shard.
 */
bool torus_sapi_thread_safe(void);

#endif
