/*
 * Static file responses and the per-shard cache of small files.
 *
 * A response is decided in three steps, on a description of one version of
 * the file (struct static_file: size, mtime, the ETag and Last-Modified
 * values and the header lines they make, computed once per version):
 *
 *   1. Validators. If-None-Match, when present, decides alone: any of its
 *      entity-tags equal to ours after dropping W/ (weak comparison), or "*",
 *      gives 304. Otherwise If-Modified-Since gives 304 when the file is not
 *      newer than the date. A 304 carries ETag and Last-Modified only.
 *   2. Range, for a 200 to be. If-Range, when present, must match strongly
 *      (the same strong ETag, or exactly our Last-Modified date) or the range
 *      is dropped. Then "bytes=" with exactly one range-spec gives 206, or 416
 *      when it starts past the end; anything else (several ranges, bad
 *      syntax, last < first, another unit) is ignored and gives 200.
 *   3. The head, through torus_http_head(), and where the body lies.
 *
 * The cache maps a file name to an entry holding the file's bytes and its
 * static_file, in a chained hash table (FNV-1a, power-of-two buckets, grown
 * when it holds more entries than buckets) threaded on an LRU list, most
 * recent first. An entry is trusted during the second (`now`) it was last
 * validated in; in any other second one stat() compares device, inode, size,
 * mtime and ctime with what was loaded, and a difference reloads the file.
 * Entries are reference counted: the cache holds one reference while the
 * entry is in the table, each response whose body points into it holds one
 * (`pin`), so an entry evicted or replaced while a response still sends it
 * is freed only when that response is released.
 *
 * Files larger than max_entry are not cached: each request opens the file
 * and hands the descriptor to the I/O thread, as nginx does without
 * open_file_cache.
 */
#include "net/static.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/http_response.h"

/* What every response about one version of a file needs. */
struct static_file {
    uint64_t size;
    time_t mtime;
    char etag[48]; /* with its quotes: "5f3e1c2a-1a4" */
    size_t etag_len;
    /* "Last-Modified: ...\r\nETag: ...\r\n" (validators_len bytes, all a 304 sends), then
       "Content-Type: ...\r\nAccept-Ranges: bytes\r\n". */
    char fields[384];
    size_t validators_len;
    size_t fields_len;
};

struct static_entry {
    struct static_entry *hash_next;
    struct static_entry *lru_prev; /* toward the most recently used */
    struct static_entry *lru_next;
    uint64_t hash;
    unsigned references; /* one while in the table, one per pinned response */
    time_t validated_at;
    dev_t device;
    ino_t inode;
    struct timespec mtime_exact;
    struct timespec ctime;
    size_t charge; /* bytes counted against max_total */
    struct static_file file;
    char *filename; /* in the same allocation, after the struct */
    size_t filename_len;
    char *data; /* file.size bytes, after the name */
    /* The file's variants by coding (NULL when present is 0), their bytes after the file's. */
    unsigned present; /* set of TORUS_CODING_BIT */
    struct static_variant *variants;
    bool siblings_looked;       /* precompressed siblings were looked for... */
    time_t siblings_checked_at; /* ...at this second */
};

/* A cached file's representation in a content coding. */
struct static_variant {
    struct static_file file;
    char *data;
};

struct torus_static_cache {
    struct static_entry **buckets;
    size_t bucket_count; /* power of two */
    size_t entry_count;
    struct static_entry *lru_first; /* most recently used */
    struct static_entry *lru_last;
    size_t max_entry;
    size_t max_total;
    size_t total;
};

/* ------------------------------------------------------------------------ */
/* Describing a file                                                        */
/* ------------------------------------------------------------------------ */

/*
 * Describes one representation: `st` is its own (a sibling's for a
 * variant), `filename` the original's (its Content-Type), `coding` its
 * content coding; `vary` when the file has variants.
 */
