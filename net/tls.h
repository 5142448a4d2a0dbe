/*
 * TLS for the shard loops: wolfSSL driven over memory buffers.
 *
 * This module never touches a socket. The loop receives ciphertext with
 * io_uring and hands it to torus_tls_feed(); torus_tls_read() runs the
 * handshake and returns plaintext; torus_tls_write() turns plaintext into
 * records; whatever TLS wants to send (handshake flights, records, alerts,
 * tickets) waits in the connection's output until the loop takes it with
 * torus_tls_output() / torus_tls_output_consumed() and sends it with
 * io_uring. A handshake therefore never blocks a shard.
 *
 * One torus_tls_context is created at start-up and shared read-only by every
 * shard; each connection has its own torus_tls_conn, used by one thread only.
 *
 * How a loop drives a connection:
 *   accept     torus_tls_conn_new(); the header timeout runs until the
 *              handshake is done and the first request head is complete.
 *   recv N>0   torus_tls_feed(), then torus_tls_read() until TORUS_AGAIN:
 *              > 0 is plaintext for the HTTP parser, 0 is close_notify (as a
 *              FIN), TORUS_ERROR ends the connection (send the alert in the
 *              output, or a plaintext 400 when torus_tls_plaintext_http()).
 *              Then send whatever torus_tls_output() holds.
 *   resume     after pausing (backpressure), call torus_tls_read() again even
 *              without new input: decrypted bytes may be waiting inside.
 *   respond    torus_tls_write() each piece, then send torus_tls_output().
 *   close      torus_tls_shutdown(), send the output, then close the socket.
 *   free       torus_tls_conn_free(); torus_tls_thread_cleanup() when the
 *              thread exits.
 */
#ifndef TORUS_TLS_H
#define TORUS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "runtime/common.h"

/* The application protocol ALPN selects for HTTP/1.1 clients. */
#define TORUS_TLS_ALPN_HTTP1 "http/1.1"
/* Every protocol ALPN may select, in the server's order of preference (wolfSSL's list form):
 * h2 first; as nginx, a client that offers only http/1.0 is served too. */
#define TORUS_TLS_ALPN_LIST "h2,http/1.1,http/1.0"
/* The application protocol ALPN selects for HTTP/2 clients. */
#define TORUS_TLS_ALPN_H2 "h2"

/* How long a session-ticket key encrypts new tickets; it then decrypts for as long again. */
#define TORUS_TLS_TICKET_KEY_LIFETIME 3600

/*
 * The most ciphertext a connection holds unread: torus_tls_feed() refuses to
 * go past it. A loop that feeds what it receives and reads after each feed
 * never comes near it; one that stops reading plaintext (backpressure) must
 * stop receiving too.
 */
#define TORUS_TLS_INPUT_MAX (1024 * 1024)

struct torus_tls_context;
struct torus_tls_conn;

/*
 * Creates the process-wide context: loads the PEM certificate chain and the
 * PEM private key and checks that they belong together; TLS 1.2 and 1.3 only,
 * AEAD suites with ECDHE (X25519, P-256), ALPN "http/1.1", stateless session
 * resumption through tickets sealed with keys the process generates and
 * rotates (TLS 1.2 tickets and TLS 1.3 PSK). Returns NULL with a one-line
 * message naming the file in err (unreadable file, malformed PEM, key that
 * does not match the certificate). Call it before any shard thread starts.
 */
struct torus_tls_context *torus_tls_context_new(const char *cert_file, const char *key_file,
                                                char *err, size_t err_size);

/*
 * Frees the context. Every connection made from it must have been freed
 * first (at process exit, after the shards stopped).
 */
void torus_tls_context_free(struct torus_tls_context *ctx);

/*
 * Loads a new certificate and key (SIGHUP). On success connections created
 * from now on use them; existing connections keep the pair they started with.
 * On failure the old pair stays in use and err says why (TORUS_ERROR).
 * Session tickets issued before the reload remain valid. Safe to call while
 * shards create connections.
 */
int torus_tls_context_reload(struct torus_tls_context *ctx, const char *cert_file,
                             const char *key_file, char *err, size_t err_size);

/*
 * Retires the ticket key in use now, in this process only (tests): new
 * tickets are sealed with the next key, tickets sealed with the retired one
 * are still accepted, and those of the key retired before it are refused (a
 * full handshake follows). Keys rotate by themselves every
 * TORUS_TLS_TICKET_KEY_LIFETIME seconds, alike in every shard process (the
 * keys follow the clock; net/tls_ticket.c). Safe to call from any thread.
 */
