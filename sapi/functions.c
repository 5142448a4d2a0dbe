/*
 * The PHP functions Torus adds, registered as the "torus" extension:
 *
 *   fastcgi_finish_request(): bool       end the response now, keep running
 *                                        (alias frankenphp_finish_request)
 *   getallheaders(): array               the request headers as sent
 *                                        (aliases apache_request_headers,
 *                                        frankenphp_request_headers)
 *   apache_response_headers(): array     the response headers set so far
 *                                        (alias frankenphp_response_headers)
 *   headers_send(int $status = 103): int an interim response (103 Early
 *                                        Hints with the headers set so far,
 *                                        which the final response then lacks
 *                                        unless they are set again),
 *                                        or, for a final status, send the
 *                                        head now; FrankenPHP's return values
 *   frankenphp_log(string $message, int $level = 0, array $context = []): void
 *                                        one line in the server's log at
 *                                        FrankenPHP's level (-4 debug, 0 info,
 *                                        4 warn, 8 error), context appended as
 *                                        key=value (alias torus_log)
 *   torus_handle_request(callable): bool worker mode (worker.c adds it through
 *                                        torus_sapi_functions_add(); alias
 *                                        frankenphp_handle_request)
 *
 * Worker scripts and applications written for PHP-FPM, the built-in server,
 * Apache or FrankenPHP find the functions they test for with function_exists().
 */
#include <php.h>
#include <SAPI.h>
#include <ext/standard/head.h>
#include <ext/standard/info.h>
#include <ext/json/php_json.h>
#include <php_output.h>
#include <zend_smart_str.h>

#include <string.h>
#include <strings.h>

#include "sapi/response.h"
#include "sapi/functions.h"

#include "runtime/log.h"

#include "sapi/request_bind.h"
#include "sapi/thread.h"

ZEND_FUNCTION(fastcgi_finish_request)
{
    ZEND_PARSE_PARAMETERS_NONE();
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request || t->finished)
        RETURN_FALSE;
    php_output_end_all();
    php_header();
    if (!t->request || t->finished)
        RETURN_FALSE; /* the client went away while the buffers were flushed */
    torus_sapi_response_end(&t->response, false);
    t->finished = true;
    RETURN_TRUE;
}

ZEND_FUNCTION(getallheaders)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request)
        return;
    const struct torus_request *r = t->request;
    for (uint32_t i = 0; i < r->header_count; i++) {
        if (!torus_sapi_header_first_of_name(r, i))
            continue;
        const char *value;
        size_t len;
        torus_sapi_header_value(t, r, i, &value, &len);
        /* Names come out as PHP-FPM gives them (rebuilt from HTTP_* variables): Title-Case, so
         * "x-lower-case" (HTTP/2 clients send nothing else) is "X-Lower-Case". */
        const torus_str *name = &r->headers[i].name;
        char stack[128];
        char *key = name->len <= sizeof(stack) ? stack : emalloc(name->len);
        bool word_start = true;
        for (size_t k = 0; k < name->len; k++) {
            char c = name->data[k];
            if (c >= 'a' && c <= 'z' && word_start)
                c = (char)(c - 'a' + 'A');
            else if (c >= 'A' && c <= 'Z' && !word_start)
                c = (char)(c - 'A' + 'a');
            key[k] = c;
            word_start = c == '-' || c == '_';
        }
        add_assoc_stringl_ex(return_value, key, name->len, (char *)value, len);
        if (key != stack)
            efree(key);
    }
}

/* Splits "Name: value" into the array. */
static void add_response_header(sapi_header_struct *header, zval *array)
{
    const char *colon = memchr(header->header, ':', header->header_len);
    if (!colon || colon == header->header)
        return;
    size_t name_len = (size_t)(colon - header->header);
    const char *value = colon + 1;
    const char *end = header->header + header->header_len;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    add_assoc_stringl_ex(array, header->header, name_len, (char *)value, (size_t)(end - value));
}

