/*
 * The PROXY protocol (versions 1 and 2, as HAProxy's send-proxy and
 * send-proxy-v2 send it): a pure parser of the header a load balancer puts
 * before the client's first byte, saying which client address and port the
 * connection carries. No I/O: net/transport_proxy.c feeds it the bytes as
 * they arrive.
 */
#ifndef TORUS_PROXY_PROTOCOL_H
#define TORUS_PROXY_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/common.h"

/* The longest header accepted: a v1 line is at most 107 bytes; v2 TLVs past this are refused. */
#define TORUS_PROXY_MAX_HEADER 4096

/* What a complete header says. */
enum torus_proxy_command {
    /* The load balancer speaks for itself (v2 LOCAL, v1 UNKNOWN): keep the peer's address. */
    TORUS_PROXY_LOCAL,
    /* Relayed for a client: source and destination below. */
    TORUS_PROXY_RELAYED,
};

struct torus_proxy_header {
    enum torus_proxy_command command;
    int family;        /* AF_INET or AF_INET6 when RELAYED */
    uint8_t src[16];   /* the client's address, network order (4 bytes for AF_INET) */
    uint8_t dst[16];   /* the address the client connected to */
    uint16_t src_port; /* host order */
    uint16_t dst_port;
    int version; /* 1 or 2 */
};

/*
 * Parses the header at the start of data[0..len). Returns the header's length
 * in bytes (> 0; the connection's own bytes follow) with *out filled,
 * TORUS_AGAIN when data is a valid beginning that needs more bytes, or
 * TORUS_ERROR when it is not a PROXY header (or exceeds
 * TORUS_PROXY_MAX_HEADER, or is a v2 over UDP or a UNIX socket).
 */
int torus_proxy_parse(const uint8_t *data, size_t len, struct torus_proxy_header *out);

#endif
