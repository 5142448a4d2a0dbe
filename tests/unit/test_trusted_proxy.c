/*
 * net/trusted_proxy.c and net/proxy_protocol.c, pure functions: address
 * ranges (IPv4, IPv6, bare addresses, the shortcuts), the resolution of
 * Forwarded and X-Forwarded-* chains against them, and the PROXY protocol
 * v1 and v2 headers (complete, cut short at every byte, malformed).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "net/proxy_protocol.h"
#include "net/trusted_proxy.h"
#include "tests/unit/check.h"

static struct torus_cidr trusted[16];
static int trusted_count;

static void trust(const char *text)
{
    int n = 0;
    char why[128];
    CHECK(torus_cidr_parse(text, &trusted[trusted_count], &n, why, sizeof(why)) == TORUS_OK);
    trusted_count += n;
}

static bool in_trusted(const char *addr)
{
    struct torus_ip ip;
    if (torus_ip_parse(addr, strlen(addr), &ip) != TORUS_OK)
        return false;
    return torus_cidr_contains(trusted, trusted_count, &ip);
}

static void test_ranges(void)
{
    struct torus_cidr c[4];
    int n;
    char why[128];
    const char *bad[] = {"",         "10.0.0.0/33",  "::/129",      "10.0.0.0/",
                         "10.0.0/8", "host.example", "10.0.0.0/8x", "1.2.3.4/-1",
                         "private2"};
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(bad); i++)
        CHECK(torus_cidr_parse(bad[i], c, &n, why, sizeof(why)) == TORUS_ERROR && why[0]);

    trusted_count = 0;
    trust("10.0.0.0/8");
    trust("192.168.1.7");
    trust("2001:db8::/32");
    trust("172.16.0.0/12");
    CHECK(in_trusted("10.1.2.3"));
    CHECK(!in_trusted("11.0.0.1"));
    CHECK(in_trusted("192.168.1.7"));
    CHECK(!in_trusted("192.168.1.8"));
    CHECK(in_trusted("2001:db8:1::5"));
    CHECK(!in_trusted("2001:db9::5"));
    CHECK(in_trusted("172.31.255.255"));
    CHECK(!in_trusted("172.32.0.0"));
    CHECK(in_trusted("::ffff:10.9.9.9")); /* IPv4-mapped counts as IPv4 */
    CHECK(!in_trusted("127.0.0.1"));

    trusted_count = 0;
    trust("loopback");
    CHECK(trusted_count == 2);
    CHECK(in_trusted("127.0.0.1") && in_trusted("127.255.0.1") && in_trusted("::1"));
    CHECK(!in_trusted("::2"));
    trust("private");
    CHECK(in_trusted("fd00::1") && in_trusted("192.168.0.1") && !in_trusted("8.8.8.8"));
    trusted_count = 0;
    trust("0.0.0.0/0");
    CHECK(in_trusted("8.8.8.8") && !in_trusted("::1"));
}

/* Resolves the headers given as "Name", "value" pairs (NULL-terminated). */
static struct torus_forwarded resolve(const char **pairs)
{
    struct torus_forwarded_headers h;
    memset(&h, 0, sizeof(h));
    for (size_t i = 0; pairs[i]; i += 2)
        torus_forwarded_add(&h, (torus_str){pairs[i], strlen(pairs[i])},
                            (torus_str){pairs[i + 1], strlen(pairs[i + 1])});
    struct torus_forwarded f;
    torus_forwarded_resolve(&h, trusted, trusted_count, &f);
    return f;
}

#define RESOLVE(...) resolve((const char *[]){__VA_ARGS__, NULL})

static bool host_is(const struct torus_forwarded *f, const char *host)
{
    return f->host.len == strlen(host) && memcmp(f->host.data, host, f->host.len) == 0;
}

