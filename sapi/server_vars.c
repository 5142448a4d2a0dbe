/*
 * $_SERVER and getenv() for a request (sapi/server_vars.h).
 *
 * $_SERVER is registered directly: keys made once at start-up for Torus'
 * own variables, header names that need no rewriting ([A-Z0-9_]) put as
 * they are, the worker's environment copied in one step. PHP's own path
 * parsed each name, looked it up among the interned strings and, with
 * ext/filter, registered it twice (the raw copy filter_input() reads). The
 * filter's copy is built only when filter_input(), filter_input_array() or
 * filter_has_var() asks for INPUT_SERVER: those three are wrapped per
 * thread, and build it through PHP's own input filter, so it holds exactly
 * what it held before. Another filter.default, or an input filter from
 * another extension, takes PHP's path for everything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <php.h>
#include <SAPI.h>
#include <php_main.h>
#include <php_variables.h>

#include "sapi/server_vars.h"

#include "sapi/request_bind.h"
#include "sapi/server_template.h"
#include "sapi/thread.h"

enum request_variable {
    VARIABLE_CONTENT_TYPE,
    VARIABLE_CONTENT_LENGTH,
    VARIABLE_SCRIPT_FILENAME,
    VARIABLE_SCRIPT_NAME,
    VARIABLE_PATH_INFO,
    VARIABLE_PATH_TRANSLATED,
    VARIABLE_PHP_SELF,
    VARIABLE_DOCUMENT_ROOT,
    VARIABLE_DOCUMENT_URI,
    VARIABLE_REQUEST_URI,
    VARIABLE_REQUEST_METHOD,
    VARIABLE_QUERY_STRING,
    VARIABLE_SERVER_PROTOCOL,
    VARIABLE_GATEWAY_INTERFACE,
    VARIABLE_SERVER_SOFTWARE,
    VARIABLE_REQUEST_SCHEME,
    VARIABLE_HTTPS,
    VARIABLE_REMOTE_ADDR,
    VARIABLE_REMOTE_PORT,
    VARIABLE_SERVER_ADDR,
    VARIABLE_SERVER_PORT,
    VARIABLE_SERVER_NAME,
    VARIABLE_TORUS_WORKER,
    VARIABLE_FRANKENPHP_WORKER,
    VARIABLE_AUTH_TYPE,
    VARIABLE_REMOTE_USER,
    VARIABLE_COUNT
};

static const char *const variable_names[VARIABLE_COUNT] = {
    [VARIABLE_CONTENT_TYPE] = "CONTENT_TYPE",
    [VARIABLE_CONTENT_LENGTH] = "CONTENT_LENGTH",
    [VARIABLE_SCRIPT_FILENAME] = "SCRIPT_FILENAME",
    [VARIABLE_SCRIPT_NAME] = "SCRIPT_NAME",
    [VARIABLE_PATH_INFO] = "PATH_INFO",
    [VARIABLE_PATH_TRANSLATED] = "PATH_TRANSLATED",
    [VARIABLE_PHP_SELF] = "PHP_SELF",
    [VARIABLE_DOCUMENT_ROOT] = "DOCUMENT_ROOT",
    [VARIABLE_DOCUMENT_URI] = "DOCUMENT_URI",
    [VARIABLE_REQUEST_URI] = "REQUEST_URI",
    [VARIABLE_REQUEST_METHOD] = "REQUEST_METHOD",
    [VARIABLE_QUERY_STRING] = "QUERY_STRING",
    [VARIABLE_SERVER_PROTOCOL] = "SERVER_PROTOCOL",
    [VARIABLE_GATEWAY_INTERFACE] = "GATEWAY_INTERFACE",
    [VARIABLE_SERVER_SOFTWARE] = "SERVER_SOFTWARE",
    [VARIABLE_REQUEST_SCHEME] = "REQUEST_SCHEME",
    [VARIABLE_HTTPS] = "HTTPS",
    [VARIABLE_REMOTE_ADDR] = "REMOTE_ADDR",
    [VARIABLE_REMOTE_PORT] = "REMOTE_PORT",
    [VARIABLE_SERVER_ADDR] = "SERVER_ADDR",
    [VARIABLE_SERVER_PORT] = "SERVER_PORT",
    [VARIABLE_SERVER_NAME] = "SERVER_NAME",
    [VARIABLE_TORUS_WORKER] = "TORUS_WORKER",
    [VARIABLE_FRANKENPHP_WORKER] = "FRANKENPHP_WORKER",
    [VARIABLE_AUTH_TYPE] = "AUTH_TYPE",
    [VARIABLE_REMOTE_USER] = "REMOTE_USER",
};

/*
 * Registering $_SERVER quickly. PHP's way (php_register_variable_safe through
 * the input filter) parses every name for brackets and dots, looks it up in
 * the interned strings and, with ext/filter, registers it twice: the value in
 * $_SERVER and a raw copy in the filter's own array, which only
 * filter_input(INPUT_SERVER), filter_input_array(INPUT_SERVER) and
 * filter_has_var(INPUT_SERVER) read. It was the largest PHP cost of a
 * worker-mode request.
 *
 * So when the filter would keep every value as it is (filter.default =
 * unsafe_raw, PHP's default), Torus puts the variables in $_SERVER directly,
 * with keys made once at start-up for its own names, and builds the filter's
 * copy only when a script asks for it: those three functions are wrapped, and
 * on their first call with INPUT_SERVER in a request the request's variables
 * go through the input filter, as PHP-FPM registers them, into a scratch
 * $_SERVER that is then dropped (the script's own $_SERVER, changes included,
 * stays as it is). Header names with bytes PHP would rewrite ('.', '[', ...)
 * still take PHP's way, and so does everything when another default filter
 * is set or another extension installed an input filter.
 */

