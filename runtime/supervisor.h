/*
 * The supervisor: the process `torus` starts as. It binds every socket,
 * starts PHP once, forks one process per shard and keeps them running; it
 * owns the signals, systemd's notifications and the admin endpoints.
 */
#ifndef TORUS_SUPERVISOR_H
#define TORUS_SUPERVISOR_H

#include "runtime/config.h"

/*
 * Runs the server with a parsed configuration until it has drained (SIGTERM,
 * SIGINT) or could not start. Returns the exit code: 0 after a drain, 2 when
 * something named on the command line cannot be used or no shard could
 * start (with one line on stderr), 1 on another failure.
 */
int torus_supervisor_run(struct torus_config *cfg);

#endif