static void static_file_describe(struct static_file *file, const char *filename,
                                 size_t filename_len, const struct stat *st,
                                 enum torus_coding coding, bool vary)
{
    bool coded = coding != TORUS_CODING_IDENTITY;
    file->size = (uint64_t)st->st_size;
    file->mtime = st->st_mtim.tv_sec;
    file->etag_len = (size_t)snprintf(
        file->etag, sizeof(file->etag), "\"%llx-%llx%s%s\"", (unsigned long long)file->mtime,
        (unsigned long long)file->size, coded ? "-" : "", coded ? torus_coding_name(coding) : "");
    char last_modified[TORUS_HTTP_DATE_LEN + 1];
    torus_http_date_format(file->mtime, last_modified);
    int validators =
        snprintf(file->fields, sizeof(file->fields), "Last-Modified: %s\r\nETag: %s\r\n%s",
                 last_modified, file->etag, vary ? "Vary: Accept-Encoding\r\n" : "");
    int rest = snprintf(file->fields + validators, sizeof(file->fields) - (size_t)validators,
                        "Content-Type: %s\r\n%s%s%sAccept-Ranges: bytes\r\n",
                        torus_mime_type(filename, filename_len), coded ? "Content-Encoding: " : "",
                        coded ? torus_coding_name(coding) : "", coded ? "\r\n" : "");
    file->validators_len = (size_t)validators;
    file->fields_len = (size_t)validators + (size_t)rest;
}

/* ------------------------------------------------------------------------ */
/* Conditional requests and ranges                                          */
/* ------------------------------------------------------------------------ */

static bool static_is_space(char c)
{
    return c == ' ' || c == '\t';
}

static torus_str static_trim(torus_str value)
{
    while (value.len > 0 && static_is_space(value.data[0])) {
        value.data++;
        value.len--;
    }
    while (value.len > 0 && static_is_space(value.data[value.len - 1]))
        value.len--;
    return value;
}

/* If-None-Match: "*" or a list of entity-tags, compared weakly with ours. */
static bool static_none_match_hits(torus_str value, const struct static_file *file)
{
    const char *p = value.data, *end = value.data + value.len;
    for (;;) {
        while (p < end && (static_is_space(*p) || *p == ','))
            p++;
        if (p == end)
            return false;
        if (*p == '*')
            return true;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p == end || *p != '"')
            return false; /* malformed: nothing after it can be trusted */
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (close == NULL)
            return false;
        size_t tag_len = (size_t)(close - p) + 1;
        if (tag_len == file->etag_len && memcmp(p, file->etag, tag_len) == 0)
            return true;
        p = close + 1;
    }
}

/* If-Range: our strong ETag exactly, or our Last-Modified date exactly. */
static bool static_if_range_matches(torus_str value, const struct static_file *file)
{
    value = static_trim(value);
    if (value.len > 0 && value.data[0] == '"')
        return value.len == file->etag_len && memcmp(value.data, file->etag, value.len) == 0;
    time_t date;
    return torus_http_date_parse(value.data, value.len, &date) == TORUS_OK && date == file->mtime;
}

/* If-Modified-Since: the file is not newer than the date. An unparsable date is ignored. */
static bool static_not_modified_since(torus_str value, const struct static_file *file)
{
    value = static_trim(value);
    time_t date;
    return torus_http_date_parse(value.data, value.len, &date) == TORUS_OK && file->mtime <= date;
}

enum static_range_result { STATIC_RANGE_IGNORE, STATIC_RANGE_PARTIAL, STATIC_RANGE_UNSATISFIABLE };

/* Reads decimal digits at *p, saturating at UINT64_MAX. False when there are none. */
static bool static_parse_position(const char **p, const char *end, uint64_t *out)
{
    const char *start = *p;
    uint64_t value = 0;
    for (; *p < end && **p >= '0' && **p <= '9'; (*p)++) {
        unsigned digit = (unsigned)(**p - '0');
        value = value > (UINT64_MAX - digit) / 10 ? UINT64_MAX : value * 10 + digit;
    }
    *out = value;
    return *p != start;
}

