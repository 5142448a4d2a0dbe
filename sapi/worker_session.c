/*
 * Keeping a worker's session save handler across requests
 * (sapi/worker_session.h). What ext/session's RSHUTDOWN drops and its RINIT
 * does not rebuild: the user handler's callbacks (PS(mod_user_names)), its
 * class name, whether it implements every callback, and the module it
 * wraps (SessionHandler's parent calls).
 */
#include "sapi/worker_session.h"

#include <stdbool.h>
#include <string.h>

#include <php.h>
#include <ext/session/php_session.h>

struct kept_handler {
    bool kept;
    zval names[PS_NUM_APIS];
    bool implemented;
    zend_string *class_name;
    const ps_module *default_mod;
};

static _Thread_local struct kept_handler kept;

static bool session_loaded(void)
{
    return zend_hash_str_exists(&module_registry, "session", sizeof("session") - 1);
}

void torus_sapi_session_handler_keep(void)
{
    torus_sapi_session_handler_release();
    if (!session_loaded() || !PS(mod) || strcmp(PS(mod)->s_name, "user") != 0 ||
        Z_ISUNDEF(PS(mod_user_names).names[0]))
        return;
    for (int i = 0; i < PS_NUM_APIS; i++)
        ZVAL_COPY(&kept.names[i], &PS(mod_user_names).names[i]);
    kept.implemented = PS(mod_user_implemented);
    kept.class_name = PS(mod_user_class_name) ? zend_string_copy(PS(mod_user_class_name)) : NULL;
    kept.default_mod = PS(default_mod);
    kept.kept = true;
}

void torus_sapi_session_handler_restore(void)
{
    if (!kept.kept || !PS(mod) || strcmp(PS(mod)->s_name, "user") != 0)
        return;
    for (int i = 0; i < PS_NUM_APIS; i++) {
        zval_ptr_dtor(&PS(mod_user_names).names[i]);
        ZVAL_COPY(&PS(mod_user_names).names[i], &kept.names[i]);
    }
    PS(mod_user_implemented) = kept.implemented;
    if (kept.class_name && !PS(mod_user_class_name))
        PS(mod_user_class_name) = zend_string_copy(kept.class_name);
    if (!PS(default_mod))
        PS(default_mod) = kept.default_mod;
}

void torus_sapi_session_handler_release(void)
{
    if (!kept.kept)
        return;
    for (int i = 0; i < PS_NUM_APIS; i++) {
        zval_ptr_dtor(&kept.names[i]);
        ZVAL_UNDEF(&kept.names[i]);
    }
    if (kept.class_name)
        zend_string_release(kept.class_name);
    memset(&kept, 0, sizeof(kept));
}
