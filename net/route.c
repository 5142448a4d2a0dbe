/*
 * Path normalisation and routing against the document root.
 *
 * Normalisation works in two passes over the output buffer. The first copies
 * the path part of the target (up to '?' or '#') into `out`, decoding
 * %-escapes and refusing NUL and malformed escapes. The second rewrites the
 * decoded path in place, segment by segment, with a read index that is never
 * behind the write index: empty segments (repeated slashes) and "." vanish,
 * ".." moves the write index back to the previous slash, anything else is
 * copied. The output always starts with '/'; a ".." at "/" is an error, as in
 * nginx (which answers 400). Decoding first means "%2e%2e" and "%2F" cannot
 * smuggle a traversal past the second pass.
 *
 * Routing (the table in route.h) concatenates root and path into
 * route->filename and stat()s it once. A regular file or a directory is
 * answered from that one result; ENOENT/ENOTDIR lead to the PATH_INFO split
 * (only when the path has ".php/" in it) and then to the front controller.
 *
 * Symlink containment: a file may be served or run only when realpath() of
 * its name lies under the root. realpath() costs a system call per path
 * component, so each thread remembers, in a small direct-mapped table indexed
 * by inode, the files it found inside a root during the last second, keyed by
 * (root, device, inode, ctime). Only successes are remembered: the same inode
 * can be reached through an escaping path and through a legitimate one (hard
 * links), and caching a refusal would refuse the legitimate one. Keying on the
 * inode rather than on the name is sound because containment is a property of
 * the file reached, and any change of a symlink along the way reaches another
 * inode or changes the ctime.
 *
 * Two ways to look at the file system, per call (route_mode, per thread):
 * torus_route_resolve() may block (stat(), realpath()): the shard's
 * file-system workers call it. torus_route_try_resolve(), for the I/O
 * thread, looks only at what the kernel can answer from its caches without
 * waiting: openat2(O_PATH, RESOLVE_CACHED) walks the path through the dentry
 * cache or fails with EAGAIN (a lookup that would read a disk or ask a
 * network or FUSE server), statx(AT_STATX_DONT_SYNC) reads the inode's
 * attributes as cached, and the real path of the opened file comes from
 * /proc/self/fd. The first look that would wait marks the call as blocked and
 * its result is thrown away (TORUS_AGAIN): the caller hands the path to a
 * worker. An old kernel without openat2 makes every call blocked.
 */
#include "net/route.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Normalisation                                                            */
/* ------------------------------------------------------------------------ */

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Copies raw[0..raw_len) into out, decoding %-escapes. Returns the decoded length, or -1. */
static ssize_t path_decode(const char *raw, size_t raw_len, char *out, size_t out_size)
{
    size_t w = 0;
    for (size_t r = 0; r < raw_len; r++) {
        unsigned char c = (unsigned char)raw[r];
        if (c == '%') {
            if (slow_path(r + 2 >= raw_len))
                return -1;
            int high = hex_value((unsigned char)raw[r + 1]);
            int low = hex_value((unsigned char)raw[r + 2]);
            if (slow_path(high < 0 || low < 0))
                return -1;
            c = (unsigned char)(high << 4 | low);
            r += 2;
        }
        if (slow_path(c == '\0' || w + 1 >= out_size))
            return -1;
        out[w++] = (char)c;
    }
    out[w] = '\0';
    return (ssize_t)w;
}

/* Resolves empty, "." and ".." segments of the decoded path in place. Returns the new length, or
 * -1. */
static ssize_t path_resolve_segments(char *path, size_t len)
{
    size_t r = 0;
    size_t w = 1; /* path[0] == '/' stays; invariant: path[w - 1] == '/' between segments */
    while (r < len) {
        while (r < len && path[r] == '/')
            r++;
        if (r == len)
            break;
        size_t start = r;
        while (r < len && path[r] != '/')
            r++;
        size_t segment_len = r - start;
        bool last = r == len;

        if (segment_len == 1 && path[start] == '.')
            continue;
        if (segment_len == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (slow_path(w == 1))
                return -1; /* above the root */
            w--;           /* onto the slash that ends the previous segment */
            while (path[w - 1] != '/')
                w--;
            continue;
        }
        memmove(path + w, path + start, segment_len);
        w += segment_len;
        if (last)
            break;
        path[w++] = '/';
    }
    path[w] = '\0';
    return (ssize_t)w;
}