/* Range: one "bytes=" range-spec over a file of `size` bytes, as [*first, *last]. */
static enum static_range_result static_parse_range(torus_str value, uint64_t size, uint64_t *first,
                                                   uint64_t *last)
{
    static const char unit[] = "bytes";
    value = static_trim(value);
    const char *p = value.data, *end = value.data + value.len;
    if (value.len < sizeof(unit) || strncasecmp(p, unit, sizeof(unit) - 1) != 0)
        return STATIC_RANGE_IGNORE;
    p += sizeof(unit) - 1;
    while (p < end && static_is_space(*p))
        p++;
    if (p == end || *p != '=')
        return STATIC_RANGE_IGNORE;
    p++;
    if (memchr(p, ',', (size_t)(end - p)) != NULL)
        return STATIC_RANGE_IGNORE; /* several ranges: answered in full, no multipart */
    while (p < end && static_is_space(*p))
        p++;

    uint64_t start_position, end_position;
    bool has_start = static_parse_position(&p, end, &start_position);
    if (p == end || *p != '-')
        return STATIC_RANGE_IGNORE;
    p++;
    bool has_end = static_parse_position(&p, end, &end_position);
    if (p != end || (!has_start && !has_end))
        return STATIC_RANGE_IGNORE;

    if (has_start) {
        if (has_end && end_position < start_position)
            return STATIC_RANGE_IGNORE; /* invalid range-spec: the header is ignored */
        if (start_position >= size)
            return STATIC_RANGE_UNSATISFIABLE;
        *first = start_position;
        *last = has_end && end_position < size - 1 ? end_position : size - 1;
        return STATIC_RANGE_PARTIAL;
    }
    /* "-N": the last N bytes. */
    if (end_position == 0 || size == 0)
        return STATIC_RANGE_UNSATISFIABLE;
    *first = end_position >= size ? 0 : size - end_position;
    *last = size - 1;
    return STATIC_RANGE_PARTIAL;
}

/*
 * Decides status and head for `file`; on TORUS_OK *body_first and
 * *body_length say which bytes the body holds (length 0: no body).
 */
static int static_build_head(const struct static_file *file, const struct torus_static_request *req,
                             struct torus_static_response *resp, uint64_t *body_first,
                             uint64_t *body_length)
{
    char extra[sizeof(file->fields) + 96];
    size_t extra_len;
    int64_t content_length;
    *body_first = 0;
    *body_length = 0;

    bool not_modified = req->if_none_match.data != NULL
                            ? static_none_match_hits(req->if_none_match, file)
                            : req->if_modified_since.data != NULL &&
                                  static_not_modified_since(req->if_modified_since, file);
    enum static_range_result range = STATIC_RANGE_IGNORE;
    uint64_t first = 0, last = 0;
    if (!not_modified && req->range.data != NULL &&
        (req->if_range.data == NULL || static_if_range_matches(req->if_range, file)))
        range = static_parse_range(req->range, file->size, &first, &last);

    if (not_modified) {
        resp->status = 304;
        memcpy(extra, file->fields, file->validators_len);
        extra_len = file->validators_len;
        content_length = -1;
    } else if (range == STATIC_RANGE_PARTIAL) {
        resp->status = 206;
        memcpy(extra, file->fields, file->fields_len);
        extra_len = file->fields_len;
        extra_len +=
            (size_t)snprintf(extra + extra_len, sizeof(extra) - extra_len,
                             "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", first,
                             last, file->size);
        *body_first = first;
        *body_length = last - first + 1;
        content_length = (int64_t)*body_length;
    } else if (range == STATIC_RANGE_UNSATISFIABLE) {
        resp->status = 416;
        extra_len = (size_t)snprintf(extra, sizeof(extra), "Content-Range: bytes */%" PRIu64 "\r\n",
                                     file->size);
        content_length = 0;
    } else {
        resp->status = 200;
        memcpy(extra, file->fields, file->fields_len);
        extra_len = file->fields_len;
        *body_length = file->size;
        content_length = (int64_t)file->size;
    }
    if (req->head)
        *body_length = 0;
    resp->head_len = torus_http_head(resp->head, sizeof(resp->head), resp->status, req->http_minor,
                                     req->keep_alive, extra, extra_len, content_length);
    return resp->head_len != 0 ? TORUS_OK : TORUS_ERROR;
}

