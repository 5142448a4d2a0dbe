/*
 * The environment layer of the configuration: the variable named after each
 * flag (--max-body-size -> TORUS_MAX_BODY_SIZE), the lists that repeatable
 * flags take there, and the spellings of a boolean. runtime/config.c walks
 * its table of flags and asks these helpers; it applies the environment
 * before the command line, skipping every flag the command line gives, so the
 * command line wins (and replaces a repeatable flag's whole list).
 */
#include "runtime/config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void torus_config_env_name(const char *flag, char *out, size_t out_size)
{
    size_t n = (size_t)snprintf(out, out_size, "TORUS_");
    for (const char *p = flag; *p && n + 1 < out_size; p++, n++)
        out[n] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    if (n < out_size)
        out[n] = '\0';
}

int torus_config_env_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return TORUS_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return TORUS_OK;
        }
    }
    return TORUS_ERROR;
}

int torus_config_env_split(const char *value, torus_config_env_item_fn fn, void *arg)
{
    char sep = strchr(value, '\n') ? '\n' : ',';
    const char *p = value;
    for (;;) {
        const char *end = strchr(p, sep);
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            char *item = strndup(a, (size_t)(b - a));
            if (!item)
                return TORUS_ERROR;
            int rc = fn(item, arg);
            free(item);
            if (rc != TORUS_OK)
                return rc;
        }
        if (*end == '\0')
            return TORUS_OK;
        p = end + 1;
    }
}