static zend_string *variable_keys[VARIABLE_COUNT]; /* permanent, interned */
static bool server_direct;                         /* $_SERVER may be registered directly */
static bool filter_wrapped; /* ext/filter's INPUT_SERVER functions are wrapped */

#define INPUT_SERVER_TYPE 5 /* ext/filter's INPUT_SERVER */

static const char *const filter_function_names[] = {"filter_input", "filter_input_array",
                                                    "filter_has_var"};
static zif_handler filter_function_handlers[TORUS_ARRAY_SIZE(filter_function_names)];

/*
 * Values that do not change from request to request, and the keys of the
 * request headers most clients send: permanent strings made at start-up, so
 * that putting them in $_SERVER allocates nothing and the request's end frees
 * nothing (a $_SERVER whose keys are all such strings is destroyed without
 * looking at its keys).
 */
enum constant_value {
    CONSTANT_SERVER_SOFTWARE,
    CONSTANT_CGI,
    CONSTANT_HTTP_2,
    CONSTANT_HTTP_1_1,
    CONSTANT_HTTP_1_0,
    CONSTANT_HTTPS,
    CONSTANT_HTTP,
    CONSTANT_ON,
    CONSTANT_ONE,
    CONSTANT_EMPTY,
    CONSTANT_BASIC,
    CONSTANT_DIGEST,
    CONSTANT_COUNT,
    CONSTANT_NONE = CONSTANT_COUNT
};

static const char *const constant_texts[CONSTANT_COUNT] = {
    [CONSTANT_SERVER_SOFTWARE] = SERVER_SOFTWARE,
    [CONSTANT_CGI] = "CGI/1.1",
    [CONSTANT_HTTP_2] = "HTTP/2.0",
    [CONSTANT_HTTP_1_1] = "HTTP/1.1",
    [CONSTANT_HTTP_1_0] = "HTTP/1.0",
    [CONSTANT_HTTPS] = "https",
    [CONSTANT_HTTP] = "http",
    [CONSTANT_ON] = "on",
    [CONSTANT_ONE] = "1",
    [CONSTANT_EMPTY] = "",
    [CONSTANT_BASIC] = "Basic",
    [CONSTANT_DIGEST] = "Digest",
};

static zend_string *constant_strings[CONSTANT_COUNT]; /* permanent, interned */

static const char *const common_header_names[] = {
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_REFERER",
    "HTTP_CACHE_CONTROL",
    "HTTP_ORIGIN",
    "HTTP_AUTHORIZATION",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REQUESTED_WITH",
    "HTTP_UPGRADE_INSECURE_REQUESTS",
    "HTTP_PRAGMA",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_SEC_FETCH_MODE",
    "HTTP_SEC_FETCH_DEST",
    "HTTP_DNT",
    "HTTP_TE",
    "HTTP_X_REQUEST_ID",
};

static zend_string *common_header_keys[TORUS_ARRAY_SIZE(common_header_names)];

