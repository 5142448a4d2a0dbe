/*
 * A connection's transport: what lies between its socket and its HTTP
 * session, plain bytes or TLS records, behind one interface (struct
 * conn_transport, net/conn.h), so that the session never asks which.
 *
 *   received(c, bytes)   bytes from the socket; the plaintext they carry goes
 *                        to session_on_data()
 *   send(c, chunk)       response bytes for the client; they go on the
 *                        connection's output queue as they are (plain) or
 *                        encrypted into records (TLS); the chunk is taken
 *                        (a streamed file's buffer is only read)
 *   handshaking(c)       the first head's timer also covers a handshake
 *   can_close_notify(c)  / close_notify(c): the goodbye before the last close
 *   secure(c)            what PHP sees as HTTPS
 *
 * TLS (net/tls.c does the records, with wolfSSL): received bytes feed the
 * TLS session, which may answer by itself (handshake flights, alerts,
 * session tickets): whatever it has to send is queued after each step. A
 * failure queues the alert (or, for plain HTTP sent to the TLS port,
 * nginx's plaintext 400) and the connection's queued output becomes its last.
 * A close_notify from the client counts as its FIN.
 */
#include "net/conn.h"

#include <string.h>

#include "net/http_response.h"
#include "runtime/log.h"

/* ------------------------------------------------------------------------ */
/* Plain                                                                    */

static void plain_received(struct torus_conn *c, const char *data, size_t len)
{
    session_on_data(c, data, len);
}

static void plain_send(struct torus_conn *c, struct torus_chunk *chunk)
{
    out_append_raw(c, chunk);
}

static bool plain_never(const struct torus_conn *c)
{
    (void)c;
    return false;
}

static void plain_close_notify(struct torus_conn *c)
{
    (void)c;
}

static const struct conn_transport plain_transport = {
    .received = plain_received,
    .send = plain_send,
    .handshaking = plain_never,
    .can_close_notify = plain_never,
    .close_notify = plain_close_notify,
    .secure = false,
};

/* ------------------------------------------------------------------------ */
/* TLS                                                                      */

/* Queues what the TLS session has to send (handshake flights, records, alerts). */
static void tls_queue_output(struct torus_conn *c)
{
    const char *data;
    size_t len;
    while ((len = torus_tls_output(c->tls, &data)) > 0) {
        struct torus_chunk *chunk = torus_chunk_new(len);
        if (slow_path(!chunk)) {
            conn_finish_after_output(c);
            return;
        }
        memcpy(chunk->data, data, len);
        chunk->len = (uint32_t)len;
        torus_tls_output_consumed(c->tls, len);
        out_append_raw(c, chunk);
    }
}

static void tls_count_handshake(struct torus_conn *c)
{
    if (!c->tls_counted && torus_tls_handshake_done(c->tls)) {
        c->tls_counted = true;
        torus_metric_add(&c->loop->shard->metrics->tls_handshakes, 1);
    }
}

/* Ciphertext arrived: run the handshake, decrypt, and parse the plaintext as on a plain one. */
static void tls_received(struct torus_conn *c, const char *data, size_t len)
{
    if (c->state == CONN_LINGERING)
        return;
    if (slow_path(torus_tls_feed(c->tls, data, len) != TORUS_OK)) {
        conn_close(c);
        return;
    }
    char plain[16 * 1024];
    for (;;) {
        ssize_t n = torus_tls_read(c->tls, plain, sizeof(plain));
        if (n > 0) {
            tls_count_handshake(c);
            session_on_data(c, plain, (size_t)n);
            if (conn_closed(c))
                return;
            continue;
        }
        if (n == TORUS_AGAIN)
            break;
        if (n == 0) { /* close_notify: like a FIN */
            tls_queue_output(c);
            conn_on_peer_fin(c);
            return;
        }
        torus_log_debug("shard %d: TLS connection failed: %s", c->loop->shard->id,
                        torus_tls_error(c->tls));
        conn_finish_after_output(c);
        if (torus_tls_plaintext_http(c->tls)) {
            /* nginx's answer to plain HTTP on a TLS port: a plaintext 400, then close. */
            static const char refusal[] =
                "HTTP/1.1 400 Bad Request\r\nServer: " TORUS_SERVER_NAME "\r\n"
                "Content-Type: text/plain\r\nContent-Length: 47\r\nConnection: close\r\n\r\n"
                "The plain HTTP request was sent to HTTPS port.\n";
            struct torus_chunk *chunk = out_chunk(refusal, sizeof(refusal) - 1, 0);
            if (chunk)
                out_append_raw(c, chunk);
        } else {
            tls_queue_output(c); /* the alert, if any */
        }
        conn_flush(c);
        return;
    }
    tls_count_handshake(c);
    tls_queue_output(c);
    conn_flush(c);
}

static void tls_send(struct torus_conn *c, struct torus_chunk *chunk)
{
    if (slow_path(torus_tls_write(c->tls, chunk->data + chunk->sent, chunk->len - chunk->sent) < 0))
        conn_finish_after_output(c);
    if (chunk == c->file_chunk)
        chunk->sent = chunk->len;
    else
        torus_chunk_free(chunk);
    tls_queue_output(c);
}

static bool tls_handshaking(const struct torus_conn *c)
{
    return !torus_tls_handshake_done(c->tls);
}

static bool tls_can_close_notify(const struct torus_conn *c)
{
    return torus_tls_handshake_done(c->tls);
}

static void tls_close_notify(struct torus_conn *c)
{
    torus_tls_shutdown(c->tls);
    tls_queue_output(c);
}

static const struct conn_transport tls_transport = {
    .received = tls_received,
    .send = tls_send,
    .handshaking = tls_handshaking,
    .can_close_notify = tls_can_close_notify,
    .close_notify = tls_close_notify,
    .secure = true,
};

/* ------------------------------------------------------------------------ */

int transport_open(struct torus_conn *c, bool tls)
{
    c->transport = &plain_transport;
    if (!tls)
        return TORUS_OK;
    c->tls = torus_tls_conn_new(c->loop->shard->tls);
    if (slow_path(!c->tls))
        return TORUS_ERROR;
    c->transport = &tls_transport;
    return TORUS_OK;
}

void transport_free(struct torus_conn *c)
{
    torus_tls_conn_free(c->tls);
    c->tls = NULL;
}
