/* Token lists in header values (net/header_value.c). */
#include "net/header_value.c"

#include <stdio.h>

#include "check.h"

static bool has(const char *value, const char *token)
{
    return torus_http_has_token(value, strlen(value), token);
}

int main(void)
{
    CHECK(has("close", "close"));
    CHECK(has("keep-alive, close", "close"));
    CHECK(has("Keep-Alive,CLOSE", "close"));
    CHECK(has("  close\t ,", "close"));
    CHECK(has("Accept-Encoding, Origin", "accept-encoding"));
    CHECK(has("no-cache, no-transform", "no-transform"));
    CHECK(!has("", "close"));
    CHECK(!has(",,, ,", "close"));
    CHECK(!has("closed", "close"));
    CHECK(!has("enclose", "close"));
    CHECK(!has("no-transformation", "no-transform"));
    CHECK(!has("max-age=0", "max-age"));
    /* Only the given length is read. */
    CHECK(!torus_http_has_token("close", 4, "close"));
    CHECK(torus_http_has_token("close, x", 5, "close"));
    printf("test_header_value: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
