/*
 * A request as PHP sees it (part of the SAPI core; sapi/thread.h): the
 * request's headers looked up, the NUL-terminated strings PHP wants (method,
 * URI, script names, cookies...) built into the thread's buffer, and
 * SG(request_info) pointed at them before a PHP request starts.
 */
#ifndef TORUS_SAPI_REQUEST_BIND_H
#define TORUS_SAPI_REQUEST_BIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/request.h"
#include "sapi/thread.h"

/*
 * Binds `request` to PHP's request globals (SG(request_info), the response,
 * the C strings) before php_request_startup() or sapi_activate(). Returns
 * TORUS_OK, or TORUS_ERROR when memory is exhausted.
 */
int torus_sapi_request_bind(struct torus_sapi_thread *thread, struct torus_request *request);

/*
 * Binds the worker script's own start-up "request" (no HTTP request: $_SERVER
 * holds the environment and the script's names).
 */
int torus_sapi_bootstrap_bind(struct torus_sapi_thread *thread);

/*
 * After PHP has deactivated the request: clears the pointers PHP kept, ends
 * the response (END, then RELEASE) and forgets the request.
 */
void torus_sapi_request_unbind(struct torus_sapi_thread *thread);

/* Whether a request header is called `name` (len bytes), in any case. */
bool torus_sapi_header_name_is(const struct torus_header *header, const char *name, size_t len);

/* True when no earlier header of `request` has the same name as header `index`. */
bool torus_sapi_header_first_of_name(const struct torus_request *request, uint32_t index);

/*
 * The value of header `index` joined with the later headers of the same name
 * (", ", or "; " for Cookie). Points into the request, or into the thread's
 * scratch buffer (valid until its next use).
 */
void torus_sapi_header_value(struct torus_sapi_thread *thread, const struct torus_request *request,
                             uint32_t index, const char **value, size_t *len);

/* Makes the thread's scratch buffer hold at least size bytes. TORUS_OK or TORUS_ERROR. */
int torus_sapi_scratch_reserve(struct torus_sapi_thread *thread, size_t size);

#endif
