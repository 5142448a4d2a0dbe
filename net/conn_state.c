/*
 * A connection's phase, as one explicit state.
 *
 * Every client connection is in exactly one state of enum conn_state
 * (net/conn.h), changed only by conn_set_state(), which checks the move
 * against conn_state_next[] below: a debug build (TORUS_DEBUG) aborts on any
 * other, naming both states; a release build logs it. A keep-alive request
 * goes round the top of the machine:
 *
 *   accept
 *     |
 *     v           head routed                 body complete, for PHP
 *   READING_HEAD -----------> READING_BODY ---------------------------+
 *        |                        ^
 *        +--> ROUTING ------------+  (routed by the file-system workers)
 *    ^ ^ ^   |                  |    |    \ its spool writes run      |
 *    | | |   | answers above    |    |     v                          v
 *    | | |   | the high mark    |    |   SPOOLING_BODY ---------> EXECUTING
 *    | | |   v                  |    |     \                     ^    |
 *    | | +- OUTPUT_FULL         |    |      +--> PARKED ---------+    |
 *    | |   (below the low mark) |    |   (no free executor; also      |
 *    | +------------------------+    |    from READING_BODY)          |
 *    |     answered by the server    | a static file to stream        |
 *    |                               v                                |
 *    +------ file out ------- WRITING_FILE                            |
 *    +------ END, kept alive -----------------------------------------+
 *
 * and its last request leaves it at the bottom:
 *
 *     WRITING_LAST --(TLS)--> TLS_CLOSING --> LINGERING --> CLOSED
 *          |                                     ^
 *          +-------------------------------------+
 *
 * Each state, and where it may go (CLOSED is reachable from every other
 * state: a timer that runs out, a failed socket, a FIN that leaves nothing to
 * answer, the end of a drain):
 *
 * READING_HEAD   Waiting for a request: idle between two (idle timer, or the
 *                drain timer while the shard drains), a TLS handshake or a
 *                head arriving (header timer). Requests are parsed.
 *   -> READING_BODY  the head is complete and routed (on_head()).
 *   -> ROUTING       the head is complete, but routing it needs the
 *                    file-system workers (net/route_lookup.c).
 *   -> OUTPUT_FULL   more than TORUS_OUTPUT_HIGH_MARK bytes of answers to
 *                    pipelined requests wait unsent: parse nothing, stop
 *                    reading (the recv is cancelled: reading_paused).
 *   -> WRITING_LAST  a request that cannot be parsed (400, 413, 431...), a
 *                    TLS failure, no memory for output.
 * ROUTING        The head waits for its route: a look at the file system
 *                that could wait runs on the shard's file-system workers.
 *                Nothing is parsed; the head's bytes are kept (the parser
 *                points into them), what follows is buffered as while PHP
 *                runs. No timer: the server, not the client, is awaited. The
 *                lookup holds the connection (held) until it is done.
 *   -> READING_BODY  the route came (session_on_routed(), as on_head()).
 *   -> WRITING_LAST  a failure as above (the request is dropped; the route,
 *                    when it comes, is only released).
 * READING_BODY   The head is routed and its body arrives (body timer): kept
 *                for PHP (spooled to a temporary file past
 *                --body-buffer-size, net/body_spool.c), or discarded while
 *                the response the server made (a static file, 404, 301...)
 *                is held back until it is read. Requests are parsed.
 *   -> READING_HEAD  the held response is queued; the request keeps the
 *                    connection alive.
 *   -> WRITING_FILE  the same, with a static file to stream: the next
 *                    request is parsed once the file is out.
 *   -> WRITING_LAST  the request does not keep the connection alive; or a
 *                    failure as above (the request is dropped).
 *   -> SPOOLING_BODY a PHP request is complete but writes of its body run.
 *   -> EXECUTING     a PHP request is complete and an executor takes it.
 *   -> PARKED        no executor takes it now.
 * SPOOLING_BODY  The last writes of the body to its file run; no timer but
 *                the send timer (the disk is awaited, not the client);
 *                spool_on_write() goes on.
 *   -> EXECUTING, PARKED  every write is done.
 *   -> WRITING_LAST       a write failed: 500.
 * PARKED         In the shard's FIFO until an executor frees up
 *                (net/dispatch.c). No timer but the send timer.
 *   -> EXECUTING     an executor took it.
 * EXECUTING      An executor has the request; the parts of its response are
 *                sent as they come. Nothing is parsed: pipelined bytes are
 *                kept (up to PENDING_INPUT_CAP, then reading pauses). No
 *                timer but the send timer: PHP has max_execution_time.
 *   -> READING_HEAD  END, and the request and PHP's response keep the
 *                    connection alive.
 *   -> WRITING_LAST  END, and one of them does not (keep_alive false: a
 *                    failure while PHP runs only decides this).
 *   -> WRITING_FILE  END of a response that X-Sendfile replaced by a large
 *                    file (net/sendfile.c), the connection kept alive.
 * WRITING_FILE   A static file streams after the queued output, one bounded
 *                read and one send at a time (send timer).
 *   -> READING_HEAD  the file is out.
 *   -> WRITING_LAST  a TLS failure.
 * OUTPUT_FULL    Between pipelined requests, waiting for the client to read.
 *   -> READING_HEAD  the unsent output fell below TORUS_OUTPUT_LOW_MARK.
 *   -> WRITING_LAST  a TLS failure.
 * WRITING_LAST   No more requests: the queued output and a streamed file go
 *                out (send timer).
 *   -> TLS_CLOSING   everything is out, on a TLS connection whose handshake
 *                    is done: close_notify is queued.
 *   -> LINGERING     everything is out: our write side is shut.
 * TLS_CLOSING    close_notify goes out.
 *   -> LINGERING     it is out (or there was none to send): our write side
 *                    is shut.
 * LINGERING      nginx's lingering close: what the client still sends is
 *                discarded until its FIN, for at most LINGER_MS, so an early
 *                answer (413, 400) is not destroyed by a reset.
 *   -> CLOSED        the FIN, or the linger timer.
 * CLOSED         conn_close(): the operations in flight are cancelled, the
 *                socket closed through the ring, the connection is out of
 *                the loop's list. It is never left.
 *
 * Not states, because they hold in any phase: the client's FIN
 * (peer_closed: a client may half-close and still gets the answer to every
 * request it completed; a reading state closes once nothing more can be
 * answered, WRITING_LAST closes instead of lingering); the operations in
 * flight (recv_armed, send_inflight, read_inflight, spool writes); reading
 * suspended for backpressure (reading_paused: too many pipelined bytes while
 * PHP runs, a disk behind the spool, OUTPUT_FULL); and the current request's
 * own verdict (keep_alive).
 *
 * When a connection is freed. The socket is closed at once; the memory waits
 * until nothing refers to it (conn_maybe_free(), only in CLOSED):
 *   - ops counts the io_uring operations in flight whose completion points to
 *     the connection: its multishot recv, its send, a read of a streamed
 *     file, each write of its body to the spool file. A completion drops its
 *     reference after its handler has run, so no handler sees a freed
 *     connection; conn_close() cancels the recv, the send and the read, so a
 *     client that stopped reading cannot hold a connection for good (spool
 *     writes finish: the disk does not wait for the client).
 *   - held counts its requests that an executor may still read: from the
 *     head (on_head() builds the exchange) until the executor's RELEASE; and
 *     a route lookup it waits for (ROUTING), until the lookup is done. It
 *     can be 2: after fastcgi_finish_request() the response has ended (END),
 *     and the connection reads its next request while the script still runs.
 *     A request no executor has seen is freed by the I/O thread at once
 *     (conn_drop_request(), conn_close()).
 */
