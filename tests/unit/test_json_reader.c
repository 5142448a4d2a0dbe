/*
 * The JSON reader of `torus status` (runtime/json_reader.c): every kind of
 * value, escapes and surrogate pairs decoded, whitespace where the grammar
 * allows it; malformed texts refused with a reason (trailing commas, leading
 * zeros, raw control characters, bad escapes, text after the value, nesting
 * past the limit); missing members read as null. Then what the server's
 * writer (net/json_writer.c) writes, the reader reads back: random strings
 * of valid UTF-8 come back byte for byte.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/json_writer.h"
#include "runtime/json_reader.c"
#include "tests/unit/check.h"

static struct torus_json_value *parse(const char *text)
{
    char err[128];
    return torus_json_parse(text, strlen(text), err, sizeof(err));
}

static void test_values(void)
{
    struct torus_json_value *v =
        parse(" {\"a\": [1, -2.5, 3e2, 0, true, false, null, \"x\"], \"b\": {\"c\": \"d\"},"
              " \"a\": \"again\", \"e\": []}\n");
    CHECK(v && v->type == TORUS_JSON_OBJECT && v->count == 4);
    const struct torus_json_value *b = torus_json_member(v, "b");
    CHECK(strcmp(torus_json_get_string(torus_json_member(b, "c"), ""), "d") == 0);
    CHECK(strcmp(torus_json_get_string(torus_json_member(v, "a"), ""), "again") ==
          0); /* last wins */
    CHECK(torus_json_length(torus_json_member(v, "e")) == 0);
    CHECK(torus_json_member(v, "missing")->type == TORUS_JSON_NULL);
    CHECK(torus_json_member(torus_json_member(v, "missing"), "deeper")->type == TORUS_JSON_NULL);
    CHECK(torus_json_get_number(torus_json_member(v, "b"), 7) == 7);
    torus_json_value_free(v);

    v = parse("[1, -2.5, 3e2, 0, true, false, null, \"x\"]");
    CHECK(v && torus_json_length(v) == 8);
    CHECK(torus_json_get_number(torus_json_item(v, 0), 0) == 1);
    CHECK(torus_json_get_number(torus_json_item(v, 1), 0) == -2.5);
    CHECK(torus_json_get_number(torus_json_item(v, 2), 0) == 300);
    CHECK(torus_json_get_bool(torus_json_item(v, 4), false));
    CHECK(!torus_json_get_bool(torus_json_item(v, 5), true));
    CHECK(torus_json_item(v, 6)->type == TORUS_JSON_NULL);
    CHECK(torus_json_item(v, 99)->type == TORUS_JSON_NULL);
    torus_json_value_free(v);

    v = parse(
        "\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9 \\u20ac \\ud834\\udd1e \\ud800x \\u001b\"");
    CHECK(v && v->type == TORUS_JSON_STRING);
    if (v)
        CHECK(strcmp(v->string, "q\" b\\ s/ \b\f\n\r\t \xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e "
                                "\xef\xbf\xbdx \x1b") == 0);
    torus_json_value_free(v);
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "",    "[1,]",  "{\"a\":1,}", "01",       "1.",       ".5",       "-",         "1e",
        "+1",  "[1 2]", "{\"a\" 1}",  "{a:1}",    "\"a\nb\"", "\"\\x\"",  "\"\\u12\"", "\"open",
        "tru", "nul",   "[1] [2]",    "{\"a\":}", "[",        "{\"a\":1", "'a'",       "\"\\",
    };
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(bad); i++) {
        char err[128] = "";
        struct torus_json_value *v = torus_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        CHECK(v == NULL && strstr(err, "at byte") != NULL);
        if (v) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            torus_json_value_free(v);
        }
    }
    /* Nesting: the limit is accepted, one more refused. */
    char deep[2 * TORUS_JSON_READ_MAX_DEPTH + 3];
    memset(deep, '[', TORUS_JSON_READ_MAX_DEPTH);
    memset(deep + TORUS_JSON_READ_MAX_DEPTH, ']', TORUS_JSON_READ_MAX_DEPTH);
    deep[2 * TORUS_JSON_READ_MAX_DEPTH] = '\0';
    struct torus_json_value *v = parse(deep);
    CHECK(v != NULL);
    torus_json_value_free(v);
    memset(deep, '[', TORUS_JSON_READ_MAX_DEPTH + 1);
    memset(deep + TORUS_JSON_READ_MAX_DEPTH + 1, ']', TORUS_JSON_READ_MAX_DEPTH + 1);
    deep[2 * TORUS_JSON_READ_MAX_DEPTH + 2] = '\0';
    CHECK(parse(deep) == NULL);
}

/* A random string of valid UTF-8 (with controls, quotes and backslashes), n code points. */
static size_t random_utf8(char *out, int n)
{
    static const char *const pieces[] = {"a",
                                         "\"",
                                         "\\",
                                         "\n",
                                         "\x01",
                                         "\x1b",
                                         "\x7f",
                                         "/",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9d\x84\x9e",
                                         "\xef\xbf\xbd",
                                         "\xc2\x9b",
                                         " "};
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *p = pieces[rand() % (int)TORUS_ARRAY_SIZE(pieces)];
        memcpy(out + len, p, strlen(p));
        len += strlen(p);
    }
    out[len] = '\0';
    return len;
}

static void test_round_trip(void)
{
    srand(7);
    int bad = 0;
    for (int round = 0; round < 2000; round++) {
        char text[64 * 4 + 1];
        size_t len = random_utf8(text, rand() % 64);
        struct torus_json_writer w;
        torus_json_init(&w);
        torus_json_object_begin(&w);
        torus_json_key(&w, "s");
        torus_json_string(&w, text, len);
        torus_json_key_double(&w, "n", round / 8.0, 3);
        torus_json_object_end(&w);
        char err[128];
        struct torus_json_value *v = torus_json_parse(w.data, w.len, err, sizeof(err));
        const struct torus_json_value *s = torus_json_member(v, "s");
        bool same = v && s->type == TORUS_JSON_STRING && s->string_len == len &&
                    memcmp(s->string, text, len) == 0 &&
                    torus_json_get_number(torus_json_member(v, "n"), -1) == round / 8.0;
        if (!same && bad++ < 3)
            fprintf(stderr, "round trip failed: %s\n", w.data);
        torus_json_value_free(v);
        torus_json_free(&w);
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_values();
    test_refused();
    test_round_trip();
    printf("test_json_reader: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
