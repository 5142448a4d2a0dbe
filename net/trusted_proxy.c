/*
 * Trusted proxies and the forwarding headers (see net/trusted_proxy.h).
 *
 * The headers are lists: several lines of one field are one list, joined
 * with commas. The list is cut into hops (commas inside a quoted string do
 * not cut), the right-most TORUS_MAX_HOPS kept, and walked from the right:
 * each hop's address is taken as the client so far, and the walk goes on to
 * the left only while that address is a trusted proxy. Nothing is copied:
 * the results point into the header values (host) or are formatted anew
 * (the client's address, printed back from its binary form so that REMOTE_ADDR
 * never holds what a client typed).
 */
#include "net/trusted_proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define TORUS_MAX_HOPS 32

int torus_ip_parse(const char *text, size_t len, struct torus_ip *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(buf))
        return TORUS_ERROR;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = AF_INET;
        return TORUS_OK;
    }
    if (inet_pton(AF_INET6, buf, out->addr) != 1)
        return TORUS_ERROR;
    out->family = AF_INET6;
    static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out->addr, v4_mapped, 12) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
    }
    return TORUS_OK;
}

static int add_range(const char *text, struct torus_cidr *out)
{
    const char *slash = strchr(text, '/');
    size_t len = slash ? (size_t)(slash - text) : strlen(text);
    struct torus_ip ip;
    if (torus_ip_parse(text, len, &ip) != TORUS_OK)
        return TORUS_ERROR;
    unsigned max = ip.family == AF_INET ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return TORUS_ERROR;
        bits = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return TORUS_ERROR;
            bits = bits * 10 + (unsigned)(*p - '0');
        }
        if (bits > max)
            return TORUS_ERROR;
    }
    out->family = ip.family;
    out->bits = (uint8_t)bits;
    memcpy(out->addr, ip.addr, sizeof(out->addr));
    return TORUS_OK;
}

int torus_cidr_parse(const char *text, struct torus_cidr out[4], int *count, char *why,
                     size_t why_size)
{
    static const char *const loopback[] = {"127.0.0.0/8", "::1"};
    static const char *const private_ranges[] = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                 "fc00::/7"};
    const char *const *ranges = &text;
    int n = 1;
    if (strcmp(text, "loopback") == 0) {
        ranges = loopback;
        n = 2;
    } else if (strcmp(text, "private") == 0) {
        ranges = private_ranges;
        n = 4;
    }
    for (int i = 0; i < n; i++) {
        if (add_range(ranges[i], &out[i]) != TORUS_OK) {
            snprintf(why, why_size,
                     "expected an address, ADDRESS/BITS (IPv4 or IPv6), loopback or private");
            return TORUS_ERROR;
        }
    }
    *count = n;
    return TORUS_OK;
}

bool torus_cidr_contains(const struct torus_cidr *list, int count, const struct torus_ip *ip)
{
    for (int i = 0; i < count; i++) {
        const struct torus_cidr *c = &list[i];
        if (c->family != ip->family)
            continue;
        unsigned full = c->bits / 8, rest = c->bits % 8;
        if (memcmp(c->addr, ip->addr, full) != 0)
            continue;
        uint8_t mask = (uint8_t)(0xff << (8 - rest));
        if (rest && ((c->addr[full] ^ ip->addr[full]) & mask))
            continue;
        return true;
    }
    return false;
}

bool torus_cidr_contains_text(const struct torus_cidr *list, int count, const char *text)
{
    struct torus_ip ip;
    return count > 0 && torus_ip_parse(text, strlen(text), &ip) == TORUS_OK &&
           torus_cidr_contains(list, count, &ip);
}

