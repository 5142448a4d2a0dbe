/*
 * TLS session tickets: keys every shard process derives alike, and the
 * wolfSSL callback that seals and opens tickets with them. Private to the
 * TLS module (net/tls.c); see net/tls_ticket.c for the scheme.
 */
#ifndef TORUS_TLS_TICKET_H
#define TORUS_TLS_TICKET_H

#include <stdatomic.h>
#include <stdint.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define TLS_TICKET_MASTER_SIZE 32

struct tls_tickets {
    unsigned char master[TLS_TICKET_MASTER_SIZE]; /* drawn once; shared by forking */
    _Atomic int64_t shift; /* epochs added by tls_tickets_rotate() in this process */
};

/* Draws the master secret. TORUS_OK, or TORUS_ERROR with errno set. */
int tls_tickets_init(struct tls_tickets *tickets);

/* Moves this process one key further: the current key retires, the one before is forgotten. */
void tls_tickets_rotate(struct tls_tickets *tickets);

/* Wipes the master secret. */
void tls_tickets_wipe(struct tls_tickets *tickets);

/*
 * wolfSSL's ticket callback (wolfSSL_CTX_set_TicketEncCb, with the
 * struct tls_tickets as its context): seals (enc = 1) or opens (enc = 0) the
 * ticket in place.
 */
int tls_ticket_seal(WOLFSSL *ssl, unsigned char key_name[WOLFSSL_TICKET_NAME_SZ],
                    unsigned char iv[WOLFSSL_TICKET_IV_SZ],
                    unsigned char mac[WOLFSSL_TICKET_MAC_SZ], int enc, unsigned char *ticket,
                    int in_len, int *out_len, void *user);

#endif
