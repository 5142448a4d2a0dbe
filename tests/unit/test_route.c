/*
 * torus_path_normalize() and torus_route_resolve(), through their public API,
 * against a document root built with mkdtemp(): traversal in every spelling,
 * hidden segments, scripts and PATH_INFO, directory redirects and indexes,
 * the front controller, worker mode and symlinks that escape the root.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/route.h"
#include "tests/unit/check.h"

/* ------------------------------------------------------------------------ */
/* Normalisation                                                            */
/* ------------------------------------------------------------------------ */

/* Normalises target; returns the result code and leaves the path in out. */
static int normalize(const char *target, size_t target_len, char *out, size_t out_size,
                     const char **query, size_t *query_len)
{
    size_t out_len = (size_t)-1;
    int result =
        torus_path_normalize(target, target_len, out, out_size, &out_len, query, query_len);
    if (result == TORUS_OK && out_len != strlen(out)) {
        fprintf(stderr, "out_len %zu but strlen %zu for %s\n", out_len, strlen(out), target);
        failures++;
    }
    return result;
}

static void check_path(const char *target, const char *expected_path, const char *expected_query,
                       int line)
{
    char out[256];
    const char *query = NULL;
    size_t query_len = 0;
    int result = normalize(target, strlen(target), out, sizeof(out), &query, &query_len);
    checks++;
    if (result != TORUS_OK || strcmp(out, expected_path) != 0 || query == NULL ||
        query_len != strlen(expected_query) || memcmp(query, expected_query, query_len) != 0) {
        failures++;
        fprintf(stderr,
                "line %d: normalize(%s): result %d, path '%s' (want '%s'), query '%.*s' "
                "(want '%s')\n",
                line, target, result, result == TORUS_OK ? out : "", expected_path, (int)query_len,
                query ? query : "", expected_query);
    }
}

static void check_rejected(const char *target, size_t target_len, int line)
{
    char out[256];
    const char *query;
    size_t query_len;
    int result = normalize(target, target_len, out, sizeof(out), &query, &query_len);
    checks++;
    if (result != TORUS_ERROR) {
        failures++;
        fprintf(stderr, "line %d: normalize(%.*s) accepted as '%s'\n", line, (int)target_len,
                target, out);
    }
}

#define PATH_IS(target, path, query) check_path(target, path, query, __LINE__)
#define REJECTED(target)             check_rejected(target, strlen(target), __LINE__)

