/*
 * The PHP SAPI in worker mode (--worker): the worker scripts of
 * tests/fixtures/php/worker/ run on an executor thread fed by the test port
 * of test_sapi.c (included with its harness only). Checked: the loop and its
 * FrankenPHP alias, what is reset between two requests and what persists,
 * exit() / fatal error / timeout / memory exhaustion restarting the script,
 * an uncaught exception not restarting it, fastcgi_finish_request(),
 * --max-requests, start-up failures with back-off and giving up, and
 * torus_handle_request() returning false when the port says stop.
 */
#define TEST_SAPI_HARNESS_ONLY
#include "test_sapi.c"

static char worker_path[PATH_MAX];

static struct torus_config worker_config(const struct torus_config *base, const char *script,
                                         int max_failures, uint64_t max_requests)
{
    struct torus_config config = *base;
    snprintf(worker_path, sizeof(worker_path), "%s/worker/%s", fixtures_dir, script);
    config.worker = worker_path;
    config.max_consecutive_failures = max_failures;
    config.max_requests = max_requests;
    return config;
}

static struct test_exchange *action(const char *name)
{
    char target[256];
    snprintf(target, sizeof(target), "/app?action=%s", name);
    return exchange_get(target, NULL);
}

/* The "run=" id a count response shows, or "" (copied to out). */
static void run_of(struct test_exchange *ex, char *out, size_t size)
{
    struct parsed_response *r = response_of(ex);
    const char *at = r->body ? strstr(r->body, "run=") : NULL;
    snprintf(out, size, "%s", at ? at + 4 : "");
}

static bool file_holds(const char *path, const char *text)
{
    char content[512] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    size_t n = fread(content, 1, sizeof(content) - 1, f);
    content[n] = '\0';
    fclose(f);
    return strstr(content, text) != NULL;
}

