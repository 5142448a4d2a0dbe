/*
 * Opening a static file and its variants in content codings, on the
 * file-system worker (never on the I/O thread): see net/static.h.
 *
 * The file is opened O_NONBLOCK (should its name have become a fifo since
 * routing, open() must not wait), checked to be a regular file with
 * fstat(), and read whole when it is small enough for the static cache.
 *
 * For app.js, each coding's sibling (app.js.zst, app.js.br, app.js.gz) is
 * opened like the file itself (O_NONBLOCK, fstat, read whole when small)
 * but never through a symbolic link (routing did not check where it leads),
 * and kept when it is a regular file whose modification time is not before
 * the original's: a sibling left over from an older
 * version of the file is never served for the new one. With
 * --compress-static, a small file of a compressible type that has no
 * sibling in a coding is compressed in memory in that coding, once: the
 * static cache then keeps the result with the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/compress_policy.h"
#include "net/content_coding.h"
#include "net/static.h"

/* torus_static_open() with extra open() flags. */
static int static_open(const char *filename, int flags, size_t read_max,
                       struct torus_static_file *file)
{
    file->data = NULL;
    file->error = 0;
    memset(file->variants, 0, sizeof(file->variants));
    file->siblings_looked = false;
    /* O_NONBLOCK: should the name have become a fifo since routing, open() must not wait. */
    file->fd = open(filename, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
    if (slow_path(file->fd < 0)) {
        file->error = errno;
        return TORUS_ERROR;
    }
    if (slow_path(fstat(file->fd, &file->st) != 0 || !S_ISREG(file->st.st_mode))) {
        torus_static_file_release(file);
        file->error = ENOENT;
        return TORUS_ERROR;
    }
    size_t size = (size_t)file->st.st_size;
    if ((uint64_t)file->st.st_size > read_max)
        return TORUS_OK;
    file->data = malloc(size ? size : 1);
    if (slow_path(!file->data))
        return TORUS_OK; /* sent from the descriptor instead */
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(file->fd, file->data + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(file->data); /* unreadable or shrunk meanwhile: sent from the descriptor instead */
            file->data = NULL;
            break;
        }
        done += (size_t)n;
    }
    return TORUS_OK;
}

int torus_static_open(const char *filename, size_t read_max, struct torus_static_file *file)
{
    return static_open(filename, 0, read_max, file);
}

int torus_static_open_sibling(const char *filename, size_t read_max, struct torus_static_file *file)
{
    return static_open(filename, O_NOFOLLOW, read_max, file);
}

void torus_static_file_release(struct torus_static_file *file)
{
    if (file->fd >= 0)
        close(file->fd);
    file->fd = -1;
    free(file->data);
    file->data = NULL;
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        struct torus_static_variant *v = &file->variants[c];
        if (v->present && v->fd >= 0)
            close(v->fd);
        if (v->present)
            free(v->data);
        v->present = false;
        v->fd = -1;
        v->data = NULL;
    }
}

/* True when a is not before b. */
static bool not_older(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

/* Opens filename + the coding's suffix as a variant of `file`. */
static void open_sibling(const char *filename, size_t filename_len, size_t read_max,
                         enum torus_coding coding, struct torus_static_file *file)
{
    const char *suffix = torus_coding_suffix(coding);
    size_t suffix_len = strlen(suffix);
    char path[PATH_MAX];
    if (filename_len + suffix_len >= sizeof(path))
        return;
    memcpy(path, filename, filename_len);
    memcpy(path + filename_len, suffix, suffix_len + 1);
    struct torus_static_file sibling;
    if (torus_static_open_sibling(path, read_max, &sibling) != TORUS_OK)
        return;
    if (!not_older(&sibling.st.st_mtim, &file->st.st_mtim)) {
        torus_static_file_release(&sibling);
        return;
    }
    struct torus_static_variant *v = &file->variants[coding];
    v->present = true;
    v->fd = sibling.fd;
    v->st = sibling.st;
    v->data = sibling.data;
}

/* Compresses the file's bytes in `coding` as a variant; none when it does not get smaller. */
static void compress_in_memory(struct torus_encoder *encoder, const struct torus_compression *c,
                               enum torus_coding coding, struct torus_static_file *file)
{
    size_t size = (size_t)file->st.st_size;
    struct torus_coding_buffer out = {0};
    if (torus_encoder_begin(encoder, coding, torus_compress_level(c, coding), size) != TORUS_OK ||
        torus_encoder_write(encoder, file->data, size, torus_coding_buffer_append, &out) !=
            TORUS_OK ||
        torus_encoder_end(encoder, torus_coding_buffer_append, &out) != TORUS_OK ||
        out.len >= size) {
        torus_encoder_end(encoder, NULL, NULL);
        free(out.data);
        return;
    }
    struct torus_static_variant *v = &file->variants[coding];
    v->present = true;
    v->fd = -1;
    v->st = file->st;
    v->st.st_size = (off_t)out.len;
    v->data = out.data;
}

void torus_static_open_variants(const char *filename, size_t filename_len, size_t read_max,
                                const struct torus_compression *c, struct torus_static_file *file)
{
    if (file->fd < 0 || !c->enabled)
        return;
    if (c->precompressed) {
        file->siblings_looked = true;
        for (int coding = TORUS_CODING_IDENTITY + 1; coding < TORUS_CODING_COUNT; coding++)
            open_sibling(filename, filename_len, read_max, (enum torus_coding)coding, file);
    }
    if (!c->compress_static || !file->data || (uint64_t)file->st.st_size < c->min_size)
        return;
    const char *type = torus_mime_type(filename, filename_len);
    if (!torus_compress_type_matches(c->types, type, strlen(type)))
        return;
    struct torus_encoder encoder;
    torus_encoder_init(&encoder);
    for (int coding = TORUS_CODING_IDENTITY + 1; coding < TORUS_CODING_COUNT; coding++) {
        if (!file->variants[coding].present)
            compress_in_memory(&encoder, c, (enum torus_coding)coding, file);
    }
    torus_encoder_free(&encoder);
}

/* Calls fn on every descriptor slot of the file. */
static void each_fd(struct torus_static_file *file, void (*fn)(int *fd))
{
    fn(&file->fd);
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        if (file->variants[c].present)
            fn(&file->variants[c].fd);
    }
}

static void dup_fd(int *fd)
{
    if (*fd >= 0)
        *fd = dup(*fd);
}

static void forget_fd(int *fd)
{
    *fd = -1;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void torus_static_file_dup_fds(struct torus_static_file *file)
{
    each_fd(file, dup_fd);
}

void torus_static_file_forget_fds(struct torus_static_file *file)
{
    each_fd(file, forget_fd);
}

void torus_static_file_close_fds(struct torus_static_file *file)
{
    each_fd(file, close_fd);
}
