/*
 * Development watch mode (--watch DIR[:GLOB]): inotify on directory trees,
 * so that saving a PHP file restarts the worker scripts.
 *
 * The supervisor polls torus_watch_fd() with its other descriptors, calls
 * torus_watch_read() when it is readable and torus_watch_due() on every
 * tick: a change becomes due once no other matching change has come for
 * TORUS_WATCH_QUIET_MS, so a burst of saves (an editor's, a git checkout's)
 * makes one reload.
 */
#ifndef TORUS_WATCH_H
#define TORUS_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The quiet time after the last change before a reload. */
#define TORUS_WATCH_QUIET_MS 100

/* The glob used when --watch names none. */
#define TORUS_WATCH_DEFAULT_GLOB "**/*.php"

/* One --watch: a directory (absolute) and the glob its files must match. */
struct torus_watch_spec {
    char *dir;
    char *glob;
};

struct torus_watch;

/*
 * Starts watching every spec's directory tree (dot-directories such as .git
 * are skipped). NULL with a message in err when inotify cannot be set up.
 */
struct torus_watch *torus_watch_open(const struct torus_watch_spec *specs, int count, char *err,
                                     size_t err_size);

/* The inotify descriptor to poll for reading. */
int torus_watch_fd(const struct torus_watch *w);

/*
 * Reads every pending event: a matching file written, moved in or out, or
 * deleted starts (or extends) the quiet time; a new directory is watched
 * (and counts as a change when it already holds a matching file).
 */
void torus_watch_read(struct torus_watch *w, uint64_t now_ms);

/*
 * When a change is due (quiet for TORUS_WATCH_QUIET_MS at now_ms): returns
 * the path of the last file that changed and forgets the change; else NULL.
 * The string stays valid until the next call into the watch.
 */
const char *torus_watch_due(struct torus_watch *w, uint64_t now_ms);

/* Stops watching and frees w (NULL is allowed). */
void torus_watch_close(struct torus_watch *w);

/*
 * Whether a file's name is an editor's temporary file (name.swp and the
 * other vim swap files, name~, vim's "4913" probe, emacs's .#name and
 * #name#): those never count as a change.
 */
bool torus_watch_ignored_name(const char *name);

/*
 * Whether path (relative to the watched directory, '/'-separated) matches
 * glob: '*' and '?' within one path segment, "**" (a whole segment) for any
 * number of directories, "[...]" as fnmatch(3).
 */
bool torus_watch_glob_match(const char *glob, const char *path);

#endif