static void test_worker_requests(const struct torus_config *base)
{
    struct torus_config config = worker_config(base, "app.php", 3, 0);
    char end_marker[PATH_MAX], finish_marker[PATH_MAX];
    snprintf(end_marker, sizeof(end_marker), "%s/worker-end.marker", temp_dir);
    snprintf(finish_marker, sizeof(finish_marker), "%s/worker-finish.marker", temp_dir);
    unlink(end_marker);
    unlink(finish_marker);
    setenv("TORUS_TEST_WORKER_END_MARKER", end_marker, 1);
    unsetenv("TORUS_TEST_WORKER_ALIAS");

    struct test_exchange *x[40];
    size_t n = 0;
    struct test_exchange *first = x[n++] = action("count");
    const char *host[] = {"Host: worker.test", NULL};
    struct test_exchange *server = x[n++] =
        exchange_new("GET", "/app?action=server", NULL, host, NULL, 0);

    const char *form_headers[] = {"Content-Type: application/x-www-form-urlencoded", "Cookie: c=3",
                                  NULL};
    struct test_exchange *form = x[n++] =
        exchange_new("POST", "/app?action=globals&a=1", NULL, form_headers, "b=2", 3);
    struct test_exchange *plain = x[n++] = action("globals");

    struct test_exchange *headers1 = x[n++] = action("headers");
    struct test_exchange *headers2 = x[n++] = action("headers");

    const char *upload_headers[] = {"Content-Type: multipart/form-data; boundary=B", NULL};
    const char *multipart =
        "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\nhello upload\n\r\n--B--\r\n";
    struct test_exchange *upload = x[n++] = exchange_new(
        "POST", "/app?action=upload", NULL, upload_headers, multipart, strlen(multipart));
    struct test_exchange *after_upload = x[n++] = action("globals");

    struct test_exchange *putenv1 = x[n++] = action("putenv");
    struct test_exchange *putenv2 = x[n++] = action("putenv");
    struct test_exchange *limits1 = x[n++] = action("limits");
    struct test_exchange *limits2 = x[n++] = action("limits");

    const char *gzip_headers[] = {"Accept-Encoding: gzip", NULL};
    struct test_exchange *gzip = x[n++] =
        exchange_new("GET", "/app?action=gzip", NULL, gzip_headers, NULL, 0);
    struct test_exchange *no_gzip = x[n++] = action("gzip");

    struct test_exchange *exception = x[n++] = action("exception");
    struct test_exchange *after_exception = x[n++] = action("count");
    struct test_exchange *error1 = x[n++] = action("error");
    struct test_exchange *error2 = x[n++] = action("error");

    char target[PATH_MAX + 64];
    snprintf(target, sizeof(target), "/app?action=finish&marker=%s", finish_marker);
    struct test_exchange *finish = x[n++] = exchange_get(target, NULL);
    finish->marker = finish_marker;

    struct test_exchange *exiting = x[n++] = action("exit");
    struct test_exchange *after_exit = x[n++] = action("count");
    struct test_exchange *fatal = x[n++] = action("fatal");
    struct test_exchange *after_fatal = x[n++] = action("count");
    struct test_exchange *memory = x[n++] = action("memory");
    struct test_exchange *after_memory = x[n++] = action("count");
    struct test_exchange *timeout = NULL, *after_timeout = NULL;
    if (TEST_TIME_LIMITS) {
        timeout = x[n++] = action("timeout");
        after_timeout = x[n++] = action("count");
    }

    int rc = run_exchanges(&config, x, n, NULL);
    CHECK(rc == TORUS_OK, NULL);
    check_lifecycle(x, n);

    struct parsed_response *r;
    char run1[32], run2[32], run3[32], run4[32], run5[32];

    r = response_of(first);
    CHECK(r->status == 200, first);
    CHECK(strncmp(r->body, "served=1 run=", 13) == 0, first);
    run_of(first, run1, sizeof(run1));
    CHECK(strlen(run1) == 8, first);

    r = response_of(server);
    CHECK(strcmp(r->body, "worker=-- uri=/app?action=server method=GET host=worker.test "
                          "script=app.php") == 0,
          server);

    /* Superglobals come from the current request only */
    r = response_of(form);
    CHECK(strcmp(r->body, "get={\"action\":\"globals\",\"a\":\"1\"} post={\"b\":\"2\"} "
                          "cookie={\"c\":\"3\"} request={\"action\":\"globals\",\"a\":\"1\","
                          "\"b\":\"2\",\"c\":\"3\"} files=0 session=unset") == 0,
          form);
    r = response_of(plain);
    CHECK(strcmp(r->body, "get={\"action\":\"globals\"} post=[] cookie=[] "
                          "request={\"action\":\"globals\"} files=0 session=unset") == 0,
          plain);

    /* Headers and status are the request's own */
    r = response_of(headers1);
    CHECK(r->status == 404, headers1);
    CHECK(head_has(r, "X-From-Previous", "leaked?"), headers1);
    CHECK(body_contains(r, "status=200 list="), headers1);
    r = response_of(headers2);
    CHECK(body_contains(r, "status=200 list="), headers2);
    CHECK(!body_contains(r, "X-From-Previous"), headers2);

    /* Uploaded files are deleted when their request ends */
    r = response_of(upload);
    CHECK(body_contains(r, " size=13"), upload);
    const char *tmp = r->body ? strstr(r->body, "tmp=") : NULL;
    if (tmp) {
        char tmp_name[PATH_MAX];
        snprintf(tmp_name, sizeof(tmp_name), "%.*s", (int)strcspn(tmp + 4, " "), tmp + 4);
        CHECK(tmp_name[0] == '/', upload);
        CHECK(!file_exists(tmp_name), upload);
    } else {
        CHECK(tmp != NULL, upload);
    }
    CHECK(body_contains(response_of(after_upload), "files=0"), after_upload);

    /* putenv() does not reach the next request; limits are restored */
    CHECK(strcmp(response_of(putenv1)->body, "env=false") == 0, putenv1);
    CHECK(strcmp(response_of(putenv2)->body, "env=false") == 0, putenv2);
    CHECK(getenv("TORUS_WORKER_PUTENV") == NULL, putenv2);
    CHECK(strcmp(response_of(limits1)->body, "memory_limit=128M max_execution_time=30") == 0,
          limits1);
    CHECK(strcmp(response_of(limits2)->body, "memory_limit=128M max_execution_time=30") == 0,
          limits2);

    /* zlib.output_compression follows each request's Accept-Encoding */
    r = response_of(gzip);
    CHECK(head_has(r, "Content-Encoding", "gzip"), gzip);
    CHECK(r->body_len > 2 && (unsigned char)r->body[0] == 0x1f, gzip);
    r = response_of(no_gzip);
    CHECK(!head_has(r, "Content-Encoding", NULL), no_gzip);
    CHECK(r->body_len == 3300, no_gzip);

    /* An uncaught exception: 500, and the same run goes on */
    CHECK(response_of(exception)->status == 500, exception);
    r = response_of(after_exception);
    CHECK(r->status == 200, after_exception);
    CHECK(body_contains(r, "run="), after_exception);
    char run_after_exception[32];
    run_of(after_exception, run_after_exception, sizeof(run_after_exception));
    CHECK(strcmp(run_after_exception, run1) == 0, after_exception);
    CHECK(!body_contains(r, "served=1 "), after_exception);

    /* The last error does not leak into the next request */
    CHECK(strcmp(response_of(error1)->body, "last=null") == 0, error1);
    CHECK(strcmp(response_of(error2)->body, "last=null") == 0, error2);

    /* fastcgi_finish_request(): END, the work, then RELEASE */
    r = response_of(finish);
    CHECK(strcmp(r->body, "finished early") == 0, finish);
    CHECK(finish->end_emit >= 0 && finish->end_emit < finish->release_emit, finish);
    CHECK(!finish->marker_at_end, finish);
    CHECK(finish->marker_at_release, finish);

    /* exit(): the response is complete, then the script starts again */
    r = response_of(exiting);
    CHECK(r->status == 200, exiting);
    CHECK(strcmp(r->body, "exiting") == 0, exiting);
    r = response_of(after_exit);
    CHECK(strncmp(r->body, "served=1 run=", 13) == 0, after_exit);
    run_of(after_exit, run2, sizeof(run2));
    CHECK(strcmp(run2, run1) != 0, after_exit);

    /* Fatal error, memory exhaustion, timeout: 500, then a fresh run */
    CHECK(response_of(fatal)->status == 500, fatal);
    r = response_of(after_fatal);
    CHECK(strncmp(r->body, "served=1 run=", 13) == 0, after_fatal);
    run_of(after_fatal, run3, sizeof(run3));
    CHECK(strcmp(run3, run2) != 0, after_fatal);

    CHECK(response_of(memory)->status == 500, memory);
    r = response_of(after_memory);
    CHECK(strncmp(r->body, "served=1 run=", 13) == 0, after_memory);
    run_of(after_memory, run4, sizeof(run4));
    CHECK(strcmp(run4, run3) != 0, after_memory);

    if (TEST_TIME_LIMITS) {
        CHECK(response_of(timeout)->status == 500, timeout);
        r = response_of(after_timeout);
        CHECK(strncmp(r->body, "served=1 run=", 13) == 0, after_timeout);
        run_of(after_timeout, run5, sizeof(run5));
        CHECK(strcmp(run5, run4) != 0, after_timeout);
    }

    /* The port said stop: torus_handle_request() returned false and the script went on to its end
     */
    CHECK(file_holds(end_marker, "loop ended after 1"), NULL);

    for (size_t i = 0; i < n; i++)
        exchange_free(x[i]);
    unsetenv("TORUS_TEST_WORKER_END_MARKER");
}

