/*
 * The JSON writer of /status.json (net/json_writer.c): commas and colons in
 * the right places; quotes, backslashes and every control character escaped;
 * well-formed UTF-8 (2, 3 and 4 bytes) copied as it is; stray continuation
 * bytes, overlong forms, surrogates, code points past U+10FFFF and sequences
 * cut short each become U+FFFD; numbers the same in every locale, NaN and
 * infinity as null; misnested calls reported. Then 20,000 random byte
 * strings: the output never holds a raw control byte, and decodes as
 * well-formed UTF-8 by an independent decoder written here.
 */
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/json_writer.c"
#include "tests/unit/check.h"

/* The JSON of one string value. */
static char *string_json(const char *s, size_t len)
{
    static char out[4096];
    struct torus_json_writer w;
    torus_json_init(&w);
    torus_json_string(&w, s, len);
    snprintf(out, sizeof(out), "%s", w.failed ? "(failed)" : w.data);
    torus_json_free(&w);
    return out;
}

#define STRING_IS(literal, expected)                                                               \
    CHECK(strcmp(string_json(literal, sizeof(literal) - 1), expected) == 0)

static void test_structure(void)
{
    struct torus_json_writer w;
    torus_json_init(&w);
    torus_json_object_begin(&w);
    torus_json_key_cstring(&w, "version", "0.1.0");
    torus_json_key(&w, "shards");
    torus_json_array_begin(&w);
    for (int i = 0; i < 2; i++) {
        torus_json_object_begin(&w);
        torus_json_key_int(&w, "id", i);
        torus_json_key(&w, "empty");
        torus_json_array_begin(&w);
        torus_json_array_end(&w);
        torus_json_key_bool(&w, "up", i == 0);
        torus_json_key(&w, "none");
        torus_json_null(&w);
        torus_json_object_end(&w);
    }
    torus_json_array_end(&w);
    torus_json_key(&w, "list");
    torus_json_array_begin(&w);
    torus_json_uint(&w, 1);
    torus_json_int(&w, -2);
    torus_json_cstring(&w, "x");
    torus_json_array_end(&w);
    torus_json_object_end(&w);
    CHECK(!w.failed);
    CHECK(strcmp(w.data, "{\"version\":\"0.1.0\",\"shards\":[{\"id\":0,\"empty\":[],\"up\":true,"
                         "\"none\":null},{\"id\":1,\"empty\":[],\"up\":false,\"none\":null}],"
                         "\"list\":[1,-2,\"x\"]}") == 0);
    torus_json_free(&w);

    /* Misnested: a key outside an object, a close with nothing open, a key without a value. */
    torus_json_init(&w);
    torus_json_key(&w, "a");
    CHECK(w.failed);
    torus_json_free(&w);
    torus_json_init(&w);
    torus_json_array_end(&w);
    CHECK(w.failed);
    torus_json_free(&w);
    torus_json_init(&w);
    torus_json_object_begin(&w);
    torus_json_key(&w, "a");
    torus_json_object_end(&w);
    CHECK(w.failed);
    torus_json_free(&w);

    /* Too deep. */
    torus_json_init(&w);
    for (int i = 0; i <= TORUS_JSON_MAX_DEPTH; i++)
        torus_json_array_begin(&w);
    CHECK(w.failed);
    torus_json_free(&w);

    /* A document larger than the first buffer grows it. */
    torus_json_init(&w);
    torus_json_array_begin(&w);
    for (int i = 0; i < 5000; i++)
        torus_json_cstring(&w, "0123456789");
    torus_json_array_end(&w);
    CHECK(!w.failed && w.len == 2 + 5000 * 12 + 4999 && strlen(w.data) == w.len);
    torus_json_free(&w);
}

