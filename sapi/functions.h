/*
 * The "torus" PHP module (part of the SAPI core; sapi/thread.h): the PHP
 * functions Torus adds (fastcgi_finish_request(), getallheaders(),
 * headers_send()...), and the functions the modes above the core add to it.
 */
#ifndef TORUS_SAPI_FUNCTIONS_H
#define TORUS_SAPI_FUNCTIONS_H

#include <php.h>

/* The module given to php_module_startup() (hooks.c). */
extern zend_module_entry torus_sapi_module_entry;

/*
 * Adds `functions` (a table ended by ZEND_FE_END, kept by the caller) to the
 * module: they are registered when the module starts. Call before
 * torus_sapi_php_startup(); at most TORUS_SAPI_FUNCTION_TABLES tables.
 * Returns TORUS_OK, or TORUS_ERROR when there is no room left.
 */
int torus_sapi_functions_add(const zend_function_entry *functions);
#define TORUS_SAPI_FUNCTION_TABLES 4

/* Stands in for opcache_reset() on executor threads (thread.c installs it). */
ZEND_FUNCTION(torus_sapi_opcache_reset_refused);

#endif
