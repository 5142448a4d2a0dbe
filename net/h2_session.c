/*
 * HTTP/2 on a connection (h2 by ALPN on a TLS listener, h2c with prior
 * knowledge on a plain one with --h2c), with nghttp2's server session and
 * our own I/O: received plaintext goes in with nghttp2_session_mem_recv(),
 * frames come out with nghttp2_session_mem_send() onto the connection's
 * output queue (net/conn_output.c), only while that queue is below
 * TORUS_OUTPUT_HIGH_MARK. Streams are net/h2_stream.c's.
 *
 * Abuse: nghttp2's own limits (SETTINGS entries, queued ACKs, CONTINUATION
 * frames, the rate of stream resets), SETTINGS_MAX_CONCURRENT_STREAMS
 * (--h2-max-concurrent-streams: more streams are refused), plus our counts
 * per second of resets and of frames that carry no request (PING, SETTINGS,
 * empty DATA, PRIORITY, WINDOW_UPDATE) and of CONTINUATION frames per header
 * block: past a limit the connection gets GOAWAY ENHANCE_YOUR_CALM and is
 * closed once it is sent. A WINDOW_UPDATE that answers our DATA is not
 * counted: each DATA frame sent earns the client two (its stream's and the
 * connection's), so a client that reads fast and acknowledges every frame
 * is never taken for a flood, while WINDOW_UPDATEs nobody earned are.
 *
 * Timeouts: idle (no stream) as HTTP/1.1's keep-alive; the body timeout while
 * a stream's request arrives, which resets those streams only; none while PHP
 * runs. SIGTERM sends GOAWAY; the open streams finish, then the connection
 * closes.
 */
#include "net/h2.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/log.h"

/* Resets by the client, and frames that carry no request, per second on one connection. */
#define H2_MAX_RESETS_PER_SECOND  200
#define H2_MAX_CONTROL_PER_SECOND 1000
#define H2_MAX_CONTINUATIONS      16
#define H2_MAX_WINDOW_CREDIT      (1u << 20)  /* WINDOW_UPDATEs earned and not yet received */
#define H2_OUTPUT_PIECE           (16 * 1024) /* mem_send output is gathered into chunks of this */

static struct h2_session *session_of(struct torus_conn *c)
{
    return c->h2;
}

/* Takes what nghttp2 has to send onto the connection's queue, while it is below the high mark. */
static void session_send(struct h2_session *s)
{
    struct torus_conn *c = s->conn;
    if (conn_closed(c))
        return;
    struct torus_chunk *piece = NULL;
    while (c->out_bytes < TORUS_OUTPUT_HIGH_MARK) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(s->ng, &data);
        if (n < 0) {
            s->failed = true;
            break;
        }
        if (n == 0)
            break;
        if (piece && piece->len + (size_t)n > piece->capacity) {
            out_append(c, piece);
            piece = NULL;
        }
        if (!piece) {
            piece = torus_chunk_new(TORUS_MAX((size_t)n, (size_t)H2_OUTPUT_PIECE));
            if (slow_path(!piece)) {
                s->failed = true;
                break;
            }
        }
        memcpy(piece->data + piece->len, data, (size_t)n);
        piece->len += (uint32_t)n;
    }
    if (piece)
        out_append(c, piece);
    if (conn_closed(c))
        return;
    bool done = s->failed ||
                (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng)) ||
                (s->goaway && s->stream_count == 0 && !nghttp2_session_want_write(s->ng)) ||
                (c->peer_closed && s->stream_count == 0);
    if (done && conn_reading(c))
        conn_set_state(c, CONN_WRITING_LAST);
    if (!c->out_first && conn_reading(c)) {
        /* Nothing to send and the session goes on: conn_flush() would find the output drained
         * and, after the client's FIN, parse again (session_parse(), which pumps this session),
         * round and round until the stack overflows while a stream waits (the file-system
         * workers, an executor). */
        conn_update_timer(c);
        return;
    }
    conn_flush(c);
}

