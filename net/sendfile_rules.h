/*
 * X-Sendfile and X-Accel-Redirect, the pure part: which header of a PHP
 * response asks for a file, which of its other lines are kept, which file a
 * value names and whether that file is in an allowed directory. No I/O
 * (net/sendfile.c opens and serves the file).
 *
 * The mapping (--sendfile-root [PREFIX=]DIR, repeatable; off without one):
 *   X-Sendfile: /abs/path      the file itself; it must be under a DIR.
 *   X-Accel-Redirect: /uri     percent-decoded and normalised like a request
 *                              path; under a root's PREFIX ("/protected/"),
 *                              the rest of it names a file under that DIR;
 *                              otherwise the document root plus the URI,
 *                              which must also be under a DIR.
 * "Under a DIR" is decided on the resolved path (realpath: symbolic links
 * followed), so neither ".." nor a link can lead out of it.
 */
#ifndef TORUS_SENDFILE_RULES_H
#define TORUS_SENDFILE_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "runtime/common.h"

/* One --sendfile-root. */
struct torus_sendfile_root {
    char *prefix; /* X-Accel-Redirect URI prefix ending in '/', or NULL */
    char *dir;    /* absolute, resolved */
};

enum torus_sendfile_kind {
    TORUS_SENDFILE_NONE,
    TORUS_SENDFILE_PATH, /* X-Sendfile: a file-system path */
    TORUS_SENDFILE_URI,  /* X-Accel-Redirect: a URI */
};

/*
 * Scans a response head's lines ("Name: value\r\n" each) for X-Sendfile or
 * X-Accel-Redirect (the first one found). When there is one: returns its
 * kind, sets *value (pointing into lines), and copies into kept (room for
 * lines_len bytes) every line the file's own head does not replace:
 * everything but X-Sendfile, X-Accel-Redirect, Content-Type, Content-Length,
 * Content-Range, Content-Encoding, Transfer-Encoding, ETag, Last-Modified
 * and Accept-Ranges (kept may be NULL: detection only). Returns
 * TORUS_SENDFILE_NONE otherwise.
 */
enum torus_sendfile_kind torus_sendfile_detect(const char *lines, size_t lines_len,
                                               torus_str *value, char *kept, size_t *kept_len);

/*
 * Maps a value to the path of the file it names (before resolving links):
 * TORUS_OK with out NUL-terminated, or TORUS_ERROR when it names nothing
 * allowed (a relative X-Sendfile path, a ".." segment in it, a URI that does
 * not normalise, a path longer than out_size).
 */
int torus_sendfile_map(enum torus_sendfile_kind kind, torus_str value, const char *document_root,
                       const struct torus_sendfile_root *roots, int count, char *out,
                       size_t out_size);

/* Whether the resolved path is one of the roots' directories or under one. */
bool torus_sendfile_allowed(const char *resolved, const struct torus_sendfile_root *roots,
                            int count);

/*
 * Parses a --sendfile-root value, "DIR" or "/PREFIX/=DIR", into out (prefix
 * and dir malloc'd; dir made absolute and resolved, and it must be a
 * directory). TORUS_OK, or TORUS_ERROR with the reason in why.
 */
int torus_sendfile_root_parse(const char *text, struct torus_sendfile_root *out, char *why,
                              size_t why_size);

#endif
