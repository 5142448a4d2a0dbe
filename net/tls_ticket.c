/*
 * Session tickets that every shard process seals and opens alike.
 *
 * wolfSSL's session cache is off: resumption is stateless, through tickets
 * (TLS 1.2 session tickets and TLS 1.3 PSK tickets alike). wolfSSL
 * serialises the session state and asks tls_ticket_seal() to seal or open
 * it; a ticket is sealed with ChaCha20-Poly1305, the associated data being
 * the key's name and the nonce.
 *
 * The shards are processes forked from the supervisor after the TLS context
 * was made, so nothing here may depend on state that changes after the fork:
 *
 *   keys    A 32-byte master secret is drawn once, with the context, and
 *           inherited by every shard. Time is cut into epochs of
 *           TORUS_TLS_TICKET_KEY_LIFETIME seconds of CLOCK_MONOTONIC, which
 *           every process of the machine reads alike. The key of epoch E is
 *           HMAC-SHA256(master, "torus ticket key" || E) and its name the
 *           first bytes of HMAC-SHA256(master, "torus ticket name" || E): a
 *           ticket sealed by one shard opens in any other, no lock is taken
 *           and a process that dies can leave nothing half-rotated. New
 *           tickets use epoch E's key; tickets of E - 1 are still accepted
 *           (and a new one issued), older ones are refused: a key seals for
 *           one lifetime and opens for one more, as before.
 *   nonces  Processes that share a key must never share a nonce (a repeated
 *           ChaCha20-Poly1305 nonce gives away the key stream and allows
 *           forgeries). A process-wide counter, copied by fork(), would
 *           repeat in every shard; each nonce is therefore 96 random bits
 *           from getrandom(): the chance that two of 2^32 tickets of one key
 *           collide is about 2^-33.
 *
 * The master secret survives a certificate reload (it belongs to the
 * context, not to the WOLFSSL_CTX), so tickets stay valid across one.
 * wolfSSL's own ticket callback is not used: its keys belong to a
 * WOLFSSL_CTX, which a reload replaces, and it would not be shared by forks.
 */
#include "net/tls_ticket.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "net/tls.h"
#include "runtime/common.h"

/* The largest ticket the callback seals (wolfSSL's are about 200 bytes). */
#define TLS_TICKET_MAX        1024
#define TLS_TICKET_NONCE_SIZE CHACHA20_POLY1305_AEAD_IV_SIZE

/* The key of one epoch. */
struct ticket_key {
    unsigned char name[WOLFSSL_TICKET_NAME_SZ];
    unsigned char secret[CHACHA20_POLY1305_AEAD_KEYSIZE];
};

static int random_bytes(void *out, size_t len)
{
    unsigned char *p = out;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (slow_path(n < 0)) {
            if (errno == EINTR)
                continue;
            return TORUS_ERROR;
        }
        p += n;
        len -= (size_t)n;
    }
    return TORUS_OK;
}

int tls_tickets_init(struct tls_tickets *tickets)
{
    atomic_init(&tickets->shift, 0);
    return random_bytes(tickets->master, sizeof(tickets->master));
}

void tls_tickets_rotate(struct tls_tickets *tickets)
{
    atomic_fetch_add_explicit(&tickets->shift, 1, memory_order_relaxed);
}

void tls_tickets_wipe(struct tls_tickets *tickets)
{
    explicit_bzero(tickets->master, sizeof(tickets->master));
}

static int64_t current_epoch(const struct tls_tickets *tickets)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec / TORUS_TLS_TICKET_KEY_LIFETIME +
           atomic_load_explicit(&tickets->shift, memory_order_relaxed);
}

/* HMAC-SHA256(master, label || epoch) into out (32 bytes). TORUS_OK or TORUS_ERROR. */
static int derive(const struct tls_tickets *tickets, const char *label, int64_t epoch,
                  unsigned char out[WC_SHA256_DIGEST_SIZE])
{
    unsigned char counter[8];
    for (int i = 0; i < 8; i++)
        counter[i] = (unsigned char)((uint64_t)epoch >> (56 - 8 * i));
    Hmac hmac;
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0)
        return TORUS_ERROR;
    int rc = wc_HmacSetKey(&hmac, WC_SHA256, tickets->master, sizeof(tickets->master));
    if (rc == 0)
        rc = wc_HmacUpdate(&hmac, (const byte *)label, (word32)strlen(label));
    if (rc == 0)
        rc = wc_HmacUpdate(&hmac, counter, sizeof(counter));
    if (rc == 0)
        rc = wc_HmacFinal(&hmac, out);
    wc_HmacFree(&hmac);
    return rc == 0 ? TORUS_OK : TORUS_ERROR;
}