ZEND_FUNCTION(apache_response_headers)
{
    ZEND_PARSE_PARAMETERS_NONE();
    array_init(return_value);
    zend_llist_apply_with_argument(&SG(sapi_headers).headers,
                                   (llist_apply_with_arg_func_t)add_response_header, return_value);
}

ZEND_FUNCTION(headers_send)
{
    zend_long status = 103;
    ZEND_PARSE_PARAMETERS_START(0, 1)
    Z_PARAM_OPTIONAL
    Z_PARAM_LONG(status)
    ZEND_PARSE_PARAMETERS_END();

    struct torus_sapi_thread *t = torus_sapi_current;
    if (!t || !t->request || t->finished)
        RETURN_LONG(SAPI_HEADER_SEND_FAILED);

    if (status >= 100 && status < 200) {
        /*
         * An interim response with every header set so far (as FrankenPHP): they
         * leave with it and are forgotten, so the final response repeats only
         * those set again. The final head is still to come.
         */
        if (SG(headers_sent))
            RETURN_LONG(SAPI_HEADER_SEND_FAILED);
        smart_str lines = {0};
        zend_llist_position position;
        for (sapi_header_struct *h = zend_llist_get_first_ex(&SG(sapi_headers).headers, &position);
             h; h = zend_llist_get_next_ex(&SG(sapi_headers).headers, &position)) {
            smart_str_appendl(&lines, h->header, h->header_len);
            smart_str_appendl(&lines, "\r\n", 2);
        }
        int rc =
            torus_sapi_response_interim(&t->response, (int)status, lines.s ? ZSTR_VAL(lines.s) : "",
                                        lines.s ? ZSTR_LEN(lines.s) : 0);
        smart_str_free(&lines);
        if (rc == TORUS_OK)
            zend_llist_clean(&SG(sapi_headers).headers);
        RETURN_LONG(rc == TORUS_OK ? SAPI_HEADER_SENT_SUCCESSFULLY : SAPI_HEADER_SEND_FAILED);
    }

    /* A final status: the head leaves now and the body will stream. */
    if (!SG(headers_sent))
        SG(sapi_headers).http_response_code = (int)status;
    if (sapi_send_headers() == FAILURE)
        RETURN_LONG(FAILURE);
    torus_sapi_response_flush(&t->response);
    RETURN_LONG(SUCCESS);
}

/* FrankenPHP's levels are Go's slog levels: -4 debug, 0 info, 4 warn, 8 error. */
static enum torus_log_level log_level_of(zend_long level)
{
    if (level < 0)
        return TORUS_LOG_DEBUG;
    if (level < 4)
        return TORUS_LOG_INFO;
    return level < 8 ? TORUS_LOG_WARN : TORUS_LOG_ERROR;
}

/* A value of the context: bare when it is a plain word, else as JSON. */
static void log_context_value(smart_str *line, zval *value)
{
    if (Z_TYPE_P(value) == IS_STRING && Z_STRLEN_P(value) > 0 &&
        strpbrk(Z_STRVAL_P(value), " \t\"=\\") == NULL) {
        smart_str_append(line, Z_STR_P(value));
        return;
    }
    if (php_json_encode(line, value,
                        PHP_JSON_UNESCAPED_SLASHES | PHP_JSON_UNESCAPED_UNICODE |
                            PHP_JSON_PARTIAL_OUTPUT_ON_ERROR) != SUCCESS)
        smart_str_appends(line, "null");
}