#include "net/conn.h"

#include <stdlib.h>
#include <unistd.h>

#include "runtime/log.h"

#define TO(state) (1u << (state))

const uint16_t conn_state_next[CONN_STATE_COUNT] = {
    [CONN_READING_HEAD] = TO(CONN_READING_BODY) | TO(CONN_ROUTING) | TO(CONN_OUTPUT_FULL) |
                          TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_ROUTING] = TO(CONN_READING_BODY) | TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_READING_BODY] = TO(CONN_READING_HEAD) | TO(CONN_WRITING_FILE) | TO(CONN_WRITING_LAST) |
                          TO(CONN_SPOOLING_BODY) | TO(CONN_EXECUTING) | TO(CONN_PARKED) |
                          TO(CONN_CLOSED),
    [CONN_SPOOLING_BODY] =
        TO(CONN_EXECUTING) | TO(CONN_PARKED) | TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_PARKED] = TO(CONN_EXECUTING) | TO(CONN_CLOSED),
    [CONN_EXECUTING] =
        TO(CONN_READING_HEAD) | TO(CONN_WRITING_FILE) | TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_WRITING_FILE] = TO(CONN_READING_HEAD) | TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_OUTPUT_FULL] = TO(CONN_READING_HEAD) | TO(CONN_WRITING_LAST) | TO(CONN_CLOSED),
    [CONN_WRITING_LAST] = TO(CONN_TLS_CLOSING) | TO(CONN_LINGERING) | TO(CONN_CLOSED),
    [CONN_TLS_CLOSING] = TO(CONN_LINGERING) | TO(CONN_CLOSED),
    [CONN_LINGERING] = TO(CONN_CLOSED),
    [CONN_CLOSED] = 0,
};

