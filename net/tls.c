/*
 * TLS over memory buffers with wolfSSL.
 *
 * I/O. wolfSSL is given custom I/O callbacks instead of a socket. Its receive
 * callback copies from the connection's input buffer (filled by
 * torus_tls_feed() with ciphertext the loop received) and answers "would
 * block" when the buffer is empty; its send callback appends to the
 * connection's output buffer and always accepts everything, so wolfSSL never
 * keeps a half-sent record of its own and torus_tls_write() consumes all it is
 * given. The loop drains the output with torus_tls_output() /
 * torus_tls_output_consumed(). Both buffers are released as soon as they are
 * empty, so an idle keep-alive connection holds only wolfSSL's own state.
 *
 * Memory bounds. Input holds what the loop fed and TLS has not read yet: at
 * most TORUS_TLS_INPUT_MAX. Output holds the records of what the caller wrote
 * (plus handshake messages and alerts): it grows only when the caller writes,
 * so a slow reader costs what the loop chose to write, never more. Plaintext
 * decrypted but not yet read stays inside wolfSSL (one record, 16 KiB).
 *
 * Plaintext on the TLS port. Every TLS connection begins with a handshake
 * record (content type 22). The first byte of the input is checked before
 * wolfSSL sees it: anything else fails at once, and an upper-case letter
 * marks the connection as plaintext HTTP so the loop can answer 400.
 *
 * Context and reload. wolfSSL's SSL objects point into their WOLFSSL_CTX (the
 * certificate and key buffers are shared, not copied), and a WOLFSSL_CTX is
 * reference-counted by the SSL objects made from it. A reload therefore
 * builds a complete new WOLFSSL_CTX and swaps the pointer under a write lock;
 * the old one is released by wolfSSL_CTX_free() and lives on until its last
 * connection is freed. torus_tls_conn_new() holds the read lock only around
 * wolfSSL_new(), so the swap can never free a WOLFSSL_CTX that a shard is
 * about to take a reference on.
 *
 * Session tickets are sealed by net/tls_ticket.c, with keys every shard
 * process derives alike from one secret drawn with the context.
 *
 * A TLS 1.3 client gets a fresh ticket after every handshake. wolfSSL 5.5.4
 * is less kind to TLS 1.2: it ignores our "accept, but issue a new ticket"
 * answer for a ticket of the retired key, and issues none after refusing a
 * ticket, so such a client resumes again only after one more full handshake.
 *
 * Per-thread state. wolfSSL's ECC code (Debian builds it with FP_ECC) caches
 * fixed-point tables per thread; torus_tls_thread_cleanup() releases them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/openssl/evp.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/ecc.h>

#include "net/tls.h"
#include "net/tls_ticket.h"

/*
 * TLS 1.3 suites first, then TLS 1.2 ECDHE with an AEAD, ECDSA before RSA.
 * The server's order decides. A wolfSSL built without AES-NI (Debian's is)
 * does AES-GCM with tables in C, which costs more than ChaCha20-Poly1305 in
 * C: ChaCha20 comes first then (measured: HTTPS keep-alive hello +8%,
 * alternating A/B runs). With AES-NI, AES-GCM is the faster one and leads.
 */
#ifdef WOLFSSL_AESNI
#define TLS13_SUITES                                                                               \
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256:"
#define TLS12_SUITES                                                                               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
#else
#define TLS13_SUITES                                                                               \
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
#define TLS12_SUITES                                                                               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#endif
static const char tls_cipher_list[] = TLS13_SUITES TLS12_SUITES;

#define TLS_RECORD_HANDSHAKE 22
#define TLS_PEM_FILE_MAX     (1024 * 1024)
/* The smallest buffer allocated: one full record and its header. */
#define TLS_BUFFER_MIN (16384 + 512)
struct torus_tls_context {
    pthread_rwlock_t ssl_ctx_lock; /* guards ssl_ctx against a reload's swap */
    WOLFSSL_CTX *ssl_ctx;

    struct tls_tickets tickets; /* session-ticket keys (net/tls_ticket.c) */
};

/* Bytes between start and end are pending; data is NULL while empty. */
struct tls_buffer {
    char *data;
    size_t start;
    size_t end;
    size_t capacity;
};

