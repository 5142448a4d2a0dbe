/*
 * X-Sendfile and X-Accel-Redirect rules (see net/sendfile_rules.h).
 */
#include "net/sendfile_rules.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "net/route.h"
#include "runtime/response_head.h"

static bool name_is(torus_str name, const char *want)
{
    return name.len == strlen(want) && strncasecmp(name.data, want, name.len) == 0;
}

/* The lines the file's own head gives (or that no longer describe the body). */
static bool replaced(torus_str name)
{
    static const char *const names[] = {
        "X-Sendfile",    "X-Accel-Redirect",  "Content-Type", "Content-Length",
        "Content-Range", "Content-Encoding",  "ETag",         "Last-Modified",
        "Accept-Ranges", "Transfer-Encoding",
    };
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(names); i++) {
        if (name_is(name, names[i]))
            return true;
    }
    return false;
}

enum torus_sendfile_kind torus_sendfile_detect(const char *lines, size_t lines_len,
                                               torus_str *value, char *kept, size_t *kept_len)
{
    enum torus_sendfile_kind kind = TORUS_SENDFILE_NONE;
    const char *cursor = lines, *end = lines + lines_len;
    torus_str name, v;
    while (kind == TORUS_SENDFILE_NONE &&
           torus_response_head_next(&cursor, end, &name, &v) == TORUS_OK) {
        if (name_is(name, "X-Sendfile"))
            kind = TORUS_SENDFILE_PATH;
        else if (name_is(name, "X-Accel-Redirect"))
            kind = TORUS_SENDFILE_URI;
        if (kind != TORUS_SENDFILE_NONE)
            *value = v;
    }
    if (kind == TORUS_SENDFILE_NONE || !kept)
        return kind;
    *kept_len = 0;
    cursor = lines;
    while (torus_response_head_next(&cursor, end, &name, &v) == TORUS_OK) {
        if (replaced(name))
            continue;
        /* The line as it was: from its name to its CRLF. */
        size_t n = (size_t)(v.data + v.len + 2 - name.data);
        memcpy(kept + *kept_len, name.data, n);
        *kept_len += n;
    }
    return kind;
}

/* Whether a path holds a "." or ".." segment. */
static bool has_dot_segment(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != '.' || (i > 0 && p[i - 1] != '/'))
            continue;
        size_t j = i + 1;
        if (j < len && p[j] == '.')
            j++;
        if (j == len || p[j] == '/')
            return true;
    }
    return false;
}

int torus_sendfile_map(enum torus_sendfile_kind kind, torus_str value, const char *document_root,
                       const struct torus_sendfile_root *roots, int count, char *out,
                       size_t out_size)
{
    if (kind == TORUS_SENDFILE_PATH) {
        if (value.len == 0 || value.data[0] != '/' || value.len >= out_size ||
            memchr(value.data, '\0', value.len) || has_dot_segment(value.data, value.len))
            return TORUS_ERROR;
        memcpy(out, value.data, value.len);
        out[value.len] = '\0';
        return TORUS_OK;
    }
    if (kind != TORUS_SENDFILE_URI)
        return TORUS_ERROR;
    char path[PATH_MAX];
    size_t path_len;
    const char *query;
    size_t query_len;
    if (torus_path_normalize(value.data, value.len, path, sizeof(path), &path_len, &query,
                             &query_len) != TORUS_OK)
        return TORUS_ERROR;
    for (int i = 0; i < count; i++) {
        const char *prefix = roots[i].prefix;
        size_t n = prefix ? strlen(prefix) : 0;
        if (!prefix || path_len < n || memcmp(path, prefix, n) != 0)
            continue;
        int w = snprintf(out, out_size, "%s/%s", roots[i].dir, path + n);
        return w > 0 && (size_t)w < out_size ? TORUS_OK : TORUS_ERROR;
    }
    int w = snprintf(out, out_size, "%s%s", document_root, path);
    return w > 0 && (size_t)w < out_size ? TORUS_OK : TORUS_ERROR;
}

bool torus_sendfile_allowed(const char *resolved, const struct torus_sendfile_root *roots,
                            int count)
{
    for (int i = 0; i < count; i++) {
        size_t n = strlen(roots[i].dir);
        while (n > 1 && roots[i].dir[n - 1] == '/')
            n--;
        if (strncmp(resolved, roots[i].dir, n) == 0 &&
            (resolved[n] == '/' || resolved[n] == '\0' || n == 1))
            return true;
    }
    return false;
}

int torus_sendfile_root_parse(const char *text, struct torus_sendfile_root *out, char *why,
                              size_t why_size)
{
    memset(out, 0, sizeof(*out));
    const char *eq = text[0] == '/' ? strchr(text, '=') : NULL;
    const char *dir = eq ? eq + 1 : text;
    if (eq) {
        size_t n = (size_t)(eq - text);
        bool slash = n > 0 && text[n - 1] == '/';
        out->prefix = malloc(n + 2);
        if (!out->prefix) {
            snprintf(why, why_size, "out of memory");
            return TORUS_ERROR;
        }
        memcpy(out->prefix, text, n);
        if (!slash)
            out->prefix[n++] = '/';
        out->prefix[n] = '\0';
    }
    struct stat st;
    out->dir = realpath(dir, NULL);
    if (!out->dir || stat(out->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "%s", out->dir ? "not a directory" : strerror(errno));
        free(out->prefix);
        free(out->dir);
        memset(out, 0, sizeof(*out));
        return TORUS_ERROR;
    }
    return TORUS_OK;
}