ZEND_FUNCTION(frankenphp_log)
{
    zend_string *message;
    zend_long level = 0;
    HashTable *context = NULL;
    ZEND_PARSE_PARAMETERS_START(1, 3)
    Z_PARAM_STR(message)
    Z_PARAM_OPTIONAL
    Z_PARAM_LONG(level)
    Z_PARAM_ARRAY_HT(context)
    ZEND_PARSE_PARAMETERS_END();

    enum torus_log_level log_level = log_level_of(level);
    if (log_level < torus_log_threshold)
        return;
    smart_str line = {0};
    smart_str_append(&line, message);
    if (context) {
        zend_string *key;
        zend_ulong index;
        zval *value;
        ZEND_HASH_FOREACH_KEY_VAL(context, index, key, value)
        {
            smart_str_appendc(&line, ' ');
            if (key)
                smart_str_append(&line, key);
            else
                smart_str_append_unsigned(&line, index);
            smart_str_appendc(&line, '=');
            log_context_value(&line, value);
        }
        ZEND_HASH_FOREACH_END();
    }
    smart_str_0(&line);
    /* One line: a message's own line breaks and other control bytes become spaces. */
    char *text = ZSTR_VAL(line.s);
    for (size_t i = 0; i < ZSTR_LEN(line.s); i++) {
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)
            text[i] = ' ';
    }
    torus_log_write(log_level, "%s", text);
    smart_str_free(&line);
}

/* Stands in for opcache_reset() on executor threads (thread.c says why). */
ZEND_FUNCTION(torus_sapi_opcache_reset_refused)
{
    ZEND_PARSE_PARAMETERS_NONE();
    php_error_docref(NULL, E_WARNING,
                     "is disabled: the executors of Torus share the opcode cache "
                     "while they run; restart them instead");
    RETURN_FALSE;
}

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_torus_bool_none, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_torus_array_none, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_torus_log, 0, 1, IS_VOID, 0)
ZEND_ARG_TYPE_INFO(0, message, IS_STRING, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, level, IS_LONG, 0, "0")
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, context, IS_ARRAY, 0, "[]")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_torus_headers_send, 0, 0, IS_LONG, 0)
ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, status, IS_LONG, 0, "103")
ZEND_END_ARG_INFO()

// clang-format off
/* One entry per line, as PHP's own tables are laid out */
static const zend_function_entry torus_functions[] = {
    ZEND_FE(fastcgi_finish_request, arginfo_torus_bool_none)
    ZEND_FALIAS(frankenphp_finish_request, fastcgi_finish_request, arginfo_torus_bool_none)
    ZEND_FE(getallheaders, arginfo_torus_array_none)
    ZEND_FALIAS(apache_request_headers, getallheaders, arginfo_torus_array_none)
    ZEND_FALIAS(frankenphp_request_headers, getallheaders, arginfo_torus_array_none)
    ZEND_FE(apache_response_headers, arginfo_torus_array_none)
    ZEND_FALIAS(frankenphp_response_headers, apache_response_headers, arginfo_torus_array_none)
    ZEND_FE(headers_send, arginfo_torus_headers_send)
    ZEND_FE(frankenphp_log, arginfo_torus_log)
    ZEND_FALIAS(torus_log, frankenphp_log, arginfo_torus_log)
    ZEND_FE_END
};
// clang-format on

/* The tables the modes above the core added (torus_sapi_functions_add()). */
static const zend_function_entry *added_functions[TORUS_SAPI_FUNCTION_TABLES];
static int added_count;

int torus_sapi_functions_add(const zend_function_entry *functions)
{
    if (added_count == TORUS_SAPI_FUNCTION_TABLES)
        return TORUS_ERROR;
    added_functions[added_count++] = functions;
    return TORUS_OK;
}

static ZEND_MINIT_FUNCTION(torus)
{
    (void)type;
    for (int i = 0; i < added_count; i++) {
        if (zend_register_functions(NULL, added_functions[i], NULL, MODULE_PERSISTENT) != SUCCESS)
            return FAILURE;
    }
    return SUCCESS;
}

static ZEND_MINFO_FUNCTION(torus)
{
    php_info_print_table_start();
    php_info_print_table_row(2, "Torus", TORUS_VERSION);
    php_info_print_table_end();
}

zend_module_entry torus_sapi_module_entry = {
    STANDARD_MODULE_HEADER,
    "torus",
    torus_functions,
    ZEND_MINIT(torus),
    NULL, /* MSHUTDOWN */
    NULL, /* RINIT */
    NULL, /* RSHUTDOWN */
    ZEND_MINFO(torus),
    TORUS_VERSION,
    STANDARD_MODULE_PROPERTIES,
};
