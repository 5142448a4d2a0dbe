/*
 * A small JSON reader for `torus status`, which reads the admin listener's
 * /status.json: the whole text becomes a tree of values (RFC 8259, nothing
 * lenient), and accessors that never fail let the caller walk it without a
 * check at every step (a missing member reads as a null value).
 */
#ifndef TORUS_JSON_READER_H
#define TORUS_JSON_READER_H

#include <stdbool.h>
#include <stddef.h>

/* Arrays and objects nested deeper than this are refused. */
#define TORUS_JSON_READ_MAX_DEPTH 64

enum torus_json_type {
    TORUS_JSON_NULL,
    TORUS_JSON_BOOL,
    TORUS_JSON_NUMBER,
    TORUS_JSON_STRING,
    TORUS_JSON_ARRAY,
    TORUS_JSON_OBJECT,
};

struct torus_json_value {
    enum torus_json_type type;
    bool boolean;
    double number;
    char *string; /* strings: UTF-8, NUL-terminated (an escaped \u0000 ends it early) */
    size_t string_len;
    struct torus_json_value *items; /* arrays and objects: count values */
    char **keys;                    /* objects: the key of each item */
    size_t count;
};

/*
 * Parses len bytes of JSON text into a tree (free it with
 * torus_json_value_free()). NULL when the text is not one valid JSON value,
 * with the reason and its byte offset in err.
 */
struct torus_json_value *torus_json_parse(const char *text, size_t len, char *err, size_t err_size);

/* Frees a tree torus_json_parse() returned (NULL is fine). */
void torus_json_value_free(struct torus_json_value *value);

/*
 * The member `key` of an object; a null value (never NULL) when value is not
 * an object or has no such member. The last one wins when a key repeats.
 */
const struct torus_json_value *torus_json_member(const struct torus_json_value *value,
                                                 const char *key);

/* Item i of an array; a null value (never NULL) past its end or when value is no array. */
const struct torus_json_value *torus_json_item(const struct torus_json_value *value, size_t i);

/* How many items an array has; 0 for anything else. */
size_t torus_json_length(const struct torus_json_value *value);

/* The number, or fallback when value is not a number. */
double torus_json_get_number(const struct torus_json_value *value, double fallback);

/* The string, or fallback when value is not a string. */
const char *torus_json_get_string(const struct torus_json_value *value, const char *fallback);

/* The boolean, or fallback when value is not true or false. */
bool torus_json_get_bool(const struct torus_json_value *value, bool fallback);

#endif
