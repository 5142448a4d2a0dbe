/*
 * Static files: the response to a GET or HEAD for a regular file that
 * torus_route_resolve() routed to STATIC, as nginx's static, not_modified and
 * range modules would answer it.
 *
 *   - ETag "<mtime hex>-<size hex>" and Last-Modified, like nginx.
 *   - If-None-Match (weak comparison, lists, "*", W/) wins over
 *     If-Modified-Since; either gives 304 with ETag and Last-Modified and no
 *     Content-Length.
 *   - Range: one range of bytes ("bytes=0-4", "bytes=5-", "bytes=-3") gives
 *     206 with Content-Range; several ranges or a malformed header are
 *     ignored (200 with the whole file); a range past the end gives 416 with
 *     "Content-Range: bytes *\/SIZE" and an empty body. If-Range (an ETag,
 *     compared strongly, or the exact Last-Modified date) that does not match
 *     turns the range off. HEAD gets the head GET would get, without the body.
 *
 * Small files are answered from memory: each shard's I/O thread owns a
 * torus_static_cache that keeps files of at most max_entry bytes with their
 * precomputed header lines, checks an entry against the stat() routing made
 * and evicts the least recently used entries past max_total bytes. Larger
 * files are answered with an open file descriptor, an offset and a length
 * that the I/O thread sends with io_uring.
 *
 * The I/O thread makes no file-system call here: torus_static_respond_cached()
 * answers from the cache or says the file must be opened;
 * torus_static_open() does that on the shard's file-system worker
 * (net/fs_worker.h), and torus_static_respond_opened() answers with what it
 * found. torus_static_respond() is the two together, for callers that may
 * block (the tests).
 *
 * Content codings (net/static_open.c): a file may come with variants,
 * its representations in zstd, br or gzip: precompressed siblings
 * (app.js.zst, app.js.br, app.js.gz, used when they are regular files, not
 * symbolic links, not older than app.js) or, with --compress-static, the file compressed in
 * memory once when it is loaded. The request's Accept-Encoding chooses
 * among them (net/accept_encoding.h); a variant is answered with the
 * original's Content-Type, its Content-Encoding and an ETag of its own (the
 * coding's name inside the quotes), and validators and ranges apply to it.
 * Every representation of a file that has variants carries "Vary:
 * Accept-Encoding". A cached file whose siblings were looked for is
 * looked at again (on the file-system worker) once its siblings are
 * TORUS_STATIC_SIBLING_RECHECK seconds old, or as soon as the file itself
 * changes: a sibling added, changed or removed is seen within that time. A
 * file too large for the cache is looked at on every request.
 *
 * Methods other than GET and HEAD are the caller's business (nginx answers
 * 405 for a POST to a static file).
 */
#ifndef TORUS_STATIC_H
#define TORUS_STATIC_H

#include <stdbool.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "net/accept_encoding.h"
#include "runtime/common.h"

#define TORUS_STATIC_DEFAULT_MAX_ENTRY (64 * 1024)
#define TORUS_STATIC_DEFAULT_MAX_TOTAL (16 * 1024 * 1024)

/* Seconds a cached file's precompressed siblings are trusted before they are looked for again. */
#define TORUS_STATIC_SIBLING_RECHECK 2

struct torus_compression;

/* One per shard, not thread-safe: owned by one I/O thread. */
struct torus_static_cache;

struct torus_static_request {
    bool head; /* HEAD request */
    uint8_t http_minor;
    bool keep_alive;
    /* Header values; .data == NULL when the header is absent. */
    torus_str if_none_match;
    torus_str if_modified_since;
    torus_str range;
    torus_str if_range;
    torus_str accept_encoding; /* chooses among the file's variants; .data NULL: identity */
    time_t now;                /* the caller's clock, seconds: drives cache revalidation */
    /*
     * The file's stat() as routing just saw it, or NULL. When given, a cached
     * entry is checked against it on every request (a file changed a moment
     * ago is served fresh, as nginx without open_file_cache does) at no cost.
     */
    const struct stat *st;
};

struct torus_static_response {
    int status;      /* 200, 206, 304 or 416; 404 or 403 when torus_static_respond fails */
    char head[1024]; /* the complete response head, blank line included */
    size_t head_len;
    /* The body is either memory (body != NULL)... */
    const char *body;
    size_t body_len;
    /* ...or bytes of a file (fd >= 0): closed by torus_static_response_release. */
    int fd;
    uint64_t offset;
    uint64_t length;
    /* The cache entry `body` points into, kept alive until torus_static_response_release. */
    void *pin;
};

/*
 * Creates a cache keeping files of at most max_entry bytes, max_total bytes in
 * all (0 selects TORUS_STATIC_DEFAULT_MAX_ENTRY / _MAX_TOTAL). NULL when out
 * of memory.
 */
struct torus_static_cache *torus_static_cache_new(size_t max_entry, size_t max_total);

/*
 * Frees the cache and its entries; an entry that a response still pins is
 * freed when that response is released.
 */
void torus_static_cache_free(struct torus_static_cache *cache);

/* A representation of a file in one content coding (see the top of this file). */
struct torus_static_variant {
    bool present;
    int fd;         /* the sibling, opened; -1 for a file compressed in memory */
    struct stat st; /* its fstat(); compressed in memory: the original's, st_size its size */
    char *data;     /* all its bytes when at most read_max, else NULL (malloc'd) */
};