static void test_escapes(void)
{
    STRING_IS("plain /path.php", "\"plain /path.php\"");
    STRING_IS("", "\"\"");
    STRING_IS("a\"b\\c", "\"a\\\"b\\\\c\"");
    STRING_IS("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    STRING_IS("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
    STRING_IS("\x1b[2J", "\"\\u001b[2J\""); /* a terminal escape stays inert */
    STRING_IS("nul\0in", "\"nul\\u0000in\"");
    STRING_IS("</script>", "\"</script>\"");
    /* Well-formed UTF-8 passes: é (2 bytes), € (3), 𝄞 (4), U+FFFF and U+10FFFF. */
    STRING_IS("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e",
              "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e\"");
    STRING_IS("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"");
    /* Not well-formed: each bad byte is one U+FFFD, and what follows is read afresh. */
    STRING_IS("\x80", "\"\\ufffd\"");                       /* a lone continuation byte */
    STRING_IS("\xff\xfe", "\"\\ufffd\\ufffd\"");            /* never in UTF-8 */
    STRING_IS("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong '/' */
    STRING_IS("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
    STRING_IS("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate, U+D800 */
    STRING_IS("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    STRING_IS("\xe2\x82", "\"\\ufffd\\ufffd\"");                       /* cut short at the end */
    STRING_IS("\xe2\x82x", "\"\\ufffd\\ufffdx\"");                     /* cut short by ASCII */
    STRING_IS("\xc3\xc3\xa9", "\"\\ufffd\xc3\xa9\""); /* a bad lead, then a good pair */
    CHECK(strcmp(string_json(NULL, 5), "\"\"") == 0);

    /* Keys are escaped as strings are. */
    struct torus_json_writer w;
    torus_json_init(&w);
    torus_json_object_begin(&w);
    torus_json_key_uint(&w, "a\"b\n", 1);
    torus_json_object_end(&w);
    CHECK(strcmp(w.data, "{\"a\\\"b\\n\":1}") == 0);
    torus_json_free(&w);
}

static char *number_json(double v, int decimals)
{
    static char out[64];
    struct torus_json_writer w;
    torus_json_init(&w);
    torus_json_double(&w, v, decimals);
    snprintf(out, sizeof(out), "%s", w.data);
    torus_json_free(&w);
    return out;
}

static void test_numbers(void)
{
    CHECK(strcmp(number_json(0, 3), "0") == 0);
    CHECK(strcmp(number_json(12, 3), "12") == 0);
    CHECK(strcmp(number_json(2.5, 3), "2.5") == 0);
    CHECK(strcmp(number_json(0.0005, 4), "0.0005") == 0);
    CHECK(strcmp(number_json(0.0005, 3), "0.001") == 0); /* rounded half away from zero */
    CHECK(strcmp(number_json(1.9999996, 6), "2") == 0);  /* the carry into the whole part */
    CHECK(strcmp(number_json(-1.25, 2), "-1.25") == 0);
    CHECK(strcmp(number_json(-0.0000001, 3), "0") == 0); /* no "-0" */
    CHECK(strcmp(number_json(1234567.125, 3), "1234567.125") == 0);
    CHECK(strcmp(number_json(3.7, 0), "4") == 0);
    CHECK(strcmp(number_json(NAN, 3), "null") == 0);
    CHECK(strcmp(number_json(INFINITY, 3), "null") == 0);
    CHECK(strcmp(number_json(-INFINITY, 3), "null") == 0);
    CHECK(strcmp(number_json(1e300, 3), "null") == 0);
    /* A locale with a decimal comma changes nothing. */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8"))
        CHECK(strcmp(number_json(2.5, 3), "2.5") == 0);
    setlocale(LC_NUMERIC, "C");

    struct torus_json_writer w;
    torus_json_init(&w);
    torus_json_array_begin(&w);
    torus_json_uint(&w, UINT64_MAX);
    torus_json_int(&w, INT64_MIN);
    torus_json_int(&w, 0);
    torus_json_array_end(&w);
    CHECK(strcmp(w.data, "[18446744073709551615,-9223372036854775808,0]") == 0);
    torus_json_free(&w);
}

/*
 * Independent of the writer: decodes the text as UTF-8 by code point and
 * checks every one is a scalar value in its shortest form. True when valid.
 */
static bool valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len;
        if (s[i] < 0x80) {
            cp = s[i];
            len = 1;
        } else if ((s[i] & 0xE0) == 0xC0) {
            cp = s[i] & 0x1F;
            len = 2;
        } else if ((s[i] & 0xF0) == 0xE0) {
            cp = s[i] & 0x0F;
            len = 3;
        } else if ((s[i] & 0xF8) == 0xF0) {
            cp = s[i] & 0x07;
            len = 4;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        static const uint32_t shortest[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < shortest[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static void test_random_bytes(void)
{
    srand(19);
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned char in[64];
        size_t n = (size_t)(rand() % (int)sizeof(in));
        for (size_t i = 0; i < n; i++) {
            /* Mostly the interesting bytes: controls, quotes, lead and continuation bytes. */
            static const unsigned char pick[] = {0x00, 0x1b, '"',  '\\', 'a',  0x7f, 0x80, 0xbf,
                                                 0xc2, 0xc3, 0xe0, 0xe2, 0xed, 0xf0, 0xf4, 0xff};
            in[i] = rand() % 2 ? pick[rand() % (int)sizeof(pick)] : (unsigned char)rand();
        }
        struct torus_json_writer w;
        torus_json_init(&w);
        torus_json_string(&w, (const char *)in, n);
        const unsigned char *out = (const unsigned char *)w.data;
        bool ok = !w.failed && w.len >= 2 && out[0] == '"' && out[w.len - 1] == '"';
        for (size_t i = 0; ok && i < w.len; i++)
            ok = out[i] >= 0x20 && out[i] != 0x7f;
        /* Every quote inside is escaped: the string ends only at the last byte. */
        for (size_t i = 1; ok && i + 1 < w.len; i++) {
            if (out[i] == '\\')
                i++;
            else
                ok = out[i] != '"';
        }
        ok = ok && valid_utf8(out, w.len);
        if (!ok && bad++ < 3)
            fprintf(stderr, "bad output for round %d: %s\n", round, w.data);
        torus_json_free(&w);
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_structure();
    test_escapes();
    test_numbers();
    test_random_bytes();
    printf("test_json_writer: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
