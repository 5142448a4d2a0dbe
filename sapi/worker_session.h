/*
 * Worker mode (sapi/worker.c): a session save handler set by the worker
 * script with session_set_save_handler(), at boot or inside a request,
 * keeps working for every later request.
 *
 * Between two requests the worker restarts ext/session's per-request state
 * (its RSHUTDOWN and RINIT), which drops the user handler's callbacks while
 * session.save_handler stays "user": session_start() would then fail with
 * "Failed to initialize storage module: user". The callbacks are kept across
 * the restart and put back.
 */
#ifndef TORUS_SAPI_WORKER_SESSION_H
#define TORUS_SAPI_WORKER_SESSION_H

/* Before the session module's request shutdown: keeps the user handler, if one is set. */
void torus_sapi_session_handler_keep(void);

/* After the session module's request start-up: puts the kept handler back. */
void torus_sapi_session_handler_restore(void);

/* Before the worker script's own request ends: drops what was kept (it lives in its memory). */
void torus_sapi_session_handler_release(void);

#endif