struct torus_tls_conn {
    WOLFSSL *ssl;
    struct tls_buffer input;  /* ciphertext received, not yet read by wolfSSL */
    struct tls_buffer output; /* ciphertext produced, not yet taken by the loop */
    bool first_byte_checked;
    bool failed;
    bool plaintext_http;
    bool shutdown_sent;
    bool out_of_memory; /* the send callback could not grow the output */
    const char *error;
};

/* ------------------------------------------------------------------------ */
/* Buffers                                                                   */
/* ------------------------------------------------------------------------ */

static size_t buffer_size(const struct tls_buffer *b)
{
    return b->end - b->start;
}

static void buffer_release(struct tls_buffer *b)
{
    free(b->data);
    *b = (struct tls_buffer){0};
}

/* Appends len bytes; TORUS_OK or TORUS_ERROR (memory). */
static int buffer_append(struct tls_buffer *b, const char *src, size_t len)
{
    if (b->capacity - b->end < len) {
        size_t used = buffer_size(b);
        if (b->start > 0) {
            memmove(b->data, b->data + b->start, used);
            b->start = 0;
            b->end = used;
        }
        if (b->capacity - used < len) {
            size_t capacity = TORUS_MAX(TORUS_MAX(b->capacity * 2, used + len), TLS_BUFFER_MIN);
            char *data = realloc(b->data, capacity);
            if (slow_path(data == NULL))
                return TORUS_ERROR;
            b->data = data;
            b->capacity = capacity;
        }
    }
    memcpy(b->data + b->end, src, len);
    b->end += len;
    return TORUS_OK;
}

/* Drops len bytes from the front; the memory goes back once nothing is left. */
static void buffer_consume(struct tls_buffer *b, size_t len)
{
    b->start += TORUS_MIN(len, buffer_size(b));
    if (b->start == b->end)
        buffer_release(b);
}

/* ------------------------------------------------------------------------ */
/* wolfSSL's I/O callbacks                                                   */
/* ------------------------------------------------------------------------ */

static int tls_receive(WOLFSSL *ssl, char *buf, int size, void *user)
{
    (void)ssl;
    struct torus_tls_conn *conn = user;
    size_t available = buffer_size(&conn->input);
    if (available == 0)
        return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = TORUS_MIN(available, (size_t)size);
    memcpy(buf, conn->input.data + conn->input.start, n);
    buffer_consume(&conn->input, n);
    return (int)n;
}

static int tls_send(WOLFSSL *ssl, char *buf, int size, void *user)
{
    (void)ssl;
    struct torus_tls_conn *conn = user;
    if (slow_path(buffer_append(&conn->output, buf, (size_t)size) != TORUS_OK)) {
        conn->out_of_memory = true;
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    return size;
}

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

/* Reads a whole PEM file into a NUL-terminated buffer; NULL with err set. */
static char *read_pem_file(const char *what, const char *path, size_t *len, char *err,
                           size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_size, "TLS %s %s: cannot read: %s", what, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_size, "TLS %s %s: cannot read: not a regular file", what, path);
        close(fd);
        return NULL;
    }
    if (st.st_size > TLS_PEM_FILE_MAX) {
        snprintf(err, err_size, "TLS %s %s: over %d bytes, not a PEM file", what, path,
                 TLS_PEM_FILE_MAX);
        close(fd);
        return NULL;
    }
    char *data = malloc((size_t)st.st_size + 1);
    size_t done = 0;
    while (data != NULL && done < (size_t)st.st_size) {
        ssize_t n = read(fd, data + done, (size_t)st.st_size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, err_size, "TLS %s %s: cannot read: %s", what, path,
                     n < 0 ? strerror(errno) : "file shrank while read");
            free(data);
            close(fd);
            return NULL;
        }
        done += (size_t)n;
    }
    close(fd);
    if (data == NULL) {
        snprintf(err, err_size, "TLS %s %s: out of memory", what, path);
        return NULL;
    }
    data[done] = '\0';
    *len = done;
    return data;
}

static void wipe_and_free(char *data, size_t len)
{
    if (data != NULL) {
        explicit_bzero(data, len);
        free(data);
    }
}

