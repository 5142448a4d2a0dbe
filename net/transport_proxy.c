/*
 * The PROXY protocol stage of a connection (--proxy-protocol).
 *
 * A load balancer (HAProxy's send-proxy / send-proxy-v2) writes a PROXY
 * header before the client's first byte. When the listener expects one, the
 * connection starts with this stage as its transport: it refuses a peer that
 * is not a --trusted-proxy before reading anything (as nginx's proxy_protocol
 * listener with set_real_ip_from does for its address: only here the
 * connection is closed, so that an untrusted client cannot reach the
 * application by skipping the proxy), gathers the header's bytes, closes
 * the connection when they are not a valid header, and otherwise sets the
 * connection's addresses to those the header names (REMOTE_ADDR, the access
 * log, and the trust of forwarding headers follow) and puts the real
 * transport (plain or TLS: the header comes before the TLS handshake) back
 * in its place, handing it the bytes that followed the header.
 */
#include "net/conn.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net/proxy_protocol.h"
#include "net/trusted_proxy.h"
#include "runtime/log.h"

struct proxy_stage {
    const struct conn_transport *next; /* the transport once the header is read */
    size_t len;
    uint8_t buf[TORUS_PROXY_MAX_HEADER];
};

/* Sets c's addresses from a RELAYED header. TORUS_ERROR when out of memory. */
static int take_addresses(struct torus_conn *c, const struct torus_proxy_header *h)
{
    struct conn_addresses *a = c->addresses ? c->addresses : calloc(1, sizeof(*a));
    if (slow_path(!a))
        return TORUS_ERROR;
    c->addresses = a;
    inet_ntop(h->family, h->src, a->remote_addr, sizeof(a->remote_addr));
    inet_ntop(h->family, h->dst, a->server_addr, sizeof(a->server_addr));
    a->remote_port = h->src_port;
    a->server_port = h->dst_port;
    const struct torus_config *cfg = c->loop->config;
    a->trusted =
        torus_cidr_contains_text(cfg->trusted_proxies, cfg->trusted_proxy_count, a->remote_addr);
    return TORUS_OK;
}

static void refuse(struct torus_conn *c, const char *why)
{
    torus_log_debug("shard %d: closed a connection: %s", c->loop->shard->id, why);
    conn_close(c);
}

static void proxy_received(struct torus_conn *c, const char *data, size_t len)
{
    struct proxy_stage *s = c->proxy;
    size_t take = TORUS_MIN(len, sizeof(s->buf) - s->len);
    memcpy(s->buf + s->len, data, take);
    s->len += take;
    struct torus_proxy_header h;
    int rc = torus_proxy_parse(s->buf, s->len, &h);
    if (rc == TORUS_AGAIN) {
        if (s->len == sizeof(s->buf))
            refuse(c, "PROXY header too long");
        return;
    }
    if (rc == TORUS_ERROR) {
        refuse(c, "no valid PROXY protocol header");
        return;
    }
    if (h.command == TORUS_PROXY_RELAYED && take_addresses(c, &h) != TORUS_OK) {
        conn_close(c);
        return;
    }
    /* The stage leaves first: what the next transport does may close the connection. */
    c->transport = s->next;
    c->proxy = NULL;
    if (s->len > (size_t)rc)
        c->transport->received(c, (const char *)s->buf + rc, s->len - (size_t)rc);
    free(s);
    if (len > take && !conn_closed(c))
        c->transport->received(c, data + take, len - take);
}

static void proxy_send(struct torus_conn *c, struct torus_chunk *chunk)
{
    c->proxy->next->send(c, chunk);
}

static bool proxy_handshaking(const struct torus_conn *c)
{
    (void)c;
    return true; /* the header, then any TLS handshake, run under the first head's timer */
}

static bool proxy_can_close_notify(const struct torus_conn *c)
{
    (void)c;
    return false;
}

static void proxy_close_notify(struct torus_conn *c)
{
    (void)c;
}

static const struct conn_transport proxy_plain = {
    .received = proxy_received,
    .send = proxy_send,
    .handshaking = proxy_handshaking,
    .can_close_notify = proxy_can_close_notify,
    .close_notify = proxy_close_notify,
    .secure = false,
};

static const struct conn_transport proxy_tls = {
    .received = proxy_received,
    .send = proxy_send,
    .handshaking = proxy_handshaking,
    .can_close_notify = proxy_can_close_notify,
    .close_notify = proxy_close_notify,
    .secure = true,
};

int transport_proxy_open(struct torus_conn *c)
{
    const struct torus_config *cfg = c->loop->config;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char text[INET6_ADDRSTRLEN] = "";
    if (getpeername(c->fd, (struct sockaddr *)&ss, &sslen) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof(text));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof(text));
    }
    if (!torus_cidr_contains_text(cfg->trusted_proxies, cfg->trusted_proxy_count, text)) {
        torus_log_debug("shard %d: --proxy-protocol: refused %s, not a --trusted-proxy",
                        c->loop->shard->id, text[0] ? text : "a peer");
        return TORUS_ERROR;
    }
    struct proxy_stage *s = malloc(sizeof(*s));
    if (slow_path(!s))
        return TORUS_ERROR;
    s->next = c->transport;
    s->len = 0;
    c->proxy = s;
    c->transport = s->next->secure ? &proxy_tls : &proxy_plain;
    return TORUS_OK;
}

void transport_proxy_free(struct torus_conn *c)
{
    free(c->proxy);
    c->proxy = NULL;
}