/* ------------------------------------------------------------------------ */
/* The cache                                                                */
/* ------------------------------------------------------------------------ */

static uint64_t static_hash(const char *data, size_t len)
{
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        hash ^= (unsigned char)data[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

static void static_entry_unreference(struct static_entry *entry)
{
    if (--entry->references == 0)
        free(entry);
}

struct torus_static_cache *torus_static_cache_new(size_t max_entry, size_t max_total)
{
    struct torus_static_cache *cache = calloc(1, sizeof(*cache));
    if (slow_path(cache == NULL))
        return NULL;
    cache->bucket_count = 64;
    cache->buckets = calloc(cache->bucket_count, sizeof(*cache->buckets));
    if (slow_path(cache->buckets == NULL)) {
        free(cache);
        return NULL;
    }
    cache->max_entry = max_entry ? max_entry : TORUS_STATIC_DEFAULT_MAX_ENTRY;
    cache->max_total = max_total ? max_total : TORUS_STATIC_DEFAULT_MAX_TOTAL;
    return cache;
}

void torus_static_cache_free(struct torus_static_cache *cache)
{
    if (cache == NULL)
        return;
    /* Drop the table's reference only: an entry a response still pins lives until released. */
    struct static_entry *entry = cache->lru_first;
    while (entry != NULL) {
        struct static_entry *next = entry->lru_next;
        static_entry_unreference(entry);
        entry = next;
    }
    free(cache->buckets);
    free(cache);
}

static struct static_entry *static_cache_find(struct torus_static_cache *cache, uint64_t hash,
                                              const char *filename, size_t filename_len)
{
    struct static_entry *entry = cache->buckets[hash & (cache->bucket_count - 1)];
    for (; entry != NULL; entry = entry->hash_next) {
        if (entry->hash == hash && entry->filename_len == filename_len &&
            memcmp(entry->filename, filename, filename_len) == 0)
            return entry;
    }
    return NULL;
}

static void static_lru_unlink(struct torus_static_cache *cache, struct static_entry *entry)
{
    if (entry->lru_prev)
        entry->lru_prev->lru_next = entry->lru_next;
    else
        cache->lru_first = entry->lru_next;
    if (entry->lru_next)
        entry->lru_next->lru_prev = entry->lru_prev;
    else
        cache->lru_last = entry->lru_prev;
    entry->lru_prev = entry->lru_next = NULL;
}

static void static_lru_push_first(struct torus_static_cache *cache, struct static_entry *entry)
{
    entry->lru_prev = NULL;
    entry->lru_next = cache->lru_first;
    if (cache->lru_first)
        cache->lru_first->lru_prev = entry;
    else
        cache->lru_last = entry;
    cache->lru_first = entry;
}

/* Takes the entry out of the table; it lives on while a response pins it. */
static void static_cache_remove(struct torus_static_cache *cache, struct static_entry *entry)
{
    struct static_entry **link = &cache->buckets[entry->hash & (cache->bucket_count - 1)];
    while (*link != entry)
        link = &(*link)->hash_next;
    *link = entry->hash_next;
    static_lru_unlink(cache, entry);
    cache->entry_count--;
    cache->total -= entry->charge;
    static_entry_unreference(entry);
}

static void static_cache_grow(struct torus_static_cache *cache)
{
    size_t count = cache->bucket_count * 2;
    struct static_entry **buckets = calloc(count, sizeof(*buckets));
    if (buckets == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < cache->bucket_count; i++) {
        struct static_entry *entry = cache->buckets[i];
        while (entry != NULL) {
            struct static_entry *next = entry->hash_next;
            entry->hash_next = buckets[entry->hash & (count - 1)];
            buckets[entry->hash & (count - 1)] = entry;
            entry = next;
        }
    }
    free(cache->buckets);
    cache->buckets = buckets;
    cache->bucket_count = count;
}

static void static_cache_insert(struct torus_static_cache *cache, struct static_entry *entry)
{
    while (cache->lru_last != NULL && cache->total + entry->charge > cache->max_total)
        static_cache_remove(cache, cache->lru_last);
    if (cache->entry_count >= cache->bucket_count)
        static_cache_grow(cache);
    struct static_entry **bucket = &cache->buckets[entry->hash & (cache->bucket_count - 1)];
    entry->hash_next = *bucket;
    *bucket = entry;
    static_lru_push_first(cache, entry);
    cache->entry_count++;
    cache->total += entry->charge;
    entry->references++;
}

static bool static_entry_is_current(const struct static_entry *entry, const struct stat *st)
{
    return S_ISREG(st->st_mode) && entry->device == st->st_dev && entry->inode == st->st_ino &&
           entry->file.size == (uint64_t)st->st_size &&
           entry->mtime_exact.tv_sec == st->st_mtim.tv_sec &&
           entry->mtime_exact.tv_nsec == st->st_mtim.tv_nsec &&
           entry->ctime.tv_sec == st->st_ctim.tv_sec && entry->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The codings of the variants a file has. */
static unsigned static_variants_present(const struct torus_static_file *opened)
{
    unsigned present = 0;
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        if (opened->variants[c].present)
            present |= TORUS_CODING_BIT(c);
    }
    return present;
}

/* True when the file and each of its variants were read whole: the entry can hold them. */
static bool static_all_read(const struct torus_static_file *opened)
{
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        if (opened->variants[c].present && !opened->variants[c].data)
            return false;
    }
    return opened->data != NULL;
}

/*
 * A new entry (one reference, not in the table) holding a copy of the
 * opened file's bytes and of its variants' (all read whole), or NULL.
 */
static struct static_entry *static_entry_make(const char *filename, size_t filename_len,
                                              uint64_t hash, const struct torus_static_file *opened,
                                              time_t now)
{
    const struct stat *st = &opened->st;
    size_t size = (size_t)st->st_size;
    size_t variant_bytes = 0;
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        if (opened->variants[c].present)
            variant_bytes += (size_t)opened->variants[c].st.st_size;
    }
    unsigned present = static_variants_present(opened);
    size_t variants_size = present ? sizeof(struct static_variant) * TORUS_CODING_COUNT : 0;
    size_t allocation =
        sizeof(struct static_entry) + variants_size + filename_len + 1 + size + variant_bytes;
    struct static_entry *entry = malloc(allocation);
    if (slow_path(entry == NULL))
        return NULL;
    memset(entry, 0, sizeof(*entry));
    entry->variants = present ? (struct static_variant *)(entry + 1) : NULL;
    entry->filename = (char *)(entry + 1) + variants_size;
    memcpy(entry->filename, filename, filename_len);
    entry->filename[filename_len] = '\0';
    entry->filename_len = filename_len;
    entry->data = entry->filename + filename_len + 1;
    memcpy(entry->data, opened->data, size);
    entry->hash = hash;
    entry->references = 1;
    entry->validated_at = now;
    entry->device = st->st_dev;
    entry->inode = st->st_ino;
    entry->mtime_exact = st->st_mtim;
    entry->ctime = st->st_ctim;
    entry->charge = allocation;
    entry->present = present;
    entry->siblings_looked = opened->siblings_looked;
    entry->siblings_checked_at = now;
    static_file_describe(&entry->file, filename, filename_len, st, TORUS_CODING_IDENTITY,
                         entry->present != 0);
    char *next = entry->data + size;
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        const struct torus_static_variant *v = &opened->variants[c];
        if (!v->present)
            continue;
        entry->variants[c].data = next;
        memcpy(next, v->data, (size_t)v->st.st_size);
        next += v->st.st_size;
        static_file_describe(&entry->variants[c].file, filename, filename_len, &v->st,
                             (enum torus_coding)c, true);
    }
    return entry;
}