/*
 * Whether the loaded private key signs what the certificate's public key
 * verifies. wolfSSL_CTX_check_private_key() alone is not enough: Debian's
 * wolfSSL 5.5.4 accepts any P-256 key for any P-256 certificate (it checks
 * that the key is valid, not that it is the certificate's).
 */
static bool key_signs_for_certificate(WOLFSSL_CTX *ssl_ctx)
{
    static const unsigned char probe[] = "torus: does this key belong to this certificate?";
    WOLFSSL_X509 *cert = wolfSSL_CTX_get0_certificate(ssl_ctx);
    WOLFSSL_EVP_PKEY *private_key = wolfSSL_CTX_get0_privatekey(ssl_ctx);
    if (cert == NULL || private_key == NULL)
        return false;
    WOLFSSL_EVP_PKEY *public_key = wolfSSL_X509_get_pubkey(cert);
    WOLFSSL_EVP_MD_CTX *md = wolfSSL_EVP_MD_CTX_new();
    unsigned char signature[1024];
    size_t signature_len = sizeof(signature);
    bool ok = public_key != NULL && md != NULL &&
              wolfSSL_EVP_PKEY_size(private_key) <= (int)sizeof(signature) &&
              wolfSSL_EVP_DigestSignInit(md, NULL, wolfSSL_EVP_sha256(), NULL, private_key) ==
                  WOLFSSL_SUCCESS &&
              wolfSSL_EVP_DigestSignUpdate(md, probe, sizeof(probe)) == WOLFSSL_SUCCESS &&
              wolfSSL_EVP_DigestSignFinal(md, signature, &signature_len) == WOLFSSL_SUCCESS;
    if (ok) {
        wolfSSL_EVP_MD_CTX_free(md);
        md = wolfSSL_EVP_MD_CTX_new();
        ok = md != NULL &&
             wolfSSL_EVP_DigestVerifyInit(md, NULL, wolfSSL_EVP_sha256(), NULL, public_key) ==
                 WOLFSSL_SUCCESS &&
             wolfSSL_EVP_DigestVerifyUpdate(md, probe, sizeof(probe)) == WOLFSSL_SUCCESS &&
             wolfSSL_EVP_DigestVerifyFinal(md, signature, signature_len) == WOLFSSL_SUCCESS;
    }
    if (md != NULL)
        wolfSSL_EVP_MD_CTX_free(md);
    if (public_key != NULL)
        wolfSSL_EVP_PKEY_free(public_key);
    return ok;
}

/* wolfSSL's words for a loading error, when it has some. */
static const char *load_error_text(int ret)
{
    const char *text = wolfSSL_ERR_reason_error_string((unsigned long)ret);
    return text == NULL || strncmp(text, "unknown", 7) == 0 ? "cannot be decoded" : text;
}

/* Loads the certificate chain and the key into ssl_ctx; TORUS_OK or TORUS_ERROR with err set. */
static int load_certificate_and_key(WOLFSSL_CTX *ssl_ctx, const char *cert_file,
                                    const char *key_file, char *err, size_t err_size)
{
    size_t cert_len = 0, key_len = 0;
    char *cert = read_pem_file("certificate", cert_file, &cert_len, err, err_size);
    if (cert == NULL)
        return TORUS_ERROR;
    char *key = read_pem_file("private key", key_file, &key_len, err, err_size);
    if (key == NULL) {
        free(cert);
        return TORUS_ERROR;
    }

    int rc = TORUS_ERROR;
    int ret;
    if (strstr(cert, "-----BEGIN CERTIFICATE-----") == NULL) {
        snprintf(err, err_size, "TLS certificate %s: malformed PEM: no CERTIFICATE block",
                 cert_file);
    } else if ((ret = wolfSSL_CTX_use_certificate_chain_buffer_format(
                    ssl_ctx, (const unsigned char *)cert, (long)cert_len, WOLFSSL_FILETYPE_PEM)) !=
               WOLFSSL_SUCCESS) {
        snprintf(err, err_size, "TLS certificate %s: malformed PEM certificate (%s)", cert_file,
                 load_error_text(ret));
    } else if (strstr(key, "PRIVATE KEY-----") == NULL) {
        snprintf(err, err_size, "TLS private key %s: malformed PEM: no PRIVATE KEY block",
                 key_file);
    } else if ((ret = wolfSSL_CTX_use_PrivateKey_buffer(ssl_ctx, (const unsigned char *)key,
                                                        (long)key_len, WOLFSSL_FILETYPE_PEM)) !=
               WOLFSSL_SUCCESS) {
        snprintf(err, err_size, "TLS private key %s: malformed PEM private key, or encrypted (%s)",
                 key_file, load_error_text(ret));
    } else if (wolfSSL_CTX_check_private_key(ssl_ctx) != WOLFSSL_SUCCESS ||
               !key_signs_for_certificate(ssl_ctx)) {
        snprintf(err, err_size, "TLS private key %s does not match the certificate in %s", key_file,
                 cert_file);
    } else {
        rc = TORUS_OK;
    }
    free(cert);
    wipe_and_free(key, key_len);
    return rc;
}

