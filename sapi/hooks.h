/*
 * The SAPI hooks (part of the SAPI core; sapi/thread.h): the
 * sapi_module_struct PHP calls while it runs a request: output (ub_write,
 * flush), the response head (send_headers), the request body (read_post),
 * cookies, the request time and PHP's log messages.
 */
#ifndef TORUS_SAPI_HOOKS_H
#define TORUS_SAPI_HOOKS_H

#include <php.h>
#include <SAPI.h>

/* The module handed to php_module_startup() (startup.c). */
extern sapi_module_struct torus_sapi_module;

#endif