const char *conn_state_name(enum conn_state state)
{
    static const char *const names[CONN_STATE_COUNT] = {
        [CONN_READING_HEAD] = "READING_HEAD",
        [CONN_READING_BODY] = "READING_BODY",
        [CONN_ROUTING] = "ROUTING",
        [CONN_SPOOLING_BODY] = "SPOOLING_BODY",
        [CONN_PARKED] = "PARKED",
        [CONN_EXECUTING] = "EXECUTING",
        [CONN_WRITING_FILE] = "WRITING_FILE",
        [CONN_OUTPUT_FULL] = "OUTPUT_FULL",
        [CONN_WRITING_LAST] = "WRITING_LAST",
        [CONN_TLS_CLOSING] = "TLS_CLOSING",
        [CONN_LINGERING] = "LINGERING",
        [CONN_CLOSED] = "CLOSED",
    };
    if ((unsigned)state >= CONN_STATE_COUNT)
        return "?";
    return names[state];
}

bool conn_state_allowed(enum conn_state from, enum conn_state to)
{
    if ((unsigned)from >= CONN_STATE_COUNT || (unsigned)to >= CONN_STATE_COUNT)
        return false;
    return (conn_state_next[from] & TO(to)) != 0;
}

void conn_state_illegal(const struct torus_conn *c, enum conn_state next)
{
    /* Written whatever --log-level says: this is a bug in Torus. */
    torus_log_write(TORUS_LOG_ERROR, "shard %d: connection %d: illegal state transition %s -> %s",
                    c->loop && c->loop->shard ? c->loop->shard->id : -1, c->fd,
                    conn_state_name(c->state), conn_state_name(next));
#ifdef TORUS_DEBUG
    abort();
#endif
}

void conn_drop_request(struct torus_conn *c)
{
    for (struct torus_chunk *k = c->pending, *next; k; k = next) {
        next = k->next;
        torus_chunk_free(k);
    }
    c->pending = NULL;
    if (c->file_fd >= 0 && conn_reading(c)) {
        /* A file held with the response: it is not streamed now. */
        close(c->file_fd);
        c->file_fd = -1;
    }
    if (c->exchange && c->exchange->executor < 0) {
        dispatch_exchange_free(c->exchange);
        c->exchange = NULL;
        c->held--;
    }
}

void conn_response_queued(struct torus_conn *c)
{
    if (!c->keep_alive)
        conn_set_state(c, CONN_WRITING_LAST);
    else if (c->file_fd >= 0)
        conn_set_state(c, CONN_WRITING_FILE); /* parse nothing until the file is out */
    else
        conn_set_state(c, CONN_READING_HEAD);
}

void conn_finish_after_output(struct torus_conn *c)
{
    c->keep_alive = false;
    switch (c->state) {
    case CONN_READING_HEAD:
    case CONN_READING_BODY:
    case CONN_ROUTING:
        conn_drop_request(c);
        conn_set_state(c, CONN_WRITING_LAST);
        break;
    case CONN_WRITING_FILE:
    case CONN_OUTPUT_FULL:
        conn_set_state(c, CONN_WRITING_LAST);
        break;
    case CONN_SPOOLING_BODY:
    case CONN_PARKED:
    case CONN_EXECUTING:
        break; /* the response's END decides, now with keep_alive false */
    default:
        break; /* already the last output, or closed */
    }
}