/*
 * ALPN: the server's order of preference (TORUS_TLS_ALPN_LIST) decides, not the
 * client's, so a browser that offers "http/1.1, h2" gets h2 (as from nginx).
 * Looks for each of our protocols, in our order, in the client's list (`in`,
 * `in_len` bytes: length-prefixed names); on a match points *out into `in`.
 * Returns false when the client offers none of ours, or a malformed list.
 */
static bool alpn_choose(const unsigned char *in, unsigned int in_len, const unsigned char **out,
                        unsigned char *out_len)
{
    static const char ours[] = TORUS_TLS_ALPN_LIST;
    for (const char *name = ours; *name != '\0';) {
        size_t name_len = strcspn(name, ",");
        for (unsigned int at = 0; at < in_len;) {
            unsigned int len = in[at];
            if (len == 0 || len > in_len - at - 1)
                return false; /* RFC 7301: empty names and overruns are malformed */
            if (len == name_len && memcmp(in + at + 1, name, len) == 0) {
                *out = in + at + 1;
                *out_len = (unsigned char)len;
                return true;
            }
            at += 1 + len;
        }
        name += name_len + (name[name_len] == ',');
    }
    return false;
}

/*
 * wolfSSL's ALPN select callback (SSL_TLSEXT_ERR_OK = 0, _NOACK = 3). The
 * protocol chosen replaces the SSL object's list, so wolfSSL answers it.
 * When the client offers none of ours the callback refuses, and wolfSSL
 * matches the client's list against the SSL object's own (set in
 * torus_tls_conn_new()): no match, so the handshake ends with
 * no_application_protocol (RFC 7301), as nginx's does.
 */
static int alpn_select(WOLFSSL *ssl, const unsigned char **out, unsigned char *out_len,
                       const unsigned char *in, unsigned int in_len, void *arg)
{
    (void)ssl;
    (void)arg;
    return alpn_choose(in, in_len, out, out_len) ? 0 : 3;
}

