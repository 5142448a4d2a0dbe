/*
 * net/sendfile_rules.c: finding X-Sendfile / X-Accel-Redirect among a
 * response head's lines and the lines kept, mapping a value to a path
 * (absolute paths only, no ".." segment; URIs normalised, under a prefix or
 * the document root), the allowed-directory check on resolved paths, and
 * parsing --sendfile-root values.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sendfile_rules.h"
#include "tests/unit/check.h"

#define LINES(s) (s), sizeof(s) - 1

static void test_detect(void)
{
    char kept[512];
    size_t kept_len = 0;
    torus_str value;
    const char lines[] = "Content-Type: text/html; charset=UTF-8\r\n"
                         "Content-Disposition: attachment; filename=\"a.pdf\"\r\n"
                         "x-sendfile: /srv/files/a.pdf\r\n"
                         "Content-Length: 12\r\n"
                         "Set-Cookie: a=b\r\n"
                         "ETag: \"x\"\r\n";
    CHECK(torus_sendfile_detect(LINES(lines), &value, kept, &kept_len) == TORUS_SENDFILE_PATH);
    CHECK(value.len == 16 && memcmp(value.data, "/srv/files/a.pdf", 16) == 0);
    const char want[] =
        "Content-Disposition: attachment; filename=\"a.pdf\"\r\nSet-Cookie: a=b\r\n";
    CHECK(kept_len == sizeof(want) - 1 && memcmp(kept, want, kept_len) == 0);

    const char accel[] = "X-Accel-Redirect: /protected/b.zip\r\nCache-Control: no-store\r\n";
    CHECK(torus_sendfile_detect(LINES(accel), &value, NULL, NULL) == TORUS_SENDFILE_URI);
    CHECK(value.len == 16 && memcmp(value.data, "/protected/b.zip", 16) == 0);

    const char none[] = "Content-Type: text/html\r\nX-Sendfile-Not: x\r\n";
    CHECK(torus_sendfile_detect(LINES(none), &value, kept, &kept_len) == TORUS_SENDFILE_NONE);
    CHECK(torus_sendfile_detect("", 0, &value, kept, &kept_len) == TORUS_SENDFILE_NONE);
}

static void test_map(void)
{
    struct torus_sendfile_root roots[2] = {{NULL, "/srv/files"}, {"/protected/", "/data/private"}};
    char out[PATH_MAX];
#define MAP(kind, text)                                                                            \
    torus_sendfile_map(kind, (torus_str){text, strlen(text)}, "/srv/www", roots, 2, out,           \
                       sizeof(out))
    CHECK(MAP(TORUS_SENDFILE_PATH, "/srv/files/a.pdf") == TORUS_OK &&
          strcmp(out, "/srv/files/a.pdf") == 0);
    CHECK(MAP(TORUS_SENDFILE_PATH, "relative.pdf") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_PATH, "/srv/files/../etc/passwd") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_PATH, "/srv/files/..") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_PATH, "/srv/files/./a") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_PATH, "/srv/files/..a/b") == TORUS_OK); /* a name, not a segment */
    CHECK(MAP(TORUS_SENDFILE_PATH, "") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_URI, "/protected/b%20c.zip") == TORUS_OK &&
          strcmp(out, "/data/private/b c.zip") == 0);
    CHECK(MAP(TORUS_SENDFILE_URI, "/media/x.mp4") == TORUS_OK &&
          strcmp(out, "/srv/www/media/x.mp4") == 0);
    CHECK(MAP(TORUS_SENDFILE_URI, "/protected/../../etc/passwd") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_URI, "/a/%00b") == TORUS_ERROR);
    CHECK(MAP(TORUS_SENDFILE_URI, "no-slash") == TORUS_ERROR);
#undef MAP

    CHECK(torus_sendfile_allowed("/srv/files/a.pdf", roots, 2));
    CHECK(torus_sendfile_allowed("/srv/files", roots, 2));
    CHECK(torus_sendfile_allowed("/data/private/x/y", roots, 2));
    CHECK(!torus_sendfile_allowed("/srv/filesystem/a", roots, 2));
    CHECK(!torus_sendfile_allowed("/srv/www/a", roots, 2));
    struct torus_sendfile_root slash = {NULL, "/"};
    CHECK(torus_sendfile_allowed("/anything", &slash, 1));
}

static void test_root_parse(void)
{
    struct torus_sendfile_root r;
    char why[256];
    CHECK(torus_sendfile_root_parse("/tmp", &r, why, sizeof(why)) == TORUS_OK);
    CHECK(r.prefix == NULL && r.dir && strcmp(r.dir, "/tmp") == 0);
    free(r.dir);
    CHECK(torus_sendfile_root_parse("/protected=/tmp", &r, why, sizeof(why)) == TORUS_OK);
    CHECK(r.prefix && strcmp(r.prefix, "/protected/") == 0 && strcmp(r.dir, "/tmp") == 0);
    free(r.prefix);
    free(r.dir);
    CHECK(torus_sendfile_root_parse("/nonexistent/torus", &r, why, sizeof(why)) == TORUS_ERROR);
    CHECK(r.prefix == NULL && r.dir == NULL && why[0]);
    CHECK(torus_sendfile_root_parse("/p/=/etc/hostname", &r, why, sizeof(why)) == TORUS_ERROR);
    CHECK(strstr(why, "not a directory") != NULL);
}

int main(void)
{
    test_detect();
    test_map();
    test_root_parse();
    printf("test_sendfile_rules: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