static void test_worker_session(const struct torus_config *base)
{
    struct torus_config config = worker_config(base, "app.php", 3, 0);
    struct test_exchange *x[4] = {action("session"), action("session"), action("session"),
                                  action("globals")};
    CHECK(run_exchanges(&config, x, 4, session_cookie_forward) == TORUS_OK, NULL);
    check_lifecycle(x, 4);
    CHECK(strcmp(response_of(x[0])->body, "n=1") == 0, x[0]);
    CHECK(head_has(response_of(x[0]), "Set-Cookie", NULL), x[0]);
    CHECK(strcmp(response_of(x[1])->body, "n=2") == 0, x[1]);
    CHECK(strcmp(response_of(x[2])->body, "n=3") == 0, x[2]);
    CHECK(body_contains(response_of(x[3]), "session=unset"), x[3]);
    for (int i = 0; i < 4; i++)
        exchange_free(x[i]);
}

/* frankenphp_handle_request() is the same loop */
static void test_frankenphp_alias(const struct torus_config *base)
{
    struct torus_config config = worker_config(base, "app.php", 3, 0);
    setenv("TORUS_TEST_WORKER_ALIAS", "frankenphp_handle_request", 1);
    struct test_exchange *x[2] = {action("count"), action("count")};
    CHECK(run_exchanges(&config, x, 2, NULL) == TORUS_OK, NULL);
    check_lifecycle(x, 2);
    CHECK(strncmp(response_of(x[0])->body, "served=1 ", 9) == 0, x[0]);
    CHECK(strncmp(response_of(x[1])->body, "served=2 ", 9) == 0, x[1]);
    unsetenv("TORUS_TEST_WORKER_ALIAS");
    for (int i = 0; i < 2; i++)
        exchange_free(x[i]);
}

