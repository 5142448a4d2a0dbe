/*
 * $_SERVER and getenv() for a request (part of the SAPI core; sapi/thread.h).
 */
#ifndef TORUS_SAPI_SERVER_VARS_H
#define TORUS_SAPI_SERVER_VARS_H

#include <stddef.h>

#include <php.h>

/* $_SERVER['SERVER_SOFTWARE']. */
#define SERVER_SOFTWARE "Torus/" TORUS_VERSION

/* After PHP's start-up: the permanent $_SERVER keys and the direct way. */
void torus_sapi_server_startup(void);

/* Before PHP's shutdown: releases what torus_sapi_server_startup() made. */
void torus_sapi_server_shutdown(void);

/* On each executor thread: wraps the filter functions that read INPUT_SERVER. */
void torus_sapi_filter_functions_wrap(void);

/* The SAPI's register_server_variables hook: fills $_SERVER. */
void torus_sapi_register_variables(zval *array);

/* The SAPI's getenv hook: the request's variables, then the environment. */
char *torus_sapi_getenv(const char *name, size_t name_len);

#endif