static void test_chains(void)
{
    trusted_count = 0;
    trust("10.0.0.0/8");
    struct torus_forwarded f;

    /* The right-most untrusted address; trusted hops to its right are skipped. */
    f = RESOLVE("X-Forwarded-For", "6.6.6.6, 1.2.3.4, 10.0.0.2");
    CHECK(f.has_client && strcmp(f.client_addr, "1.2.3.4") == 0 && f.client_port == 0);
    /* Several lines are one list. */
    f = RESOLVE("X-Forwarded-For", "6.6.6.6", "x-forwarded-for", "1.2.3.5 , 10.0.0.9");
    CHECK(strcmp(f.client_addr, "1.2.3.5") == 0);
    /* All trusted: the left-most. */
    f = RESOLVE("X-Forwarded-For", "10.0.0.1,10.0.0.2");
    CHECK(strcmp(f.client_addr, "10.0.0.1") == 0);
    /* A port, IPv6 with and without brackets, an IPv4-mapped address printed as IPv4. */
    f = RESOLVE("X-Forwarded-For", "1.2.3.4:5678");
    CHECK(strcmp(f.client_addr, "1.2.3.4") == 0 && f.client_port == 5678);
    f = RESOLVE("X-Forwarded-For", "[2001:db8::1]:443");
    CHECK(strcmp(f.client_addr, "2001:db8::1") == 0 && f.client_port == 443);
    f = RESOLVE("X-Forwarded-For", "2001:DB8:0::2");
    CHECK(strcmp(f.client_addr, "2001:db8::2") == 0 && f.client_port == 0);
    f = RESOLVE("X-Forwarded-For", "::ffff:1.2.3.4");
    CHECK(strcmp(f.client_addr, "1.2.3.4") == 0);
    /* Garbage ends the walk: the hop to its right stands. */
    f = RESOLVE("X-Forwarded-For", "1.2.3.4, unknown, 10.0.0.3");
    CHECK(f.has_client && strcmp(f.client_addr, "10.0.0.3") == 0);
    f = RESOLVE("X-Forwarded-For", "<script>");
    CHECK(!f.has_client);
    f = RESOLVE("X-Forwarded-For", "1.2.3.4:99999");
    CHECK(!f.has_client);
    f = RESOLVE("X-Forwarded-For", "");
    CHECK(!f.has_client && f.scheme == TORUS_SCHEME_UNSAID && f.server_port == 0);

    /* Scheme, host and port: right-most values. */
    f = RESOLVE("X-Forwarded-For", "1.2.3.4", "X-Forwarded-Proto", "http, HTTPS",
                "X-Forwarded-Host", "evil.example, shop.example:8443");
    CHECK(f.scheme == TORUS_SCHEME_HTTPS && host_is(&f, "shop.example") && f.server_port == 8443);
    f = RESOLVE("X-Forwarded-Proto", "https");
    CHECK(!f.has_client && f.scheme == TORUS_SCHEME_HTTPS && f.server_port == 443);
    f = RESOLVE("X-Forwarded-Proto", "http", "X-Forwarded-Port", "8080", "X-Forwarded-Host",
                "a.example:9");
    CHECK(f.scheme == TORUS_SCHEME_HTTP && f.server_port == 8080 && host_is(&f, "a.example"));
    f = RESOLVE("X-Forwarded-Proto", "gopher", "X-Forwarded-Host", "bad host/");
    CHECK(f.scheme == TORUS_SCHEME_UNSAID && f.host.len == 0 && f.server_port == 0);
    f = RESOLVE("X-Forwarded-Host", "[::1]:81");
    CHECK(host_is(&f, "[::1]") && f.server_port == 81);

    /* Forwarded wins over X-Forwarded-*; proto and host of the client's element. */
    f = RESOLVE("X-Forwarded-For", "9.9.9.9", "Forwarded",
                "for=6.6.6.6;proto=http, for=\"[2001:db8::7]:4711\";proto=https;host=shop.example,"
                " For=10.0.0.2;proto=http");
    CHECK(strcmp(f.client_addr, "2001:db8::7") == 0 && f.client_port == 4711);
    CHECK(f.scheme == TORUS_SCHEME_HTTPS && host_is(&f, "shop.example") && f.server_port == 443);
    f = RESOLVE("Forwarded", "for=unknown;proto=https");
    CHECK(!f.has_client && f.scheme == TORUS_SCHEME_HTTPS);
    f = RESOLVE("Forwarded", "for=\"1.2.3.4\";host=\"a,b;c\", for=10.0.0.1");
    CHECK(strcmp(f.client_addr, "1.2.3.4") == 0 && f.host.len == 0);
    f = RESOLVE("Forwarded", "by=10.0.0.1");
    CHECK(!f.has_client);

    /* Too many lines: nothing is used. */
    const char *many[20];
    for (int i = 0; i < 18; i += 2) {
        many[i] = "X-Forwarded-For";
        many[i + 1] = "1.2.3.4";
    }
    many[18] = NULL;
    f = resolve(many);
    CHECK(!f.has_client);

    /* A long chain keeps its right-most hops. */
    char chain[2048] = "1.1.1.1";
    for (int i = 0; i < 100; i++)
        strcat(chain, ", 10.0.0.1");
    f = RESOLVE("X-Forwarded-For", chain);
    CHECK(f.has_client && strcmp(f.client_addr, "10.0.0.1") == 0);
}

