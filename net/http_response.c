/*
 * Response heads, reason phrases and the Date header.
 *
 * The Date value is cached per thread and re-formatted only when the second
 * changes, so a response head costs a time() (vDSO) and a few memcpy()s.
 */
#include "net/http_response.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *torus_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 103:
        return "Early Hints";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 203:
        return "Non-Authoritative Information";
    case 204:
        return "No Content";
    case 205:
        return "Reset Content";
    case 206:
        return "Partial Content";
    case 207:
        return "Multi-Status";
    case 300:
        return "Multiple Choices";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 406:
        return "Not Acceptable";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 418:
        return "I'm a teapot";
    case 421:
        return "Misdirected Request";
    case 422:
        return "Unprocessable Content";
    case 423:
        return "Locked";
    case 425:
        return "Too Early";
    case 426:
        return "Upgrade Required";
    case 428:
        return "Precondition Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 451:
        return "Unavailable For Legal Reasons";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 507:
        return "Insufficient Storage";
    default:
        return "Unknown";
    }
}

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void torus_http_date_format(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[64];
    snprintf(text, sizeof(text), "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[tm.tm_wday],
             tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    memcpy(out, text, TORUS_HTTP_DATE_LEN);
    out[TORUS_HTTP_DATE_LEN] = '\0';
}

int torus_http_date_parse(const char *text, size_t len, time_t *t)
{
    /* IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"); anything else is not a date we sent. */
    if (len != TORUS_HTTP_DATE_LEN)
        return TORUS_ERROR;
    char month[4];
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    char buf[TORUS_HTTP_DATE_LEN + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    char tail[4];
    if (sscanf(buf + 5, "%2d %3s %4d %2d:%2d:%2d %3s", &tm.tm_mday, month, &tm.tm_year, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, tail) != 7 ||
        strcmp(tail, "GMT") != 0)
        return TORUS_ERROR;
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++) {
        if (strcasecmp(month, month_names[i]) == 0)
            tm.tm_mon = i;
    }
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return TORUS_ERROR;
    tm.tm_year -= 1900;
    *t = timegm(&tm);
    return TORUS_OK;
}

static _Thread_local time_t date_second = -1;
static _Thread_local char date_text[TORUS_HTTP_DATE_LEN + 1];

const char *torus_http_date_now(void)
{
    time_t now = time(NULL);
    if (slow_path(now != date_second)) {
        torus_http_date_format(now, date_text);
        date_second = now;
    }
    return date_text;
}

/* Appends len bytes at *n when they fit in size; false (nothing written) when not. */
static bool head_put(char *out, size_t size, size_t *n, const char *data, size_t len)
{
    if (len > size - *n)
        return false;
    if (len)
        memcpy(out + *n, data, len);
    *n += len;
    return true;
}

/* The decimal digits of value (at most 20) into digits; returns how many. */
static size_t head_digits(uint64_t value, char *digits)
{
    char reversed[20];
    size_t count = 0;
    do {
        reversed[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < count; i++)
        digits[i] = reversed[count - 1 - i];
    return count;
}

#define HEAD_PUT_LITERAL(text) head_put(out, size, &n, (text), sizeof(text) - 1)

size_t torus_http_head_first_lines(char *out, size_t size, int status)
{
    /* Like nginx, the status line names the version the server speaks, 1.1, whatever the client's.
     * Written by hand: this runs for every response, and snprintf() was a visible cost. */
    size_t n = 0;
    char number[20];
    const char *reason = torus_http_reason(status);
    bool ok =
        HEAD_PUT_LITERAL("HTTP/1.1 ") &&
        head_put(out, size, &n, number, head_digits(status > 0 ? (uint64_t)status : 0, number)) &&
        HEAD_PUT_LITERAL(" ") && head_put(out, size, &n, reason, strlen(reason)) &&
        HEAD_PUT_LITERAL("\r\nServer: " TORUS_SERVER_NAME "\r\nDate: ") &&
        head_put(out, size, &n, torus_http_date_now(), TORUS_HTTP_DATE_LEN) &&
        HEAD_PUT_LITERAL("\r\n");
    return ok ? n : 0;
}

size_t torus_http_head_last_lines(char *out, size_t size, uint8_t http_minor, bool keep_alive,
                                  int64_t content_length, bool chunked)
{
    size_t n = 0;
    char number[20];
    bool ok = !chunked || HEAD_PUT_LITERAL("Transfer-Encoding: chunked\r\n");
    if (ok && content_length >= 0)
        ok = HEAD_PUT_LITERAL("Content-Length: ") &&
             head_put(out, size, &n, number, head_digits((uint64_t)content_length, number)) &&
             HEAD_PUT_LITERAL("\r\n");
    if (ok && !keep_alive)
        ok = HEAD_PUT_LITERAL("Connection: close\r\n");
    else if (ok && http_minor == 0)
        ok = HEAD_PUT_LITERAL("Connection: keep-alive\r\n");
    if (!ok || !HEAD_PUT_LITERAL("\r\n"))
        return 0;
    return n;
}

size_t torus_http_head(char *out, size_t size, int status, uint8_t http_minor, bool keep_alive,
                       const char *extra, size_t extra_len, int64_t content_length)
{
    size_t n = torus_http_head_first_lines(out, size, status);
    if (!n || !head_put(out, size, &n, extra, extra_len))
        return 0;
    size_t last = torus_http_head_last_lines(out + n, size - n, http_minor, keep_alive,
                                             content_length, false);
    return last ? n + last : 0;
}

size_t torus_http_error_page(char *out, size_t size, int status)
{
    int n = snprintf(out, size,
                     "<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n"
                     "<center><h1>%d %s</h1></center>\r\n<hr><center>" TORUS_SERVER_NAME
                     "</center>\r\n</body>\r\n</html>\r\n",
                     status, torus_http_reason(status), status, torus_http_reason(status));
    return n < 0 ? 0 : TORUS_MIN((size_t)n, size - 1);
}
