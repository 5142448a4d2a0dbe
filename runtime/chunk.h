/*
 * A chunk: a run of response bytes queued on a connection, on its way to the
 * socket. Executors build chunks on their own thread (from their own arena)
 * and pass them through the responses ring; the I/O thread links them on the
 * connection, sends them in order and frees each once it is fully sent.
 */
#ifndef TORUS_CHUNK_H
#define TORUS_CHUNK_H

#include <stdint.h>
#include <stdlib.h>

#include "runtime/common.h"

struct torus_chunk {
    struct torus_chunk *next;
    uint32_t len;      /* bytes in data */
    uint32_t sent;     /* bytes of data already sent */
    uint32_t capacity; /* bytes data can hold */
    char data[];
};

/* A chunk able to hold `capacity` bytes, empty; NULL when memory is exhausted. */
static inline struct torus_chunk *torus_chunk_new(size_t capacity)
{
    struct torus_chunk *chunk = malloc(sizeof(*chunk) + capacity);
    if (slow_path(!chunk))
        return NULL;
    chunk->next = NULL;
    chunk->len = 0;
    chunk->sent = 0;
    chunk->capacity = (uint32_t)capacity;
    return chunk;
}

/* Appends a chunk to the list first..last. */
static inline void torus_chunk_append(struct torus_chunk **first, struct torus_chunk **last,
                                      struct torus_chunk *chunk)
{
    chunk->next = NULL;
    if (*last)
        (*last)->next = chunk;
    else
        *first = chunk;
    *last = chunk;
}

/* Frees a chunk. */
static inline void torus_chunk_free(struct torus_chunk *chunk)
{
    free(chunk);
}

#endif
