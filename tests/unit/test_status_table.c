/*
 * The text of `torus status` (runtime/status_table.c): from a /status.json
 * document, the server line, a row per shard with its numbers and the p50
 * and p99 read off the latency buckets, a row per executor with the request
 * it runs; a path holding terminal escapes (ESC, the 8-bit CSI, broken
 * UTF-8) printed inert; a long path cut; a document that is not a status
 * document refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/json_reader.h"
#include "runtime/status_table.c"
#include "tests/unit/check.h"

static const char document[] =
    "{\"version\":\"0.1.0\",\"uptime_seconds\":3723.5,\"ready\":true,\"draining\":false,"
    "\"executors_per_shard\":2,\"rate_interval_seconds\":1.0,"
    "\"latency_bounds_seconds\":[0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10]"
    ","
    "\"shards\":[{\"shard\":0,\"pid\":4242,\"cpu\":3,\"up\":true,\"restarts\":1,\"crashes\":2,"
    "\"worker_restarts\":0,\"worker_crashes\":5,\"connections_open\":7,\"connections_idle\":4,"
    "\"queue_depth\":6,\"requests_total\":123456,\"requests_per_second\":987.6,"
    "\"latency_buckets\":[10,50,90,99,100,100,100,100,100,100,100,100,100,100,100],"
    "\"latency_count\":100,\"latency_sum_seconds\":0.1,\"executors\":["
    "{\"executor\":0,\"state\":\"busy\",\"method\":\"GET\",\"path\":\"/slow.php\","
    "\"running_seconds\":1.234},"
    "{\"executor\":1,\"state\":\"busy\",\"method\":\"POST\","
    "\"path\":\"/x\\u001b[2J\\u009b31m\\u00e9\",\"running_seconds\":0.5}]},"
    "{\"shard\":1,\"pid\":0,\"cpu\":null,\"up\":false,\"restarts\":0,\"crashes\":0,"
    "\"worker_restarts\":0,\"worker_crashes\":0,\"connections_open\":0,\"connections_idle\":0,"
    "\"queue_depth\":0,\"requests_total\":0,\"requests_per_second\":0,"
    "\"latency_buckets\":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],\"latency_count\":0,"
    "\"latency_sum_seconds\":0,\"executors\":[{\"executor\":0,\"state\":\"starting\","
    "\"method\":null,\"path\":null,\"running_seconds\":null},{\"executor\":1,\"state\":\"idle\","
    "\"method\":null,\"path\":null,\"running_seconds\":null}]}]}";

static char *render(const char *json, int *rc)
{
    char err[128];
    struct torus_json_value *doc = torus_json_parse(json, strlen(json), err, sizeof(err));
    CHECK(doc != NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    *rc = torus_status_table_write(out, doc, "127.0.0.1:9180");
    fclose(out);
    torus_json_value_free(doc);
    return text;
}

static void test_table(void)
{
    int rc;
    char *text = render(document, &rc);
    CHECK(rc == TORUS_OK);
    CHECK(strstr(text, "torus 0.1.0 at 127.0.0.1:9180, up 1h 2m 3s, ready; 2 shards, 2 of 4 "
                       "executors busy, 6 queued, 987.6 req/s\n") != NULL);
    CHECK(strstr(text, "shard     pid  cpu  state") != NULL);
    /* p50 falls in the 1 ms bucket (50 of 100), p99 in the 5 ms one. */
    CHECK(strstr(text, "    0    4242    3  up       987.6     123456     7     4      6        1"
                       "       2        5  <=1ms    <=5ms\n") != NULL);
    CHECK(strstr(text, "    1       0  any  down       0.0          0") != NULL);
    CHECK(strstr(text, "     0.0  busy         1.23 s  GET /slow.php\n") != NULL);
    /* ESC and the C1 CSI are replaced; é stays. */
    CHECK(strstr(text, "     0.1  busy         0.50 s  POST /x?[2J?31m\xc3\xa9\n") != NULL);
    CHECK(strstr(text, "     1.0  starting\n") != NULL);
    CHECK(strstr(text, "     1.1  idle\n") != NULL);
    CHECK(strchr(text, '\x1b') == NULL);
    free(text);

    text = render("{\"shards\":[]}", &rc);
    CHECK(rc == TORUS_ERROR && text && text[0] == '\0');
    free(text);
    text = render("[1,2]", &rc);
    CHECK(rc == TORUS_ERROR);
    free(text);
}

static void test_terminal_text(void)
{
    char out[64];
    CHECK(strcmp(torus_status_terminal_text("/a\tb\x7f\x01", 40, out, sizeof(out)), "/a?b??") == 0);
    CHECK(strcmp(torus_status_terminal_text("\xff\xc3\x28\xe2\x82", 40, out, sizeof(out)),
                 "?\?(?\?") == 0);
    CHECK(strcmp(torus_status_terminal_text("\xc2\x9b\xc2\xa0", 40, out, sizeof(out)),
                 "?\xc2\xa0") == 0); /* CSI out, a no-break space kept */
    CHECK(strcmp(torus_status_terminal_text("/abcdefghij", 5, out, sizeof(out)), "/abcd...") == 0);
    CHECK(strcmp(torus_status_terminal_text("\xc3\xa9\xc3\xa9\xc3\xa9", 2, out, sizeof(out)),
                 "\xc3\xa9\xc3\xa9...") == 0); /* cut by characters, never inside one */
    char small[6];
    CHECK(strcmp(torus_status_terminal_text("/abcdefghij", 40, small, sizeof(small)), "/a...") ==
          0);
}

int main(void)
{
    test_table();
    test_terminal_text();
    printf("test_status_table: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
