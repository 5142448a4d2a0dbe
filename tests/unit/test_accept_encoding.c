/*
 * Accept-Encoding negotiation (net/accept_encoding.c): weights, "*",
 * identity, refusals, and the odd inputs clients and proxies send.
 */
#include "net/accept_encoding.c"

#include <stdio.h>

#include "check.h"

static enum torus_coding pick(const char *value, unsigned available)
{
    return torus_accept_encoding_choose(value, value ? strlen(value) : 0, available);
}

#define ALL  TORUS_CODINGS_ALL
#define ZSTD TORUS_CODING_ZSTD
#define BR   TORUS_CODING_BR
#define GZIP TORUS_CODING_GZIP
#define NONE TORUS_CODING_IDENTITY

int main(void)
{
    /* No header, an empty one: identity. */
    CHECK(pick(NULL, ALL) == NONE);
    CHECK(pick("", ALL) == NONE);
    CHECK(pick(" , ,", ALL) == NONE);

    /* Browsers: equal weights, the server's preference decides. */
    CHECK(pick("gzip, deflate, br, zstd", ALL) == ZSTD);
    CHECK(pick("gzip, deflate, br", ALL) == BR);
    CHECK(pick("gzip, deflate", ALL) == GZIP);
    CHECK(pick("deflate", ALL) == NONE);
    /* Only what is available. */
    CHECK(pick("gzip, br, zstd", TORUS_CODING_BIT(GZIP)) == GZIP);
    CHECK(pick("zstd", TORUS_CODING_BIT(GZIP)) == NONE);
    CHECK(pick("gzip, br", 0) == NONE);

    /* Spaces, tabs and case. */
    CHECK(pick("  GZIP  ", ALL) == GZIP);
    CHECK(pick("Br;Q=1", ALL) == BR);
    CHECK(pick("gzip\t;\tq=0.5 ,\tbr ; q = 0.4", ALL) == GZIP);
    CHECK(pick("x-gzip", ALL) == GZIP);

    /* Weights. */
    CHECK(pick("gzip;q=1.0, br;q=0.9, zstd;q=0.8", ALL) == GZIP);
    CHECK(pick("gzip;q=0.001, br;q=0", ALL) == GZIP);
    CHECK(pick("zstd;q=1.000, br", ALL) == ZSTD);
    CHECK(pick("br;q=0.5, gzip;q=0.50", ALL) == BR); /* a tie: preference */

    /* q=0 refuses. */
    CHECK(pick("gzip;q=0", ALL) == NONE);
    CHECK(pick("zstd;q=0, br;q=0.0, gzip;q=0.000", ALL) == NONE);
    CHECK(pick("zstd;q=0, gzip", ALL) == GZIP);

    /* Invalid weights: the element is ignored. */
    CHECK(pick("gzip;q=2", ALL) == NONE);
    CHECK(pick("gzip;q=1.001", ALL) == NONE);
    CHECK(pick("gzip;q=0.0001", ALL) == NONE);
    CHECK(pick("gzip;q=abc", ALL) == NONE);
    CHECK(pick("gzip;q=", ALL) == NONE);
    CHECK(pick("gzip;q=-1", ALL) == NONE);
    CHECK(pick("zstd;q=.5, br", ALL) == BR);
    /* Other parameters are skipped. */
    CHECK(pick("gzip;level=9", ALL) == GZIP);

    /* Duplicates: the first weight stands. */
    CHECK(pick("gzip;q=0, gzip", ALL) == NONE);
    CHECK(pick("gzip, gzip;q=0", ALL) == GZIP);

    /* "*" covers what is not named. */
    CHECK(pick("*", ALL) == ZSTD);
    CHECK(pick("*;q=0", ALL) == NONE);
    CHECK(pick("gzip, *;q=0", ALL) == GZIP);
    CHECK(pick("zstd;q=0, *", ALL) == BR);
    CHECK(pick("*;q=0.5, gzip", ALL) == GZIP);

    /* Identity named with a higher weight wins; refused identity changes nothing. */
    CHECK(pick("gzip;q=0.5, identity", ALL) == NONE);
    CHECK(pick("gzip;q=0.5", ALL) == GZIP);
    CHECK(pick("identity;q=0, gzip", ALL) == GZIP);
    CHECK(pick("identity;q=0", ALL) == NONE);
    CHECK(pick("identity", ALL) == NONE);

    /* Garbage never crashes and says nothing. */
    CHECK(pick(";;;,,,;q=1", ALL) == NONE);
    CHECK(pick("gzip;", ALL) == GZIP);
    CHECK(pick("gzip;q", ALL) == GZIP);

    CHECK(strcmp(torus_coding_name(BR), "br") == 0);
    CHECK(strcmp(torus_coding_suffix(ZSTD), ".zst") == 0);
    CHECK(strcmp(torus_coding_suffix(GZIP), ".gz") == 0);

    printf("test_accept_encoding: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
