/*
 * The PROXY protocol parser (see net/proxy_protocol.h).
 *
 * Version 1 is one text line: "PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n" or
 * "PROXY UNKNOWN...\r\n", at most 107 bytes. Version 2 is a 12-byte
 * signature, a version/command byte (0x20 LOCAL, 0x21 PROXY), a
 * family/transport byte (0x11 TCP over IPv4, 0x21 TCP over IPv6; anything
 * with LOCAL), a 16-bit length, then the addresses and TLVs (skipped).
 *
 * Both are decided from the first bytes: a prefix of either signature is
 * TORUS_AGAIN, anything else TORUS_ERROR at once, so a client that speaks
 * HTTP straight away is refused without waiting for a timeout.
 */
#include "net/proxy_protocol.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_signature[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_prefix[] = "PROXY ";
#define V1_MAX_LINE 107

/* Whether data[0..len) is a prefix of sig[0..sig_len) or starts with all of it. */
static bool starts_like(const uint8_t *data, size_t len, const void *sig, size_t sig_len)
{
    return memcmp(data, sig, TORUS_MIN(len, sig_len)) == 0;
}

/* Parses a decimal port of 1 to 5 digits without a leading zero (except "0"). */
static int parse_port(const char *text, uint16_t *port)
{
    size_t n = strlen(text);
    if (n == 0 || n > 5 || (n > 1 && text[0] == '0'))
        return TORUS_ERROR;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return TORUS_ERROR;
        v = v * 10 + (unsigned)(text[i] - '0');
    }
    if (v > 65535)
        return TORUS_ERROR;
    *port = (uint16_t)v;
    return TORUS_OK;
}

static int parse_v1(const uint8_t *data, size_t len, struct torus_proxy_header *out)
{
    const uint8_t *lf = memchr(data, '\n', TORUS_MIN(len, (size_t)V1_MAX_LINE));
    if (!lf)
        return len >= V1_MAX_LINE ? TORUS_ERROR : TORUS_AGAIN;
    size_t line_len = (size_t)(lf - data) + 1;
    if (line_len < 2 || lf[-1] != '\r')
        return TORUS_ERROR;
    char line[V1_MAX_LINE + 1];
    memcpy(line, data, line_len - 2);
    line[line_len - 2] = '\0';
    if (memchr(line, '\0', line_len - 2))
        return TORUS_ERROR;

    /* Fields are separated by exactly one space. */
    char *fields[6];
    int count = 0;
    char *p = line + sizeof(v1_prefix) - 1;
    while (count < 6) {
        fields[count++] = p;
        char *sp = strchr(p, ' ');
        if (!sp)
            break;
        *sp = '\0';
        p = sp + 1;
    }
    memset(out, 0, sizeof(*out));
    out->version = 1;
    if (strcmp(fields[0], "UNKNOWN") == 0) {
        out->command = TORUS_PROXY_LOCAL;
        return (int)line_len;
    }
    if (count != 5 || strchr(fields[4], ' '))
        return TORUS_ERROR;
    int family;
    if (strcmp(fields[0], "TCP4") == 0)
        family = AF_INET;
    else if (strcmp(fields[0], "TCP6") == 0)
        family = AF_INET6;
    else
        return TORUS_ERROR;
    if (inet_pton(family, fields[1], out->src) != 1 ||
        inet_pton(family, fields[2], out->dst) != 1 ||
        parse_port(fields[3], &out->src_port) != TORUS_OK ||
        parse_port(fields[4], &out->dst_port) != TORUS_OK)
        return TORUS_ERROR;
    out->command = TORUS_PROXY_RELAYED;
    out->family = family;
    return (int)line_len;
}

/* Copies v2's source and destination addresses (alen bytes each) and ports. */
static int take_v2_addresses(struct torus_proxy_header *out, int family, const uint8_t *a,
                             size_t body, size_t alen)
{
    if (body < 2 * alen + 4)
        return TORUS_ERROR;
    out->family = family;
    memcpy(out->src, a, alen);
    memcpy(out->dst, a + alen, alen);
    const uint8_t *ports = a + 2 * alen;
    out->src_port = (uint16_t)((ports[0] << 8) | ports[1]);
    out->dst_port = (uint16_t)((ports[2] << 8) | ports[3]);
    return TORUS_OK;
}

static int parse_v2(const uint8_t *data, size_t len, struct torus_proxy_header *out)
{
    if (len < 16)
        return TORUS_AGAIN;
    uint8_t ver_cmd = data[12], fam = data[13];
    size_t body = ((size_t)data[14] << 8) | data[15];
    if ((ver_cmd >> 4) != 2 || (ver_cmd & 0x0F) > 1)
        return TORUS_ERROR;
    if (16 + body > TORUS_PROXY_MAX_HEADER)
        return TORUS_ERROR;
    if (len < 16 + body)
        return TORUS_AGAIN;
    memset(out, 0, sizeof(*out));
    out->version = 2;
    if ((ver_cmd & 0x0F) == 0) {
        out->command = TORUS_PROXY_LOCAL; /* health checks: addresses, if any, are ignored */
        return (int)(16 + body);
    }
    const uint8_t *a = data + 16;
    if (fam == 0x11) { /* TCP over IPv4 */
        if (take_v2_addresses(out, AF_INET, a, body, 4) != TORUS_OK)
            return TORUS_ERROR;
    } else if (fam == 0x21) { /* TCP over IPv6 */
        if (take_v2_addresses(out, AF_INET6, a, body, 16) != TORUS_OK)
            return TORUS_ERROR;
    } else if (fam == 0x00) { /* UNSPEC: the peer's own address stands */
        out->command = TORUS_PROXY_LOCAL;
        return (int)(16 + body);
    } else {
        return TORUS_ERROR; /* UDP or UNIX sockets: not an HTTP client */
    }
    out->command = TORUS_PROXY_RELAYED;
    return (int)(16 + body);
}

int torus_proxy_parse(const uint8_t *data, size_t len, struct torus_proxy_header *out)
{
    if (len == 0)
        return TORUS_AGAIN;
    if (starts_like(data, len, v2_signature, sizeof(v2_signature)))
        return len < sizeof(v2_signature) ? TORUS_AGAIN : parse_v2(data, len, out);
    if (starts_like(data, len, v1_prefix, sizeof(v1_prefix) - 1))
        return len < sizeof(v1_prefix) - 1 ? TORUS_AGAIN : parse_v1(data, len, out);
    return TORUS_ERROR;
}
