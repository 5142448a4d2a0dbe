/*
 * Development watch mode (see runtime/watch.h).
 *
 * inotify is not recursive: each directory of each tree gets its own watch,
 * found by walking the tree at start and again under every directory that
 * appears later (created or moved in: files may have been put in it before
 * its watch existed, so a walk that finds a matching file counts as a
 * change). A table maps each watch descriptor to its directory's path and
 * the spec it belongs to; the path relative to the spec's directory is what
 * the glob is matched against.
 */
#include "runtime/watch.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/common.h"
#include "runtime/log.h"

#define FILE_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
#define DIR_EVENTS  (IN_CREATE | IN_MOVED_TO | IN_ONLYDIR)

struct watched_dir {
    int wd;   /* -1 once the directory is gone */
    int spec; /* index into specs */
    char *path;
};

struct torus_watch {
    int fd;
    const struct torus_watch_spec *specs;
    int spec_count;
    struct watched_dir *dirs;
    int dir_count, dir_cap;

    bool pending;             /* a change waits for its quiet time */
    uint64_t last_change_ms;  /* when the last matching change came */
    char last_path[PATH_MAX]; /* and which file it was */
    char due_path[PATH_MAX];  /* what torus_watch_due() returned */
};

bool torus_watch_ignored_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || strcmp(name, "4913") == 0 || name[n - 1] == '~')
        return true;
    if (strncmp(name, ".#", 2) == 0 || (name[0] == '#' && name[n - 1] == '#'))
        return true;
    /* vim's swap files: .swp, .swo, .swx ... (".sw" and one letter) */
    return n > 4 && strncmp(name + n - 4, ".sw", 3) == 0;
}

bool torus_watch_glob_match(const char *glob, const char *path)
{
    if (strncmp(glob, "**", 2) == 0 && (glob[2] == '/' || glob[2] == '\0')) {
        const char *rest = glob[2] == '/' ? glob + 3 : glob + 2;
        if (*rest == '\0')
            return true;
        /* Zero directories, then one more at a time. */
        for (const char *p = path;; p++) {
            if ((p == path || p[-1] == '/') && torus_watch_glob_match(rest, p))
                return true;
            if (*p == '\0')
                return false;
        }
    }
    /* One segment of the glob against one segment of the path. */
    const char *gslash = strchr(glob, '/');
    const char *pslash = strchr(path, '/');
    size_t glen = gslash ? (size_t)(gslash - glob) : strlen(glob);
    size_t plen = pslash ? (size_t)(pslash - path) : strlen(path);
    if (glen >= NAME_MAX || plen >= NAME_MAX || !gslash != !pslash)
        return false;
    char gseg[NAME_MAX], pseg[NAME_MAX];
    memcpy(gseg, glob, glen);
    gseg[glen] = '\0';
    memcpy(pseg, path, plen);
    pseg[plen] = '\0';
    if (fnmatch(gseg, pseg, FNM_PERIOD) != 0)
        return false;
    return !gslash || torus_watch_glob_match(gslash + 1, pslash + 1);
}

/* The path of dir relative to its spec's directory ("" for the directory itself). */
static const char *relative(const struct torus_watch *w, const struct watched_dir *d)
{
    const char *root = w->specs[d->spec].dir;
    size_t n = strlen(root);
    const char *rel = d->path + n;
    return *rel == '/' ? rel + 1 : rel;
}

/* Whether file `name` in directory d is one the spec watches. */
static bool matches(const struct torus_watch *w, const struct watched_dir *d, const char *name)
{
    if (torus_watch_ignored_name(name))
        return false;
    char rel[PATH_MAX];
    const char *dir = relative(w, d);
    int n = snprintf(rel, sizeof(rel), "%s%s%s", dir, *dir ? "/" : "", name);
    return n > 0 && (size_t)n < sizeof(rel) && torus_watch_glob_match(w->specs[d->spec].glob, rel);
}

static void note_change(struct torus_watch *w, const char *dir, const char *name, uint64_t now_ms)
{
    snprintf(w->last_path, sizeof(w->last_path), "%s/%s", dir, name);
    w->pending = true;
    w->last_change_ms = now_ms;
}

static struct watched_dir *find_dir(struct torus_watch *w, int wd)
{
    for (int i = 0; i < w->dir_count; i++) {
        if (w->dirs[i].wd == wd)
            return &w->dirs[i];
    }
    return NULL;
}

