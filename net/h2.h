/*
 * HTTP/2's private header, shared by net/h2_session.c (the connection:
 * nghttp2's session, its callbacks, frames out, limits, timeouts),
 * net/h2_stream.c (a stream: its request in, routed, handed on),
 * net/h2_output.c (a stream's response out) and net/h2_static.c (a static
 * file as a stream's answer). The loop's entry points are declared in
 * net/conn.h with the other sessions'.
 *
 * Stream states (enum h2_stream_state): HEADERS -> BODY -> [ROUTING: its
 * route from the file-system workers] -> WAITING (parked or at an executor)
 * -> RESPONDING -> DONE. A stream the client resets while an
 * executor holds its request is detached: the request is marked aborted and
 * its exchange lives on until the executor releases it.
 */
#ifndef TORUS_H2_H
#define TORUS_H2_H

#include <nghttp2/nghttp2.h>

#include "net/conn.h"

#define H2_MAX_HEADERS 256 /* header fields per request */
#define H2_HEADER_ACCOUNTING_BYTES                                                                 \
    32 /* per field, as HPACK counts SETTINGS_MAX_HEADER_LIST_SIZE                                 \
        */

enum h2_stream_state {
    H2_STREAM_HEADERS,    /* its header block arrives */
    H2_STREAM_BODY,       /* its body arrives */
    H2_STREAM_ROUTING,    /* complete; its route awaited from the file-system workers */
    H2_STREAM_WAITING,    /* parked or at an executor; nothing sent yet */
    H2_STREAM_RESPONDING, /* the response's HEADERS are submitted; DATA may follow */
    H2_STREAM_DONE,       /* the whole response is submitted */
};

struct h2_file;

struct h2_stream {
    struct h2_session *session;
    struct h2_stream *prev, *next; /* the session's streams */
    int32_t id;
    enum h2_stream_state state;
    int error_status; /* a response decided while the request arrives (431, 413, 400), or 0 */
    bool head_request;

    /* The request's header fields: "name\0value\0" pairs in `fields`. */
    char *fields;
    size_t fields_len, fields_cap;
    uint32_t field_count;
    size_t header_bytes; /* as HPACK counts them, for --max-header-size */
    int64_t content_length;

    /* The body: in memory, then in a temporary file past --body-buffer-size. */
    char *body;
    size_t body_len, body_cap;
    int body_fd;
    uint64_t body_size;

    struct route_waiter route_wait;  /* ROUTING: its wait for the route */
    struct torus_exchange *exchange; /* while an executor may hold its request */

    /* The response's DATA: queued chunks (from the executor or the cache) then a file. */
    struct torus_chunk *out_first, *out_last;
    uint64_t out_bytes;
    bool eof;             /* nothing will be queued after what is queued */
    bool deferred;        /* the data provider said DEFERRED: resume it when something comes */
    struct h2_file *file; /* a file's bytes after the queued chunks (net/h2_static.c), or NULL */
    struct sendfile_job *sendfile; /* X-Sendfile: the file replacing its script's answer */

    int status;
    uint64_t response_bytes;
    uint64_t start_ns;
    struct torus_access_pending *log;
};

struct h2_session {
    struct torus_conn *conn;
    nghttp2_session *ng;
    struct h2_stream *streams;
    uint32_t stream_count;
    uint32_t receiving; /* streams in HEADERS or BODY: the body timeout applies */
    uint64_t window_start_ms;
    uint32_t resets, control_frames; /* in the current second */
    uint32_t continuations;          /* CONTINUATION frames of the current header block */
    uint32_t window_credit;          /* WINDOW_UPDATEs our DATA frames earned (not counted) */
    bool goaway;                     /* GOAWAY submitted: no new streams, close when idle */
    bool failed;                     /* the session cannot go on: close after the output */
};

/* A new stream of the session (in state HEADERS); NULL when out of memory. */
struct h2_stream *h2_stream_new(struct h2_session *s, int32_t id);

/* Moves a stream to `state`, keeping the session's count of streams still arriving. */
void h2_stream_set_state(struct h2_stream *st, enum h2_stream_state state);

/*
 * Frees a stream: a request still in the shard's FIFO goes with it, one at an
 * executor is marked aborted (its exchange is freed when the executor
 * releases it).
 */
void h2_stream_free(struct h2_stream *st);

/* Adds a request header field; it counts against --max-header-size (431 past it). */
int h2_stream_add_field(struct h2_stream *st, const uint8_t *name, size_t name_len,
                        const uint8_t *value, size_t value_len);

/*
 * Request body bytes: in memory up to --body-buffer-size, then in an unlinked
 * temporary file. TORUS_OK, TORUS_AGAIN past --max-body-size, TORUS_ERROR.
 */
int h2_stream_body(struct h2_stream *st, const uint8_t *data, size_t len);

/* The request arrived whole (or was refused early): answer it here or hand it to PHP. */
void h2_stream_request_done(struct h2_stream *st);

/* Wakes the executor of the stream's request when its output and the connection's are low. */
void h2_stream_maybe_unthrottle(struct h2_stream *st);

/* A part of the executor's response for the stream (the chunk is taken). */
void h2_stream_on_part(struct h2_stream *st, struct torus_chunk *k, unsigned flags);

/* The value of request header `name` (lower-case) and its length in *len (when len), or NULL. */
const char *h2_stream_field(const struct h2_stream *st, const char *name, size_t *len);

/* ------------------------------------------------------------------------ */
/* A stream's response (net/h2_output.c)                                    */

/* The response ended (or the stream went away): counts it and writes its log line. */
void h2_stream_observe(struct h2_stream *st, int status);

/* Queues body bytes for the stream's DATA (the chunk is taken). */
void h2_stream_queue(struct h2_stream *st, struct torus_chunk *k);

/* Resumes the stream's data provider if it said DEFERRED (something was queued). */
void h2_stream_resume(struct h2_stream *st);

/*
 * Submits a response head: status and "Name: value\r\n" lines (lower-cased,
 * connection-specific ones left out), plus content-length when >= 0. With a
 * body the stream's data provider follows; an interim head (1xx) leaves the
 * stream WAITING. TORUS_OK or TORUS_ERROR.
 */
int h2_stream_submit_head(struct h2_stream *st, int status, const char *lines, size_t lines_len,
                          int64_t content_length, bool body, bool interim);

/* A response the server makes itself: a short HTML page like nginx's (none for HEAD); logged. */
void h2_stream_respond_simple(struct h2_stream *st, int status, const char *extra_lines);

/* ------------------------------------------------------------------------ */
/* Static files (net/h2_static.c)                                           */

/*
 * The stream's file (if any) reads its next piece on a file-system worker
 * unless one is being read or a piece's worth is queued; its completion
 * queues the bytes and resumes the stream. TORUS_OK, or TORUS_ERROR when out
 * of memory (the stream cannot go on).
 */
int h2_static_read_ahead(struct h2_stream *st);

/* The stream goes away: its file is closed now, or by the read in flight when it completes. */
void h2_static_file_drop(struct h2_stream *st);

/*
 * Answers with a static response: its head's lines and extra_lines
 * ("Name: value\r\n"...), then its body from memory or from its file (the
 * descriptor is taken); logged.
 */
void h2_static_answer(struct h2_stream *st, struct torus_static_response *resp,
                      torus_str extra_lines);

/*
 * Answers a GET or HEAD routed to a static file: from the static cache (file
 * NULL), or with what the file-system worker opened (its descriptor may be
 * taken).
 */
void h2_static_respond(struct h2_stream *st, const struct torus_route *route,
                       struct torus_static_file *file);

#endif