static void test_normalize(void)
{
    PATH_IS("/", "/", "");
    PATH_IS("/a/b", "/a/b", "");
    PATH_IS("/a/b/", "/a/b/", "");
    PATH_IS("/a/b?x=1&y=%20", "/a/b", "x=1&y=%20");
    PATH_IS("/?", "/", "");
    PATH_IS("/a?b?c", "/a", "b?c");
    PATH_IS("/a#fragment", "/a", "");
    PATH_IS("/a?q=1#fragment", "/a", "q=1");
    PATH_IS("/a//b///c", "/a/b/c", "");
    PATH_IS("//", "/", "");
    PATH_IS("/a/./b/.", "/a/b/", "");
    PATH_IS("/./", "/", "");
    PATH_IS("/a/b/../c", "/a/c", "");
    PATH_IS("/a/b/..", "/a/", "");
    PATH_IS("/a/..", "/", "");
    PATH_IS("/a/b/../../", "/", "");
    PATH_IS("/a/.../b", "/a/.../b", "");
    PATH_IS("/a/..b/c..", "/a/..b/c..", "");
    PATH_IS("/%61%62%63", "/abc", "");
    PATH_IS("/a%20b", "/a b", "");
    PATH_IS("/caf%C3%A9", "/caf\xc3\xa9", "");
    PATH_IS("/a%2fb", "/a/b", "");
    PATH_IS("/a/%2e/b", "/a/b", "");
    PATH_IS("/a/b/%2e%2e/c", "/a/c", "");
    PATH_IS("/a/%2F..%2F", "/", "");
    PATH_IS("/a%3Fb?c", "/a?b", "c");
    PATH_IS("/a+b", "/a+b", ""); /* '+' is a space only in the query's form encoding */

    /* Traversal, in every spelling. */
    REJECTED("/..");
    REJECTED("/../");
    REJECTED("/../etc/passwd");
    REJECTED("/a/../../etc/passwd");
    REJECTED("/a/b/../../..");
    REJECTED("/./../x");
    REJECTED("/%2e%2e/x");
    REJECTED("/%2E%2E/x");
    REJECTED("/.%2e/x");
    REJECTED("/a/%2F..%2F..");
    REJECTED("/a%2f..%2f..%2fetc%2fpasswd");
    REJECTED("/%2e%2e%2f.env");

    /* NUL, bad escapes, not origin-form. */
    REJECTED("/%00");
    REJECTED("/a%00.php");
    check_rejected("/a\0b", 4, __LINE__);
    REJECTED("/%zz");
    REJECTED("/%4");
    REJECTED("/%");
    REJECTED("/a%g1");
    REJECTED("");
    REJECTED("a/b");
    REJECTED("*");
    REJECTED("http://example.com/");
    REJECTED("?q=1");

    /* The output buffer bounds the path, its NUL included. */
    char small[4];
    const char *query;
    size_t query_len, out_len;
    CHECK(torus_path_normalize("/abc", 4, small, sizeof(small), &out_len, &query, &query_len) ==
          TORUS_ERROR);
    CHECK(torus_path_normalize("/ab", 3, small, sizeof(small), &out_len, &query, &query_len) ==
          TORUS_OK);
    CHECK(out_len == 3 && strcmp(small, "/ab") == 0);
    CHECK(torus_path_normalize("/%61%62", 7, small, sizeof(small), &out_len, &query, &query_len) ==
          TORUS_OK);
    CHECK(strcmp(small, "/ab") == 0);

    /* The query points into the target, raw. */
    const char *target = "/p?a=%41";
    CHECK(torus_path_normalize(target, strlen(target), small, sizeof(small), &out_len, &query,
                               &query_len) == TORUS_OK);
    CHECK(query == target + 3 && query_len == 5);
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */
/* ------------------------------------------------------------------------ */

static char base[PATH_MAX];         /* holds the three below */
static char root[PATH_MAX + 16];    /* realpath of the document root */
static char root2[PATH_MAX + 16];   /* a root without index.php */
static char outside[PATH_MAX + 16]; /* next to the roots, not under them */

static void make_file(const char *dir, const char *name, const char *content)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs(content, f);
    fclose(f);
}

static void make_dir(const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(1);
    }
}

static void make_link(const char *dir, const char *name, const char *target)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
    if (symlink(target, path) != 0) {
        perror(path);
        exit(1);
    }
}