/* A fully configured WOLFSSL_CTX for ctx's tickets; NULL with err set. */
static WOLFSSL_CTX *ssl_ctx_build(struct torus_tls_context *ctx, const char *cert_file,
                                  const char *key_file, char *err, size_t err_size)
{
    WOLFSSL_CTX *ssl_ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (ssl_ctx == NULL) {
        snprintf(err, err_size, "TLS: cannot create a wolfSSL context (out of memory)");
        return NULL;
    }
    const char *failed = NULL;
    if (wolfSSL_CTX_SetMinVersion(ssl_ctx, WOLFSSL_TLSV1_2) != WOLFSSL_SUCCESS)
        failed = "minimum version TLS 1.2";
    else if (wolfSSL_CTX_set_cipher_list(ssl_ctx, tls_cipher_list) != WOLFSSL_SUCCESS)
        failed = "cipher suites";
    /* Both the TLS 1.3 key-share groups and the TLS 1.2 ECDHE curves. */
    else if (wolfSSL_CTX_set1_curves_list(ssl_ctx, "X25519:P-256") != WOLFSSL_SUCCESS)
        failed = "key exchange groups";
    else if (wolfSSL_CTX_set_TicketEncCb(ssl_ctx, tls_ticket_seal) != WOLFSSL_SUCCESS ||
             wolfSSL_CTX_set_TicketEncCtx(ssl_ctx, &ctx->tickets) != WOLFSSL_SUCCESS ||
             wolfSSL_CTX_set_TicketHint(ssl_ctx, TORUS_TLS_TICKET_KEY_LIFETIME) != WOLFSSL_SUCCESS)
        failed = "session tickets";
    if (failed != NULL) {
        snprintf(err, err_size, "TLS: wolfSSL refused the setting: %s", failed);
        wolfSSL_CTX_free(ssl_ctx);
        return NULL;
    }
    wolfSSL_CTX_set_options(ssl_ctx, WOLFSSL_OP_NO_SSLv2 | WOLFSSL_OP_NO_SSLv3 |
                                         WOLFSSL_OP_NO_TLSv1 | WOLFSSL_OP_NO_TLSv1_1 |
                                         WOLFSSL_OP_NO_COMPRESSION |
                                         WOLFSSL_OP_CIPHER_SERVER_PREFERENCE);
    wolfSSL_CTX_set_timeout(ssl_ctx, TORUS_TLS_TICKET_KEY_LIFETIME);
    wolfSSL_CTX_set_session_cache_mode(ssl_ctx, WOLFSSL_SESS_CACHE_OFF);
    wolfSSL_CTX_set_verify(ssl_ctx, WOLFSSL_VERIFY_NONE, NULL);
    wolfSSL_CTX_SetIORecv(ssl_ctx, tls_receive);
    wolfSSL_CTX_SetIOSend(ssl_ctx, tls_send);
    wolfSSL_CTX_set_alpn_select_cb(ssl_ctx, alpn_select, NULL);

    if (load_certificate_and_key(ssl_ctx, cert_file, key_file, err, err_size) != TORUS_OK) {
        wolfSSL_CTX_free(ssl_ctx);
        return NULL;
    }
    return ssl_ctx;
}

struct torus_tls_context *torus_tls_context_new(const char *cert_file, const char *key_file,
                                                char *err, size_t err_size)
{
    if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
        snprintf(err, err_size, "TLS: wolfSSL failed to initialise");
        return NULL;
    }
    struct torus_tls_context *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        snprintf(err, err_size, "TLS: out of memory");
        wolfSSL_Cleanup();
        return NULL;
    }
    pthread_rwlock_init(&ctx->ssl_ctx_lock, NULL);
    if (tls_tickets_init(&ctx->tickets) != TORUS_OK) {
        snprintf(err, err_size, "TLS: cannot draw a session-ticket secret: %s", strerror(errno));
        torus_tls_context_free(ctx);
        return NULL;
    }
    ctx->ssl_ctx = ssl_ctx_build(ctx, cert_file, key_file, err, err_size);
    if (ctx->ssl_ctx == NULL) {
        torus_tls_context_free(ctx);
        return NULL;
    }
    return ctx;
}

void torus_tls_context_free(struct torus_tls_context *ctx)
{
    if (ctx == NULL)
        return;
    if (ctx->ssl_ctx != NULL)
        wolfSSL_CTX_free(ctx->ssl_ctx);
    pthread_rwlock_destroy(&ctx->ssl_ctx_lock);
    tls_tickets_wipe(&ctx->tickets);
    explicit_bzero(ctx, sizeof(*ctx));
    free(ctx);
    wolfSSL_Cleanup();
}

int torus_tls_context_reload(struct torus_tls_context *ctx, const char *cert_file,
                             const char *key_file, char *err, size_t err_size)
{
    WOLFSSL_CTX *fresh = ssl_ctx_build(ctx, cert_file, key_file, err, err_size);
    if (fresh == NULL)
        return TORUS_ERROR;
    pthread_rwlock_wrlock(&ctx->ssl_ctx_lock);
    WOLFSSL_CTX *old = ctx->ssl_ctx;
    ctx->ssl_ctx = fresh;
    pthread_rwlock_unlock(&ctx->ssl_ctx_lock);
    /* Only drops our reference: connections made from it keep it alive. */
    wolfSSL_CTX_free(old);
    return TORUS_OK;
}