void torus_forwarded_add(struct torus_forwarded_headers *h, torus_str name, torus_str value)
{
    static const torus_str names[TORUS_FWD_FIELDS] = {
        TORUS_STR("forwarded"),         TORUS_STR("x-forwarded-for"),
        TORUS_STR("x-forwarded-proto"), TORUS_STR("x-forwarded-host"),
        TORUS_STR("x-forwarded-port"),
    };
    for (int f = 0; f < TORUS_FWD_FIELDS; f++) {
        if (name.len != names[f].len || strncasecmp(name.data, names[f].data, name.len) != 0)
            continue;
        if (h->count[f] == TORUS_FORWARDED_MAX_LINES)
            h->overflow = true;
        else
            h->lines[f][h->count[f]++] = value;
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* Lists                                                                    */
/* ------------------------------------------------------------------------ */

/* The right-most TORUS_MAX_HOPS items of a list, left to right. */
struct hops {
    torus_str item[TORUS_MAX_HOPS];
    int n;
};

static torus_str trim(const char *a, const char *b)
{
    while (a < b && (*a == ' ' || *a == '\t'))
        a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
    return (torus_str){a, (size_t)(b - a)};
}

static void push_hop(struct hops *h, torus_str item)
{
    if (h->n == TORUS_MAX_HOPS) {
        memmove(h->item, h->item + 1, sizeof(h->item[0]) * (TORUS_MAX_HOPS - 1));
        h->n--;
    }
    h->item[h->n++] = item;
}

/*
 * Cuts s at every sep outside a quoted string, calling back with each trimmed
 * piece (empty ones included only when keep_empty).
 */
static void split_quoted(torus_str s, char sep, void (*fn)(void *, torus_str), void *arg)
{
    const char *p = s.data, *end = s.data + s.len, *start = p;
    bool quoted = false;
    for (; p <= end; p++) {
        if (p < end && quoted && *p == '\\' && p + 1 < end) {
            p++;
            continue;
        }
        if (p < end && *p == '"')
            quoted = !quoted;
        if (p == end || (*p == sep && !quoted)) {
            torus_str piece = trim(start, p);
            if (piece.len)
                fn(arg, piece);
            start = p + 1;
        }
    }
}

static void hop_cb(void *arg, torus_str piece)
{
    push_hop(arg, piece);
}

static void collect_hops(const torus_str *lines, int count, struct hops *out)
{
    out->n = 0;
    for (int i = 0; i < count; i++)
        split_quoted(lines[i], ',', hop_cb, out);
}

/* The right-most item of a list of lines; empty when none. */
static torus_str last_item(const torus_str *lines, int count)
{
    struct hops h;
    collect_hops(lines, count, &h);
    return h.n ? h.item[h.n - 1] : (torus_str){NULL, 0};
}

/* ------------------------------------------------------------------------ */
/* Nodes: address, optional port                                            */
/* ------------------------------------------------------------------------ */

static int parse_port(torus_str s, uint16_t *port)
{
    if (s.len == 0 || s.len > 5)
        return TORUS_ERROR;
    unsigned v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.data[i] < '0' || s.data[i] > '9')
            return TORUS_ERROR;
        v = v * 10 + (unsigned)(s.data[i] - '0');
    }
    if (v == 0 || v > 65535)
        return TORUS_ERROR;
    *port = (uint16_t)v;
    return TORUS_OK;
}

/* Strips the quotes of a quoted string; one holding an escape is refused (empty). */
static torus_str unquote(torus_str s)
{
    if (s.len >= 2 && s.data[0] == '"' && s.data[s.len - 1] == '"') {
        s = (torus_str){s.data + 1, s.len - 2};
        if (memchr(s.data, '\\', s.len))
            return (torus_str){NULL, 0};
    }
    return s;
}

/*
 * Splits "host", "host:port", "[v6]" or "[v6]:port" (a bare IPv6 address has
 * no port) into host and port (0 when none). TORUS_ERROR for a bad port.
 */
static int split_host_port(torus_str s, torus_str *host, uint16_t *port)
{
    *port = 0;
    const char *colon = NULL;
    if (s.len && s.data[0] == '[') {
        const char *close = memchr(s.data, ']', s.len);
        if (!close)
            return TORUS_ERROR;
        *host = (torus_str){s.data + 1, (size_t)(close - s.data - 1)};
        const char *after = close + 1, *end = s.data + s.len;
        if (after == end)
            return TORUS_OK;
        if (*after != ':')
            return TORUS_ERROR;
        return parse_port((torus_str){after + 1, (size_t)(end - after - 1)}, port);
    }
    colon = memchr(s.data, ':', s.len);
    if (colon && memchr(colon + 1, ':', s.len - (size_t)(colon + 1 - s.data))) {
        *host = s; /* a bare IPv6 address */
        return TORUS_OK;
    }
    if (!colon) {
        *host = s;
        return TORUS_OK;
    }
    *host = (torus_str){s.data, (size_t)(colon - s.data)};
    return parse_port((torus_str){colon + 1, s.len - (size_t)(colon + 1 - s.data)}, port);
}

static int parse_node(torus_str s, struct torus_ip *ip, uint16_t *port)
{
    torus_str host;
    s = unquote(s);
    if (!s.len || split_host_port(s, &host, port) != TORUS_OK)
        return TORUS_ERROR;
    return torus_ip_parse(host.data, host.len, ip);
}

/* ------------------------------------------------------------------------ */
/* Forwarded (RFC 7239) elements                                            */
/* ------------------------------------------------------------------------ */

struct element {
    torus_str for_node, proto, host;
};

