/*
 * Classic mode (sapi/thread.h): one PHP request per HTTP request, the routed
 * script run from the top.
 */
#ifndef TORUS_SAPI_CLASSIC_H
#define TORUS_SAPI_CLASSIC_H

#include "sapi/thread.h"

/*
 * Serves requests from the thread's port in classic mode until its
 * wait_request() returns NULL. With --max-requests the thread's PHP context
 * is made anew every N requests. Returns TORUS_OK.
 */
int torus_sapi_classic_main(struct torus_sapi_thread *thread);

/* Runs one request in classic mode (a 404 when no script was routed). */
void torus_sapi_classic_serve(struct torus_sapi_thread *thread, struct torus_request *request);

#endif
