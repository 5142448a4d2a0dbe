/*
 * The constant part of $_SERVER, made once per executor thread
 * (part of the SAPI core; sapi/thread.h).
 */
#ifndef TORUS_SAPI_SERVER_TEMPLATE_H
#define TORUS_SAPI_SERVER_TEMPLATE_H

#include <stddef.h>

#include <php.h>

struct torus_sapi_thread;

/*
 * A string that lives until torus_sapi_permanent_string_free(), flagged
 * interned so that PHP never counts its references nor frees it.
 */
zend_string *torus_sapi_permanent_string(const char *data, size_t len);

/* Frees a string made by torus_sapi_permanent_string(). */
void torus_sapi_permanent_string_free(zend_string *s);

/*
 * Puts the process environment (php_import_environment_variables()), then
 * the worker's own env= entries of t (may be NULL), in array.
 */
void torus_sapi_environment_import(const struct torus_sapi_thread *t, zval *array);

/*
 * A new request-memory $_SERVER holding the process environment and the
 * worker's env= entries, as torus_sapi_environment_import() puts
 * them, with room for `room` more entries.
 * It is copied from t's template (made on the first call, inside a PHP
 * request). NULL when the template cannot stand for the import: putenv()
 * changed the environment in this request, or a variable name PHP turns into
 * an array or a number.
 */
HashTable *torus_sapi_server_template_copy(struct torus_sapi_thread *t, uint32_t room);

/* Frees t's template (the thread's end). */
void torus_sapi_server_template_free(struct torus_sapi_thread *t);

#endif
