/*
 * The constant part of $_SERVER (sapi/server_template.h).
 *
 * Every request's $_SERVER starts with the process environment and the
 * worker's env= entries, and they are the same from request to request:
 * putenv() changes are undone at each request's end, and so PHP-FPM's import
 * of the environment gives the same entries every time. So each executor
 * thread imports them once, through php_import_environment_variables() as
 * before, and keeps them in a template in process memory whose keys and
 * values are permanent strings flagged interned and which is itself flagged
 * immutable. Copying it (zend_array_dup) is then one memcpy of its buckets:
 * no string is allocated or reference-counted, and destroying the copy at the
 * request's end frees no string. The template is sized for the request's own
 * variables, so adding them does not grow the copy.
 *
 * The template stands for the import only when nothing in this request has
 * changed the environment yet (putenv() before a script first reads
 * $_SERVER); then, and for names PHP turns into arrays or integer keys, the
 * caller imports the environment itself.
 */
#include "sapi/server_template.h"

#include <stdlib.h>
#include <string.h>

#include <php.h>
#include <ext/standard/basic_functions.h>
#include <php_variables.h>

#include "sapi/thread.h"

zend_string *torus_sapi_permanent_string(const char *data, size_t len)
{
    zend_string *s = zend_string_init(data, len, 1);
    zend_string_hash_val(s);
    GC_SET_REFCOUNT(s, 1);
    GC_TYPE_INFO(s) =
        GC_STRING | ((IS_STR_INTERNED | IS_STR_PERSISTENT | IS_STR_PERMANENT) << GC_FLAGS_SHIFT);
    return s;
}

void torus_sapi_permanent_string_free(zend_string *s)
{
    pefree(s, 1);
}

void torus_sapi_environment_import(const struct torus_sapi_thread *t, zval *array)
{
    php_import_environment_variables(array);
    for (int i = 0; t && t->worker && i < t->worker->env_count; i++) {
        const char *kv = t->worker->env[i];
        const char *eq = strchr(kv, '=');
        zval value;
        ZVAL_STRING(&value, eq + 1);
        zend_hash_str_update(Z_ARRVAL_P(array), kv, (size_t)(eq - kv), &value);
    }
}

static void template_destroy(HashTable *template)
{
    zend_string *key;
    zval *value;
    ZEND_HASH_MAP_FOREACH_STR_KEY_VAL(template, key, value)
    {
        torus_sapi_permanent_string_free(key);
        torus_sapi_permanent_string_free(Z_STR_P(value));
    }
    ZEND_HASH_FOREACH_END();
    GC_DEL_FLAGS(template, IS_ARRAY_IMMUTABLE);
    zend_hash_destroy(template); /* no destructor, static keys: frees the buckets only */
    free(template);
}

/* The template for t, or NULL when the environment holds a name PHP does not keep as a string. */
static HashTable *template_build(const struct torus_sapi_thread *t, uint32_t room)
{
    zval imported;
    array_init(&imported);
    torus_sapi_environment_import(t, &imported);

    HashTable *template = malloc(sizeof(*template));
    if (slow_path(!template)) {
        zval_ptr_dtor(&imported);
        return NULL;
    }
    zend_hash_init(template, zend_hash_num_elements(Z_ARRVAL(imported)) + room, NULL, NULL, 1);
    zend_hash_real_init_mixed(template);
    bool plain = true;
    zend_string *key;
    zval *value;
    ZEND_HASH_FOREACH_STR_KEY_VAL(Z_ARRVAL(imported), key, value)
    {
        if (!key || Z_TYPE_P(value) != IS_STRING) {
            plain = false;
            break;
        }
        zval kept;
        ZVAL_INTERNED_STR(&kept, torus_sapi_permanent_string(Z_STRVAL_P(value), Z_STRLEN_P(value)));
        zend_hash_add_new(template, torus_sapi_permanent_string(ZSTR_VAL(key), ZSTR_LEN(key)),
                          &kept);
    }
    ZEND_HASH_FOREACH_END();
    zval_ptr_dtor(&imported);
    if (!plain) {
        template_destroy(template);
        return NULL;
    }
    GC_SET_REFCOUNT(template, 2);
    GC_ADD_FLAGS(template, IS_ARRAY_IMMUTABLE | GC_NOT_COLLECTABLE);
    return template;
}

HashTable *torus_sapi_server_template_copy(struct torus_sapi_thread *t, uint32_t room)
{
    if (zend_hash_num_elements(&BG(putenv_ht)) != 0)
        return NULL; /* this request's putenv() shows in the environment PHP would import */
    switch (t->server_template_state) {
    case TORUS_SAPI_TEMPLATE_UNMADE:
        t->server_template = template_build(t, room);
        t->server_template_state =
            t->server_template ? TORUS_SAPI_TEMPLATE_READY : TORUS_SAPI_TEMPLATE_UNUSABLE;
        return t->server_template ? zend_array_dup(t->server_template) : NULL;
    case TORUS_SAPI_TEMPLATE_READY:
        return zend_array_dup(t->server_template);
    case TORUS_SAPI_TEMPLATE_UNUSABLE:
    default:
        return NULL;
    }
}

void torus_sapi_server_template_free(struct torus_sapi_thread *t)
{
    if (t->server_template)
        template_destroy(t->server_template);
    t->server_template = NULL;
    t->server_template_state = TORUS_SAPI_TEMPLATE_UNMADE;
}