static int key_of_epoch(const struct tls_tickets *tickets, int64_t epoch, struct ticket_key *key)
{
    unsigned char digest[WC_SHA256_DIGEST_SIZE];
    int rc = derive(tickets, "torus ticket name", epoch, digest);
    memcpy(key->name, digest, sizeof(key->name));
    if (rc == TORUS_OK)
        rc = derive(tickets, "torus ticket key", epoch, key->secret);
    explicit_bzero(digest, sizeof(digest));
    return rc;
}

/* 96 random bits, never all zero (wolfSSL refuses an all-zero IV). */
static int draw_nonce(unsigned char nonce[TLS_TICKET_NONCE_SIZE])
{
    static const unsigned char zero[TLS_TICKET_NONCE_SIZE];
    do {
        if (random_bytes(nonce, TLS_TICKET_NONCE_SIZE) != TORUS_OK)
            return TORUS_ERROR;
    } while (memcmp(nonce, zero, sizeof(zero)) == 0);
    return TORUS_OK;
}

/*
 * The nonce travels in the first 12 bytes of iv, the Poly1305 tag in the
 * first 16 bytes of mac (the rest of both is zero).
 */
int tls_ticket_seal(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                    int in_len, int *out_len, void *user)
{
    (void)ssl;
    const struct tls_tickets *tickets = user;
    unsigned char result[TLS_TICKET_MAX];
    unsigned char aad[WOLFSSL_TICKET_NAME_SZ + TLS_TICKET_NONCE_SIZE];
    struct ticket_key key;
    int ret = enc ? WOLFSSL_TICKET_RET_FATAL : WOLFSSL_TICKET_RET_REJECT;

    if (slow_path(in_len <= 0 || in_len > TLS_TICKET_MAX))
        return ret;
    int64_t epoch = current_epoch(tickets);

    if (enc) {
        memset(iv, 0, WOLFSSL_TICKET_IV_SZ);
        memset(mac, 0, WOLFSSL_TICKET_MAC_SZ);
        if (key_of_epoch(tickets, epoch, &key) == TORUS_OK && draw_nonce(iv) == TORUS_OK) {
            memcpy(key_name, key.name, WOLFSSL_TICKET_NAME_SZ);
            memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
            memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, TLS_TICKET_NONCE_SIZE);
            if (wc_ChaCha20Poly1305_Encrypt(key.secret, iv, aad, sizeof(aad), ticket,
                                            (word32)in_len, result, mac) == 0) {
                memcpy(ticket, result, (size_t)in_len);
                *out_len = in_len;
                ret = WOLFSSL_TICKET_RET_OK;
            }
        }
    } else {
        /* The current epoch's key, else the one before; the name says which. */
        for (int age = 0; age < 2 && ret == WOLFSSL_TICKET_RET_REJECT; age++) {
            if (key_of_epoch(tickets, epoch - age, &key) != TORUS_OK)
                break;
            if (memcmp(key_name, key.name, WOLFSSL_TICKET_NAME_SZ) != 0)
                continue;
            memcpy(aad, key_name, WOLFSSL_TICKET_NAME_SZ);
            memcpy(aad + WOLFSSL_TICKET_NAME_SZ, iv, TLS_TICKET_NONCE_SIZE);
            if (wc_ChaCha20Poly1305_Decrypt(key.secret, iv, aad, sizeof(aad), ticket,
                                            (word32)in_len, mac, result) == 0) {
                memcpy(ticket, result, (size_t)in_len);
                *out_len = in_len;
                /* A ticket of the retired key is honoured, and a new one asked for. */
                ret = age == 0 ? WOLFSSL_TICKET_RET_OK : WOLFSSL_TICKET_RET_CREATE;
            }
            break;
        }
    }
    explicit_bzero(&key, sizeof(key));
    explicit_bzero(result, sizeof(result));
    return ret;
}