static void build_tree(void)
{
    char template[] = "/tmp/torus-route-XXXXXX";
    if (mkdtemp(template) == NULL || realpath(template, base) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(root, sizeof(root), "%s/www", base);
    snprintf(root2, sizeof(root2), "%s/www2", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    make_dir(base, "www");
    make_dir(base, "www2");
    make_dir(base, "outside");
    make_file(outside, "secret.txt", "secret");
    make_file(outside, "evil.php", "<?php echo 'evil';");

    make_file(root, "index.php", "<?php echo 'front';");
    make_file(root, "style.css", "body{}");
    make_file(root, ".env", "DB_PASSWORD=x");
    make_file(root, ".htaccess", "deny from all");
    make_dir(root, ".git");
    make_file(root, ".git/config", "[core]");
    make_dir(root, ".hidden");
    make_file(root, ".hidden/x.txt", "x");
    make_dir(root, ".well-known");
    make_file(root, ".well-known/acme.txt", "token");
    make_file(root, ".well-known/.secret", "no");
    make_dir(root, "blog");
    make_file(root, "blog/index.php", "<?php");
    make_file(root, "blog/post.php", "<?php");
    make_dir(root, "docs");
    make_file(root, "docs/index.html", "<h1>docs</h1>");
    make_dir(root, "empty");
    make_dir(root, "both");
    make_file(root, "both/index.php", "<?php");
    make_file(root, "both/index.html", "<p>");
    make_file(root, "Script.PHP", "<?php");
    make_file(root, "notes.php.txt", "text");
    make_dir(root, "with space");
    make_dir(root, "dir.php");
    make_file(root, "dir.php/page.php", "<?php");

    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/fifo", root);
    if (mkfifo(path, 0644) != 0) {
        perror(path);
        exit(1);
    }
    make_link(root, "link-inside.css", "style.css");
    snprintf(path, sizeof(path), "%s/style.css", root);
    make_link(root, "absolute-inside.css", path);
    make_link(root, "link-parent.css", "../www/style.css");
    snprintf(path, sizeof(path), "%s/secret.txt", outside);
    make_link(root, "link-outside.txt", path);
    make_link(root, "relative-outside.txt", "../outside/secret.txt");
    make_link(root, "dirlink", outside);
    snprintf(path, sizeof(path), "%s/evil.php", outside);
    make_link(root, "evil.php", path);
    make_link(root, "dangling.css", "missing.css");

    make_file(root2, "style.css", "body{}");
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const char *kind_name(enum torus_route_kind kind)
{
    switch (kind) {
    case TORUS_ROUTE_STATIC:
        return "STATIC";
    case TORUS_ROUTE_PHP:
        return "PHP";
    case TORUS_ROUTE_REDIRECT:
        return "REDIRECT";
    case TORUS_ROUTE_NOT_FOUND:
        return "NOT_FOUND";
    case TORUS_ROUTE_FORBIDDEN:
        return "FORBIDDEN";
    }
    return "?";
}

static struct torus_route route; /* 12 KiB: kept off the stack */

/*
 * Resolves path with router and checks the kind, and when given (non-NULL)
 * the filename relative to the root ("" for none), script_name, path_info
 * and location.
 */
static void check_route(const struct torus_router *router, const char *path,
                        enum torus_route_kind kind, const char *file, const char *script_name,
                        const char *path_info, const char *location, int line)
{
    int result = torus_route_resolve(router, path, strlen(path), &route);
    char expected_file[PATH_MAX * 2] = "";
    if (file != NULL && file[0] != '\0')
        snprintf(expected_file, sizeof(expected_file), "%.*s%s", (int)router->root_len,
                 router->root, file);
    bool ok = result == TORUS_OK && route.kind == kind;
    if (ok && file != NULL)
        ok = strcmp(route.filename, expected_file) == 0 &&
             route.filename_len == strlen(route.filename);
    if (ok && script_name != NULL)
        ok = strcmp(route.script_name, script_name) == 0 &&
             route.script_name_len == strlen(script_name);
    if (ok && path_info != NULL)
        ok = route.path_info_len == strlen(path_info) &&
             memcmp(route.path_info, path_info, route.path_info_len) == 0;
    if (ok && location != NULL)
        ok = strcmp(route.location, location) == 0 && route.location_len == strlen(location);
    checks++;
    if (!ok) {
        failures++;
        fprintf(stderr,
                "line %d: route(%s): result %d kind %s (want %s), filename '%s' (want '%s'), "
                "script_name '%s' (want '%s'), path_info '%.*s' (want '%s'), location '%s' "
                "(want '%s')\n",
                line, path, result, kind_name(route.kind), kind_name(kind), route.filename,
                file ? expected_file : "*", route.script_name, script_name ? script_name : "*",
                (int)route.path_info_len, route.path_info, path_info ? path_info : "*",
                route.location, location ? location : "*");
    }
}

/*
 * torus_route_try_resolve() of the same path, on a thread of its own (so the
 * symlink memory that torus_route_resolve() just filled on this one is not
 * used): with every dentry now cached, when it answers it must agree. It may
 * give up (the kernel declines some looks from its caches: ENOTDIR, a
 * symlink whose target is not in memory), but test_try_mostly_answers()
 * checks that it answers nearly always.
 */
static int try_count, try_answered;
struct try_run {
    const struct torus_router *router;
    const char *path;
    int result;
    struct torus_route route;
};

static void *try_thread(void *arg)
{
    struct try_run *run = arg;
    run->result =
        torus_route_try_resolve(run->router, run->path, strlen(run->path), &run->route, NULL);
    return NULL;
}

static void check_try_agrees(const struct torus_router *router, const char *path, int line)
{
    static struct try_run run; /* 12 KiB route: kept off the stack */
    memset(&run, 0, sizeof(run));
    run.router = router;
    run.path = path;
    pthread_t thread;
    if (pthread_create(&thread, NULL, try_thread, &run) != 0)
        return;
    pthread_join(thread, NULL);
    try_count++;
    if (run.result == TORUS_AGAIN)
        return; /* the kernel may always decline (a symlink to read, a rename meanwhile...) */
    try_answered++;
    bool same =
        run.result == TORUS_OK && run.route.kind == route.kind &&
        strcmp(run.route.filename, route.filename) == 0 &&
        strcmp(run.route.script_name, route.script_name) == 0 &&
        run.route.path_info_len == route.path_info_len &&
        strcmp(run.route.location, route.location) == 0 &&
        (route.kind != TORUS_ROUTE_STATIC ||
         (run.route.st.st_ino == route.st.st_ino && run.route.st.st_dev == route.st.st_dev &&
          run.route.st.st_size == route.st.st_size &&
          run.route.st.st_mtim.tv_nsec == route.st.st_mtim.tv_nsec));
    checks++;
    if (!same) {
        failures++;
        fprintf(stderr,
                "line %d: try_resolve(%s): result %d kind %s, filename '%s' (resolve: %s, '%s')\n",
                line, path, run.result, kind_name(run.route.kind), run.route.filename,
                kind_name(route.kind), route.filename);
    }
}

#define ROUTE(router, path, kind, file, script, info, location)                                    \
    do {                                                                                           \
        check_route(router, path, TORUS_ROUTE_##kind, file, script, info, location, __LINE__);     \
        check_try_agrees(router, path, __LINE__);                                                  \
    } while (0)

static struct torus_router router_for(const char *dir, bool php, bool worker)
{
    struct torus_router router = {
        .root = dir, .root_len = strlen(dir), .php = php, .worker_mode = worker};
    return router;
}

static void test_classic(void)
{
    struct torus_router r = router_for(root, true, false);

    ROUTE(&r, "/style.css", STATIC, "/style.css", "", "", NULL);
    ROUTE(&r, "/index.php", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/blog/post.php", PHP, "/blog/post.php", "/blog/post.php", "", NULL);
    ROUTE(&r, "/Script.PHP", PHP, "/Script.PHP", "/Script.PHP", "", NULL);
    ROUTE(&r, "/notes.php.txt", STATIC, "/notes.php.txt", NULL, NULL, NULL);

    /* PATH_INFO after an existing script; the first ".php/" that names a file wins. */
    ROUTE(&r, "/blog/post.php/2024/x", PHP, "/blog/post.php", "/blog/post.php", "/2024/x", NULL);
    ROUTE(&r, "/blog/post.php/", PHP, "/blog/post.php", "/blog/post.php", "/", NULL);
    ROUTE(&r, "/index.php/a/b.php/c", PHP, "/index.php", "/index.php", "/a/b.php/c", NULL);
    ROUTE(&r, "/dir.php/page.php", PHP, "/dir.php/page.php", "/dir.php/page.php", "", NULL);
    /* The path_info points into the path that was passed in. */
    const char *with_info = "/blog/post.php/tail";
    CHECK(torus_route_resolve(&r, with_info, strlen(with_info), &route) == TORUS_OK);
    CHECK(route.path_info == with_info + strlen("/blog/post.php") && route.path_info_len == 5);
    /* Not a script: the front controller, without PATH_INFO. */
    ROUTE(&r, "/blog/missing.php/x", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/style.css/x", PHP, "/index.php", "/index.php", "", NULL);

    /* Directories. */
    ROUTE(&r, "/blog", REDIRECT, NULL, NULL, NULL, "/blog/");
    ROUTE(&r, "/docs", REDIRECT, NULL, NULL, NULL, "/docs/");
    ROUTE(&r, "/empty", REDIRECT, NULL, NULL, NULL, "/empty/");
    ROUTE(&r, "/with space", REDIRECT, NULL, NULL, NULL, "/with%20space/");
    ROUTE(&r, "/blog/", PHP, "/blog/index.php", "/blog/index.php", "", NULL);
    ROUTE(&r, "/docs/", STATIC, "/docs/index.html", NULL, NULL, NULL);
    ROUTE(&r, "/both/", PHP, "/both/index.php", "/both/index.php", "", NULL);
    ROUTE(&r, "/empty/", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/.well-known", REDIRECT, NULL, NULL, NULL, "/.well-known/");

    /* Front controller for everything else. */
    ROUTE(&r, "/users/42", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/missing.css", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/dangling.css", PHP, "/index.php", "/index.php", "", NULL);

    /* Hidden segments: 404 even though index.php would take them. */
    ROUTE(&r, "/.env", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.htaccess", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.git/config", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.git/", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.git", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.hidden/x.txt", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/blog/.env", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.well-knownx/acme.txt", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.well-known/.secret", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/.well-known/acme.txt", STATIC, "/.well-known/acme.txt", NULL, NULL, NULL);

    /* Not regular files. */
    ROUTE(&r, "/fifo", FORBIDDEN, NULL, NULL, NULL, NULL);

    /* Symlinks: followed inside the root, refused when they leave it. */
    ROUTE(&r, "/link-inside.css", STATIC, "/link-inside.css", NULL, NULL, NULL);
    ROUTE(&r, "/absolute-inside.css", STATIC, "/absolute-inside.css", NULL, NULL, NULL);
    ROUTE(&r, "/link-parent.css", STATIC, "/link-parent.css", NULL, NULL, NULL);
    ROUTE(&r, "/link-outside.txt", FORBIDDEN, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/relative-outside.txt", FORBIDDEN, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/dirlink/secret.txt", FORBIDDEN, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/evil.php", FORBIDDEN, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/evil.php/x", FORBIDDEN, NULL, NULL, NULL, NULL);
    /* Asked twice: the per-thread memory of files inside the root must not let these through. */
    ROUTE(&r, "/link-outside.txt", FORBIDDEN, NULL, NULL, NULL, NULL);

    /* A symlink swapped to leave the root is refused at once, whatever was remembered. */
    make_link(root, "swap.css", "style.css");
    ROUTE(&r, "/swap.css", STATIC, "/swap.css", NULL, NULL, NULL);
    char target[PATH_MAX * 2];
    snprintf(target, sizeof(target), "%s/secret.txt", outside);
    make_link(root, "swap.css", target);
    ROUTE(&r, "/swap.css", FORBIDDEN, NULL, NULL, NULL, NULL);

    struct torus_router follow = r;
    follow.allow_symlinks_outside_root = true;
    ROUTE(&follow, "/link-outside.txt", STATIC, "/link-outside.txt", NULL, NULL, NULL);
    ROUTE(&follow, "/dirlink/secret.txt", STATIC, "/dirlink/secret.txt", NULL, NULL, NULL);

    /* A root given with its trailing slash. */
    char slashed[PATH_MAX + 32];
    snprintf(slashed, sizeof(slashed), "%s/", root);
    struct torus_router slash = router_for(slashed, true, false);
    CHECK(torus_route_resolve(&slash, "/style.css", 10, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_STATIC);
    char expected[PATH_MAX * 2];
    snprintf(expected, sizeof(expected), "%s/style.css", root);
    CHECK(strcmp(route.filename, expected) == 0);

    /* A root reached through a symlink still serves its own files. */
    char root_link[PATH_MAX * 2];
    snprintf(root_link, sizeof(root_link), "%s/root-link", base);
    CHECK(symlink(root, root_link) == 0);
    struct torus_router linked = router_for(root_link, true, false);
    CHECK(torus_route_resolve(&linked, "/docs/", 6, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_STATIC);
    CHECK(torus_route_resolve(&linked, "/link-outside.txt", 17, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_FORBIDDEN);

    /* A directory the server may not search (root searches everything: only as another user). */
    if (geteuid() != 0) {
        make_dir(root, "locked");
        make_file(root, "locked/file.css", "x");
        snprintf(target, sizeof(target), "%s/locked", root);
        CHECK(chmod(target, 0) == 0);
        ROUTE(&r, "/locked/file.css", FORBIDDEN, NULL, NULL, NULL, NULL);
        CHECK(chmod(target, 0755) == 0);
    }

    /* Bad input. */
    CHECK(torus_route_resolve(&r, "style.css", 9, &route) == TORUS_ERROR);
    CHECK(torus_route_resolve(&r, "", 0, &route) == TORUS_ERROR);

    /* No index.php at the root: nothing to fall back on. */
    struct torus_router r2 = router_for(root2, true, false);
    ROUTE(&r2, "/users/42", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r2, "/", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r2, "/style.css", STATIC, "/style.css", NULL, NULL, NULL);
}

static void test_without_php(void)
{
    struct torus_router r = router_for(root, false, false);
    /* Sources are never sent. */
    ROUTE(&r, "/index.php", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/Script.PHP", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/blog/post.php/x", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/users/42", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/blog/", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/both/", STATIC, "/both/index.html", NULL, NULL, NULL);
    ROUTE(&r, "/style.css", STATIC, "/style.css", NULL, NULL, NULL);
    ROUTE(&r, "/docs", REDIRECT, NULL, NULL, NULL, "/docs/");
}

/* The memo: one batch sees one state of the file system, the next batch sees the new one. */
static void test_memo(void)
{
    struct torus_router r = router_for(root, true, true);
    static struct torus_route_memo memo; /* large: not on the stack */
    torus_route_memo_forget(&memo);
    struct torus_route route;
    char path_info_path[] = "/blog/post.php/2024/x";

    CHECK(torus_route_resolve_memo(&r, &memo, "/memo.txt", 9, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_PHP && route.filename_len == 0); /* missing: the worker */
    make_file(root, "memo.txt", "now here");
    CHECK(torus_route_resolve_memo(&r, &memo, "/memo.txt", 9, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_PHP); /* same batch: the same answer */
    torus_route_memo_forget(&memo);
    CHECK(torus_route_resolve_memo(&r, &memo, "/memo.txt", 9, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_STATIC && route.st.st_size == 8);
    CHECK(strcmp(route.filename + strlen(root), "/memo.txt") == 0);

    /* A hit gives back every field, PATH_INFO pointing into the path passed this time. */
    struct torus_route fresh;
    CHECK(torus_route_resolve(&r, path_info_path, strlen(path_info_path), &fresh) == TORUS_OK);
    for (int i = 0; i < 2; i++) {
        char copy[sizeof(path_info_path)];
        memcpy(copy, path_info_path, sizeof(copy));
        CHECK(torus_route_resolve_memo(&r, &memo, copy, strlen(copy), &route) == TORUS_OK);
        CHECK(route.kind == fresh.kind && strcmp(route.filename, fresh.filename) == 0);
        CHECK(strcmp(route.script_name, fresh.script_name) == 0);
        CHECK(route.path_info == copy + strlen("/blog/post.php") && route.path_info_len == 7);
    }
    CHECK(torus_route_resolve_memo(&r, &memo, "/docs", 5, &route) == TORUS_OK);
    CHECK(torus_route_resolve_memo(&r, &memo, "/docs", 5, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_REDIRECT && strcmp(route.location, "/docs/") == 0);

    /* Removed: still there for this batch, gone for the next. */
    char name[sizeof(root) + 16];
    snprintf(name, sizeof(name), "%s/memo.txt", root);
    CHECK(unlink(name) == 0);
    CHECK(torus_route_resolve_memo(&r, &memo, "/memo.txt", 9, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_STATIC);
    torus_route_memo_forget(&memo);
    CHECK(torus_route_resolve_memo(&r, &memo, "/memo.txt", 9, &route) == TORUS_OK);
    CHECK(route.kind == TORUS_ROUTE_PHP && route.filename_len == 0);
}

static void test_worker(void)
{
    struct torus_router r = router_for(root, true, true);
    ROUTE(&r, "/style.css", STATIC, "/style.css", NULL, NULL, NULL);
    ROUTE(&r, "/docs/", STATIC, "/docs/index.html", NULL, NULL, NULL);
    ROUTE(&r, "/blog", REDIRECT, NULL, NULL, NULL, "/blog/");
    ROUTE(&r, "/users/42", PHP, "", "", "", NULL);
    ROUTE(&r, "/empty/", PHP, "", "", "", NULL);
    ROUTE(&r, "/missing.php/x", PHP, "", "", "", NULL);
    ROUTE(&r, "/index.php", PHP, "/index.php", "/index.php", "", NULL);
    ROUTE(&r, "/blog/", PHP, "/blog/index.php", "/blog/index.php", "", NULL);
    ROUTE(&r, "/blog/post.php/x", PHP, "/blog/post.php", "/blog/post.php", "/x", NULL);
    ROUTE(&r, "/.env", NOT_FOUND, NULL, NULL, NULL, NULL);
    ROUTE(&r, "/link-outside.txt", FORBIDDEN, NULL, NULL, NULL, NULL);
    struct torus_router r2 = router_for(root2, true, true);
    ROUTE(&r2, "/", PHP, "", "", "", NULL);
}

/* The two steps together, as the I/O thread runs them. */
static void test_normalize_then_route(void)
{
    static const char *const refused[] = {"/../etc/passwd", "/%2e%2e/x", "/a/%2F..%2F..",
                                          "/style.css%00.php", "/..%2f..%2fetc%2fpasswd"};
    struct torus_router r = router_for(root, true, false);
    char path[PATH_MAX];
    const char *query;
    size_t path_len, query_len;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        checks++;
        if (torus_path_normalize(refused[i], strlen(refused[i]), path, sizeof(path), &path_len,
                                 &query, &query_len) != TORUS_ERROR) {
            failures++;
            fprintf(stderr, "%s was not refused (normalised to %s)\n", refused[i], path);
        }
    }

    static const struct {
        const char *target;
        enum torus_route_kind kind;
    } cases[] = {
        {"/blog/../.env", TORUS_ROUTE_NOT_FOUND},
        {"/%2eenv", TORUS_ROUTE_NOT_FOUND}, /* decodes to "/.env" */
        {"/blog/%2e%2e/%2eenv", TORUS_ROUTE_NOT_FOUND},
        {"/%2egit/config", TORUS_ROUTE_NOT_FOUND},
        {"/docs/./../style.css?v=3", TORUS_ROUTE_STATIC},
        {"//style.css", TORUS_ROUTE_STATIC},
        {"/blog/post.php/a%2Fb?x=1", TORUS_ROUTE_PHP},
        {"/index%2ephp", TORUS_ROUTE_PHP},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int result = torus_path_normalize(cases[i].target, strlen(cases[i].target), path,
                                          sizeof(path), &path_len, &query, &query_len);
        CHECK(result == TORUS_OK);
        if (result != TORUS_OK)
            continue;
        CHECK(torus_route_resolve(&r, path, path_len, &route) == TORUS_OK);
        enum torus_route_kind want = cases[i].kind;
        checks++;
        if (route.kind != want) {
            failures++;
            fprintf(stderr, "%s -> %s routed %s, want %s\n", cases[i].target, path,
                    kind_name(route.kind), kind_name(want));
        }
    }
    /* PATH_INFO keeps the decoded slash. */
    CHECK(torus_path_normalize("/blog/post.php/a%2Fb", 20, path, sizeof(path), &path_len, &query,
                               &query_len) == TORUS_OK);
    CHECK(torus_route_resolve(&r, path, path_len, &route) == TORUS_OK);
    CHECK(route.path_info_len == 4 && memcmp(route.path_info, "/a/b", 4) == 0);
}

/* A try_resolve that always gave up would agree with everything above: it must answer nearly
   always once the caches are warm. */
static void test_try_mostly_answers(void)
{
    CHECK(try_count >= 50);
    CHECK(try_answered * 10 >= try_count * 8);
    if (try_answered * 10 < try_count * 8)
        fprintf(stderr, "try_resolve answered %d of %d\n", try_answered, try_count);
}

int main(void)
{
    test_normalize();
    build_tree();
    test_classic();
    test_without_php();
    test_worker();
    test_normalize_then_route();
    test_memo();
    test_try_mostly_answers();
    nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    printf("test_route: %d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}