/* --max-requests 2: a fresh run every two requests */
static void test_max_requests(const struct torus_config *base)
{
    struct torus_config config = worker_config(base, "app.php", 3, 2);
    struct test_exchange *x[5];
    for (int i = 0; i < 5; i++)
        x[i] = action("count");
    CHECK(run_exchanges(&config, x, 5, NULL) == TORUS_OK, NULL);
    check_lifecycle(x, 5);
    char runs[5][32];
    for (int i = 0; i < 5; i++) {
        char expected[16];
        snprintf(expected, sizeof(expected), "served=%d ", i % 2 + 1);
        CHECK(strncmp(response_of(x[i])->body, expected, strlen(expected)) == 0, x[i]);
        run_of(x[i], runs[i], sizeof(runs[i]));
    }
    CHECK(strcmp(runs[0], runs[1]) == 0, x[1]);
    CHECK(strcmp(runs[1], runs[2]) != 0, x[2]);
    CHECK(strcmp(runs[2], runs[3]) == 0, x[3]);
    CHECK(strcmp(runs[3], runs[4]) != 0, x[4]);
    for (int i = 0; i < 5; i++)
        exchange_free(x[i]);
}

/* A worker that never reaches its loop: retried with back-off, then the executor gives up. */
static void test_start_failures(const struct torus_config *base)
{
    struct test_exchange *x[1] = {action("count")};

    struct torus_config config = worker_config(base, "fails.php", 3, 0);
    double started = monotonic_seconds();
    int rc = run_exchanges(&config, x, 1, NULL);
    double elapsed = monotonic_seconds() - started;
    CHECK(rc == TORUS_ERROR, NULL);
    CHECK(x[0]->emits == 0, x[0]); /* no request was taken */
    /* back-off after the 1st and 2nd failures: 100 ms + 400 ms */
    CHECK(elapsed >= 0.45, NULL);
    CHECK(elapsed < 5, NULL);

    config = worker_config(base, "noloop.php", 1, 0);
    started = monotonic_seconds();
    CHECK(run_exchanges(&config, x, 1, NULL) == TORUS_ERROR, NULL);
    CHECK(monotonic_seconds() - started < 0.3, NULL); /* one failure allowed: no back-off */
    CHECK(x[0]->emits == 0, x[0]);
    exchange_free(x[0]);

    /* Fails once, then comes up */
    char flaky_marker[PATH_MAX];
    snprintf(flaky_marker, sizeof(flaky_marker), "%s/flaky.marker", temp_dir);
    unlink(flaky_marker);
    setenv("TORUS_TEST_FLAKY_MARKER", flaky_marker, 1);
    struct test_exchange *y[2] = {action("count"), action("count")};
    config = worker_config(base, "flaky.php", 3, 0);
    started = monotonic_seconds();
    rc = run_exchanges(&config, y, 2, NULL);
    elapsed = monotonic_seconds() - started;
    CHECK(rc == TORUS_OK, NULL);
    CHECK(elapsed >= 0.09, NULL);
    check_lifecycle(y, 2);
    CHECK(strcmp(response_of(y[0])->body, "recovered") == 0, y[0]);
    CHECK(strcmp(response_of(y[1])->body, "recovered") == 0, y[1]);
    for (int i = 0; i < 2; i++)
        exchange_free(y[i]);
}

