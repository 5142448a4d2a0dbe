/*
 * From a raw request-target to what answers it: the path is decoded and
 * normalised (torus_path_normalize), then resolved against the document root
 * (torus_route_resolve) into a static file, a PHP script, a redirect to the
 * directory with its trailing slash, or an error status.
 *
 * The rules are FrankenPHP's php_server ones (which are nginx's usual
 * try_files $uri $uri/ /index.php setup):
 *
 *   path                           what exists under root            route
 *   /a/.env, /.git/config          (anything)                        NOT_FOUND (hidden segment)
 *   /.well-known/x                 as for any other path             (allowed)
 *   /app.css                       regular file                      STATIC
 *   /blog/post.php                 regular file                      PHP, PATH_INFO ""
 *   /blog/post.php/2024/x          blog/post.php is a regular file   PHP, PATH_INFO "/2024/x"
 *   /docs                          directory                         REDIRECT to "/docs/"
 *   /docs/                         docs/index.php, else index.html   PHP, else STATIC
 *   /docs/                         neither index                     NOT_FOUND (no listings)
 *   /anything/else                 index.php at the root             PHP "/index.php" (front
 * controller) /anything/else                 no index.php                      NOT_FOUND
 *
 * A file named *.php (any case) is never STATIC: it runs, or it is NOT_FOUND
 * when PHP is off. Files that are neither regular files nor directories
 * (fifos, sockets, devices) are FORBIDDEN: reading a fifo would block the I/O
 * thread.
 *
 * Worker mode sends to PHP every request that is not STATIC, REDIRECT or
 * refused (hidden segment, symlink escaping the root, permission denied):
 * where classic mode would answer NOT_FOUND or run the front controller, the
 * worker gets the request (filename and script_name are then empty).
 *
 * Symlinks are followed, but the file they lead to must lie under the root
 * (after realpath()); one that escapes it is FORBIDDEN, as nginx's
 * disable_symlinks answers. The check costs nothing on the hot path: a file
 * found inside the root is remembered per thread by (device, inode, ctime) for
 * one second, so the common case (a static file or a script) is one stat().
 * Set allow_symlinks_outside_root to follow every symlink the way nginx does by
 * default (Laravel's `storage:link` points public/storage outside public/).
 */
#ifndef TORUS_ROUTE_H
#define TORUS_ROUTE_H

#include <limits.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>

#include "runtime/common.h"

/*
 * Splits a raw request-target at '?', percent-decodes the path and normalises
 * it as nginx does: repeated slashes are merged, "." segments dropped, ".."
 * segments remove the segment before them ("/a/b/.." gives "/a/", a trailing
 * "." or ".." leaves a trailing slash). Decoding comes first, so "%2e%2e" and
 * "%2F" take part in the normalisation like their literal forms. A '#' ends
 * the target (a fragment is never meant for the server).
 *
 * Errors (TORUS_ERROR, the caller answers 400): a target that does not start
 * with '/', a NUL byte (raw or %00), an invalid %-escape, a ".." that would
 * climb above "/", or a decoded path that does not fit in out_size bytes with
 * its terminating NUL.
 *
 * On success out holds the path, NUL-terminated, its length in *out_len, and
 * *query / *query_len the raw query (without '?', pointing into target; empty
 * with a non-NULL pointer when there is none).
 */
int torus_path_normalize(const char *target, size_t target_len, char *out, size_t out_size,
                         size_t *out_len, const char **query, size_t *query_len);

enum torus_route_kind {
    TORUS_ROUTE_STATIC,    /* send the regular file `filename` (torus_static_respond) */
    TORUS_ROUTE_PHP,       /* run `filename` (classic) or hand the request to the worker */
    TORUS_ROUTE_REDIRECT,  /* 301/308 to `location` plus the request's query */
    TORUS_ROUTE_NOT_FOUND, /* 404 */
    TORUS_ROUTE_FORBIDDEN, /* 403 */
};

struct torus_route {
    enum torus_route_kind kind;
    /* Absolute path of the file to serve or the script to run; "" for the worker. */
    char filename[PATH_MAX];
    size_t filename_len;
    /* URI path of the script, "/blog/index.php" (PHP only; "" for the worker). */
    char script_name[PATH_MAX];
    size_t script_name_len;
    /* PATH_INFO: points into the path given to torus_route_resolve, or to "" when there is none. */
    const char *path_info;
    size_t path_info_len;
    /*
     * REDIRECT: the path to redirect to ("/dir/"), percent-encoded where the
     * path has bytes a Location header must not carry raw (controls, space,
     * '?', '#', '%', non-ASCII...). The caller appends '?' and the query.
     */
    char location[PATH_MAX];
    size_t location_len;
    /* STATIC: what routing's stat() found, so serving the file needs no second look. */
    struct stat st;
};