/* ------------------------------------------------------------------------ */
/* Responses                                                                */
/* ------------------------------------------------------------------------ */

static void static_response_clear(struct torus_static_response *resp)
{
    resp->status = 0;
    resp->head_len = 0;
    resp->body = NULL;
    resp->body_len = 0;
    resp->fd = -1;
    resp->offset = 0;
    resp->length = 0;
    resp->pin = NULL;
}

static int static_respond_failure(struct torus_static_response *resp, int error)
{
    resp->status = error == EACCES || error == EPERM ? 403 : 404;
    resp->head_len = 0;
    return TORUS_ERROR;
}

/* The coding of the representation to send, among the variants present. */
static enum torus_coding static_choose(const struct torus_static_request *req, unsigned present)
{
    if (present == 0)
        return TORUS_CODING_IDENTITY;
    return torus_accept_encoding_choose(req->accept_encoding.data, req->accept_encoding.len,
                                        present);
}

static int static_respond_from_entry(struct static_entry *entry,
                                     const struct torus_static_request *req,
                                     struct torus_static_response *resp)
{
    enum torus_coding coding = static_choose(req, entry->present);
    const struct static_file *file = &entry->file;
    const char *data = entry->data;
    if (coding != TORUS_CODING_IDENTITY) {
        file = &entry->variants[coding].file;
        data = entry->variants[coding].data;
    }
    uint64_t first, length;
    if (slow_path(static_build_head(file, req, resp, &first, &length) != TORUS_OK))
        return static_respond_failure(resp, EIO);
    if (length > 0) {
        resp->body = data + first;
        resp->body_len = (size_t)length;
        resp->pin = entry;
        entry->references++;
    }
    return TORUS_OK;
}

