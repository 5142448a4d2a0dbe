/*
 * jemalloc arenas, one per thread that serves requests.
 *
 * jemalloc's mallctl() namespace creates an arena ("arenas.create") and binds
 * the calling thread to it ("thread.arena"); from then on the thread's
 * allocations (and its tcache refills) come from that arena. Memory freed by
 * another thread goes back to the arena it came from, so handing a buffer
 * across the handoff ring and freeing it on the other side is safe.
 */
#include "alloc/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifndef TORUS_NO_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

int torus_arena_bind_thread(void)
{
#ifdef TORUS_NO_JEMALLOC
    return -1;
#else
    unsigned arena = 0;
    size_t size = sizeof(arena);
    if (mallctl("arenas.create", &arena, &size, NULL, 0) != 0)
        return -1;
    if (mallctl("thread.arena", NULL, NULL, &arena, sizeof(arena)) != 0)
        return -1;
    return (int)arena;
#endif
}

const char *torus_arena_allocator_version(void)
{
#ifdef TORUS_NO_JEMALLOC
    return "system allocator (sanitizer build)";
#else
    static char text[64];
    const char *version = NULL;
    size_t size = sizeof(version);
    if (mallctl("version", &version, &size, NULL, 0) != 0 || !version)
        return "jemalloc (unknown version)";
    /* "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": keep the release part. */
    size_t len = strcspn(version, "-");
    snprintf(text, sizeof(text), "jemalloc %.*s", (int)len, version);
    return text;
#endif
}
