/*
 * The --worker option string (runtime/config_worker.c): its options, the
 * one-line errors naming --worker and the bad option, the executors of a
 * shard for a thread-safe PHP or not, and match= patterns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/config.h"
#include "runtime/config_worker.h"
#include "tests/unit/check.h"

static char script[64];

static void config_init(struct torus_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->php_threads_per_core = 3;
    cfg->max_requests = 7;
}

/* Adds a worker "SCRIPT" + options; returns the error message or NULL. */
static const char *add(struct torus_config *cfg, const char *options)
{
    static char err[512];
    char value[256];
    snprintf(value, sizeof(value), "%s%s%s", script, options[0] ? " " : "", options);
    return torus_config_worker_add(cfg, "--worker", value, err, sizeof(err)) == TORUS_OK ? NULL
                                                                                         : err;
}

static bool refused(const char *options, const char *needle)
{
    struct torus_config cfg;
    config_init(&cfg);
    const char *err = add(&cfg, options);
    bool ok = err && strstr(err, "--worker") && strstr(err, needle) && !strchr(err, '\n');
    if (!ok)
        fprintf(stderr, "options '%s': got %s\n", options, err ? err : "(accepted)");
    torus_config_workers_free(&cfg);
    free(cfg.worker);
    return ok;
}

static void test_options(void)
{
    struct torus_config cfg;
    config_init(&cfg);
    CHECK(add(&cfg, "") == NULL);
    CHECK(add(&cfg, "match=/api/* num=2 max-requests=0 env=A=1 env=B=x=y name=api") == NULL);
    CHECK(cfg.worker_count == 2);
    CHECK(cfg.worker && strcmp(cfg.worker, cfg.workers[0].script) == 0);
    const char *base = strrchr(script, '/') + 1;
    CHECK(strcmp(cfg.workers[0].name, base) == 0);
    CHECK(cfg.workers[0].match == NULL);
    const struct torus_worker_config *api = &cfg.workers[1];
    CHECK(strcmp(api->match, "/api/*") == 0 && api->num == 2 && strcmp(api->name, "api") == 0);
    CHECK(api->env_count == 2 && strcmp(api->env[1], "B=x=y") == 0);
    CHECK(api->max_requests_set && api->max_requests == 0);

    char err[256];
    CHECK(torus_config_workers_finish(&cfg, true, err, sizeof(err)) == TORUS_OK);
    CHECK(cfg.workers[0].num == 3 && cfg.workers[0].max_requests == 7);
    CHECK(cfg.classic_executors == 3);
    CHECK(torus_config_executors_per_shard(&cfg) == 3 + 2 + 3);
    CHECK(torus_config_executor_worker(&cfg, 0) == &cfg.workers[0]);
    CHECK(torus_config_executor_worker(&cfg, 2) == &cfg.workers[0]);
    CHECK(torus_config_executor_worker(&cfg, 3) == &cfg.workers[1]);
    CHECK(torus_config_executor_worker(&cfg, 4) == &cfg.workers[1]);
    CHECK(torus_config_executor_worker(&cfg, 5) == NULL);
    /* An NTS PHP: one executor per shard. */
    CHECK(torus_config_workers_finish(&cfg, false, err, sizeof(err)) == TORUS_ERROR);
    CHECK(strstr(err, "--worker") && strstr(err, "NTS"));
    torus_config_workers_free(&cfg);
    free(cfg.worker);

    config_init(&cfg);
    cfg.php_threads_per_core = 1;
    CHECK(add(&cfg, "") == NULL);
    CHECK(torus_config_workers_finish(&cfg, false, err, sizeof(err)) == TORUS_OK);
    CHECK(cfg.classic_executors == 0 && torus_config_executors_per_shard(&cfg) == 1);
    torus_config_workers_free(&cfg);
    free(cfg.worker);
}

static void test_errors(void)
{
    CHECK(refused("bogus=1", "unknown option 'bogus'"));
    CHECK(refused("num=0", "num=0"));
    CHECK(refused("num=257", "num=257"));
    CHECK(refused("num=-1", "num=-1"));
    CHECK(refused("max-requests=x", "max-requests=x"));
    CHECK(refused("env=NOVALUE", "env=NOVALUE"));
    CHECK(refused("env==x", "env==x"));
    CHECK(refused("env=A-B=1", "env=A-B=1"));
    CHECK(refused("match=api", "match=api"));
    CHECK(refused("name=", "name="));
    CHECK(refused("name=a\"b", "name="));
    CHECK(refused("name=0123456789012345678901234567890123", "name="));
    CHECK(refused("num", "not OPTION=VALUE"));

    struct torus_config cfg;
    config_init(&cfg);
    char err[512];
    CHECK(torus_config_worker_add(&cfg, "TORUS_WORKER", "/no/such/worker.php", err, sizeof(err)) ==
          TORUS_ERROR);
    CHECK(strstr(err, "TORUS_WORKER /no/such/worker.php"));
    CHECK(torus_config_worker_add(&cfg, "--worker", "   ", err, sizeof(err)) == TORUS_ERROR);
    CHECK(add(&cfg, "") == NULL);
    const char *e = add(&cfg, "name=other");
    CHECK(e && strstr(e, "front controller"));
    e = add(&cfg, "match=/x/* name=worker-test");
    CHECK(e == NULL);
    e = add(&cfg, "match=/y/* name=worker-test");
    CHECK(e && strstr(e, "same name"));
    torus_config_workers_free(&cfg);
    free(cfg.worker);
}

static void test_match(void)
{
    CHECK(torus_worker_match("/api/*", "/api/users", 10));
    CHECK(torus_worker_match("/api/*", "/api/", 5));
    CHECK(!torus_worker_match("/api/*", "/api", 4));
    CHECK(torus_worker_match("/API/*", "/api/x/y", 8));
    CHECK(!torus_worker_match("/api/*", "/apix/users", 11));
    CHECK(torus_worker_match("*.json", "/a/b.json", 9));
    CHECK(!torus_worker_match("*.json", "/a/b.jsonx", 10));
    CHECK(torus_worker_match("/exact", "/exact", 6));
    CHECK(!torus_worker_match("/exact", "/exact/", 7));
    CHECK(torus_worker_match("/a/*/c", "/a/b/x/c", 8));
    CHECK(torus_worker_match("*", "/", 1));
    /* Only len bytes count. */
    CHECK(torus_worker_match("/api/*", "/api/users?q", 10));
}

int main(void)
{
    char dir[] = "/tmp/torus-config-worker-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char *resolved = realpath(dir, NULL);
    snprintf(script, sizeof(script), "%s/worker-test.php", resolved ? resolved : dir);
    free(resolved);
    FILE *f = fopen(script, "w");
    if (!f)
        return 1;
    fputs("<?php\n", f);
    fclose(f);

    test_options();
    test_errors();
    test_match();

    unlink(script);
    rmdir(dir);
    printf("test_config_worker: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