size_t torus_static_cache_max_entry(const struct torus_static_cache *cache)
{
    return cache->max_entry;
}

/* The cached entry for filename, moved to the front of the LRU; NULL when absent or stale. */
static struct static_entry *static_cache_take_current(struct torus_static_cache *cache,
                                                      uint64_t hash, const char *filename,
                                                      size_t filename_len, const struct stat *st)
{
    struct static_entry *entry = static_cache_find(cache, hash, filename, filename_len);
    if (entry == NULL)
        return NULL;
    if (!static_entry_is_current(entry, st)) {
        static_cache_remove(cache, entry);
        return NULL;
    }
    static_lru_unlink(cache, entry);
    static_lru_push_first(cache, entry);
    return entry;
}

/* True when the entry's siblings must be looked for again. */
static bool static_siblings_stale(const struct static_entry *entry, time_t now)
{
    return entry->siblings_looked &&
           (now < entry->siblings_checked_at ||
            now - entry->siblings_checked_at >= TORUS_STATIC_SIBLING_RECHECK);
}

bool torus_static_has(struct torus_static_cache *cache, const char *filename, size_t filename_len,
                      const struct stat *st, time_t now)
{
    struct static_entry *entry =
        static_cache_find(cache, static_hash(filename, filename_len), filename, filename_len);
    return entry != NULL && static_entry_is_current(entry, st) &&
           !static_siblings_stale(entry, now);
}

int torus_static_respond_cached(struct torus_static_cache *cache, const char *filename,
                                size_t filename_len, const struct torus_static_request *req,
                                struct torus_static_response *resp)
{
    static_response_clear(resp);
    uint64_t hash = static_hash(filename, filename_len);
    struct static_entry *entry =
        static_cache_take_current(cache, hash, filename, filename_len, req->st);
    if (entry == NULL)
        return TORUS_AGAIN;
    return static_respond_from_entry(entry, req, resp);
}

