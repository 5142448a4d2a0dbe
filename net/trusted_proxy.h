/*
 * Trusted proxies: the address ranges (--trusted-proxy) whose connections
 * may say, through Forwarded (RFC 7239) or X-Forwarded-For/-Proto/-Host/
 * -Port, which client they relay; and the pure resolution of those headers
 * into the client's address, port, scheme, host and server port. No I/O:
 * net/http_session.c applies the result to the request and the access log.
 */
#ifndef TORUS_TRUSTED_PROXY_H
#define TORUS_TRUSTED_PROXY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/common.h"

/* An address range: family AF_INET (4 bytes of addr) or AF_INET6, and its prefix length. */
struct torus_cidr {
    int family;
    uint8_t addr[16];
    uint8_t bits;
};

/* An address as compared with ranges (an IPv4-mapped IPv6 address counts as IPv4). */
struct torus_ip {
    int family;
    uint8_t addr[16];
};

/*
 * Parses "10.0.0.0/8", "2001:db8::/32", a bare address (a range of one) or
 * the shortcuts "loopback" (127.0.0.0/8, ::1) and "private" (10/8,
 * 172.16/12, 192.168/16, fc00::/7) into out[0..*count) (room for 4).
 * TORUS_OK, or TORUS_ERROR with the reason in why.
 */
int torus_cidr_parse(const char *text, struct torus_cidr out[4], int *count, char *why,
                     size_t why_size);

/* Parses an IPv4 or IPv6 address (text, len bytes, no brackets); TORUS_OK or TORUS_ERROR. */
int torus_ip_parse(const char *text, size_t len, struct torus_ip *out);

/* Whether ip is in one of the ranges list[0..count). */
bool torus_cidr_contains(const struct torus_cidr *list, int count, const struct torus_ip *ip);

/* Whether the address written as text (no brackets) is in one of the ranges. */
bool torus_cidr_contains_text(const struct torus_cidr *list, int count, const char *text);

/* The forwarding headers of a request, collected by name (lines in order). */
#define TORUS_FORWARDED_MAX_LINES 8
enum torus_forwarded_field {
    TORUS_FWD_FORWARDED,
    TORUS_FWD_X_FOR,
    TORUS_FWD_X_PROTO,
    TORUS_FWD_X_HOST,
    TORUS_FWD_X_PORT,
    TORUS_FWD_FIELDS
};
struct torus_forwarded_headers {
    torus_str lines[TORUS_FWD_FIELDS][TORUS_FORWARDED_MAX_LINES];
    int count[TORUS_FWD_FIELDS];
    bool overflow; /* more lines than kept: the headers are not used */
};

/* Adds one request header to h if it is a forwarding header (any other is ignored). */
void torus_forwarded_add(struct torus_forwarded_headers *h, torus_str name, torus_str value);

/* What the forwarding headers say, once resolved. */
enum torus_forwarded_scheme { TORUS_SCHEME_UNSAID, TORUS_SCHEME_HTTP, TORUS_SCHEME_HTTPS };
struct torus_forwarded {
    bool has_client;                    /* client_addr and client_port are set */
    char client_addr[INET6_ADDRSTRLEN]; /* REMOTE_ADDR */
    uint16_t client_port;               /* REMOTE_PORT; 0 when the header gave none */
    enum torus_forwarded_scheme scheme; /* HTTPS and REQUEST_SCHEME */
    torus_str host;                     /* SERVER_NAME, without a port; empty when unsaid */
    uint16_t server_port;               /* SERVER_PORT; 0 when unsaid */
};

/*
 * Resolves h, sent by a trusted peer, against the trusted ranges. When a
 * Forwarded header is present it alone is read; otherwise the X-Forwarded-*
 * ones. The client is the right-most address of the chain that is not
 * trusted (every hop to its right is a trusted proxy); when all are trusted,
 * the left-most. An element that is not an address ("unknown", an
 * obfuscated name) ends the walk: what was found to its right stands.
 * Forwarded's proto and host are those of the client's element;
 * X-Forwarded-Proto/-Host/-Port use their right-most value (what the nearest
 * proxy set). The server port is X-Forwarded-Port, else the port of the
 * forwarded host, else 443 or 80 for a forwarded scheme, else unsaid.
 */
void torus_forwarded_resolve(const struct torus_forwarded_headers *h,
                             const struct torus_cidr *trusted, int trusted_count,
                             struct torus_forwarded *out);

#endif
