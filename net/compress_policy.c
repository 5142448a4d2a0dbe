/*
 * The media types to compress and the levels to compress them at.
 */
#include "net/compress_policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net/content_coding.h"

void torus_compression_defaults(struct torus_compression *c)
{
    c->enabled = true;
    c->precompressed = true;
    c->compress_static = false;
    c->level_zstd = TORUS_COMPRESS_DEFAULT_LEVEL_ZSTD;
    c->level_br = TORUS_COMPRESS_DEFAULT_LEVEL_BR;
    c->level_gzip = TORUS_COMPRESS_DEFAULT_LEVEL_GZIP;
    c->min_size = TORUS_COMPRESS_DEFAULT_MIN_SIZE;
    c->types = NULL;
}

/* A level from min to max into *out. */
static int parse_level(const char *text, int min, int max, int *out)
{
    if (text[0] < '0' || text[0] > '9')
        return TORUS_ERROR;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return TORUS_ERROR;
    *out = (int)v;
    return TORUS_OK;
}

static int parse_on_off(const char *text, bool *out)
{
    if (strcmp(text, "on") != 0 && strcmp(text, "off") != 0)
        return TORUS_ERROR;
    *out = text[1] == 'n';
    return TORUS_OK;
}

int torus_compression_set(struct torus_compression *c, enum torus_compression_flag flag,
                          const char *value, const char **why)
{
    switch (flag) {
    case TORUS_COMPRESSION_FLAG_ENABLED:
    case TORUS_COMPRESSION_FLAG_PRECOMPRESSED:
    case TORUS_COMPRESSION_FLAG_STATIC:
        *why = "expected on or off";
        return parse_on_off(value, flag == TORUS_COMPRESSION_FLAG_ENABLED ? &c->enabled
                                   : flag == TORUS_COMPRESSION_FLAG_PRECOMPRESSED
                                       ? &c->precompressed
                                       : &c->compress_static);
    case TORUS_COMPRESSION_FLAG_TYPES: {
        *why = "expected media types such as text/*,application/json";
        char *copy = torus_compress_types_valid(value) ? strdup(value) : NULL;
        if (!copy)
            return TORUS_ERROR;
        free(c->types);
        c->types = copy;
        return TORUS_OK;
    }
    case TORUS_COMPRESSION_FLAG_MIN_SIZE:
        *why = "expected a size such as 1024 or 4K";
        return torus_parse_size(value, &c->min_size);
    case TORUS_COMPRESSION_FLAG_LEVEL_ZSTD:
        *why = "expected a level from 1 to 19";
        return parse_level(value, TORUS_ZSTD_LEVEL_MIN, TORUS_ZSTD_LEVEL_MAX, &c->level_zstd);
    case TORUS_COMPRESSION_FLAG_LEVEL_BR:
        *why = "expected a level from 0 to 11";
        return parse_level(value, TORUS_BR_LEVEL_MIN, TORUS_BR_LEVEL_MAX, &c->level_br);
    case TORUS_COMPRESSION_FLAG_LEVEL_GZIP:
        *why = "expected a level from 1 to 9";
        return parse_level(value, TORUS_GZIP_LEVEL_MIN, TORUS_GZIP_LEVEL_MAX, &c->level_gzip);
    }
    *why = "unknown flag";
    return TORUS_ERROR;
}

int torus_compress_level(const struct torus_compression *c, enum torus_coding coding)
{
    switch (coding) {
    case TORUS_CODING_ZSTD:
        return c->level_zstd;
    case TORUS_CODING_BR:
        return c->level_br;
    default:
        return c->level_gzip;
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* The next entry of a comma-separated list, trimmed; false at the end. */
static bool next_entry(const char **cursor, const char **entry, size_t *entry_len)
{
    const char *p = *cursor;
    while (*p && (is_space(*p) || *p == ','))
        p++;
    if (!*p)
        return false;
    const char *start = p;
    while (*p && *p != ',')
        p++;
    const char *end = p;
    while (end > start && is_space(end[-1]))
        end--;
    *cursor = p;
    *entry = start;
    *entry_len = (size_t)(end - start);
    return true;
}

/* Case-insensitive match of `type` against `pattern` holding at most one '*'. */
static bool pattern_matches(const char *pattern, size_t pattern_len, const char *type,
                            size_t type_len)
{
    const char *star = memchr(pattern, '*', pattern_len);
    if (!star)
        return pattern_len == type_len && strncasecmp(pattern, type, type_len) == 0;
    size_t prefix = (size_t)(star - pattern);
    size_t suffix = pattern_len - prefix - 1;
    return type_len >= prefix + suffix && strncasecmp(pattern, type, prefix) == 0 &&
           strncasecmp(star + 1, type + type_len - suffix, suffix) == 0;
}

bool torus_compress_types_valid(const char *list)
{
    const char *cursor = list, *entry;
    size_t len;
    int count = 0;
    while (next_entry(&cursor, &entry, &len)) {
        const char *slash = memchr(entry, '/', len);
        const char *star = memchr(entry, '*', len);
        if (!slash || slash == entry || slash == entry + len - 1 ||
            (star && memchr(star + 1, '*', len - (size_t)(star + 1 - entry))))
            return false;
        for (size_t i = 0; i < len; i++) {
            if (is_space(entry[i]) || entry[i] == ';')
                return false;
        }
        count++;
    }
    return count > 0;
}

bool torus_compress_type_matches(const char *list, const char *content_type, size_t len)
{
    size_t type_len = 0;
    while (type_len < len && content_type[type_len] != ';')
        type_len++;
    while (type_len && is_space(content_type[type_len - 1]))
        type_len--;
    while (type_len && is_space(*content_type)) {
        content_type++;
        type_len--;
    }
    if (type_len == 0)
        return false;
    const char *cursor = list ? list : TORUS_COMPRESS_DEFAULT_TYPES, *entry;
    size_t entry_len;
    while (next_entry(&cursor, &entry, &entry_len)) {
        if (pattern_matches(entry, entry_len, content_type, type_len))
            return true;
    }
    return false;
}
