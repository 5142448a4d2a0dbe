/*
 * A static file's variants in content codings, found or made on the
 * file-system worker (never on the I/O thread): see net/static.h.
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
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/compress_policy.h"
#include "net/content_coding.h"
#include "net/static.h"

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
