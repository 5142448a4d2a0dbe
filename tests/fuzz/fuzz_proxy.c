/*
 * libFuzzer target for net/proxy_protocol.c and the forwarding headers of
 * net/trusted_proxy.c on arbitrary bytes.
 *
 * The input is parsed as a PROXY header at every length up to its own (a
 * copy of exactly that many bytes, so AddressSanitizer sees a read past it);
 * the run aborts when the parser breaks its contract: a length beyond the
 * bytes given or beyond TORUS_PROXY_MAX_HEADER, a result other than a length,
 * TORUS_AGAIN or TORUS_ERROR, a shorter prefix that already parses, or a
 * RELAYED header with a family other than IPv4 or IPv6.
 *
 * The same bytes, cut at NUL bytes into header values, are resolved as
 * Forwarded and X-Forwarded-* lines against 10.0.0.0/8: the client address
 * must then be printable and parse back as an address.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/proxy_protocol.h"
#include "net/trusted_proxy.h"

static void check_proxy(const uint8_t *data, size_t size)
{
    int first = 0; /* the first length at which a header parsed */
    for (size_t len = 0; len <= size; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, data, len);
        struct torus_proxy_header h;
        int rc = torus_proxy_parse(copy, len, &h);
        free(copy);
        if (rc != TORUS_AGAIN && rc != TORUS_ERROR && rc <= 0)
            abort();
        if (rc > 0) {
            if ((size_t)rc > len || rc > TORUS_PROXY_MAX_HEADER)
                abort();
            if (first && rc != first)
                abort();
            if (!first)
                first = rc;
            if (h.command == TORUS_PROXY_RELAYED && h.family != AF_INET && h.family != AF_INET6)
                abort();
        } else if (first) {
            abort(); /* more bytes after a complete header cannot undo it */
        }
        if (rc == TORUS_ERROR || len > 300)
            break;
    }
}

static void check_forwarded(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
                                        "X-Forwarded-Host", "X-Forwarded-Port"};
    struct torus_cidr trusted[4];
    int n = 0;
    char why[128];
    if (torus_cidr_parse("10.0.0.0/8", trusted, &n, why, sizeof(why)) != TORUS_OK)
        abort();
    struct torus_forwarded_headers h;
    memset(&h, 0, sizeof(h));
    size_t start = 0;
    unsigned field = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i == size || data[i] == 0) {
            const char *name = names[field++ % 5];
            torus_forwarded_add(&h, (torus_str){name, strlen(name)},
                                (torus_str){(const char *)data + start, i - start});
            start = i + 1;
        }
    }
    struct torus_forwarded f;
    torus_forwarded_resolve(&h, trusted, n, &f);
    if (f.has_client) {
        struct torus_ip ip;
        if (torus_ip_parse(f.client_addr, strlen(f.client_addr), &ip) != TORUS_OK)
            abort();
    }
    if (f.host.len &&
        (f.host.data < (const char *)data || f.host.data + f.host.len > (const char *)data + size))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_proxy(data, size);
    check_forwarded(data, size);
    return 0;
}
