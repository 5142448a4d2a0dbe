/*
 * Pieces every HTTP/1.1 response of Torus is made of, shared by the static
 * file server, the error pages of the engine and the PHP SAPI: reason
 * phrases, the Date header and the response head.
 */
#ifndef TORUS_HTTP_RESPONSE_H
#define TORUS_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "runtime/common.h"

#define TORUS_SERVER_NAME   "torus"
#define TORUS_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* The reason phrase of a status code ("Not Found"), or "Unknown". */
const char *torus_http_reason(int status);

/* Writes t as an IMF-fixdate (RFC 9110) into out, which holds TORUS_HTTP_DATE_LEN + 1 bytes. */
void torus_http_date_format(time_t t, char *out);

/* Parses an IMF-fixdate; TORUS_OK with *t set, or TORUS_ERROR. */
int torus_http_date_parse(const char *text, size_t len, time_t *t);

/*
 * The current time as an IMF-fixdate, formatted at most once a second per
 * thread (each shard and executor keeps its own copy: nothing is shared).
 */
const char *torus_http_date_now(void);

/*
 * The first lines of a response head into out (capacity `size`): the status
 * line (always HTTP/1.1, as nginx does), Server and Date. Returns the length
 * written, or 0 when it does not fit.
 */
size_t torus_http_head_first_lines(char *out, size_t size, int status);

/*
 * The last lines of a response head into out (capacity `size`):
 * Transfer-Encoding: chunked when `chunked`, Content-Length when
 * content_length >= 0, Connection: close (when !keep_alive) or keep-alive
 * (HTTP/1.0 kept alive), and the blank line. Returns the length written, or
 * 0 when it does not fit.
 */
size_t torus_http_head_last_lines(char *out, size_t size, uint8_t http_minor, bool keep_alive,
                                  int64_t content_length, bool chunked);

/* The short HTML page of an error status, like nginx's, into out (size bytes); its length. */
size_t torus_http_error_page(char *out, size_t size, int status);

/*
 * Writes a response head into out (capacity `size`): the status line
 * (always HTTP/1.1, as nginx does), Server, Date, then `extra` (complete "Name: value\r\n"
 * lines, may be NULL), then Content-Length when content_length >= 0, and
 * Connection: close (when !keep_alive) or keep-alive (HTTP/1.0 kept alive), and the blank line.
 * Returns the length written, or 0 when it does not fit.
 */
size_t torus_http_head(char *out, size_t size, int status, uint8_t http_minor, bool keep_alive,
                       const char *extra, size_t extra_len, int64_t content_length);

#endif