int torus_path_normalize(const char *target, size_t target_len, char *out, size_t out_size,
                         size_t *out_len, const char **query, size_t *query_len)
{
    size_t path_end = 0;
    while (path_end < target_len && target[path_end] != '?' && target[path_end] != '#')
        path_end++;
    size_t query_start = path_end, query_end = path_end;
    if (path_end < target_len && target[path_end] == '?') {
        query_start = path_end + 1;
        query_end = query_start;
        while (query_end < target_len && target[query_end] != '#')
            query_end++;
    }
    *query = target + query_start;
    *query_len = query_end - query_start;

    if (slow_path(path_end == 0 || target[0] != '/' || out_size < 2))
        return TORUS_ERROR;
    ssize_t decoded = path_decode(target, path_end, out, out_size);
    if (slow_path(decoded < 1 || out[0] != '/'))
        return TORUS_ERROR;
    ssize_t resolved = path_resolve_segments(out, (size_t)decoded);
    if (slow_path(resolved < 0))
        return TORUS_ERROR;
    *out_len = (size_t)resolved;
    return TORUS_OK;
}

/* ------------------------------------------------------------------------ */
/* Symlink containment                                                      */
/* ------------------------------------------------------------------------ */

#define ROUTE_INSIDE_SLOTS   256 /* power of two */
#define ROUTE_INSIDE_SECONDS 1

/* ------------------------------------------------------------------------ */
/* Looking at the file system                                               */
/* ------------------------------------------------------------------------ */

enum route_fs_mode {
    ROUTE_MAY_BLOCK,   /* stat(), realpath(): a worker thread */
    ROUTE_CACHED_ONLY, /* only what the kernel's caches answer at once: the I/O thread */
};

static _Thread_local enum route_fs_mode route_mode;
static _Thread_local bool route_blocked; /* CACHED_ONLY: a look would have waited */
/* CACHED_ONLY: where the descriptors it opened go, for the caller to close (NULL: closed here). */
static _Thread_local struct torus_route_fds *route_opened;

/* A descriptor route_open_cached() gave, done with: handed to the caller, or closed. */
static void route_done_with(int fd)
{
    struct torus_route_fds *opened = route_opened;
    if (opened && opened->count < TORUS_ROUTE_FDS_MAX)
        opened->fds[opened->count++] = fd;
    else
        close(fd);
}

/* name opened O_PATH through the dentry cache only: a descriptor, or -1 (route_blocked when it
 * would have waited). */
static int route_open_cached(const char *name)
{
    struct open_how how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_CACHED};
    long fd = syscall(SYS_openat2, AT_FDCWD, name, &how, sizeof(how));
    if (fd < 0 && (errno == EAGAIN || errno == ENOSYS || errno == EINVAL || errno == E2BIG)) {
        route_blocked = true; /* not cached, or a kernel without RESOLVE_CACHED */
        errno = EAGAIN;
    }
    return (int)fd;
}

/* stat(), or in CACHED_ONLY mode the same answer from the caches. */
static int route_stat(const char *name, struct stat *st)
{
    if (fast_path(route_mode == ROUTE_MAY_BLOCK))
        return stat(name, st);
    int fd = route_open_cached(name);
    if (fd < 0)
        return -1;
    struct statx sx;
    int rc = statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx);
    int error = errno;
    route_done_with(fd);
    if (rc != 0) {
        errno = error;
        return -1;
    }
    memset(st, 0, sizeof(*st));
    st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    st->st_ino = sx.stx_ino;
    st->st_mode = sx.stx_mode;
    st->st_nlink = sx.stx_nlink;
    st->st_uid = sx.stx_uid;
    st->st_gid = sx.stx_gid;
    st->st_size = (off_t)sx.stx_size;
    st->st_blksize = (blksize_t)sx.stx_blksize;
    st->st_blocks = (blkcnt_t)sx.stx_blocks;
    st->st_atim = (struct timespec){sx.stx_atime.tv_sec, sx.stx_atime.tv_nsec};
    st->st_mtim = (struct timespec){sx.stx_mtime.tv_sec, sx.stx_mtime.tv_nsec};
    st->st_ctim = (struct timespec){sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec};
    return 0;
}