/*
 * Watches path and every directory under it. A matching file found on the
 * way is noted as a change when `changes` (a directory that appeared late).
 */
static void add_tree(struct torus_watch *w, int spec, const char *path, bool changes,
                     uint64_t now_ms, int depth)
{
    if (depth > 64)
        return;
    int wd = inotify_add_watch(w->fd, path, FILE_EVENTS | DIR_EVENTS);
    if (wd < 0) {
        torus_log_warn("--watch: cannot watch %s: %s", path, strerror(errno));
        return;
    }
    struct watched_dir *d = find_dir(w, wd);
    if (!d) {
        if (w->dir_count == w->dir_cap) {
            int cap = w->dir_cap ? w->dir_cap * 2 : 64;
            struct watched_dir *grown = realloc(w->dirs, sizeof(*grown) * (size_t)cap);
            if (!grown) {
                inotify_rm_watch(w->fd, wd);
                return;
            }
            w->dirs = grown;
            w->dir_cap = cap;
        }
        char *copy = strdup(path);
        if (!copy) {
            inotify_rm_watch(w->fd, wd);
            return;
        }
        d = &w->dirs[w->dir_count++];
        *d = (struct watched_dir){wd, spec, copy};
    }
    int index = (int)(d - w->dirs);
    DIR *dir = opendir(path);
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        int n = snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof(child))
            continue;
        struct stat st;
        if (lstat(child, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && e->d_name[0] == '.')
            continue; /* .git and other dot-directories */
        if (S_ISDIR(st.st_mode))
            add_tree(w, spec, child, changes, now_ms, depth + 1);
        else if (changes && matches(w, &w->dirs[index], e->d_name))
            note_change(w, path, e->d_name, now_ms);
    }
    closedir(dir);
}

struct torus_watch *torus_watch_open(const struct torus_watch_spec *specs, int count, char *err,
                                     size_t err_size)
{
    struct torus_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, err_size, "--watch: out of memory");
        return NULL;
    }
    w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (w->fd < 0) {
        snprintf(err, err_size, "--watch: inotify: %s", strerror(errno));
        free(w);
        return NULL;
    }
    w->specs = specs;
    w->spec_count = count;
    for (int i = 0; i < count; i++)
        add_tree(w, i, specs[i].dir, false, 0, 0);
    return w;
}

int torus_watch_fd(const struct torus_watch *w)
{
    return w->fd;
}

static void on_event(struct torus_watch *w, const struct inotify_event *ev, uint64_t now_ms)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        /* Events were lost: whatever they were, a reload is the safe answer. */
        snprintf(w->last_path, sizeof(w->last_path), "(inotify queue overflow)");
        w->pending = true;
        w->last_change_ms = now_ms;
        return;
    }
    if (ev->mask & IN_IGNORED) {
        struct watched_dir *gone = find_dir(w, ev->wd);
        if (gone)
            gone->wd = -1; /* its directory was removed */
        return;
    }
    struct watched_dir *d = find_dir(w, ev->wd);
    if (!d || !ev->len)
        return;
    if (ev->mask & IN_ISDIR) {
        if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->name[0] != '.') {
            char child[PATH_MAX];
            int n = snprintf(child, sizeof(child), "%s/%s", d->path, ev->name);
            if (n > 0 && (size_t)n < sizeof(child))
                add_tree(w, d->spec, child, true, now_ms, 1);
        }
        return;
    }
    if ((ev->mask & FILE_EVENTS) && matches(w, d, ev->name))
        note_change(w, d->path, ev->name, now_ms);
}

void torus_watch_read(struct torus_watch *w, uint64_t now_ms)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            /* add_tree() may move the table: on_event() looks the directory up again. */
            on_event(w, ev, now_ms);
            p += sizeof(*ev) + ev->len;
        }
    }
}

const char *torus_watch_due(struct torus_watch *w, uint64_t now_ms)
{
    if (!w || !w->pending || now_ms < w->last_change_ms + TORUS_WATCH_QUIET_MS)
        return NULL;
    w->pending = false;
    memcpy(w->due_path, w->last_path, sizeof(w->due_path));
    return w->due_path;
}

void torus_watch_close(struct torus_watch *w)
{
    if (!w)
        return;
    close(w->fd);
    for (int i = 0; i < w->dir_count; i++)
        free(w->dirs[i].path);
    free(w->dirs);
    free(w);
}
