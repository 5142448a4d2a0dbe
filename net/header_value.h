/*
 * Reading HTTP header values, for every layer that looks into headers: the
 * HTTP sessions, the static-file server and the SAPI's response (Connection,
 * Vary, Cache-Control). Nothing here allocates or knows a connection.
 */
#ifndef TORUS_HEADER_VALUE_H
#define TORUS_HEADER_VALUE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when the comma-separated header value (len bytes) holds `token`,
 * compared without regard to case: "close" in "Connection: keep-alive, close".
 */
bool torus_http_has_token(const char *value, size_t len, const char *token);

#endif