/* realpath(), or in CACHED_ONLY mode the path of the file opened through the caches. */
static char *route_realpath(const char *name, char resolved[PATH_MAX])
{
    if (route_mode == ROUTE_MAY_BLOCK)
        return realpath(name, resolved);
    int fd = route_open_cached(name);
    if (fd < 0)
        return NULL;
    char link[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, resolved, PATH_MAX - 1);
    route_done_with(fd);
    if (n <= 0 || n >= PATH_MAX - 1 || resolved[0] != '/') {
        route_blocked = true; /* no /proc, or an odd answer: let a worker use realpath() */
        return NULL;
    }
    resolved[n] = '\0';
    return resolved;
}

struct route_inside {
    uint64_t root_hash;
    dev_t device;
    ino_t inode;
    struct timespec ctime;
    time_t expires;
};

static _Thread_local struct route_inside route_inside_table[ROUTE_INSIDE_SLOTS];

static uint64_t route_hash_bytes(const char *data, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)data[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

static struct route_inside *route_inside_slot(const struct stat *st)
{
    uint64_t key = (uint64_t)st->st_ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)st->st_dev;
    return &route_inside_table[(key >> 32) & (ROUTE_INSIDE_SLOTS - 1)];
}

/* Whether `resolved` is `root` or lies beneath it (root without its trailing slash). */
static bool route_path_is_under(const char *resolved, const char *root, size_t root_len)
{
    size_t resolved_len = strlen(resolved);
    if (resolved_len < root_len || memcmp(resolved, root, root_len) != 0)
        return false;
    return resolved[root_len] == '/' || resolved[root_len] == '\0';
}

/*
 * Whether the file `filename` (whose stat is st) lies under the router's root
 * once every symlink is resolved.
 */
static bool route_is_inside_root(const struct torus_router *router, size_t root_len,
                                 const char *filename, const struct stat *st)
{
    if (router->allow_symlinks_outside_root)
        return true;
    uint64_t root_hash = route_hash_bytes(router->root, root_len) ^ root_len;
    struct route_inside *slot = route_inside_slot(st);
    time_t now = time(NULL);
    if (fast_path(slot->inode == st->st_ino && slot->device == st->st_dev &&
                  slot->root_hash == root_hash && slot->ctime.tv_sec == st->st_ctim.tv_sec &&
                  slot->ctime.tv_nsec == st->st_ctim.tv_nsec && now < slot->expires))
        return true;

    char resolved[PATH_MAX];
    if (slow_path(route_realpath(filename, resolved) == NULL))
        return false;
    bool inside = route_path_is_under(resolved, router->root, root_len);
    if (!inside) {
        /* The root as configured may itself go through a symlink: compare with its real path. */
        char root_copy[PATH_MAX], real_root[PATH_MAX];
        if (root_len >= sizeof(root_copy))
            return false;
        memcpy(root_copy, router->root, root_len);
        root_copy[root_len] = '\0';
        if (route_realpath(root_len ? root_copy : "/", real_root) == NULL)
            return false;
        size_t real_root_len = strlen(real_root);
        if (real_root_len == 1)
            real_root_len = 0; /* "/" */
        inside = route_path_is_under(resolved, real_root, real_root_len);
    }
    if (inside) {
        slot->root_hash = root_hash;
        slot->device = st->st_dev;
        slot->inode = st->st_ino;
        slot->ctime = st->st_ctim;
        slot->expires = now + ROUTE_INSIDE_SECONDS;
    }
    return inside;
}

/* ------------------------------------------------------------------------ */
/* Routing                                                                  */
/* ------------------------------------------------------------------------ */

/* Whether a segment of the path starts with '.', "/.well-known/..." at the start excepted. */
static bool route_has_hidden_segment(const char *path, size_t len)
{
    static const char well_known[] = "/.well-known";
    size_t i = 0;
    if (len >= sizeof(well_known) - 1 && memcmp(path, well_known, sizeof(well_known) - 1) == 0 &&
        (len == sizeof(well_known) - 1 || path[sizeof(well_known) - 1] == '/'))
        i = sizeof(well_known) - 1;
    for (; i + 1 < len; i++) {
        if (path[i] == '/' && path[i + 1] == '.')
            return true;
    }
    return false;
}

/* Whether name[0..len) ends with ".php", in any case. */
static bool route_is_php_name(const char *name, size_t len)
{
    return len > 4 && strncasecmp(name + len - 4, ".php", 4) == 0;
}

