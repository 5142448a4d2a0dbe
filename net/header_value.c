/*
 * Reading HTTP header values (net/header_value.h).
 */
#include "net/header_value.h"

#include <string.h>
#include <strings.h>

bool torus_http_has_token(const char *value, size_t len, const char *token)
{
    size_t token_len = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == token_len && strncasecmp(value + start, token, token_len) == 0)
            return true;
    }
    return false;
}
