/*
 * What Torus compresses (net/compress_policy.c): the media-type patterns of
 * --compress-types, and the values each compression flag takes.
 */
#include "net/compress_policy.c"

#include <stdio.h>

#include "check.h"

static bool matches(const char *list, const char *type)
{
    return torus_compress_type_matches(list, type, strlen(type));
}

int main(void)
{
    /* The default list. */
    CHECK(matches(NULL, "text/html; charset=UTF-8"));
    CHECK(matches(NULL, "TEXT/CSS"));
    CHECK(matches(NULL, " application/json "));
    CHECK(matches(NULL, "application/ld+json"));
    CHECK(matches(NULL, "application/problem+json;charset=utf-8"));
    CHECK(matches(NULL, "application/javascript"));
    CHECK(matches(NULL, "application/atom+xml"));
    CHECK(matches(NULL, "image/svg+xml"));
    CHECK(!matches(NULL, "image/png"));
    CHECK(!matches(NULL, "application/octet-stream"));
    CHECK(!matches(NULL, "application/jsonx"));
    CHECK(!matches(NULL, "application/+json-not"));
    CHECK(!matches(NULL, ""));
    CHECK(!matches(NULL, "; charset=utf-8"));

    /* A list of one's own. */
    CHECK(matches("text/html, application/*", "application/wasm"));
    CHECK(!matches("text/html, application/*", "text/plain"));
    CHECK(matches("image/*", "image/png"));
    CHECK(!torus_compress_types_valid("*/*")); /* one star at most */

    CHECK(torus_compress_types_valid("text/*,application/json"));
    CHECK(torus_compress_types_valid(" text/html , "));
    CHECK(!torus_compress_types_valid(""));
    CHECK(!torus_compress_types_valid(" , "));
    CHECK(!torus_compress_types_valid("text"));
    CHECK(!torus_compress_types_valid("/html"));
    CHECK(!torus_compress_types_valid("text/"));
    CHECK(!torus_compress_types_valid("text/*+*"));
    CHECK(!torus_compress_types_valid("text/html; charset=utf-8"));

    /* Flags. */
    struct torus_compression c;
    torus_compression_defaults(&c);
    CHECK(c.enabled && c.precompressed && !c.compress_static && c.min_size == 1024);
    CHECK(torus_compress_level(&c, TORUS_CODING_ZSTD) == 3);
    CHECK(torus_compress_level(&c, TORUS_CODING_BR) == 3);
    CHECK(torus_compress_level(&c, TORUS_CODING_GZIP) == 5);
    const char *why = NULL;
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_ENABLED, "off", &why) == TORUS_OK);
    CHECK(!c.enabled);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_STATIC, "on", &why) == TORUS_OK);
    CHECK(c.compress_static);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_PRECOMPRESSED, "yes", &why) ==
          TORUS_ERROR);
    CHECK(why && strstr(why, "on or off"));
    CHECK(c.precompressed);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_MIN_SIZE, "4K", &why) == TORUS_OK);
    CHECK(c.min_size == 4096);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_MIN_SIZE, "-1", &why) == TORUS_ERROR);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_ZSTD, "19", &why) == TORUS_OK);
    CHECK(c.level_zstd == 19);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_ZSTD, "20", &why) == TORUS_ERROR);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_ZSTD, "0", &why) == TORUS_ERROR);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_BR, "0", &why) == TORUS_OK);
    CHECK(c.level_br == 0);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_BR, "3x", &why) == TORUS_ERROR);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_GZIP, "9", &why) == TORUS_OK);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_LEVEL_GZIP, "", &why) == TORUS_ERROR);
    CHECK(c.level_gzip == 9);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_TYPES, "text/html", &why) == TORUS_OK);
    CHECK(torus_compression_set(&c, TORUS_COMPRESSION_FLAG_TYPES, "html", &why) == TORUS_ERROR);
    CHECK(c.types && strcmp(c.types, "text/html") == 0);
    free(c.types);

    printf("test_compress_policy: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
