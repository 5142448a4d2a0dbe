/*
 * Session tickets across shard processes (net/tls_ticket.c): a ticket one
 * forked process seals, another opens; two processes sealing under the same
 * key never draw the same nonce; a ticket of the retired key is honoured
 * with a request for a new one, one two keys old is refused; a tampered
 * ticket and one of another server's secret are refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/tls_ticket.c"
#include "tests/unit/check.h"

struct sealed {
    unsigned char name[WOLFSSL_TICKET_NAME_SZ];
    unsigned char iv[WOLFSSL_TICKET_IV_SZ];
    unsigned char mac[WOLFSSL_TICKET_MAC_SZ];
    unsigned char data[64];
    int len;
};

static const char plaintext[] = "the state of one TLS session";

static int seal(struct tls_tickets *t, struct sealed *s)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->data, plaintext, sizeof(plaintext));
    return tls_ticket_seal(NULL, s->name, s->iv, s->mac, 1, s->data, sizeof(plaintext), &s->len, t);
}

static int open_sealed(struct tls_tickets *t, struct sealed s)
{
    int len = 0;
    int rc = tls_ticket_seal(NULL, s.name, s.iv, s.mac, 0, s.data, s.len, &len, t);
    if (rc == WOLFSSL_TICKET_RET_OK || rc == WOLFSSL_TICKET_RET_CREATE)
        CHECK(len == (int)sizeof(plaintext) && memcmp(s.data, plaintext, sizeof(plaintext)) == 0);
    return rc;
}

/* Runs fn in a forked child that writes `size` bytes to *out; returns 0 on success. */
static int in_child(struct tls_tickets *t, void (*fn)(struct tls_tickets *, int), void *out,
                    size_t size)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        fn(t, fds[1]);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fds[0], (char *)out + got, size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == size && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void child_seals_one(struct tls_tickets *t, int fd)
{
    struct sealed s;
    if (seal(t, &s) != WOLFSSL_TICKET_RET_OK)
        _exit(1);
    ssize_t n = write(fd, &s, sizeof(s));
    (void)n;
}

#define NONCES 2000

static void child_seals_many(struct tls_tickets *t, int fd)
{
    for (int i = 0; i < NONCES; i++) {
        struct sealed s;
        if (seal(t, &s) != WOLFSSL_TICKET_RET_OK)
            _exit(1);
        ssize_t n = write(fd, s.iv, TLS_TICKET_NONCE_SIZE);
        (void)n;
    }
}

static int compare_nonce(const void *a, const void *b)
{
    return memcmp(a, b, TLS_TICKET_NONCE_SIZE);
}

static void test_across_processes(void)
{
    struct tls_tickets t;
    CHECK(tls_tickets_init(&t) == TORUS_OK);
    struct sealed from_child;
    CHECK(in_child(&t, child_seals_one, &from_child, sizeof(from_child)) == 0);
    CHECK(open_sealed(&t, from_child) == WOLFSSL_TICKET_RET_OK);

    /* And the other way round: the parent's ticket, the same key in the child. */
    struct sealed mine;
    CHECK(seal(&t, &mine) == WOLFSSL_TICKET_RET_OK);
    CHECK(memcmp(mine.name, from_child.name, sizeof(mine.name)) == 0);

    /* Nonces of two processes under one key never meet. */
    static unsigned char nonces[2 * NONCES][TLS_TICKET_NONCE_SIZE];
    CHECK(in_child(&t, child_seals_many, nonces, (size_t)NONCES * TLS_TICKET_NONCE_SIZE) == 0);
    for (int i = 0; i < NONCES; i++) {
        struct sealed s;
        CHECK(seal(&t, &s) == WOLFSSL_TICKET_RET_OK);
        memcpy(nonces[NONCES + i], s.iv, TLS_TICKET_NONCE_SIZE);
    }
    qsort(nonces, 2 * NONCES, TLS_TICKET_NONCE_SIZE, compare_nonce);
    int repeats = 0;
    for (int i = 1; i < 2 * NONCES; i++)
        repeats += memcmp(nonces[i - 1], nonces[i], TLS_TICKET_NONCE_SIZE) == 0;
    CHECK(repeats == 0);
    tls_tickets_wipe(&t);
}

static void test_rotation_and_refusals(void)
{
    struct tls_tickets t, other;
    CHECK(tls_tickets_init(&t) == TORUS_OK);
    CHECK(tls_tickets_init(&other) == TORUS_OK);
    struct sealed s;
    CHECK(seal(&t, &s) == WOLFSSL_TICKET_RET_OK);
    CHECK(open_sealed(&t, s) == WOLFSSL_TICKET_RET_OK);

    struct sealed tampered = s;
    tampered.data[3] ^= 1;
    CHECK(open_sealed(&t, tampered) == WOLFSSL_TICKET_RET_REJECT);
    tampered = s;
    tampered.iv[0] ^= 1; /* the nonce is authenticated too */
    CHECK(open_sealed(&t, tampered) == WOLFSSL_TICKET_RET_REJECT);
    CHECK(open_sealed(&other, s) == WOLFSSL_TICKET_RET_REJECT); /* another server's secret */

    tls_tickets_rotate(&t);
    CHECK(open_sealed(&t, s) == WOLFSSL_TICKET_RET_CREATE); /* the retired key */
    struct sealed next;
    CHECK(seal(&t, &next) == WOLFSSL_TICKET_RET_OK);
    CHECK(memcmp(next.name, s.name, sizeof(s.name)) != 0); /* a new key, a new name */
    tls_tickets_rotate(&t);
    CHECK(open_sealed(&t, s) == WOLFSSL_TICKET_RET_REJECT); /* two keys old */
    CHECK(open_sealed(&t, next) == WOLFSSL_TICKET_RET_CREATE);

    /* Out-of-range lengths are refused, never sealed. */
    int len = 0;
    CHECK(tls_ticket_seal(NULL, s.name, s.iv, s.mac, 1, s.data, 0, &len, &t) ==
          WOLFSSL_TICKET_RET_FATAL);
    CHECK(tls_ticket_seal(NULL, s.name, s.iv, s.mac, 0, s.data, TLS_TICKET_MAX + 1, &len, &t) ==
          WOLFSSL_TICKET_RET_REJECT);
    tls_tickets_wipe(&t);
    tls_tickets_wipe(&other);
}

int main(void)
{
    test_across_processes();
    test_rotation_and_refusals();
    printf("test_tls_ticket: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