/* ------------------------------------------------------------------------ */
/* nghttp2's callbacks                                                      */

/* Counts a frame of a kind a flood is made of; false past the limit of this second. */
static bool count_frame(struct h2_session *s, uint32_t *counter, uint32_t limit)
{
    uint64_t now = s->conn->loop->now_ms;
    if (now - s->window_start_ms >= 1000) {
        s->window_start_ms = now;
        s->resets = 0;
        s->control_frames = 0;
    }
    return ++*counter <= limit;
}

static void calm_down(struct h2_session *s, const char *what)
{
    torus_log_warn("shard %d: an HTTP/2 client sent too many %s: GOAWAY ENHANCE_YOUR_CALM",
                   s->conn->loop->shard->id, what);
    nghttp2_session_terminate_session(s->ng, NGHTTP2_ENHANCE_YOUR_CALM);
    s->goaway = true;
}

static int on_begin_frame(nghttp2_session *ng, const nghttp2_frame_hd *hd, void *user)
{
    (void)ng;
    struct h2_session *s = user;
    if (hd->type == NGHTTP2_CONTINUATION) {
        if (++s->continuations > H2_MAX_CONTINUATIONS)
            return NGHTTP2_ERR_CALLBACK_FAILURE; /* a CONTINUATION flood: the session ends */
    } else {
        s->continuations = 0;
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *s = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct h2_stream *st = h2_stream_new(s, frame->hd.stream_id);
    if (slow_path(!st))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
    conn_update_timer(s->conn);
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user)
{
    (void)flags;
    (void)user;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (!st || st->state != H2_STREAM_HEADERS || st->error_status)
        return 0;
    const struct torus_config *config = st->session->conn->loop->config;
    st->header_bytes += name_len + value_len + H2_HEADER_ACCOUNTING_BYTES;
    if (st->header_bytes > config->max_header_size || st->field_count >= H2_MAX_HEADERS) {
        st->error_status = 431;
        return 0;
    }
    if (name_len == 5 && memcmp(name, ":path", 5) == 0 && value_len > config->max_uri_size) {
        st->error_status = 414;
        return 0;
    }
    if (name_len == 7 && memcmp(name, ":method", 7) == 0)
        st->head_request = value_len == 4 && memcmp(value, "HEAD", 4) == 0;
    if (name_len == 14 && memcmp(name, "content-length", 14) == 0) {
        uint64_t length = 0;
        for (size_t i = 0; i < value_len && length <= config->max_body_size; i++)
            length = length * 10 + (uint64_t)(value[i] - '0');
        if (length > config->max_body_size)
            st->error_status = 413; /* before a byte of it is read */
    }
    if (h2_stream_add_field(st, name, name_len, value, value_len) != TORUS_OK)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    (void)flags;
    struct h2_session *s = user;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (!st || st->state != H2_STREAM_BODY || st->error_status)
        return 0; /* after an early answer (413), the rest is dropped */
    int rc = h2_stream_body(st, data, len);
    if (rc == TORUS_AGAIN) {
        st->error_status = 413;
    } else if (rc != TORUS_OK) {
        torus_log_warn("shard %d: keeping an HTTP/2 request body failed: %s",
                       s->conn->loop->shard->id, strerror(errno));
        st->error_status = 500;
    }
    if (st->error_status) {
        /* Answered now; the client's further DATA is discarded. */
        h2_stream_request_done(st);
    }
    /* Each read re-arms the body timeout. */
    torus_timer_disarm(&s->conn->timer);
    conn_update_timer(s->conn);
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2_session *s = user;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!st || st->state != H2_STREAM_HEADERS)
            break; /* trailers: ignored */
        h2_stream_set_state(st, H2_STREAM_BODY);
        if (st->error_status || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            h2_stream_request_done(st);
        break;
    case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM) &&
            !count_frame(s, &s->control_frames, H2_MAX_CONTROL_PER_SECOND))
            calm_down(s, "empty DATA frames");
        if (st && st->state == H2_STREAM_BODY && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            h2_stream_request_done(st);
        break;
    case NGHTTP2_RST_STREAM:
        if (!count_frame(s, &s->resets, H2_MAX_RESETS_PER_SECOND))
            calm_down(s, "stream resets");
        break;
    case NGHTTP2_WINDOW_UPDATE:
        if (s->window_credit) {
            s->window_credit--; /* it answers our DATA */
            break;
        }
        /* fall through */
    case NGHTTP2_PING:
    case NGHTTP2_SETTINGS:
    case NGHTTP2_PRIORITY:
        if (!count_frame(s, &s->control_frames, H2_MAX_CONTROL_PER_SECOND))
            calm_down(s, "control frames");
        break;
    default:
        break;
    }
    return 0;
}