void torus_tls_context_rotate_ticket_keys(struct torus_tls_context *ctx);

/*
 * Frees what wolfSSL keeps per thread (its ECC fixed-point cache, up to about
 * 10 MB once the thread has done P-256 key exchanges). Each shard's I/O
 * thread calls it after its last connection is freed, just before it exits.
 */
void torus_tls_thread_cleanup(void);

/*
 * A server-side connection in its initial state, allocated by the calling
 * thread; NULL when memory runs out. The thread that creates it is the only
 * one that may use it.
 */
struct torus_tls_conn *torus_tls_conn_new(struct torus_tls_context *ctx);

/* Frees the connection and everything it holds; NULL is allowed. */
void torus_tls_conn_free(struct torus_tls_conn *conn);

/*
 * Appends ciphertext received from the socket to the connection's input (the
 * bytes are copied). TORUS_OK, or TORUS_ERROR when memory runs out or the
 * unread input would exceed TORUS_TLS_INPUT_MAX.
 */
int torus_tls_feed(struct torus_tls_conn *conn, const char *data, size_t len);

/*
 * Runs the handshake as far as the input allows, then decrypts: writes up to
 * `size` (> 0) plaintext bytes into out and returns how many (> 0). Returns
 * TORUS_AGAIN when more input is needed (the handshake may have produced
 * output to send: check torus_tls_output()), 0 when the peer sent
 * close_notify, TORUS_ERROR on a protocol error (an alert for the peer may be
 * waiting in the output). Input that cannot begin a TLS handshake (plaintext
 * HTTP sent to the TLS port) fails on its first byte, without waiting for
 * more. Decrypted bytes that did not fit in out stay inside: call again (even
 * without new input) until it returns TORUS_AGAIN.
 */
ssize_t torus_tls_read(struct torus_tls_conn *conn, char *out, size_t size);

/*
 * Encrypts len bytes of plaintext into records appended to the output and
 * returns len (all of it is consumed), or TORUS_ERROR (handshake not done,
 * connection failed or closed for writing, memory). The output grows by about
 * len plus 22-29 bytes per 16 KiB record: give it no more than the loop is
 * ready to send.
 */
ssize_t torus_tls_write(struct torus_tls_conn *conn, const char *data, size_t len);

/*
 * The ciphertext waiting to be sent: sets *data and returns its length (0
 * when there is none). The pointer stays valid until the next call of any
 * other function of this connection.
 */
size_t torus_tls_output(struct torus_tls_conn *conn, const char **data);

/* Drops the first len bytes of the output, which the loop has taken. */
void torus_tls_output_consumed(struct torus_tls_conn *conn, size_t len);

/*
 * Queues a close_notify alert (once; nothing before the handshake is done).
 * torus_tls_write() fails afterwards.
 */
void torus_tls_shutdown(struct torus_tls_conn *conn);

/* Whether the handshake has completed. */
bool torus_tls_handshake_done(const struct torus_tls_conn *conn);

/* The negotiated protocol version, "TLSv1.2" or "TLSv1.3" ("unknown" before the handshake). */
const char *torus_tls_version(const struct torus_tls_conn *conn);

/* The negotiated cipher suite's name, e.g. "TLS_AES_128_GCM_SHA256" ("" before the handshake). */
const char *torus_tls_cipher(const struct torus_tls_conn *conn);

/* Whether this handshake resumed an earlier session (a ticket or a TLS 1.3 PSK). */
bool torus_tls_resumed(const struct torus_tls_conn *conn);

/* Whether ALPN selected "http/1.1" (false when the client offered no ALPN). */
bool torus_tls_alpn_http1(const struct torus_tls_conn *conn);

/* Whether ALPN selected "h2" (HTTP/2). */
bool torus_tls_alpn_h2(const struct torus_tls_conn *conn);

/*
 * Whether torus_tls_read() failed because the client spoke plaintext HTTP
 * (its first bytes are an upper-case method): the loop may answer with a
 * plaintext 400 before it closes, as nginx does.
 */
bool torus_tls_plaintext_http(const struct torus_tls_conn *conn);

/* Why the connection failed, for the debug log ("" when it did not). */
const char *torus_tls_error(const struct torus_tls_conn *conn);

#endif
