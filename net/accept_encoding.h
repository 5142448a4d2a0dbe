/*
 * Content-coding negotiation: which of the codings the server can send a
 * request's Accept-Encoding header asks for (RFC 9110, section 12.5.3).
 *
 * The header is a comma-separated list of codings, each with an optional
 * weight ";q=" from 0 to 1 with at most three decimals. Names compare
 * without regard to case ("x-gzip" is gzip), "*" stands for every coding
 * the list does not name, and q=0 refuses a coding. Among the codings the
 * server has, the one with the highest weight wins; ties go to the server's
 * order of preference, zstd, then br, then gzip (smaller or faster at
 * equal quality). Identity wins over them when the list names it (or "*")
 * with a higher weight than theirs. An element with an invalid weight is
 * ignored; a coding named twice keeps its first weight.
 */
#ifndef TORUS_ACCEPT_ENCODING_H
#define TORUS_ACCEPT_ENCODING_H

#include <stddef.h>

/* The content codings Torus sends, in the server's order of preference after identity. */
enum torus_coding {
    TORUS_CODING_IDENTITY,
    TORUS_CODING_ZSTD,
    TORUS_CODING_BR,
    TORUS_CODING_GZIP,
    TORUS_CODING_COUNT,
};

/* A set of codings: bit (1u << coding). */
#define TORUS_CODING_BIT(coding) (1u << (coding))
#define TORUS_CODINGS_ALL                                                                          \
    (TORUS_CODING_BIT(TORUS_CODING_ZSTD) | TORUS_CODING_BIT(TORUS_CODING_BR) |                     \
     TORUS_CODING_BIT(TORUS_CODING_GZIP))

/*
 * The coding to send for an Accept-Encoding value (`value` may be NULL: no
 * header, identity), chosen among `available` (a set of TORUS_CODING_BIT;
 * identity is always available). Never fails: TORUS_CODING_IDENTITY when
 * nothing else is acceptable (also when the client refused identity: the
 * server then sends it anyway, as RFC 9110 allows).
 */
enum torus_coding torus_accept_encoding_choose(const char *value, size_t len, unsigned available);

/* The coding's token as Content-Encoding carries it: "zstd", "br", "gzip" ("identity"). */
const char *torus_coding_name(enum torus_coding coding);

/* The file-name suffix of a precompressed sibling: ".zst", ".br", ".gz" ("" for identity). */
const char *torus_coding_suffix(enum torus_coding coding);

#endif