/* Each DATA frame sent earns the client a WINDOW_UPDATE for its stream and one for the connection.
 */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)ng;
    struct h2_session *s = user;
    if (frame->hd.type == NGHTTP2_DATA && frame->hd.length > 0 &&
        s->window_credit < H2_MAX_WINDOW_CREDIT)
        s->window_credit += 2;
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t id, uint32_t error_code, void *user)
{
    (void)error_code;
    (void)user;
    struct h2_stream *st = nghttp2_session_get_stream_user_data(ng, id);
    if (st)
        h2_stream_free(st);
    return 0;
}

static nghttp2_session_callbacks *callbacks(void)
{
    static _Thread_local nghttp2_session_callbacks *made;
    if (made)
        return made;
    if (nghttp2_session_callbacks_new(&made) != 0)
        return NULL;
    nghttp2_session_callbacks_set_on_begin_frame_callback(made, on_begin_frame);
    nghttp2_session_callbacks_set_on_begin_headers_callback(made, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(made, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(made, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(made, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(made, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(made, on_stream_close);
    return made;
}

/* ------------------------------------------------------------------------ */
/* The connection's side                                                    */

int h2_session_start(struct torus_conn *c)
{
    const struct torus_config *config = c->loop->config;
    nghttp2_session_callbacks *cbs = callbacks();
    struct h2_session *s = calloc(1, sizeof(*s));
    nghttp2_option *opt = NULL;
    if (slow_path(!cbs || !s || nghttp2_option_new(&opt) != 0)) {
        free(s);
        return TORUS_ERROR;
    }
    nghttp2_option_set_max_settings(opt, 32);
    nghttp2_option_set_max_outbound_ack(opt, 1000);
    nghttp2_option_set_max_continuations(opt, H2_MAX_CONTINUATIONS);
    nghttp2_option_set_stream_reset_rate_limit(opt, 1000, 33);
    nghttp2_option_set_max_deflate_dynamic_table_size(opt, 4096);
    s->conn = c;
    s->window_start_ms = c->loop->now_ms;
    int rv = nghttp2_session_server_new2(&s->ng, cbs, s, opt);
    nghttp2_option_del(opt);
    if (slow_path(rv != 0)) {
        free(s);
        return TORUS_ERROR;
    }
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, config->h2_max_concurrent_streams},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, config->max_header_size},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1u << 20},
    };
    nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, settings, TORUS_ARRAY_SIZE(settings));
    /* The connection's window too, so a large upload is not held to 64 KiB per round trip. */
    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, 8u << 20);
    c->h2 = s;
    c->keep_alive = true;
    return TORUS_OK;
}

