/*
 * The JSON writer of /status.json (see json_writer.h for what it promises).
 *
 * Strings: each byte below 0x20, '"' and '\\' is escaped (\n, \t, ... or
 * \u00XX), DEL as \u007f; a byte of 0x80 and above starts a sequence that is
 * copied only when it is well-formed UTF-8 as RFC 3629 defines it (no
 * overlong forms, no surrogates, nothing past U+10FFFF); any other byte is
 * written as \ufffd and the next byte is looked at afresh. The output is thus
 * ASCII plus well-formed UTF-8, whatever went in.
 *
 * Numbers: integers with the digits computed here; fractions split into an
 * integer part and a scaled, rounded fraction, so the decimal point is a '.'
 * in every locale.
 */
#include "net/json_writer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/common.h"

void torus_json_init(struct torus_json_writer *w)
{
    memset(w, 0, sizeof(*w));
    w->cap = 4096;
    w->data = malloc(w->cap);
    if (!w->data) {
        w->failed = true;
        w->cap = 0;
        return;
    }
    w->data[0] = '\0';
}

void torus_json_free(struct torus_json_writer *w)
{
    free(w->data);
    w->data = NULL;
    w->len = w->cap = 0;
}

/* Room for n more bytes and the NUL; false (and failed) when memory runs out. */
static bool reserve(struct torus_json_writer *w, size_t n)
{
    if (slow_path(w->failed))
        return false;
    if (w->len + n + 1 <= w->cap)
        return true;
    size_t cap = w->cap * 2;
    while (cap < w->len + n + 1)
        cap *= 2;
    char *grown = realloc(w->data, cap);
    if (slow_path(!grown)) {
        w->failed = true;
        return false;
    }
    w->data = grown;
    w->cap = cap;
    return true;
}

static void put(struct torus_json_writer *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->data + w->len, s, n);
    w->len += n;
    w->data[w->len] = '\0';
}

static void put_char(struct torus_json_writer *w, char c)
{
    put(w, &c, 1);
}

/* Before any value: the comma that separates it from the previous item, if any. */
static void before_value(struct torus_json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->has_items[w->depth - 1])
            put_char(w, ',');
        w->has_items[w->depth - 1] = true;
    }
}

static void open_container(struct torus_json_writer *w, char c)
{
    before_value(w);
    if (slow_path(w->depth >= TORUS_JSON_MAX_DEPTH)) {
        w->failed = true;
        return;
    }
    put_char(w, c);
    w->has_items[w->depth++] = false;
}

static void close_container(struct torus_json_writer *w, char c)
{
    if (slow_path(w->depth == 0 || w->after_key)) {
        w->failed = true;
        return;
    }
    w->depth--;
    put_char(w, c);
}

void torus_json_object_begin(struct torus_json_writer *w)
{
    open_container(w, '{');
}

void torus_json_object_end(struct torus_json_writer *w)
{
    close_container(w, '}');
}

void torus_json_array_begin(struct torus_json_writer *w)
{
    open_container(w, '[');
}

void torus_json_array_end(struct torus_json_writer *w)
{
    close_container(w, ']');
}

/* Length of the well-formed UTF-8 sequence at s (n bytes available), 0 when there is none. */
static size_t utf8_sequence(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* the range of the second byte */
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (b == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return len;
}

static void put_escaped(struct torus_json_writer *w, const char *text, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)text;
    put_char(w, '"');
    size_t i = 0;
    while (i < len) {
        /* The longest run that needs nothing, copied at once. */
        size_t run = i;
        while (run < len && s[run] >= 0x20 && s[run] < 0x7F && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            put(w, text + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t seq = utf8_sequence(s + i, len - i);
            if (seq) {
                put(w, text + i, seq);
                i += seq;
            } else {
                put(w, "\\ufffd", 6);
                i++;
            }
            continue;
        }
        char esc[6] = {'\\', 0};
        size_t esc_len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            esc_len = 6;
            break;
        }
        put(w, esc, esc_len);
        i++;
    }
    put_char(w, '"');
}