static zend_string *permanent_key(const char *name)
{
    return torus_sapi_permanent_string(name, strlen(name));
}

static void permanent_keys_free(zend_string **keys, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (keys[i])
            torus_sapi_permanent_string_free(keys[i]);
        keys[i] = NULL;
    }
}

static void register_request_variables(struct torus_sapi_thread *t, zval *array, bool direct);

/* Before an INPUT_SERVER read of ext/filter: its raw copy of this request's variables. */
static void filter_server_copy_ensure(void)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->script_filename || t->filter_server_copied)
        return;
    t->filter_server_copied = true;
    zval *server = &PG(http_globals)[TRACK_VARS_SERVER];
    zval kept;
    ZVAL_COPY_VALUE(&kept, server);
    array_init(server); /* the input filter puts its filtered values here: a scratch array */
    register_request_variables(t, server, false);
    zval_ptr_dtor(server);
    ZVAL_COPY_VALUE(server, &kept);
}

static void wrapped_filter_function(INTERNAL_FUNCTION_PARAMETERS, size_t which)
{
    if (ZEND_NUM_ARGS() >= 1 && Z_TYPE_P(ZEND_CALL_ARG(execute_data, 1)) == IS_LONG &&
        Z_LVAL_P(ZEND_CALL_ARG(execute_data, 1)) == INPUT_SERVER_TYPE)
        filter_server_copy_ensure();
    filter_function_handlers[which](INTERNAL_FUNCTION_PARAM_PASSTHRU);
}

static ZEND_FUNCTION(torus_filter_input)
{
    wrapped_filter_function(INTERNAL_FUNCTION_PARAM_PASSTHRU, 0);
}

static ZEND_FUNCTION(torus_filter_input_array)
{
    wrapped_filter_function(INTERNAL_FUNCTION_PARAM_PASSTHRU, 1);
}

static ZEND_FUNCTION(torus_filter_has_var)
{
    wrapped_filter_function(INTERNAL_FUNCTION_PARAM_PASSTHRU, 2);
}

/* After PHP's start-up (INI settings known, modules loaded): the keys, and the direct way. */
void torus_sapi_server_startup(void)
{
    for (int v = 0; v < VARIABLE_COUNT; v++)
        variable_keys[v] = permanent_key(variable_names[v]);
    for (int c = 0; c < CONSTANT_COUNT; c++)
        constant_strings[c] = permanent_key(constant_texts[c]);
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(common_header_names); i++)
        common_header_keys[i] = permanent_key(common_header_names[i]);
    if (sapi_module.input_filter == php_default_input_filter) {
        server_direct = true; /* no ext/filter: nothing to copy */
        return;
    }
    if (!zend_hash_str_exists(&module_registry, "filter", 6))
        return; /* an input filter of another extension: PHP's way */
    const char *default_filter = zend_ini_string("filter.default", 14, 0);
    if (default_filter && default_filter[0] && strcasecmp(default_filter, "unsafe_raw") != 0)
        return;
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(filter_function_names); i++) {
        zend_function *f = zend_hash_str_find_ptr(CG(function_table), filter_function_names[i],
                                                  strlen(filter_function_names[i]));
        if (!f || f->type != ZEND_INTERNAL_FUNCTION)
            return;
        filter_function_handlers[i] = f->internal_function.handler;
    }
    filter_wrapped = true;
    server_direct = true;
}

/* On each executor thread (ZTS gives every thread its own copy of the internal functions). */
void torus_sapi_filter_functions_wrap(void)
{
    static const zif_handler wrappers[] = {ZEND_FN(torus_filter_input),
                                           ZEND_FN(torus_filter_input_array),
                                           ZEND_FN(torus_filter_has_var)};
    if (!filter_wrapped)
        return;
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(filter_function_names); i++) {
        zend_function *f = zend_hash_str_find_ptr(CG(function_table), filter_function_names[i],
                                                  strlen(filter_function_names[i]));
        if (f && f->type == ZEND_INTERNAL_FUNCTION &&
            f->internal_function.handler == filter_function_handlers[i])
            f->internal_function.handler = wrappers[i];
    }
}

void torus_sapi_server_shutdown(void)
{
    permanent_keys_free(variable_keys, VARIABLE_COUNT);
    permanent_keys_free(constant_strings, CONSTANT_COUNT);
    permanent_keys_free(common_header_keys, TORUS_ARRAY_SIZE(common_header_keys));
    server_direct = false;
    filter_wrapped = false;
}

