/*
 * Per-thread memory arenas. Every shard I/O thread and every executor thread
 * gets a jemalloc arena of its own (arenas.create + thread.arena), so threads
 * of different cores never contend on an allocator lock and a core's memory
 * stays with that core. Sanitizer builds use the sanitizer's allocator
 * instead, and these calls then do nothing.
 */
#ifndef TORUS_ARENA_H
#define TORUS_ARENA_H

#include <stddef.h>

/*
 * Creates a new jemalloc arena and binds the calling thread to it: every
 * later malloc() of this thread is served from it. Returns the arena's index,
 * or -1 when jemalloc is not the allocator (sanitizer builds) or refused.
 */
int torus_arena_bind_thread(void);

/* The allocator's name and version, for --version ("jemalloc 5.3.0"). */
const char *torus_arena_allocator_version(void);

#endif
