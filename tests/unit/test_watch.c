/*
 * runtime/watch.c: the glob, the names of editors' temporary files, and the
 * inotify watcher on a real scratch tree — a matching write is due once
 * quiet, a burst is one change, a temporary file or a non-matching name is
 * none, a directory made later is watched (and a file already in it counts),
 * and dot-directories are skipped.
 */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/common.h"
#include "runtime/watch.h"
#include "tests/unit/check.h"

static char scratch[PATH_MAX];

static void test_glob(void)
{
    CHECK(torus_watch_glob_match("**/*.php", "index.php"));
    CHECK(torus_watch_glob_match("**/*.php", "src/App/Kernel.php"));
    CHECK(!torus_watch_glob_match("**/*.php", "src/App/Kernel.phpx"));
    CHECK(!torus_watch_glob_match("**/*.php", "src/.hidden.php"));
    CHECK(torus_watch_glob_match("*.php", "index.php"));
    CHECK(!torus_watch_glob_match("*.php", "src/index.php"));
    CHECK(torus_watch_glob_match("src/**/*.tpl", "src/a/b/c.tpl"));
    CHECK(torus_watch_glob_match("src/**/*.tpl", "src/c.tpl"));
    CHECK(!torus_watch_glob_match("src/**/*.tpl", "lib/c.tpl"));
    CHECK(torus_watch_glob_match("**", "anything/at/all"));
    CHECK(torus_watch_glob_match("config/*.y?ml", "config/app.yaml"));
    CHECK(torus_watch_glob_match("config/[ab].ini", "config/b.ini"));
    CHECK(!torus_watch_glob_match("config/[ab].ini", "config/c.ini"));

    CHECK(torus_watch_ignored_name("index.php.swp"));
    CHECK(torus_watch_ignored_name(".index.php.swx"));
    CHECK(torus_watch_ignored_name("index.php~"));
    CHECK(torus_watch_ignored_name("4913"));
    CHECK(torus_watch_ignored_name(".#index.php"));
    CHECK(torus_watch_ignored_name("#index.php#"));
    CHECK(!torus_watch_ignored_name("index.php"));
    CHECK(!torus_watch_ignored_name("49130"));
    CHECK(!torus_watch_ignored_name("swap.php"));
}

static void write_file(const char *rel, const char *text)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", scratch, rel);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Reads what inotify has for w at now_ms (after waiting for it a little). */
static void settle(struct torus_watch *w, uint64_t now_ms)
{
    struct pollfd p = {torus_watch_fd(w), POLLIN, 0};
    while (poll(&p, 1, 100) > 0)
        torus_watch_read(w, now_ms);
}

static bool due_is(struct torus_watch *w, uint64_t now_ms, const char *suffix)
{
    const char *path = torus_watch_due(w, now_ms);
    if (!path || !suffix)
        return !path && !suffix;
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcmp(path + n - m, suffix) == 0;
}

static void test_watch(void)
{
    char dir[PATH_MAX + 16];
    snprintf(dir, sizeof(dir), "%s/app", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(dir, sizeof(dir), "%s/app/src", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(dir, sizeof(dir), "%s/app/.git", scratch);
    CHECK(mkdir(dir, 0755) == 0);

    char root[PATH_MAX + 16];
    snprintf(root, sizeof(root), "%s/app", scratch);
    struct torus_watch_spec spec = {root, "**/*.php"};
    char err[256];
    struct torus_watch *w = torus_watch_open(&spec, 1, err, sizeof(err));
    CHECK(w != NULL);
    if (!w)
        return;

    /* A write in a subdirectory: due only after the quiet time. */
    write_file("app/src/Kernel.php", "<?php 1;");
    settle(w, 1000);
    CHECK(due_is(w, 1000 + TORUS_WATCH_QUIET_MS - 1, NULL));
    CHECK(due_is(w, 1000 + TORUS_WATCH_QUIET_MS, "/app/src/Kernel.php"));
    CHECK(due_is(w, 5000, NULL)); /* once */

    /* A burst: every write extends the quiet time; one change, the last file. */
    for (int i = 0; i < 20; i++) {
        write_file(i % 2 ? "app/a.php" : "app/src/b.php", "<?php 2;");
        settle(w, 10000 + (uint64_t)i * 10);
        CHECK(due_is(w, 10000 + (uint64_t)i * 10 + 5, NULL));
    }
    CHECK(due_is(w, 10190 + TORUS_WATCH_QUIET_MS, "/app/a.php"));
    CHECK(due_is(w, 20000, NULL));

    /* Editors' files, other names, dot-directories: nothing. */
    write_file("app/.a.php.swp", "x");
    write_file("app/a.php~", "x");
    write_file("app/4913", "x");
    write_file("app/.#a.php", "x");
    write_file("app/readme.txt", "x");
    write_file("app/.git/index.php", "x");
    settle(w, 30000);
    CHECK(due_is(w, 40000, NULL));

    /* A directory made later is watched; a file already in it counts. */
    snprintf(dir, sizeof(dir), "%s/app/new", scratch);
    CHECK(mkdir(dir, 0755) == 0);
    settle(w, 50000);
    CHECK(due_is(w, 60000, NULL)); /* empty: no change yet */
    write_file("app/new/c.php", "<?php 3;");
    settle(w, 61000);
    CHECK(due_is(w, 62000, "/app/new/c.php"));

    /* Deleting a watched file is a change. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/app/new/c.php", scratch);
    CHECK(unlink(path) == 0);
    settle(w, 70000);
    CHECK(due_is(w, 71000, "/app/new/c.php"));
    torus_watch_close(w);

    /* A directory that does not exist: watch_open still works (a warning), nothing is due. */
    struct torus_watch_spec missing = {"/nonexistent/torus-watch", "**/*.php"};
    w = torus_watch_open(&missing, 1, err, sizeof(err));
    CHECK(w != NULL);
    CHECK(due_is(w, 1000000, NULL));
    torus_watch_close(w);
}

int main(void)
{
    char tmpl[] = "/tmp/torus-test-watch-XXXXXX";
    if (!mkdtemp(tmpl) || !realpath(tmpl, scratch)) {
        perror("scratch directory");
        return 1;
    }
    test_glob();
    test_watch();
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", scratch);
    printf("test_watch: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
