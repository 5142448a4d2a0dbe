/*
 * What Torus compresses and how hard: the media types worth compressing
 * (--compress-types) and each coding's level (--compress-level-*).
 *
 * A type list is comma-separated; each entry is a media type, compared
 * without regard to case with the Content-Type before its parameters, and
 * may hold one '*' standing for any run of characters ("text/" followed by
 * a star matches every text type). The default list is TORUS_COMPRESS_DEFAULT_TYPES.
 */
#ifndef TORUS_COMPRESS_POLICY_H
#define TORUS_COMPRESS_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "net/accept_encoding.h"
#include "runtime/config.h"

#define TORUS_COMPRESS_DEFAULT_TYPES                                                               \
    "text/*,application/json,application/*+json,application/javascript,application/xml,"           \
    "application/*+xml,image/svg+xml"

/* Default levels, chosen by measurement (docs/PERFORMANCE.md, "Compression"). */
#define TORUS_COMPRESS_DEFAULT_LEVEL_ZSTD 3
#define TORUS_COMPRESS_DEFAULT_LEVEL_BR   3
#define TORUS_COMPRESS_DEFAULT_LEVEL_GZIP 5
#define TORUS_COMPRESS_DEFAULT_MIN_SIZE   1024

/* The command-line flags of compression (runtime/config.c keeps its ids in this order). */
enum torus_compression_flag {
    TORUS_COMPRESSION_FLAG_ENABLED,       /* --compress on|off */
    TORUS_COMPRESSION_FLAG_PRECOMPRESSED, /* --precompressed on|off */
    TORUS_COMPRESSION_FLAG_STATIC,        /* --compress-static on|off */
    TORUS_COMPRESSION_FLAG_TYPES,         /* --compress-types LIST */
    TORUS_COMPRESSION_FLAG_MIN_SIZE,      /* --compress-min-size SIZE */
    TORUS_COMPRESSION_FLAG_LEVEL_ZSTD,    /* --compress-level-zstd N */
    TORUS_COMPRESSION_FLAG_LEVEL_BR,      /* --compress-level-br N */
    TORUS_COMPRESSION_FLAG_LEVEL_GZIP,    /* --compress-level-gzip N */
};

/*
 * Sets one flag's value: TORUS_OK, or TORUS_ERROR with *why saying what
 * was expected ("expected on or off").
 */
int torus_compression_set(struct torus_compression *compression, enum torus_compression_flag flag,
                          const char *value, const char **why);

/* Fills the compression settings with their defaults (everything on but --compress-static). */
void torus_compression_defaults(struct torus_compression *compression);

/* True when `list` is a valid --compress-types value (non-empty entries "type/subtype"). */
bool torus_compress_types_valid(const char *list);

/*
 * True when a response of Content-Type `content_type` (len bytes, parameters
 * allowed) is worth compressing by `list` (NULL: the default list).
 */
bool torus_compress_type_matches(const char *list, const char *content_type, size_t len);

/* The level to encode `coding` at. */
int torus_compress_level(const struct torus_compression *compression, enum torus_coding coding);

#endif
