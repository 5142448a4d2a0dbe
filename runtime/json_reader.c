/*
 * The JSON reader of `torus status` (see json_reader.h).
 *
 * Recursive descent over the text, one function per grammar rule of RFC
 * 8259, depth bounded by TORUS_JSON_READ_MAX_DEPTH so a hostile answer
 * cannot exhaust the stack. A value is built whole before it is appended to
 * its parent's item array (which grows by doubling), so a failure at any
 * point frees exactly what was built. Strings: escapes decoded, \u pairs
 * joined into one code point, a lone surrogate read as U+FFFD, raw control
 * characters refused. Numbers: the grammar is checked here, then strtod()
 * converts the checked text (this program never sets a locale).
 */
#include "runtime/json_reader.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/common.h"

struct reader {
    const char *text;
    size_t len, pos;
    char *err;
    size_t err_size;
    bool failed;
};

static const struct torus_json_value null_value = {.type = TORUS_JSON_NULL};

static bool fail(struct reader *r, const char *what)
{
    if (!r->failed)
        snprintf(r->err, r->err_size, "%s at byte %zu", what, r->pos);
    r->failed = true;
    return false;
}

static void skip_space(struct reader *r)
{
    while (r->pos < r->len && (r->text[r->pos] == ' ' || r->text[r->pos] == '\t' ||
                               r->text[r->pos] == '\n' || r->text[r->pos] == '\r'))
        r->pos++;
}

static bool literal(struct reader *r, const char *word)
{
    size_t n = strlen(word);
    if (r->len - r->pos < n || memcmp(r->text + r->pos, word, n) != 0)
        return fail(r, "unexpected character");
    r->pos += n;
    return true;
}