/* The offset just past the first ".php" of path that is followed by '/', or 0. */
static size_t route_find_php_script_end(const char *path, size_t len)
{
    for (size_t i = 1; i + 5 <= len; i++) {
        if (path[i] == '.' && path[i + 4] == '/' && strncasecmp(path + i, ".php", 4) == 0)
            return i + 4;
    }
    return 0;
}

static void route_set_script_name(struct torus_route *route, const char *a, size_t a_len,
                                  const char *b, size_t b_len)
{
    memcpy(route->script_name, a, a_len);
    memcpy(route->script_name + a_len, b, b_len);
    route->script_name_len = a_len + b_len;
    route->script_name[route->script_name_len] = '\0';
}

/* NOT_FOUND in classic mode, the worker in worker mode. */
static int route_to_fallback(const struct torus_router *router, struct torus_route *route)
{
    route->kind = router->worker_mode ? TORUS_ROUTE_PHP : TORUS_ROUTE_NOT_FOUND;
    route->filename[0] = '\0';
    route->filename_len = 0;
    return TORUS_OK;
}

/* A regular file found at route->filename for the URI path `path`. */
static int route_regular_file(const struct torus_router *router, size_t root_len, const char *path,
                              size_t path_len, const struct stat *st, struct torus_route *route)
{
    bool php_script = route_is_php_name(path, path_len);
    if (php_script && !router->php) {
        route->kind = TORUS_ROUTE_NOT_FOUND; /* never send a script's source */
        return TORUS_OK;
    }
    if (slow_path(!route_is_inside_root(router, root_len, route->filename, st))) {
        route->kind = TORUS_ROUTE_FORBIDDEN;
        return TORUS_OK;
    }
    if (php_script) {
        route->kind = TORUS_ROUTE_PHP;
        route_set_script_name(route, path, path_len, "", 0);
    } else {
        route->kind = TORUS_ROUTE_STATIC;
        route->st = *st;
    }
    return TORUS_OK;
}

/*
 * route->filename is the directory "root/path/": when its index.php is a
 * regular file, routes to it (FORBIDDEN when it leads out of the root) and
 * returns true; else leaves route->filename as it was and returns false.
 */
static bool route_directory_index_php(const struct torus_router *router, size_t root_len,
                                      const char *path, size_t path_len, struct torus_route *route)
{
    static const char index_php[] = "index.php";
    size_t directory_len = route->filename_len;
    memcpy(route->filename + directory_len, index_php, sizeof(index_php));
    struct stat st;
    if (route_stat(route->filename, &st) != 0 || !S_ISREG(st.st_mode)) {
        route->filename[directory_len] = '\0';
        return false;
    }
    route->filename_len = directory_len + sizeof(index_php) - 1;
    if (slow_path(!route_is_inside_root(router, root_len, route->filename, &st))) {
        route->kind = TORUS_ROUTE_FORBIDDEN;
        return true;
    }
    route->kind = TORUS_ROUTE_PHP;
    route_set_script_name(route, path, path_len, index_php, sizeof(index_php) - 1);
    return true;
}