struct torus_router {
    /* The document root: absolute, resolved (realpath); a trailing slash is ignored. */
    const char *root;
    size_t root_len;
    bool php;         /* false => never route to PHP (*.php files are then NOT_FOUND) */
    bool worker_mode; /* every request that is not STATIC, REDIRECT or refused goes to PHP */
    bool allow_symlinks_outside_root; /* follow symlinks wherever they lead (nginx's default) */
};

/*
 * Routes a path normalised by torus_path_normalize() (path_len bytes, NUL not
 * required) by the rules at the top of this file, filling *route. Returns
 * TORUS_OK, or TORUS_ERROR when path does not start with '/' (route->kind is
 * then NOT_FOUND). Costs one stat() for a static file or an existing script;
 * PATH_INFO, directory indexes and the front controller cost one more each.
 * The router may be shared by threads (it is only read); what it remembers
 * about symlinks is per thread.
 */
int torus_route_resolve(const struct torus_router *router, const char *path, size_t path_len,
                        struct torus_route *route);

/* The O_PATH descriptors torus_route_try_resolve() opened, for its caller to close. */
#define TORUS_ROUTE_FDS_MAX 8
struct torus_route_fds {
    int count;
    int fds[TORUS_ROUTE_FDS_MAX];
};

/*
 * torus_route_resolve() without waiting on the file system, for the I/O
 * thread: the same result when the kernel's caches can answer every look it
 * makes (the dentry cache, cached inode attributes), else TORUS_AGAIN at
 * once (a look would read a disk, or ask a network or FUSE server): resolve
 * it on a thread that may block. Each look opens the file O_PATH and reads
 * its attributes: two system calls for one stat(). The descriptors are put
 * in *opened (count first; past TORUS_ROUTE_FDS_MAX they are closed here),
 * and the caller closes them, as the I/O thread does through its ring at
 * no extra system call; with opened NULL they are closed here.
 */
int torus_route_try_resolve(const struct torus_router *router, const char *path, size_t path_len,
                            struct torus_route *route, struct torus_route_fds *opened);

/*
 * The routes one I/O thread resolved since it last called
 * torus_route_memo_forget(): its loop forgets them at every iteration, so the
 * requests of one batch of completions share one look at the file system (a
 * benchmark's 64 connections asking for the same path cost one stat() per
 * batch, not one per request), and a file created, changed or removed is
 * seen from the next batch on, as soon as without the memo, to within the
 * microseconds a batch takes. Only short paths and results are kept.
 */
#define TORUS_ROUTE_MEMO_SLOTS 4
#define TORUS_ROUTE_MEMO_PATH  256

struct torus_route_memo_slot {
    uint64_t generation; /* valid while equal to the memo's */
    size_t path_len;
    char path[TORUS_ROUTE_MEMO_PATH];
    enum torus_route_kind kind;
    size_t filename_len, script_name_len, location_len;
    size_t path_info_offset, path_info_len; /* PATH_INFO is path[offset ..] */
    char filename[TORUS_ROUTE_MEMO_PATH + 32];
    char script_name[TORUS_ROUTE_MEMO_PATH + 16];
    char location[TORUS_ROUTE_MEMO_PATH * 3 + 4];
    struct stat st;
};

struct torus_route_memo {
    uint64_t generation; /* starts at 1: a zeroed slot is never valid */
    unsigned next;       /* the slot the next miss replaces */
    struct torus_route_memo_slot slots[TORUS_ROUTE_MEMO_SLOTS];
};

/* Forgets every route (a zeroed memo must be forgotten once before use). */
static inline void torus_route_memo_forget(struct torus_route_memo *memo)
{
    memo->generation++;
}

/*
 * Without any system call: fills *route with what the memo holds for path
 * (PATH_INFO pointing into this path) and returns true, or returns false.
 */
bool torus_route_memo_find(const struct torus_route_memo *memo, const char *path, size_t path_len,
                           struct torus_route *route);

/* Remembers route (resolved for path) until the memo is next forgotten; long ones are not kept. */
void torus_route_memo_store(struct torus_route_memo *memo, const char *path, size_t path_len,
                            const struct torus_route *route);

/*
 * torus_route_resolve() through the memo: the same result, without a new
 * stat() on a hit. Blocks on a miss: the I/O thread resolves misses on its
 * file-system worker instead (net/route_lookup.h).
 */
int torus_route_resolve_memo(const struct torus_router *router, struct torus_route_memo *memo,
                             const char *path, size_t path_len, struct torus_route *route);

#endif