/* Two worker executors side by side: each runs its own copy of the script. */
static void test_two_workers(const struct torus_config *base)
{
    struct torus_config config = worker_config(base, "app.php", 3, 0);
    struct test_exchange *a[3], *b[3];
    for (int i = 0; i < 3; i++) {
        a[i] = action("count");
        b[i] = action("count");
    }
    struct test_port port_a, port_b;
    port_init(&port_a, a, 3);
    port_init(&port_b, b, 3);
    struct executor_run run_a = {.config = &config, .port = &port_a};
    struct executor_run run_b = {.config = &config, .port = &port_b};
    executor_start(&run_a);
    executor_start(&run_b);
    pthread_join(run_a.thread, NULL);
    pthread_join(run_b.thread, NULL);
    CHECK(run_a.result == TORUS_OK, NULL);
    CHECK(run_b.result == TORUS_OK, NULL);
    check_lifecycle(a, 3);
    check_lifecycle(b, 3);
    char run_a_id[32], run_b_id[32];
    run_of(a[2], run_a_id, sizeof(run_a_id));
    run_of(b[2], run_b_id, sizeof(run_b_id));
    CHECK(strncmp(response_of(a[2])->body, "served=3 ", 9) == 0, a[2]);
    CHECK(strncmp(response_of(b[2])->body, "served=3 ", 9) == 0, b[2]);
    CHECK(strcmp(run_a_id, run_b_id) != 0, b[2]);
    for (int i = 0; i < 3; i++) {
        exchange_free(a[i]);
        exchange_free(b[i]);
    }
}

/* Outside worker mode the function exists but refuses to run. */
static void test_not_in_worker_mode(const struct torus_config *base)
{
    struct test_exchange *x[1] = {exchange_get("/not_worker.php", "not_worker.php")};
    CHECK(run_exchanges(base, x, 1, NULL) == TORUS_OK, NULL);
    CHECK(strcmp(response_of(x[0])->body,
                 "RuntimeException: torus_handle_request() called while not in worker mode") == 0,
          x[0]);
    exchange_free(x[0]);
}

int main(void)
{
    fixtures_locate();
    char probe[PATH_MAX];
    snprintf(probe, sizeof(probe), "%s/worker/app.php", fixtures_dir);
    if (!file_exists(probe)) {
        fprintf(stderr, "fixtures not found at %s (set TORUS_SOURCE_DIR)\n", fixtures_dir);
        return 1;
    }
    temp_dir_create();
    torus_log_threshold = TORUS_LOG_ERROR; /* the failures below are on purpose */

    struct torus_config config;
    const char *extra[] = {"zlib.output_compression", "1", NULL};
    php_start(&config, extra);

    test_worker_requests(&config);
    test_worker_session(&config);
    test_frankenphp_alias(&config);
    test_max_requests(&config);
    test_start_failures(&config);
    if (torus_sapi_thread_safe()) /* an NTS PHP has one interpreter per process */
        test_two_workers(&config);
    test_not_in_worker_mode(&config);

    torus_sapi_shutdown();
    temp_dir_remove();
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_sapi_worker: all checks passed\n");
    return 0;
}
