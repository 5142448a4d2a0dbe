/*
 * The admin endpoints of --admin-listen: /healthz, /readyz and /metrics.
 */
#ifndef TORUS_ADMIN_H
#define TORUS_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "net/chunk.h"

/*
 * Builds the whole response (head and body) to an admin request for `path`;
 * *status is set to its status code. NULL when out of memory.
 */
struct torus_chunk *torus_admin_respond(const char *method, const char *path, size_t path_len,
                                        bool keep_alive, int *status);

/* True when every shard runs and has at least one executor ready, and none drains. */
bool torus_admin_ready(void);

#endif