/* ------------------------------------------------------------------------ */
/* PROXY protocol                                                           */
/* ------------------------------------------------------------------------ */

/* Parses all of data; also checks that every prefix shorter than the header asks for more. */
static int proxy_parse_all(const void *data, size_t len, struct torus_proxy_header *h)
{
    int rc = torus_proxy_parse(data, len, h);
    for (size_t cut = 0; rc > 0 && cut < (size_t)rc; cut++) {
        struct torus_proxy_header ignored;
        if (torus_proxy_parse(data, cut, &ignored) != TORUS_AGAIN)
            return -100;
    }
    return rc;
}

static void test_proxy_v1(void)
{
    struct torus_proxy_header h;
    const char *line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n";
    size_t head = strlen("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
    CHECK(proxy_parse_all(line, strlen(line), &h) == (int)head);
    CHECK(h.version == 1 && h.command == TORUS_PROXY_RELAYED && h.family == AF_INET);
    CHECK(h.src_port == 56324 && h.dst_port == 443);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET, h.src, text, sizeof(text));
    CHECK(strcmp(text, "192.0.2.1") == 0);

    const char *v6 = "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n";
    CHECK(proxy_parse_all(v6, strlen(v6), &h) == (int)strlen(v6));
    CHECK(h.family == AF_INET6 && h.src_port == 1 && h.dst_port == 65535);
    inet_ntop(AF_INET6, h.src, text, sizeof(text));
    CHECK(strcmp(text, "2001:db8::1") == 0);

    const char *unknown = "PROXY UNKNOWN ffff::1 ::1 1 2\r\n";
    CHECK(proxy_parse_all(unknown, strlen(unknown), &h) == (int)strlen(unknown));
    CHECK(h.command == TORUS_PROXY_LOCAL);

    const char *bad[] = {
        "GET / HTTP/1.1\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 56324 65536\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 056324 443\r\n",
        "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
        "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
        "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
        "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
    };
    for (size_t i = 0; i < TORUS_ARRAY_SIZE(bad); i++) {
        int rc = proxy_parse_all(bad[i], strlen(bad[i]), &h);
        if (rc != TORUS_ERROR)
            fprintf(stderr, "accepted: %s", bad[i]);
        CHECK(rc == TORUS_ERROR);
    }
    /* No line end within 107 bytes. */
    char longline[200] = "PROXY TCP4 ";
    memset(longline + 11, '1', 150);
    longline[161] = '\0';
    CHECK(torus_proxy_parse((const uint8_t *)longline, 161, &h) == TORUS_ERROR);
    CHECK(torus_proxy_parse((const uint8_t *)longline, 100, &h) == TORUS_AGAIN);
}