static void pair_cb(void *arg, torus_str pair)
{
    struct element *e = arg;
    const char *eq = memchr(pair.data, '=', pair.len);
    if (!eq)
        return;
    torus_str name = trim(pair.data, eq);
    torus_str value = unquote(trim(eq + 1, pair.data + pair.len));
    if (name.len == 3 && strncasecmp(name.data, "for", 3) == 0)
        e->for_node = value;
    else if (name.len == 5 && strncasecmp(name.data, "proto", 5) == 0)
        e->proto = value;
    else if (name.len == 4 && strncasecmp(name.data, "host", 4) == 0)
        e->host = value;
}

static struct element parse_element(torus_str s)
{
    struct element e = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
    split_quoted(s, ';', pair_cb, &e);
    return e;
}

/* ------------------------------------------------------------------------ */
/* Resolution                                                               */
/* ------------------------------------------------------------------------ */

/* Whether a forwarded host holds only what a host name or address may: letters, digits, ".-_:[]".
 */
static bool host_chars_ok(torus_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char ch = s.data[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr(".-_:[]", ch)))
            return false;
    }
    return s.len > 0;
}

static enum torus_forwarded_scheme parse_scheme(torus_str s)
{
    if (s.len == 5 && strncasecmp(s.data, "https", 5) == 0)
        return TORUS_SCHEME_HTTPS;
    if (s.len == 4 && strncasecmp(s.data, "http", 4) == 0)
        return TORUS_SCHEME_HTTP;
    return TORUS_SCHEME_UNSAID;
}

/* Walks hops from the right; returns the index of the client's hop, or -1. */
static int walk_chain(const struct hops *hops, bool forwarded, const struct torus_cidr *trusted,
                      int trusted_count, struct torus_forwarded *out)
{
    int chosen = -1;
    for (int i = hops->n - 1; i >= 0; i--) {
        torus_str node = forwarded ? parse_element(hops->item[i]).for_node : hops->item[i];
        struct torus_ip ip;
        uint16_t port;
        if (parse_node(node, &ip, &port) != TORUS_OK)
            break;
        chosen = i;
        out->has_client = true;
        out->client_port = port;
        inet_ntop(ip.family, ip.addr, out->client_addr, sizeof(out->client_addr));
        if (!torus_cidr_contains(trusted, trusted_count, &ip))
            break;
    }
    return chosen;
}

void torus_forwarded_resolve(const struct torus_forwarded_headers *h,
                             const struct torus_cidr *trusted, int trusted_count,
                             struct torus_forwarded *out)
{
    memset(out, 0, sizeof(*out));
    if (h->overflow)
        return;
    bool forwarded = h->count[TORUS_FWD_FORWARDED] > 0;
    struct hops hops;
    torus_str proto, host, port_text = {NULL, 0};
    if (forwarded) {
        collect_hops(h->lines[TORUS_FWD_FORWARDED], h->count[TORUS_FWD_FORWARDED], &hops);
        int chosen = walk_chain(&hops, true, trusted, trusted_count, out);
        if (chosen < 0)
            chosen = hops.n - 1;
        struct element e = chosen >= 0 ? parse_element(hops.item[chosen])
                                       : (struct element){{NULL, 0}, {NULL, 0}, {NULL, 0}};
        proto = e.proto;
        host = e.host;
    } else {
        collect_hops(h->lines[TORUS_FWD_X_FOR], h->count[TORUS_FWD_X_FOR], &hops);
        walk_chain(&hops, false, trusted, trusted_count, out);
        proto = last_item(h->lines[TORUS_FWD_X_PROTO], h->count[TORUS_FWD_X_PROTO]);
        host = last_item(h->lines[TORUS_FWD_X_HOST], h->count[TORUS_FWD_X_HOST]);
        port_text = last_item(h->lines[TORUS_FWD_X_PORT], h->count[TORUS_FWD_X_PORT]);
    }
    out->scheme = parse_scheme(proto);
    uint16_t host_port = 0;
    torus_str name;
    if (host_chars_ok(host) && split_host_port(host, &name, &host_port) == TORUS_OK && name.len)
        out->host = host.data[0] == '[' ? (torus_str){name.data - 1, name.len + 2} : name;
    else
        host_port = 0;
    uint16_t port = 0;
    if (port_text.len && parse_port(port_text, &port) == TORUS_OK)
        out->server_port = port;
    else if (host_port)
        out->server_port = host_port;
    else if (out->scheme != TORUS_SCHEME_UNSAID)
        out->server_port = out->scheme == TORUS_SCHEME_HTTPS ? 443 : 80;
}