static void value_free_members(struct torus_json_value *v)
{
    free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        value_free_members(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

/* Appends code point cp as UTF-8. */
static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Four hex digits at the current position; -1 when they are not. */
static int32_t hex4(struct reader *r)
{
    if (r->len - r->pos < 4)
        return -1;
    int32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = r->text[r->pos + (size_t)i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    r->pos += 4;
    return v;
}

/* A string at the opening quote; *out gets a NUL-terminated copy (decoded UTF-8). */
static bool parse_string(struct reader *r, char **out, size_t *out_len)
{
    r->pos++; /* the quote */
    /* Decoded text is never longer than the escaped text. */
    size_t end = r->pos;
    while (end < r->len && r->text[end] != '"')
        end += r->text[end] == '\\' ? 2 : 1;
    char *s = malloc(TORUS_MIN(end, r->len) - r->pos + 1);
    if (!s)
        return fail(r, "out of memory");
    size_t n = 0;
    for (;;) {
        if (r->pos >= r->len) {
            free(s);
            return fail(r, "unterminated string");
        }
        unsigned char c = (unsigned char)r->text[r->pos];
        if (c == '"') {
            r->pos++;
            break;
        }
        if (c < 0x20) {
            free(s);
            return fail(r, "control character in a string");
        }
        if (c != '\\') {
            s[n++] = (char)c;
            r->pos++;
            continue;
        }
        if (++r->pos >= r->len) {
            free(s);
            return fail(r, "unterminated string");
        }
        char e = r->text[r->pos++];
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(from, e) : NULL;
        if (hit) {
            s[n++] = to[hit - from];
            continue;
        }
        if (e != 'u') {
            free(s);
            return fail(r, "bad escape in a string");
        }
        int32_t cp = hex4(r);
        if (cp < 0) {
            free(s);
            return fail(r, "bad \\u escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF && r->len - r->pos >= 6 && r->text[r->pos] == '\\' &&
            r->text[r->pos + 1] == 'u') {
            size_t mark = r->pos;
            r->pos += 2;
            int32_t low = hex4(r);
            if (low >= 0xDC00 && low <= 0xDFFF)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            else
                r->pos = mark; /* not a pair: the next escape is read on its own */
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD; /* a lone surrogate */
        /* "\uXXXX" is 6 bytes of input; its UTF-8 takes at most 4 (a pair: 12 for 4). */
        n += put_utf8(s + n, (uint32_t)cp);
    }
    s[n] = '\0';
    *out = s;
    *out_len = n;
    return true;
}

static bool parse_number(struct reader *r, struct torus_json_value *v)
{
    size_t start = r->pos, p = r->pos;
    const char *t = r->text;
#define DIGIT(i) ((i) < r->len && t[i] >= '0' && t[i] <= '9')
    if (p < r->len && t[p] == '-')
        p++;
    if (p < r->len && t[p] == '0') {
        p++;
    } else if (DIGIT(p)) {
        while (DIGIT(p))
            p++;
    } else {
        return fail(r, "bad number");
    }
    if (p < r->len && t[p] == '.') {
        p++;
        if (!DIGIT(p))
            return fail(r, "bad number");
        while (DIGIT(p))
            p++;
    }
    if (p < r->len && (t[p] == 'e' || t[p] == 'E')) {
        p++;
        if (p < r->len && (t[p] == '+' || t[p] == '-'))
            p++;
        if (!DIGIT(p))
            return fail(r, "bad number");
        while (DIGIT(p))
            p++;
    }
#undef DIGIT
    char buf[64];
    if (p - start >= sizeof(buf))
        return fail(r, "number too long");
    memcpy(buf, t + start, p - start);
    buf[p - start] = '\0';
    v->type = TORUS_JSON_NUMBER;
    v->number = strtod(buf, NULL);
    r->pos = p;
    return true;
}

static bool parse_value(struct reader *r, struct torus_json_value *v, int depth);

/* Appends item (moved in) to container v, with key (moved in) for an object. */
static bool append(struct reader *r, struct torus_json_value *v, size_t *cap,
                   struct torus_json_value *item, char *key)
{
    if (v->count == *cap) {
        size_t grown = *cap ? *cap * 2 : 8;
        struct torus_json_value *items = realloc(v->items, grown * sizeof(*items));
        if (items)
            v->items = items;
        char **keys = v->type == TORUS_JSON_OBJECT ? realloc(v->keys, grown * sizeof(*keys)) : NULL;
        if (keys)
            v->keys = keys;
        if (!items || (v->type == TORUS_JSON_OBJECT && !keys)) {
            value_free_members(item);
            free(key);
            return fail(r, "out of memory");
        }
        *cap = grown;
    }
    v->items[v->count] = *item;
    if (v->type == TORUS_JSON_OBJECT)
        v->keys[v->count] = key;
    v->count++;
    return true;
}

/* An array or an object, at its opening bracket. */
static bool parse_container(struct reader *r, struct torus_json_value *v, int depth)
{
    bool object = r->text[r->pos] == '{';
    char close = object ? '}' : ']';
    v->type = object ? TORUS_JSON_OBJECT : TORUS_JSON_ARRAY;
    if (depth >= TORUS_JSON_READ_MAX_DEPTH)
        return fail(r, "nested too deep");
    r->pos++;
    size_t cap = 0;
    skip_space(r);
    if (r->pos < r->len && r->text[r->pos] == close) {
        r->pos++;
        return true;
    }
    for (;;) {
        char *key = NULL;
        size_t key_len;
        skip_space(r);
        if (object) {
            if (r->pos >= r->len || r->text[r->pos] != '"')
                return fail(r, "expected a key");
            if (!parse_string(r, &key, &key_len))
                return false;
            skip_space(r);
            if (r->pos >= r->len || r->text[r->pos] != ':') {
                free(key);
                return fail(r, "expected ':'");
            }
            r->pos++;
        }
        struct torus_json_value item = {.type = TORUS_JSON_NULL};
        if (!parse_value(r, &item, depth + 1)) {
            value_free_members(&item);
            free(key);
            return false;
        }
        if (!append(r, v, &cap, &item, key))
            return false;
        skip_space(r);
        if (r->pos < r->len && r->text[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->text[r->pos] == close) {
            r->pos++;
            return true;
        }
        return fail(r, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool parse_value(struct reader *r, struct torus_json_value *v, int depth)
{
    skip_space(r);
    if (r->pos >= r->len)
        return fail(r, "unexpected end");
    switch (r->text[r->pos]) {
    case '{':
    case '[':
        return parse_container(r, v, depth);
    case '"':
        v->type = TORUS_JSON_STRING;
        return parse_string(r, &v->string, &v->string_len);
    case 't':
        v->type = TORUS_JSON_BOOL;
        v->boolean = true;
        return literal(r, "true");
    case 'f':
        v->type = TORUS_JSON_BOOL;
        return literal(r, "false");
    case 'n':
        return literal(r, "null");
    default:
        return parse_number(r, v);
    }
}

struct torus_json_value *torus_json_parse(const char *text, size_t len, char *err, size_t err_size)
{
    struct reader r = {.text = text, .len = len, .err = err, .err_size = err_size};
    struct torus_json_value *v = calloc(1, sizeof(*v));
    if (!v) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    if (parse_value(&r, v, 0)) {
        skip_space(&r);
        if (r.pos == r.len)
            return v;
        fail(&r, "text after the value");
    }
    torus_json_value_free(v);
    return NULL;
}

void torus_json_value_free(struct torus_json_value *value)
{
    if (!value)
        return;
    value_free_members(value);
    free(value);
}

const struct torus_json_value *torus_json_member(const struct torus_json_value *value,
                                                 const char *key)
{
    if (!value || value->type != TORUS_JSON_OBJECT)
        return &null_value;
    for (size_t i = value->count; i-- > 0;) {
        if (strcmp(value->keys[i], key) == 0)
            return &value->items[i];
    }
    return &null_value;
}

const struct torus_json_value *torus_json_item(const struct torus_json_value *value, size_t i)
{
    if (!value || value->type != TORUS_JSON_ARRAY || i >= value->count)
        return &null_value;
    return &value->items[i];
}

size_t torus_json_length(const struct torus_json_value *value)
{
    return value && value->type == TORUS_JSON_ARRAY ? value->count : 0;
}

double torus_json_get_number(const struct torus_json_value *value, double fallback)
{
    return value && value->type == TORUS_JSON_NUMBER ? value->number : fallback;
}

const char *torus_json_get_string(const struct torus_json_value *value, const char *fallback)
{
    return value && value->type == TORUS_JSON_STRING ? value->string : fallback;
}

bool torus_json_get_bool(const struct torus_json_value *value, bool fallback)
{
    return value && value->type == TORUS_JSON_BOOL ? value->boolean : fallback;
}