void torus_json_key(struct torus_json_writer *w, const char *key)
{
    if (slow_path(w->depth == 0 || w->after_key)) {
        w->failed = true;
        return;
    }
    before_value(w);
    put_escaped(w, key, strlen(key));
    put_char(w, ':');
    w->after_key = true;
}

void torus_json_string(struct torus_json_writer *w, const char *s, size_t len)
{
    before_value(w);
    put_escaped(w, s ? s : "", s ? len : 0);
}

void torus_json_cstring(struct torus_json_writer *w, const char *s)
{
    torus_json_string(w, s, s ? strlen(s) : 0);
}

/* The decimal digits of v, without a sign; returns how many (at most 20) went into out. */
static size_t format_uint(uint64_t v, char *out)
{
    char rev[20];
    size_t n = 0;
    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = rev[n - 1 - i];
    return n;
}

void torus_json_uint(struct torus_json_writer *w, uint64_t value)
{
    before_value(w);
    char digits[20];
    put(w, digits, format_uint(value, digits));
}

void torus_json_int(struct torus_json_writer *w, int64_t value)
{
    before_value(w);
    char digits[21];
    size_t n = 0;
    uint64_t magnitude = (uint64_t)value;
    if (value < 0) {
        digits[n++] = '-';
        magnitude = 0 - magnitude; /* well-defined for INT64_MIN too */
    }
    n += format_uint(magnitude, digits + n);
    put(w, digits, n);
}

void torus_json_double(struct torus_json_writer *w, double value, int decimals)
{
    if (!isfinite(value) || fabs(value) >= 1e18) {
        torus_json_null(w);
        return;
    }
    before_value(w);
    decimals = TORUS_MAX(0, TORUS_MIN(decimals, 9));
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    double magnitude = fabs(value);
    uint64_t whole = (uint64_t)magnitude;
    uint64_t fraction = (uint64_t)llround((magnitude - (double)whole) * (double)scale);
    if (fraction >= scale) { /* 0.9999996 rounds up to the next whole number */
        whole++;
        fraction -= scale;
    }
    char out[48];
    size_t n = 0;
    if (value < 0 && (whole || fraction))
        out[n++] = '-';
    n += format_uint(whole, out + n);
    if (fraction) {
        char digits[9];
        for (int i = decimals - 1; i >= 0; i--) {
            digits[i] = (char)('0' + fraction % 10);
            fraction /= 10;
        }
        int used = decimals;
        while (used > 0 && digits[used - 1] == '0')
            used--;
        out[n++] = '.';
        memcpy(out + n, digits, (size_t)used);
        n += (size_t)used;
    }
    put(w, out, n);
}

void torus_json_bool(struct torus_json_writer *w, bool value)
{
    before_value(w);
    put(w, value ? "true" : "false", value ? 4 : 5);
}

void torus_json_null(struct torus_json_writer *w)
{
    before_value(w);
    put(w, "null", 4);
}

void torus_json_key_uint(struct torus_json_writer *w, const char *key, uint64_t value)
{
    torus_json_key(w, key);
    torus_json_uint(w, value);
}

void torus_json_key_int(struct torus_json_writer *w, const char *key, int64_t value)
{
    torus_json_key(w, key);
    torus_json_int(w, value);
}

void torus_json_key_double(struct torus_json_writer *w, const char *key, double value, int decimals)
{
    torus_json_key(w, key);
    torus_json_double(w, value, decimals);
}

void torus_json_key_bool(struct torus_json_writer *w, const char *key, bool value)
{
    torus_json_key(w, key);
    torus_json_bool(w, value);
}

void torus_json_key_cstring(struct torus_json_writer *w, const char *key, const char *value)
{
    torus_json_key(w, key);
    torus_json_cstring(w, value);
}
