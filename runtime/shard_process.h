/*
 * A shard process: what a child of the supervisor runs (runtime/supervisor.c
 * forks one per shard and starts it again when it dies).
 */
#ifndef TORUS_SHARD_PROCESS_H
#define TORUS_SHARD_PROCESS_H

#include <sys/types.h>

#include "runtime/shard.h"

/* How a shard process ends, for the supervisor. A signal means it crashed. */
#define TORUS_SHARD_EXIT_OK     0 /* drained on request */
#define TORUS_SHARD_EXIT_FAILED 3 /* could not start, or its executors gave up */

/*
 * Runs `shard` in this process, freshly forked from `supervisor` with the
 * signals SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGUSR1 blocked, until it has
 * drained or failed. Returns the process's exit code (TORUS_SHARD_EXIT_*).
 */
int torus_shard_process_run(struct torus_shard *shard, pid_t supervisor);

#endif