void h2_session_on_data(struct torus_conn *c, const char *data, size_t len)
{
    struct h2_session *s = session_of(c);
    if (!conn_reading(c))
        return; /* closing: what the client still sends is dropped */
    ssize_t rv = nghttp2_session_mem_recv(s->ng, (const uint8_t *)data, len);
    if (rv < 0) {
        torus_log_debug("shard %d: HTTP/2 session ended: %s", c->loop->shard->id,
                        nghttp2_strerror((int)rv));
        /* A flood gets ENHANCE_YOUR_CALM, anything else PROTOCOL_ERROR (refused when nghttp2
         * has queued its own GOAWAY already). */
        bool flood = rv == NGHTTP2_ERR_FLOODED || rv == NGHTTP2_ERR_CALLBACK_FAILURE ||
                     rv == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS;
        nghttp2_session_terminate_session(s->ng, flood ? NGHTTP2_ENHANCE_YOUR_CALM
                                                       : NGHTTP2_PROTOCOL_ERROR);
        s->failed = true;
        /* What nghttp2 queued (its GOAWAY) still goes out before the close. */
        const uint8_t *out;
        ssize_t n;
        while ((n = nghttp2_session_mem_send(s->ng, &out)) > 0) {
            struct torus_chunk *k = out_chunk((const char *)out, (size_t)n, 0);
            if (!k)
                break;
            out_append(c, k);
        }
    }
    session_send(s);
    conn_update_timer(c);
}

void h2_session_pump(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    session_send(s);
    if (!conn_closed(c))
        conn_update_timer(c);
}

void h2_session_on_sent(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    if (c->out_bytes < TORUS_OUTPUT_LOW_MARK) {
        for (struct h2_stream *st = s->streams; st; st = st->next)
            h2_stream_maybe_unthrottle(st);
    }
    if (conn_reading(c))
        session_send(s);
}

void h2_session_on_part(struct torus_conn *c, struct torus_exchange *x,
                        struct torus_response_part *part)
{
    struct torus_chunk *k = part->chunk;
    uint32_t len = k ? k->len - k->sent : 0;
    if (x->stream && !conn_closed(c))
        h2_stream_on_part(x->stream, k, part->flags);
    else
        torus_chunk_free(k); /* the stream or the connection is gone */
    if (len && !(part->flags & TORUS_EMIT_END)) {
        struct torus_request *r = &x->request;
        atomic_store_explicit(&r->taken,
                              atomic_load_explicit(&r->taken, memory_order_relaxed) + len,
                              memory_order_release);
        dispatch_flow_release(r);
    }
    if (slow_path(x->sendfile) && (part->flags & (TORUS_EMIT_END | TORUS_EMIT_RELEASE)))
        sendfile_end(x, part->flags); /* its answer goes out now or once the file is open */
    if ((part->flags & TORUS_EMIT_RELEASE) && x->stream) {
        x->stream->exchange = NULL;
        x->stream = NULL;
    }
    if (!conn_closed(c))
        session_send(session_of(c));
}

void h2_session_close(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    while (s->streams)
        h2_stream_free(s->streams);
}

void h2_session_free(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    if (!s)
        return;
    while (s->streams)
        h2_stream_free(s->streams);
    nghttp2_session_del(s->ng);
    free(s);
    c->h2 = NULL;
}

void h2_session_drain(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    if (s->goaway || !conn_reading(c))
        return;
    s->goaway = true;
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    session_send(s);
}

struct torus_timer_queue *h2_session_timer(struct torus_conn *c)
{
    struct h2_session *s = session_of(c);
    struct torus_loop *loop = c->loop;
    if (c->out_first || c->send_inflight)
        return &loop->send_timers;
    if (s->receiving)
        return &loop->body_timers;
    if (s->stream_count)
        return NULL; /* PHP is awaited (it has max_execution_time), not the client */
    return loop->draining ? &loop->drain_timers : &loop->idle_timers;
}

bool h2_session_on_timeout(struct torus_conn *c, struct torus_timer_queue *queue)
{
    struct h2_session *s = session_of(c);
    if (queue != &c->loop->body_timers)
        return false; /* idle, send, drain: the connection closes */
    /* The streams whose request never finished arriving are reset; the others go on. */
    for (struct h2_stream *st = s->streams; st; st = st->next) {
        if (st->state <= H2_STREAM_BODY) {
            torus_log_debug("shard %d: HTTP/2 stream %d timed out (body)", c->loop->shard->id,
                            st->id);
            nghttp2_submit_rst_stream(s->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
        }
    }
    session_send(s);
    if (!conn_closed(c))
        conn_update_timer(c);
    return true;
}