void torus_tls_context_rotate_ticket_keys(struct torus_tls_context *ctx)
{
    tls_tickets_rotate(&ctx->tickets);
}

void torus_tls_thread_cleanup(void)
{
#if defined(HAVE_ECC) && defined(FP_ECC)
    wc_ecc_fp_free();
#endif
}

/* ------------------------------------------------------------------------ */
/* Connections                                                               */
/* ------------------------------------------------------------------------ */

struct torus_tls_conn *torus_tls_conn_new(struct torus_tls_context *ctx)
{
    struct torus_tls_conn *conn = calloc(1, sizeof(*conn));
    if (slow_path(conn == NULL))
        return NULL;
    pthread_rwlock_rdlock(&ctx->ssl_ctx_lock);
    conn->ssl = wolfSSL_new(ctx->ssl_ctx);
    pthread_rwlock_unlock(&ctx->ssl_ctx_lock);
    if (slow_path(conn->ssl == NULL)) {
        free(conn);
        return NULL;
    }
    /*
     * The protocols ALPN may select, per SSL object: wolfSSL 5.5.4 ignores a
     * refusal from the select callback (alpn_select) and falls back to this
     * list, and only a list here makes it answer a client that offers none
     * of ours with no_application_protocol.
     */
    char protocols[] = TORUS_TLS_ALPN_LIST;
    if (slow_path(wolfSSL_UseALPN(conn->ssl, protocols, sizeof(protocols) - 1,
                                  WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS)) {
        wolfSSL_free(conn->ssl);
        free(conn);
        return NULL;
    }
    wolfSSL_SetIOReadCtx(conn->ssl, conn);
    wolfSSL_SetIOWriteCtx(conn->ssl, conn);
    conn->error = "";
    return conn;
}

void torus_tls_conn_free(struct torus_tls_conn *conn)
{
    if (conn == NULL)
        return;
    wolfSSL_free(conn->ssl);
    buffer_release(&conn->input);
    buffer_release(&conn->output);
    free(conn);
}

int torus_tls_feed(struct torus_tls_conn *conn, const char *data, size_t len)
{
    if (len == 0)
        return TORUS_OK;
    if (slow_path(buffer_size(&conn->input) + len > TORUS_TLS_INPUT_MAX)) {
        conn->error = "more unread input than TORUS_TLS_INPUT_MAX";
        return TORUS_ERROR;
    }
    if (slow_path(buffer_append(&conn->input, data, len) != TORUS_OK)) {
        conn->error = "out of memory";
        return TORUS_ERROR;
    }
    return TORUS_OK;
}

/* Marks the connection failed with wolfSSL's reason for `ret`. */
static ssize_t conn_fail(struct torus_tls_conn *conn, int ret)
{
    int code = wolfSSL_get_error(conn->ssl, ret);
    conn->failed = true;
    conn->error = conn->out_of_memory ? "out of memory"
                                      : wolfSSL_ERR_reason_error_string((unsigned long)code);
    if (conn->error == NULL)
        conn->error = "TLS error";
    return TORUS_ERROR;
}

/*
 * Before wolfSSL sees any input: a TLS connection starts with a handshake
 * record. Anything else fails now rather than after five bytes or a timeout.
 */
static int conn_check_first_byte(struct torus_tls_conn *conn)
{
    unsigned char first = (unsigned char)conn->input.data[conn->input.start];
    conn->first_byte_checked = true;
    if (fast_path(first == TLS_RECORD_HANDSHAKE))
        return TORUS_OK;
    conn->failed = true;
    conn->plaintext_http = first >= 'A' && first <= 'Z';
    conn->error =
        conn->plaintext_http ? "plaintext HTTP sent to the TLS port" : "not a TLS handshake";
    return TORUS_ERROR;
}

ssize_t torus_tls_read(struct torus_tls_conn *conn, char *out, size_t size)
{
    if (slow_path(conn->failed))
        return TORUS_ERROR;
    if (slow_path(!conn->first_byte_checked)) {
        if (buffer_size(&conn->input) == 0)
            return TORUS_AGAIN;
        if (conn_check_first_byte(conn) != TORUS_OK)
            return TORUS_ERROR;
    }
    int want = (int)TORUS_MIN(size, (size_t)INT_MAX);
    int n = wolfSSL_read(conn->ssl, out, want);
    if (fast_path(n > 0))
        return n;
    int code = wolfSSL_get_error(conn->ssl, n);
    if (code == WOLFSSL_ERROR_WANT_READ || code == WOLFSSL_ERROR_WANT_WRITE)
        return TORUS_AGAIN;
    if (code == WOLFSSL_ERROR_ZERO_RETURN)
        return 0;
    return conn_fail(conn, n);
}

ssize_t torus_tls_write(struct torus_tls_conn *conn, const char *data, size_t len)
{
    if (slow_path(conn->failed || conn->shutdown_sent || !wolfSSL_is_init_finished(conn->ssl)))
        return TORUS_ERROR;
    size_t done = 0;
    while (done < len) {
        int chunk = (int)TORUS_MIN(len - done, (size_t)1 << 30);
        int n = wolfSSL_write(conn->ssl, data + done, chunk);
        if (slow_path(n <= 0))
            return conn_fail(conn, n);
        done += (size_t)n;
    }
    return (ssize_t)done;
}

size_t torus_tls_output(struct torus_tls_conn *conn, const char **data)
{
    size_t len = buffer_size(&conn->output);
    *data = len ? conn->output.data + conn->output.start : NULL;
    return len;
}

void torus_tls_output_consumed(struct torus_tls_conn *conn, size_t len)
{
    buffer_consume(&conn->output, len);
}

void torus_tls_shutdown(struct torus_tls_conn *conn)
{
    if (conn->shutdown_sent || conn->failed || !wolfSSL_is_init_finished(conn->ssl))
        return;
    conn->shutdown_sent = true;
    /* Sends close_notify; "not done" only means the peer's has not come. */
    wolfSSL_shutdown(conn->ssl);
}

bool torus_tls_handshake_done(const struct torus_tls_conn *conn)
{
    return wolfSSL_is_init_finished(conn->ssl);
}

const char *torus_tls_version(const struct torus_tls_conn *conn)
{
    if (!wolfSSL_is_init_finished(conn->ssl))
        return "unknown";
    return wolfSSL_get_version(conn->ssl);
}

const char *torus_tls_cipher(const struct torus_tls_conn *conn)
{
    if (!wolfSSL_is_init_finished(conn->ssl))
        return "";
    /*
     * The names OpenSSL (and so nginx's $ssl_cipher) uses: the IANA name for
     * TLS 1.3 suites, wolfSSL's own name (the same as OpenSSL's) for TLS 1.2.
     */
    const char *name;
    if (wolfSSL_version(conn->ssl) == TLS1_3_VERSION) {
        int suite = wolfSSL_get_current_cipher_suite(conn->ssl);
        name = wolfSSL_get_cipher_name_iana_from_suite((unsigned char)(suite >> 8),
                                                       (unsigned char)suite);
    } else {
        name = wolfSSL_get_cipher_name(conn->ssl);
    }
    return name ? name : "";
}

bool torus_tls_resumed(const struct torus_tls_conn *conn)
{
    return wolfSSL_is_init_finished(conn->ssl) && wolfSSL_session_reused(conn->ssl);
}

/* True when ALPN selected `protocol`. */
static bool alpn_is(const struct torus_tls_conn *conn, const char *protocol)
{
    char *name = NULL;
    unsigned short len = 0;
    if (wolfSSL_ALPN_GetProtocol(conn->ssl, &name, &len) != WOLFSSL_SUCCESS || name == NULL)
        return false;
    return len == strlen(protocol) && memcmp(name, protocol, len) == 0;
}

bool torus_tls_alpn_http1(const struct torus_tls_conn *conn)
{
    return alpn_is(conn, TORUS_TLS_ALPN_HTTP1);
}

bool torus_tls_alpn_h2(const struct torus_tls_conn *conn)
{
    return alpn_is(conn, TORUS_TLS_ALPN_H2);
}

bool torus_tls_plaintext_http(const struct torus_tls_conn *conn)
{
    return conn->plaintext_http;
}

const char *torus_tls_error(const struct torus_tls_conn *conn)
{
    return conn->error;
}