int torus_static_respond_opened(struct torus_static_cache *cache, const char *filename,
                                size_t filename_len, const struct torus_static_request *req,
                                struct torus_static_file *file, struct torus_static_response *resp)
{
    static_response_clear(resp);
    if (file->fd < 0)
        return static_respond_failure(resp, file->error ? file->error : ENOENT);
    const struct stat *st = &file->st;
    uint64_t hash = static_hash(filename, filename_len);
    struct static_entry *entry = static_cache_take_current(cache, hash, filename, filename_len, st);
    if (entry != NULL && file->siblings_looked && static_siblings_stale(entry, req->now)) {
        static_cache_remove(cache, entry); /* replaced by what was just found */
        entry = NULL;
    }
    if (entry != NULL)
        return static_respond_from_entry(entry, req, resp);

    if (static_all_read(file) && (uint64_t)st->st_size <= cache->max_entry &&
        (uint64_t)st->st_size < cache->max_total) {
        entry = static_entry_make(filename, filename_len, hash, file, req->now);
        if (entry != NULL) {
            if (entry->charge <= cache->max_total)
                static_cache_insert(cache, entry);
            int result = static_respond_from_entry(entry, req, resp);
            static_entry_unreference(entry); /* the response or the table holds it now */
            return result;
        }
    }

    /* Not cached: sent from the descriptor of the representation chosen (those that have one). */
    unsigned present = 0;
    for (int c = TORUS_CODING_IDENTITY + 1; c < TORUS_CODING_COUNT; c++) {
        if (file->variants[c].present && file->variants[c].fd >= 0)
            present |= TORUS_CODING_BIT(c);
    }
    enum torus_coding coding = static_choose(req, present);
    int *fd = coding != TORUS_CODING_IDENTITY ? &file->variants[coding].fd : &file->fd;
    struct static_file described;
    static_file_describe(&described, filename, filename_len,
                         coding != TORUS_CODING_IDENTITY ? &file->variants[coding].st : st, coding,
                         present != 0);
    uint64_t first, length;
    if (slow_path(static_build_head(&described, req, resp, &first, &length) != TORUS_OK))
        return static_respond_failure(resp, EIO);
    if (length == 0)
        return TORUS_OK;
    resp->fd = *fd;
    *fd = -1; /* the response owns it now */
    resp->offset = first;
    resp->length = length;
    return TORUS_OK;
}

int torus_static_respond(struct torus_static_cache *cache, const char *filename,
                         size_t filename_len, const struct torus_static_request *req,
                         struct torus_static_response *resp)
{
    struct stat st;
    struct torus_static_request checked = *req;
    if (checked.st == NULL) {
        /* Trusted during the second it was last validated in, else one stat(). */
        struct static_entry *entry =
            static_cache_find(cache, static_hash(filename, filename_len), filename, filename_len);
        if (entry != NULL && entry->validated_at == req->now) {
            static_response_clear(resp);
            static_lru_unlink(cache, entry);
            static_lru_push_first(cache, entry);
            return static_respond_from_entry(entry, req, resp);
        }
        if (stat(filename, &st) == 0) {
            checked.st = &st;
            if (entry != NULL && static_entry_is_current(entry, &st))
                entry->validated_at = req->now;
        } else if (entry != NULL) {
            static_cache_remove(cache, entry); /* gone */
        }
    }
    if (checked.st != NULL &&
        torus_static_respond_cached(cache, filename, filename_len, &checked, resp) == TORUS_OK)
        return TORUS_OK;
    struct torus_static_file file;
    torus_static_open(filename, cache->max_entry, &file);
    int result = torus_static_respond_opened(cache, filename, filename_len, req, &file, resp);
    torus_static_file_release(&file);
    return result;
}

void torus_static_response_release(struct torus_static_cache *cache,
                                   struct torus_static_response *resp)
{
    (void)cache;
    if (resp->fd >= 0)
        close(resp->fd);
    if (resp->pin != NULL)
        static_entry_unreference(resp->pin);
    resp->fd = -1;
    resp->pin = NULL;
    resp->body = NULL;
    resp->body_len = 0;
}