/* An existing directory asked for with its trailing slash: its index, or nothing. */
static int route_directory_index(const struct torus_router *router, size_t root_len,
                                 const char *path, size_t path_len, struct torus_route *route)
{
    static const char *const index_names[] = {"index.php", "index.html"};
    size_t directory_len = route->filename_len;
    for (size_t i = router->php ? 0 : 1; i < TORUS_ARRAY_SIZE(index_names); i++) {
        size_t name_len = strlen(index_names[i]);
        memcpy(route->filename + directory_len, index_names[i], name_len + 1);
        route->filename_len = directory_len + name_len;
        struct stat st;
        if (route_stat(route->filename, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (slow_path(!route_is_inside_root(router, root_len, route->filename, &st))) {
            route->kind = TORUS_ROUTE_FORBIDDEN;
            return TORUS_OK;
        }
        if (i == 0) {
            route->kind = TORUS_ROUTE_PHP;
            route_set_script_name(route, path, path_len, index_names[i], name_len);
        } else {
            route->kind = TORUS_ROUTE_STATIC;
            route->st = st;
        }
        return TORUS_OK;
    }
    return route_to_fallback(router, route);
}

/* Bytes a Location path may carry as they are: unreserved, sub-delims, ':', '@' and '/'. */
static bool route_location_keeps(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/* REDIRECT to path + "/", percent-encoded. */
static int route_redirect_to_directory(const char *path, size_t path_len, struct torus_route *route)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (size_t i = 0; i < path_len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (slow_path(w + 3 + 2 > sizeof(route->location))) {
            route->kind = TORUS_ROUTE_NOT_FOUND;
            return TORUS_OK;
        }
        if (route_location_keeps(c)) {
            route->location[w++] = (char)c;
        } else {
            route->location[w++] = '%';
            route->location[w++] = hex[c >> 4];
            route->location[w++] = hex[c & 15];
        }
    }
    route->location[w++] = '/';
    route->location[w] = '\0';
    route->location_len = w;
    route->kind = TORUS_ROUTE_REDIRECT;
    return TORUS_OK;
}

/* The path names nothing: PATH_INFO after an existing script, else the front controller. */
static int route_missing(const struct torus_router *router, size_t root_len, const char *path,
                         size_t path_len, struct torus_route *route)
{
    struct stat st;
    size_t script_end = route_find_php_script_end(path, path_len);
    if (script_end != 0) {
        route->filename_len = root_len + script_end;
        route->filename[route->filename_len] = '\0';
        if (route_stat(route->filename, &st) == 0 && S_ISREG(st.st_mode)) {
            if (!router->php) {
                route->kind = TORUS_ROUTE_NOT_FOUND;
                return TORUS_OK;
            }
            if (slow_path(!route_is_inside_root(router, root_len, route->filename, &st))) {
                route->kind = TORUS_ROUTE_FORBIDDEN;
                return TORUS_OK;
            }
            route->kind = TORUS_ROUTE_PHP;
            route_set_script_name(route, path, script_end, "", 0);
            route->path_info = path + script_end;
            route->path_info_len = path_len - script_end;
            return TORUS_OK;
        }
    }

    if (!router->php || router->worker_mode)
        return route_to_fallback(router, route);
    static const char front_controller[] = "/index.php";
    memcpy(route->filename + root_len, front_controller, sizeof(front_controller));
    route->filename_len = root_len + sizeof(front_controller) - 1;
    if (route_stat(route->filename, &st) != 0 || !S_ISREG(st.st_mode))
        return route_to_fallback(router, route);
    if (slow_path(!route_is_inside_root(router, root_len, route->filename, &st))) {
        route->kind = TORUS_ROUTE_FORBIDDEN;
        return TORUS_OK;
    }
    route->kind = TORUS_ROUTE_PHP;
    route_set_script_name(route, front_controller, sizeof(front_controller) - 1, "", 0);
    return TORUS_OK;
}

int torus_route_resolve(const struct torus_router *router, const char *path, size_t path_len,
                        struct torus_route *route)
{
    route->kind = TORUS_ROUTE_NOT_FOUND;
    route->filename[0] = '\0';
    route->filename_len = 0;
    route->script_name[0] = '\0';
    route->script_name_len = 0;
    route->path_info = "";
    route->path_info_len = 0;
    route->location[0] = '\0';
    route->location_len = 0;
    if (slow_path(path_len == 0 || path[0] != '/' || memchr(path, '\0', path_len) != NULL))
        return TORUS_ERROR;

    if (slow_path(route_has_hidden_segment(path, path_len)))
        return TORUS_OK; /* NOT_FOUND, in every mode */

    size_t root_len = router->root_len;
    while (root_len > 0 && router->root[root_len - 1] == '/')
        root_len--;
    /* Room for the longest name built below: root + path + "index.html" + NUL. */
    if (slow_path(root_len + path_len + sizeof("/index.html") > sizeof(route->filename)))
        return route_to_fallback(router, route);
    memcpy(route->filename, router->root, root_len);
    memcpy(route->filename + root_len, path, path_len);
    route->filename_len = root_len + path_len;
    route->filename[route->filename_len] = '\0';

    /*
     * "/dir/" with PHP on: its index.php first. Found as a regular file, it
     * proves "dir" a directory and is the answer the longer way gives (look
     * at dir, then at its index), for one look instead of two ("/" of a
     * front-controller app on every request). Not found: the longer way.
     */
    if (path[path_len - 1] == '/' && router->php &&
        route_directory_index_php(router, root_len, path, path_len, route))
        return TORUS_OK;

    struct stat st;
    if (fast_path(route_stat(route->filename, &st) == 0)) {
        if (fast_path(S_ISREG(st.st_mode)))
            return route_regular_file(router, root_len, path, path_len, &st, route);
        if (S_ISDIR(st.st_mode)) {
            if (path[path_len - 1] != '/')
                return route_redirect_to_directory(path, path_len, route);
            return route_directory_index(router, root_len, path, path_len, route);
        }
        route->kind = TORUS_ROUTE_FORBIDDEN; /* fifo, socket, device */
        return TORUS_OK;
    }
    if (errno == EACCES) {
        route->kind = TORUS_ROUTE_FORBIDDEN;
        return TORUS_OK;
    }
    if (errno == ENOENT || errno == ENOTDIR)
        return route_missing(router, root_len, path, path_len, route);
    return route_to_fallback(router, route); /* ELOOP, ENAMETOOLONG... */
}

int torus_route_try_resolve(const struct torus_router *router, const char *path, size_t path_len,
                            struct torus_route *route, struct torus_route_fds *opened)
{
    route_mode = ROUTE_CACHED_ONLY;
    route_blocked = false;
    route_opened = opened;
    if (opened)
        opened->count = 0;
    int rc = torus_route_resolve(router, path, path_len, route);
    route_mode = ROUTE_MAY_BLOCK;
    route_opened = NULL;
    return route_blocked ? TORUS_AGAIN : rc;
}

/* Copies what a memo slot holds back into a route (path_info points into path). */
static void route_memo_restore(const struct torus_route_memo_slot *slot, const char *path,
                               struct torus_route *route)
{
    route->kind = slot->kind;
    memcpy(route->filename, slot->filename, slot->filename_len + 1);
    route->filename_len = slot->filename_len;
    memcpy(route->script_name, slot->script_name, slot->script_name_len + 1);
    route->script_name_len = slot->script_name_len;
    memcpy(route->location, slot->location, slot->location_len + 1);
    route->location_len = slot->location_len;
    route->path_info = slot->path_info_len ? path + slot->path_info_offset : "";
    route->path_info_len = slot->path_info_len;
    route->st = slot->st;
}

bool torus_route_memo_find(const struct torus_route_memo *memo, const char *path, size_t path_len,
                           struct torus_route *route)
{
    if (path_len >= TORUS_ROUTE_MEMO_PATH)
        return false;
    for (unsigned i = 0; i < TORUS_ROUTE_MEMO_SLOTS; i++) {
        const struct torus_route_memo_slot *slot = &memo->slots[i];
        if (slot->generation == memo->generation && slot->path_len == path_len &&
            memcmp(slot->path, path, path_len) == 0) {
            route_memo_restore(slot, path, route);
            return true;
        }
    }
    return false;
}

void torus_route_memo_store(struct torus_route_memo *memo, const char *path, size_t path_len,
                            const struct torus_route *route)
{
    if (path_len >= TORUS_ROUTE_MEMO_PATH ||
        route->filename_len >= sizeof(memo->slots[0].filename) ||
        route->script_name_len >= sizeof(memo->slots[0].script_name) ||
        route->location_len >= sizeof(memo->slots[0].location))
        return;
    struct torus_route_memo_slot *slot = &memo->slots[memo->next];
    memo->next = (memo->next + 1) % TORUS_ROUTE_MEMO_SLOTS;
    slot->generation = memo->generation;
    slot->path_len = path_len;
    memcpy(slot->path, path, path_len);
    slot->kind = route->kind;
    memcpy(slot->filename, route->filename, route->filename_len + 1);
    slot->filename_len = route->filename_len;
    memcpy(slot->script_name, route->script_name, route->script_name_len + 1);
    slot->script_name_len = route->script_name_len;
    memcpy(slot->location, route->location, route->location_len + 1);
    slot->location_len = route->location_len;
    slot->path_info_len = route->path_info_len;
    slot->path_info_offset = route->path_info_len ? (size_t)(route->path_info - path) : 0;
    slot->st = route->st;
}

int torus_route_resolve_memo(const struct torus_router *router, struct torus_route_memo *memo,
                             const char *path, size_t path_len, struct torus_route *route)
{
    if (torus_route_memo_find(memo, path, path_len, route))
        return TORUS_OK;
    int rc = torus_route_resolve(router, path, path_len, route);
    if (rc == TORUS_OK)
        torus_route_memo_store(memo, path, path_len, route);
    return rc;
}