static size_t v2_header(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *body,
                        size_t body_len)
{
    static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                    0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(body_len >> 8);
    out[15] = (uint8_t)body_len;
    if (body_len)
        memcpy(out + 16, body, body_len);
    return 16 + body_len;
}

static void test_proxy_v2(void)
{
    struct torus_proxy_header h;
    uint8_t buf[8192];
    /* IPv4 with a TLV after the addresses (skipped), then the client's bytes. */
    uint8_t v4[12 + 7] = {192,  0,    2,    1,    198,  51,  100, 2,   0xDC, 0x04,
                          0x01, 0xBB, 0x04, 0x00, 0x04, 'a', 'b', 'c', 'd'};
    size_t n = v2_header(buf, 0x21, 0x11, v4, sizeof(v4));
    memcpy(buf + n, "GET", 3);
    CHECK(proxy_parse_all(buf, n + 3, &h) == (int)n);
    CHECK(h.version == 2 && h.command == TORUS_PROXY_RELAYED && h.family == AF_INET);
    CHECK(h.src_port == 56324 && h.dst_port == 443 && h.src[0] == 192 && h.src[3] == 1);

    uint8_t v6[36] = {0x20, 0x01, 0x0d, 0xb8};
    v6[15] = 1;
    v6[31] = 1;
    v6[32] = 0x12;
    v6[33] = 0x34;
    n = v2_header(buf, 0x21, 0x21, v6, sizeof(v6));
    CHECK(proxy_parse_all(buf, n, &h) == (int)n);
    CHECK(h.family == AF_INET6 && h.src_port == 0x1234 && h.src[0] == 0x20 && h.src[15] == 1);

    /* LOCAL (a health check), with or without addresses; UNSPEC. */
    n = v2_header(buf, 0x20, 0x00, NULL, 0);
    CHECK(proxy_parse_all(buf, n, &h) == 16 && h.command == TORUS_PROXY_LOCAL);
    n = v2_header(buf, 0x20, 0x11, v4, 12);
    CHECK(proxy_parse_all(buf, n, &h) == 28 && h.command == TORUS_PROXY_LOCAL);
    n = v2_header(buf, 0x21, 0x00, NULL, 0);
    CHECK(proxy_parse_all(buf, n, &h) == 16 && h.command == TORUS_PROXY_LOCAL);

    /* Refused: version 1 in a v2 header, a bad command, UDP, UNIX, short addresses, too long. */
    n = v2_header(buf, 0x11, 0x11, v4, 12);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    n = v2_header(buf, 0x22, 0x11, v4, 12);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    n = v2_header(buf, 0x21, 0x12, v4, 12);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    n = v2_header(buf, 0x21, 0x31, v4, 12);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    n = v2_header(buf, 0x21, 0x11, v4, 11);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    n = v2_header(buf, 0x21, 0x21, v6, 20);
    CHECK(torus_proxy_parse(buf, n, &h) == TORUS_ERROR);
    uint8_t big[TORUS_PROXY_MAX_HEADER] = {0};
    n = v2_header(buf, 0x21, 0x11, big, TORUS_PROXY_MAX_HEADER - 15);
    CHECK(torus_proxy_parse(buf, 16, &h) == TORUS_ERROR);
    /* A signature that goes wrong late is refused as soon as it does. */
    memcpy(buf, "\r\n\r\n\0\r\nQUIT!", 12);
    CHECK(torus_proxy_parse(buf, 12, &h) == TORUS_ERROR);
    CHECK(torus_proxy_parse(buf, 10, &h) == TORUS_AGAIN);
}

int main(void)
{
    test_ranges();
    test_chains();
    test_proxy_v1();
    test_proxy_v2();
    printf("test_trusted_proxy: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
