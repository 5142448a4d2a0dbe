/*
 * A small JSON writer into a growing buffer, for /status.json.
 *
 * The writer places the commas and colons itself: a caller opens objects and
 * arrays, names keys and writes values in document order. Whatever bytes a
 * string holds, the output is valid JSON in valid UTF-8: quotes, backslashes
 * and control characters are escaped, well-formed UTF-8 is copied as it is,
 * and every byte that is not part of a well-formed sequence becomes U+FFFD.
 * Numbers never depend on the locale (no printf("%f")), and a number JSON
 * cannot hold (NaN, infinity) is written as null.
 *
 * Out of memory, the writer stops growing and remembers it (failed); the
 * caller checks once at the end.
 */
#ifndef TORUS_JSON_WRITER_H
#define TORUS_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deeper nesting than this is refused (failed is set). */
#define TORUS_JSON_MAX_DEPTH 32

struct torus_json_writer {
    char *data; /* NUL-terminated while not failed */
    size_t len, cap;
    bool failed; /* out of memory, or the calls did not nest */
    int depth;
    bool has_items[TORUS_JSON_MAX_DEPTH]; /* per open container: a comma before the next item */
    bool after_key;                       /* a key was written: its value comes without a comma */
};

/* Starts an empty document. */
void torus_json_init(struct torus_json_writer *w);

/* Frees the buffer. */
void torus_json_free(struct torus_json_writer *w);

/* Opens an object ({) as the next value. */
void torus_json_object_begin(struct torus_json_writer *w);

/* Closes the innermost object (}). */
void torus_json_object_end(struct torus_json_writer *w);

/* Opens an array ([) as the next value. */
void torus_json_array_begin(struct torus_json_writer *w);

/* Closes the innermost array (]). */
void torus_json_array_end(struct torus_json_writer *w);

/* Writes a key of the innermost object (a NUL-terminated string, escaped as any string). */
void torus_json_key(struct torus_json_writer *w, const char *key);

/* Writes a string value of len bytes (any bytes: see the top of this file). */
void torus_json_string(struct torus_json_writer *w, const char *s, size_t len);

/* Writes a NUL-terminated string value. */
void torus_json_cstring(struct torus_json_writer *w, const char *s);

/* Writes an unsigned integer value. */
void torus_json_uint(struct torus_json_writer *w, uint64_t value);

/* Writes a signed integer value. */
void torus_json_int(struct torus_json_writer *w, int64_t value);

/*
 * Writes a number with up to `decimals` (at most 9) digits after the point,
 * trailing zeros dropped: 2.5, 0.0005, 12. NaN, infinities and magnitudes
 * of 1e18 and beyond are written as null.
 */
void torus_json_double(struct torus_json_writer *w, double value, int decimals);

/* Writes true or false. */
void torus_json_bool(struct torus_json_writer *w, bool value);

/* Writes null. */
void torus_json_null(struct torus_json_writer *w);

/* torus_json_key() then torus_json_uint(). */
void torus_json_key_uint(struct torus_json_writer *w, const char *key, uint64_t value);

/* torus_json_key() then torus_json_int(). */
void torus_json_key_int(struct torus_json_writer *w, const char *key, int64_t value);

/* torus_json_key() then torus_json_double(). */
void torus_json_key_double(struct torus_json_writer *w, const char *key, double value,
                           int decimals);

/* torus_json_key() then torus_json_bool(). */
void torus_json_key_bool(struct torus_json_writer *w, const char *key, bool value);

/* torus_json_key() then torus_json_cstring(). */
void torus_json_key_cstring(struct torus_json_writer *w, const char *key, const char *value);

#endif