/* What torus_static_open() found: the file, opened, and its bytes when small. */
struct torus_static_file {
    int fd;         /* O_RDONLY, or -1 when it could not be opened (error says why) */
    int error;      /* errno of a failure: ENOENT (also: not a regular file), EACCES... */
    struct stat st; /* fstat() of fd */
    char *data;     /* all st.st_size bytes when at most read_max, else NULL (malloc'd) */
    /* By coding ([TORUS_CODING_IDENTITY] unused): torus_static_open_variants() fills them. */
    struct torus_static_variant variants[TORUS_CODING_COUNT];
    bool siblings_looked; /* the precompressed siblings were looked for */
};

/*
 * Opens `filename` for a response and, when it is a regular file of at most
 * read_max bytes, reads it whole. Blocks on the file system: the shard's
 * file-system worker calls it. TORUS_OK, or TORUS_ERROR with file->error set
 * (file->fd is then -1). torus_static_file_release() frees what it holds.
 */
int torus_static_open(const char *filename, size_t read_max, struct torus_static_file *file);

/*
 * torus_static_open() for a precompressed sibling: the same, except that a
 * sibling that is a symbolic link is not opened (ELOOP). Routing checked
 * where the file itself leads (inside the root); a sibling is never routed.
 */
int torus_static_open_sibling(const char *filename, size_t read_max,
                              struct torus_static_file *file);

/*
 * After torus_static_open(): looks for the file's precompressed siblings
 * (when `precompressed`) and, when `compression` allows it (its
 * compress_static, types and min_size) and the file was read whole,
 * compresses it in memory in each coding that has no sibling. Blocks: the
 * file-system worker calls it. Variants it cannot make are left absent.
 */
void torus_static_open_variants(const char *filename, size_t filename_len, size_t read_max,
                                const struct torus_compression *compression,
                                struct torus_static_file *file);

/* Replaces every descriptor a torus_static_file holds by a dup() of it (-1 when dup fails). */
void torus_static_file_dup_fds(struct torus_static_file *file);

/* Forgets the descriptors without closing them (another copy of the struct owns them now). */
void torus_static_file_forget_fds(struct torus_static_file *file);

/* Closes the descriptors a torus_static_file holds, not its bytes. */
void torus_static_file_close_fds(struct torus_static_file *file);

/* Closes the descriptors and frees the bytes a torus_static_file holds; safe to call twice. */
void torus_static_file_release(struct torus_static_file *file);

/* The largest file the cache keeps: the read_max to give torus_static_open(). */
size_t torus_static_cache_max_entry(const struct torus_static_cache *cache);

/*
 * Without any system call: whether the cache holds filename as st describes
 * it, with siblings (if it has looked for them) looked for less than
 * TORUS_STATIC_SIBLING_RECHECK seconds before `now`.
 */
bool torus_static_has(struct torus_static_cache *cache, const char *filename, size_t filename_len,
                      const struct stat *st, time_t now);

/*
 * Without any system call: answers req from the cache when it holds the
 * file as req->st (required) describes it: TORUS_OK, *resp filled as by
 * torus_static_respond(). TORUS_AGAIN when the file must be opened first
 * (torus_static_open(), then torus_static_respond_opened()).
 */
int torus_static_respond_cached(struct torus_static_cache *cache, const char *filename,
                                size_t filename_len, const struct torus_static_request *req,
                                struct torus_static_response *resp);

/*
 * Answers req with what torus_static_open() found, keeping a small file in
 * the cache (its bytes are copied) and taking file->fd for a large one
 * (file->fd becomes -1: dup() it first to answer several requests with one
 * torus_static_file). Results as torus_static_respond(); no system call.
 */
int torus_static_respond_opened(struct torus_static_cache *cache, const char *filename,
                                size_t filename_len, const struct torus_static_request *req,
                                struct torus_static_file *file, struct torus_static_response *resp);

/*
 * Blocking (never on an I/O thread): builds the response to req for the regular file `filename`
 * (absolute, NUL-terminated; filename_len its length). Returns TORUS_OK with *resp filled whatever
 * the status, or TORUS_ERROR when the file cannot be opened or is not a regular file any more:
 * resp->status then says what to answer (403 when permission was denied, else 404), resp->head_len
 * is 0 and nothing is held.
 *
 * On TORUS_OK exactly one of these holds: a memory body (body, body_len; the
 * cache entry is pinned in resp->pin), a file body (fd >= 0, offset, length;
 * the I/O thread sends `length` bytes from `offset` and stops early, closing
 * the connection, if the file has shrunk meanwhile), or no body (HEAD, 304,
 * 416: body == NULL, body_len == 0, fd == -1). Either way call
 * torus_static_response_release() once the body has been sent.
 */
int torus_static_respond(struct torus_static_cache *cache, const char *filename,
                         size_t filename_len, const struct torus_static_request *req,
                         struct torus_static_response *resp);

/* Releases what a response holds (its file descriptor, its cache pin); safe to call twice. */
void torus_static_response_release(struct torus_static_cache *cache,
                                   struct torus_static_response *resp);

/*
 * The Content-Type for a file name by its extension, compared without regard
 * to case ("text/html; charset=utf-8"; text types carry "; charset=utf-8"),
 * or "application/octet-stream" for an unknown or missing extension.
 */
const char *torus_mime_type(const char *filename, size_t len);

#endif