/* Puts one value under key in $_SERVER, directly. */
static void server_put(HashTable *server, zend_string *key, const char *value, size_t len)
{
    zval z;
    ZVAL_STRINGL_FAST(&z, value, len);
    zend_hash_update(server, key, &z);
}

/* Puts a permanent string under key in $_SERVER. */
static void server_put_string(HashTable *server, zend_string *key, zend_string *value)
{
    zval z;
    ZVAL_INTERNED_STR(&z, value);
    zend_hash_update(server, key, &z);
}

/* The permanent key of a common header's variable name, or NULL. */
static zend_string *common_header_key(const char *name, size_t len)
{
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(common_header_keys); i++) {
        zend_string *key = common_header_keys[i];
        if (key && ZSTR_LEN(key) == len && memcmp(ZSTR_VAL(key), name, len) == 0)
            return key;
    }
    return NULL;
}

/* Decimal digits of n, written at the end of number[24]; returns where they start. */
static const char *format_unsigned(char *number, uint64_t n, size_t *len)
{
    char *end = number + 23, *p = end;
    do {
        *--p = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    *len = (size_t)(end - p);
    return p;
}

static bool set_value(const char *data, size_t len, const char **value, size_t *value_len)
{
    *value = data;
    *value_len = len;
    return true;
}

static bool set_constant(enum constant_value c, const char **value, size_t *len,
                         enum constant_value *constant)
{
    *constant = c;
    return set_value(constant_texts[c], strlen(constant_texts[c]), value, len);
}

#define SET_CONSTANT(c) set_constant((c), value, len, constant)

/*
 * The value of one CGI variable for t's request (or, with no request, for the
 * worker script's own run). Numbers are formatted into `number` (24 bytes);
 * *constant names the value when it is one of constant_texts, else is
 * CONSTANT_NONE. Returns false when the variable does not apply.
 */
static bool request_variable(const struct torus_sapi_thread *t, enum request_variable variable,
                             char *number, const char **value, size_t *len,
                             enum constant_value *constant)
{
    const struct torus_request *r = t->request;
    *constant = CONSTANT_NONE;
    switch (variable) {
    case VARIABLE_SCRIPT_FILENAME:
        return set_value(t->script_filename, strlen(t->script_filename), value, len);
    case VARIABLE_SCRIPT_NAME:
        return set_value(t->script_name, strlen(t->script_name), value, len);
    case VARIABLE_PHP_SELF:
        return set_value(t->php_self, strlen(t->php_self), value, len);
    case VARIABLE_DOCUMENT_ROOT:
        if (r)
            return set_value(r->document_root ? r->document_root : "",
                             r->document_root ? strlen(r->document_root) : 0, value, len);
        return set_value(t->config->root ? t->config->root : "",
                         t->config->root ? strlen(t->config->root) : 0, value, len);
    case VARIABLE_SERVER_SOFTWARE:
        return SET_CONSTANT(CONSTANT_SERVER_SOFTWARE);
    case VARIABLE_GATEWAY_INTERFACE:
        return SET_CONSTANT(CONSTANT_CGI);
    case VARIABLE_TORUS_WORKER:
    case VARIABLE_FRANKENPHP_WORKER:
        /* The worker script's own $_SERVER (FrankenPHP's), not each request's. */
        return !r && t->worker && SET_CONSTANT(CONSTANT_ONE);
    default:
        break;
    }
    if (!r)
        return false;
    switch (variable) {
    case VARIABLE_CONTENT_TYPE:
        return t->content_type && set_value(t->content_type, strlen(t->content_type), value, len);
    case VARIABLE_CONTENT_LENGTH:
        if (!t->has_content_length && r->body.len == 0)
            return false;
        *value = format_unsigned(number, r->body.len, len);
        return true;
    case VARIABLE_PATH_INFO:
        return r->path_info.len && set_value(r->path_info.data, r->path_info.len, value, len);
    case VARIABLE_PATH_TRANSLATED:
        return t->path_translated &&
               set_value(t->path_translated, strlen(t->path_translated), value, len);
    case VARIABLE_DOCUMENT_URI:
        return set_value(r->path.data, r->path.len, value, len);
    case VARIABLE_REQUEST_URI:
        return set_value(r->target.data, r->target.len, value, len);
    case VARIABLE_REQUEST_METHOD:
        return set_value(r->method.data, r->method.len, value, len);
    case VARIABLE_QUERY_STRING:
        return set_value(r->query.data ? r->query.data : "", r->query.len, value, len);
    case VARIABLE_SERVER_PROTOCOL:
        if (r->http2)
            return SET_CONSTANT(CONSTANT_HTTP_2);
        return r->http_minor ? SET_CONSTANT(CONSTANT_HTTP_1_1) : SET_CONSTANT(CONSTANT_HTTP_1_0);
    case VARIABLE_REQUEST_SCHEME:
        return r->tls ? SET_CONSTANT(CONSTANT_HTTPS) : SET_CONSTANT(CONSTANT_HTTP);
    case VARIABLE_HTTPS:
        return r->tls && SET_CONSTANT(CONSTANT_ON);
    case VARIABLE_REMOTE_ADDR:
        return set_value(r->remote_addr, strlen(r->remote_addr), value, len);
    case VARIABLE_REMOTE_PORT:
        /* Empty, as nginx's realip leaves it, for a forwarded client without a port. */
        if (!r->remote_port)
            return SET_CONSTANT(CONSTANT_EMPTY);
        *value = format_unsigned(number, r->remote_port, len);
        return true;
    case VARIABLE_SERVER_ADDR:
        return set_value(r->server_addr, strlen(r->server_addr), value, len);
    case VARIABLE_SERVER_PORT:
        *value = format_unsigned(number, r->server_port, len);
        return true;
    case VARIABLE_SERVER_NAME:
        if (r->forwarded_host.len)
            return set_value(r->forwarded_host.data, r->forwarded_host.len, value, len);
        return set_value(t->server_name.data, t->server_name.len, value, len);
    /* HTTP authentication that PHP could read (php_handle_auth_data(), as PHP-FPM and
     * FrankenPHP): a malformed Authorization header sets none of these. */
    case VARIABLE_AUTH_TYPE:
        if (SG(request_info).auth_user)
            return SET_CONSTANT(CONSTANT_BASIC);
        return SG(request_info).auth_digest && SET_CONSTANT(CONSTANT_DIGEST);
    case VARIABLE_REMOTE_USER:
        return SG(request_info).auth_user &&
               set_value(SG(request_info).auth_user, strlen(SG(request_info).auth_user), value,
                         len);
    default:
        return false;
    }
}

/* Registers one $_SERVER entry through the input filter, as PHP-FPM does (filter_input() sees it).
 */
static void server_variable(zval *array, const char *name, const char *value, size_t len)
{
    char *filtered = (char *)value;
    size_t filtered_len = len;
    if (sapi_module.input_filter(PARSE_SERVER, name, &filtered, len, &filtered_len))
        php_register_variable_safe(name, filtered, filtered_len, array);
}

static bool is_body_header(const struct torus_header *h)
{
    return torus_sapi_header_name_is(h, "Content-Type", 12) ||
           torus_sapi_header_name_is(h, "Content-Length", 14);
}

/* Writes "HTTP_" + the header name upper-cased, dashes as underscores, into out (NUL-terminated).
 */
static void http_variable_name(const struct torus_header *h, char *out)
{
    memcpy(out, "HTTP_", 5);
    for (size_t i = 0; i < h->name.len; i++) {
        char c = h->name.data[i];
        out[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    out[5 + h->name.len] = '\0';
}

/* Whether an HTTP_ name is made only of bytes PHP keeps as they are in a $_SERVER key. */
static bool plain_variable_name(const char *name, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

static void register_header_variables(struct torus_sapi_thread *t, zval *array, bool direct)
{
    const struct torus_request *r = t->request;
    char stack_name[128];
    for (uint32_t i = 0; i < r->header_count; i++) {
        const struct torus_header *h = &r->headers[i];
        if (is_body_header(h) || !torus_sapi_header_first_of_name(r, i))
            continue;
        char *name = h->name.len + 6 <= sizeof(stack_name) ? stack_name : emalloc(h->name.len + 6);
        http_variable_name(h, name);
        const char *value;
        size_t len;
        torus_sapi_header_value(t, r, i, &value, &len);
        size_t name_len = h->name.len + 5;
        zend_string *common = direct ? common_header_key(name, name_len) : NULL;
        if (common) {
            server_put(Z_ARRVAL_P(array), common, value, len);
        } else if (direct && plain_variable_name(name, name_len)) {
            zend_string *key = zend_string_init(name, name_len, 0);
            server_put(Z_ARRVAL_P(array), key, value, len);
            zend_string_release_ex(key, 0);
        } else {
            server_variable(array, name, value, len);
        }
        if (name != stack_name)
            efree(name);
    }
}

/* The request's own variables (headers, then CGI ones), directly or through the input filter. */
static void register_request_variables(struct torus_sapi_thread *t, zval *array, bool direct)
{
    if (t->request)
        register_header_variables(t, array, direct);
    char number[24];
    for (int v = 0; v < VARIABLE_COUNT; v++) {
        const char *value;
        size_t len;
        enum constant_value constant;
        if (!request_variable(t, (enum request_variable)v, number, &value, &len, &constant))
            continue;
        if (direct && constant != CONSTANT_NONE && constant_strings[constant])
            server_put_string(Z_ARRVAL_P(array), variable_keys[v], constant_strings[constant]);
        else if (direct)
            server_put(Z_ARRVAL_P(array), variable_keys[v], value, len);
        else
            server_variable(array, variable_names[v], value, len);
    }
}

void torus_sapi_register_variables(zval *array)
{
    /* The environment first, as PHP-FPM with clear_env = no; the request's variables win. */
    struct torus_sapi_thread *t = torus_sapi_current;
    bool direct = server_direct && t && t->script_filename;
    HashTable *server = NULL;
    if (direct && zend_hash_num_elements(Z_ARRVAL_P(array)) == 0)
        server = torus_sapi_server_template_copy(t, VARIABLE_COUNT + 16);
    if (server) {
        zend_array_destroy(Z_ARR_P(array));
        ZVAL_ARR(array, server);
    } else {
        torus_sapi_environment_import(t, array);
    }
    if (!t || !t->script_filename)
        return;
    t->filter_server_copied = !direct; /* PHP's way has made the filter's copy already */
    register_request_variables(t, array, direct);
}

/* A NUL-terminated copy of value in t's scratch buffer (value may already be there). */
static char *scratch_c_string(struct torus_sapi_thread *t, const char *value, size_t len)
{
    if (value == t->scratch) {
        t->scratch[len] = '\0';
        return t->scratch;
    }
    if (slow_path(torus_sapi_scratch_reserve(t, len + 1) != TORUS_OK))
        return NULL;
    memcpy(t->scratch, value, len);
    t->scratch[len] = '\0';
    return t->scratch;
}

/*
 * getenv() asks the SAPI first: like PHP-FPM, the request's CGI variables
 * answer (getenv('REMOTE_ADDR'), getenv('HTTP_HOST')); anything else falls
 * through to the process environment.
 */
char *torus_sapi_getenv(const char *name, size_t name_len)
{
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->script_filename)
        return NULL;
    const struct torus_request *r = t->request;
    if (r && name_len > 5 && memcmp(name, "HTTP_", 5) == 0) {
        for (uint32_t i = 0; i < r->header_count; i++) {
            const struct torus_header *h = &r->headers[i];
            if (h->name.len != name_len - 5 || is_body_header(h))
                continue;
            bool match = true;
            for (size_t k = 0; k < h->name.len && match; k++) {
                char c = h->name.data[k];
                c = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
                match = c == name[5 + k];
            }
            if (!match)
                continue;
            const char *value;
            size_t len;
            torus_sapi_header_value(t, r, i, &value, &len);
            return scratch_c_string(t, value, len);
        }
        return NULL;
    }
    for (int v = 0; v < VARIABLE_COUNT; v++) {
        if (strlen(variable_names[v]) != name_len || memcmp(variable_names[v], name, name_len) != 0)
            continue;
        char number[24];
        const char *value;
        size_t len;
        enum constant_value constant;
        if (!request_variable(t, (enum request_variable)v, number, &value, &len, &constant))
            return NULL;
        return scratch_c_string(t, value, len);
    }
    /* The worker's own environment (--worker '... env=KEY=VALUE'), before the process's. */
    for (int i = 0; t->worker && i < t->worker->env_count; i++) {
        const char *kv = t->worker->env[i];
        if (strncmp(kv, name, name_len) == 0 && kv[name_len] == '=')
            return scratch_c_string(t, kv + name_len + 1, strlen(kv + name_len + 1));
    }
    return NULL;
}
