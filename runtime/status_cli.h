/*
 * `torus status --admin HOST:PORT [--once]`: the admin listener's
 * /status.json as a table in the terminal (runtime/status_table.h), fetched
 * once a second over a plain blocking socket. A client of the server, not a
 * part of it: main() hands it the command line before any flag parsing.
 */
#ifndef TORUS_STATUS_CLI_H
#define TORUS_STATUS_CLI_H

#include <stddef.h>

/* How long one fetch may take, connect included, in milliseconds. */
#define TORUS_STATUS_TIMEOUT_MS 3000

/*
 * Runs the subcommand; argv[0] is "status". Returns the exit code: 0 after
 * --once (or when interrupted by SIGINT or SIGTERM), 2 with one line on
 * stderr when the flags or the address are bad or the first fetch fails.
 */
int torus_status_main(int argc, char **argv);

/*
 * Fetches `target` from the admin listener at address (HOST:PORT) over HTTP/1.1
 * on one blocking connection. TORUS_OK with the body in *body (malloc'd,
 * NUL-terminated) and its length in *body_len; TORUS_ERROR with one line
 * naming the problem in err.
 */
int torus_status_fetch(const char *address, const char *target, char **body, size_t *body_len,
                       char *err, size_t err_size);

#endif
