/*
 * PHP's process start-up and shutdown (part of the SAPI core; sapi/thread.h).
 */
#ifndef TORUS_SAPI_STARTUP_H
#define TORUS_SAPI_STARTUP_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/config.h"

/*
 * Starts PHP for the whole process (what torus_sapi_startup() documents,
 * once the modes have added their functions). TORUS_OK, or TORUS_ERROR with
 * a one-line message in err.
 */
int torus_sapi_php_startup(const struct torus_config *cfg, int max_threads, char *err,
                           size_t err_size);

/* Whether PHP's modules have been started (torus_sapi_php_startup()). */
bool torus_sapi_php_started(void);

#endif
