"""Requests the engine must refuse, and the connection closed after each
refusal: 400 for malformed requests and every request-smuggling ambiguity,
414 / 431 / 413 for the size limits, 501 for unknown transfer-codings, 505
for unsupported versions.

Every case sends the bad request followed by a valid pipelined GET: the
server must answer the bad one with the expected status and then close,
without ever answering the GET (a server that answered it would have
guessed where the bad request ends: the essence of request smuggling)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402

FOLLOW = get("/hello.txt")  # the pipelined request that must never be answered

MAX_URI = 1024
MAX_HEADER = 4096
MAX_BODY = 1024

# nginx answers a POST to a static file with 405 before it reads the body,
# so it never looks at a bad chunk or counts a chunked body; the engine
# validates the framing of every body it consumes (it has to, to find the
# next request). In reference mode a 405 stands in for those refusals.
BODY_REFUSED = (405,) if h.REFERENCE == "nginx" else ()


class Rejections(h.ServerTestCase):
    server_options = {"max_uri_size": "1K", "max_header_size": "4K", "max_body_size": "1K"}

    def rejected(self, raw, *statuses, follow=FOLLOW):
        """Sends raw (+ follow); the first response must have one of statuses,
        then the connection must close with no other response."""
        with self.server.connect() as c:
            c.send(raw + follow)
            resp = c.read_response()
            self.assertStatus(resp, *statuses)
            self.assertClosed(c)
            return resp

    # -- malformed requests --------------------------------------------------

    def test_malformed_request_lines(self):
        cases = [
            b"GET /hello.txt HTTP/1.1 trailing\r\nHost: localhost\r\n\r\n",
            b"GET /hello.txt HTTX/1.1\r\nHost: localhost\r\n\r\n",
            b"G(T /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET\r\nHost: localhost\r\n\r\n",
            b"GET /hello\x01.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET /hello\x7f.txt HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n",  # TLS hello
        ]
        for raw in cases:
            with self.subTest(raw=raw[:40]):
                self.rejected(raw, 400)

    def test_malformed_version(self):
        # Syntactically broken, so 400 (nginx); llhttp reports it as an
        # invalid version, which an engine may map to 505: both refuse.
        self.rejected(b"GET /hello.txt HTTP/1.x\r\nHost: localhost\r\n\r\n", 400, 505)

    def test_lowercase_method_is_rejected(self):
        # Methods are case-sensitive tokens; nginx and llhttp both refuse this.
        self.rejected(b"get /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r\n", 400)

    @h.differs_from_nginx("nginx ignores a header line without a colon")
    def test_header_line_without_colon(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-No-Colon\r\n\r\n", 400)

    def test_missing_host_on_http11(self):
        self.rejected(get("/hello.txt", host=None), 400)

    def test_obs_fold_host_is_rejected(self):
        # The only Host arrives through obs-fold: nginx too refuses this one.
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost:\r\n localhost\r\n\r\n", 400)

    @h.differs_from_nginx("nginx ignores an obs-fold line (as an invalid header)")
    def test_obs_fold(self):
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Long: a\r\n folded\r\n\r\n"
        self.rejected(raw, 400)
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Long: a\r\n\tfolded\r\n\r\n"
        self.rejected(raw, 400)

    def test_bare_cr_in_header_value(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\rb\r\n\r\n", 400)

    def test_bare_cr_ending_a_header(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\rX-B: b\r\n\r\n", 400)

    def test_nul_in_header_value(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-A: a\x00b\r\n\r\n", 400)

    def test_nul_in_header_name(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-\x00A: b\r\n\r\n", 400)

    def test_nul_in_request_target(self):
        self.rejected(b"GET /hello.txt\x00 HTTP/1.1\r\nHost: localhost\r\n\r\n", 400)

    def test_space_before_colon_in_host(self):
        self.rejected(b"GET /hello.txt HTTP/1.1\r\nHost : localhost\r\n\r\n", 400)

    @h.differs_from_nginx("nginx ignores a header with a space before its colon")
    def test_space_before_colon(self):
        # RFC 9112 5.1: must be answered 400. llhttp 8 refuses it only in the
        # headers it knows (Content-Length...), so the engine checks names.
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\nhello"
        self.rejected(raw, 400)
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Custom : b\r\n\r\n"
        self.rejected(raw, 400)

    # -- smuggling ambiguities ---------------------------------------------

    def test_content_length_with_transfer_encoding(self):
        body = b"5\r\nhello\r\n0\r\n\r\n"
        raw = request("POST", "/hello.txt", [("Content-Length", len(body)),
                                             ("Transfer-Encoding", "chunked")], body)
        self.rejected(raw, 400)
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked"),
                                             ("Content-Length", "3")], body)
        self.rejected(raw, 400)

    def test_duplicate_differing_content_length(self):
        raw = request("POST", "/hello.txt", [("Content-Length", "5"), ("Content-Length", "6")],
                      b"hello!")
        self.rejected(raw, 400)

    def test_invalid_content_length(self):
        for value in ("abc", "-1", "1,2", "0x10", "1 2", "+5", ""):
            with self.subTest(value=value):
                raw = request("POST", "/hello.txt", [("Content-Length", value)], b"hello")
                self.rejected(raw, 400)

    def test_content_length_overflow(self):
        # 2^64 + a bit: a parse error (400), or a body over the limit (413).
        raw = request("POST", "/hello.txt", [("Content-Length", "18446744073709551626")])
        self.rejected(raw, 400, 413)

    def test_bad_chunk_size(self):
        for chunk in (b"zz\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                      b"\r\nhello\r\n0\r\n\r\n", b"5\x00\r\nhello\r\n0\r\n\r\n"):
            with self.subTest(chunk=chunk):
                raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")], chunk)
                self.rejected(raw, 400, *BODY_REFUSED)

    @h.differs_from_nginx("nginx takes what follows a space after the chunk size as an extension")
    def test_chunk_size_with_junk_after_space(self):
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                      b"5 5\r\nhello\r\n0\r\n\r\n")
        self.rejected(raw, 400)

    def test_chunk_data_longer_than_its_size(self):
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                      b"3\r\nhello\r\n0\r\n\r\n")
        self.rejected(raw, 400, *BODY_REFUSED)

    def test_chunk_data_not_followed_by_crlf(self):
        # Any two bytes after the data used to be skipped unread: the body was framed as "abc"
        # and what followed parsed as the next request.
        for tail in (b"XY", b"\n\r", b"\rX"):
            with self.subTest(tail=tail):
                raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                              b"3\r\nabc" + tail + b"0\r\n\r\n")
                self.rejected(raw, 400, *BODY_REFUSED)

    def test_chunk_size_overflow(self):
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                      b"fffffffffffffffffff\r\nhello\r\n0\r\n\r\n")
        self.rejected(raw, 400, 413, *BODY_REFUSED)

    def test_chunk_size_of_16_hex_digits(self):
        # It fits 64 bits but no body limit: refused when the size line is read (it used to
        # wait for the data, and the client got no answer at all).
        for size, status in ((b"ffffffffffffffff", 400), (b"8000000000000000", 400),
                             (b"1000000000000000", 413), (b"7fffffffffffffff", 413)):
            with self.subTest(size=size):
                raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                              size + b"\r\nhello\r\n0\r\n\r\n")
                self.rejected(raw, status, *BODY_REFUSED)

    def test_chunk_larger_than_the_body_limit(self):
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                      b"%x\r\n" % (MAX_BODY + 1))
        self.rejected(raw, 413, *BODY_REFUSED)

    def test_invalid_host(self):
        for host in ("a b", "a\x01b", "a/b", "a..b", ":80"):
            with self.subTest(host=host):
                self.rejected(get("/hello.txt", host=host), 400)

    @h.differs_from_nginx("nginx takes any port after the host, and an unclosed IPv6 literal")
    def test_invalid_port_in_host(self):
        for host in ("a:abc", "a:99999", "a:-1", "[::1"):
            with self.subTest(host=host):
                self.rejected(get("/hello.txt", host=host), 400)

    def test_raw_utf8_in_the_target_is_not_refused(self):
        # nginx serves it (llhttp's strict build would refuse it: that is why it is not used).
        for target in (b"/caf\xc3\xa9.txt", b"/hello.txt?q=\xc3\xa9"):
            with self.subTest(target=target):
                resp = self.server.fetch(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n")
                self.assertStatus(resp, 404 if b"?" not in target else 200)

    def test_valid_hosts_are_served(self):
        for host in ("example.com", "a_b", "A.B.", "a:8080", "[::1]:80", "127.0.0.1"):
            with self.subTest(host=host):
                resp = self.server.get("/hello.txt", host=host)
                self.assertStatus(resp, 200)

    # -- size limits ----------------------------------------------------------

    def test_uri_too_long_is_414(self):
        target = "/" + "a" * (MAX_URI + 100)
        self.rejected(get(target), 414)

    def test_uri_at_the_limit_is_served(self):
        # Well under the limit even counting the whole request line (nginx's
        # limit is on the line, the engine's on the target).
        target = "/hello.txt?" + "q" * (MAX_URI - 100)
        resp = self.server.get(target)
        self.assertStatus(resp, 200)

    @h.differs_from_nginx("nginx answers 400 (Request Header Or Cookie Too Large), not 431")
    def test_headers_too_large_is_431(self):
        headers = [("X-Fill-%02d" % i, "v" * 150) for i in range(MAX_HEADER // 150 + 5)]
        self.rejected(get("/hello.txt", headers), 431)

    @h.differs_from_nginx("nginx answers 400 (Request Header Or Cookie Too Large), not 431")
    def test_one_huge_header_is_431(self):
        self.rejected(get("/hello.txt", [("Cookie", "c=" + "x" * (MAX_HEADER + 500))]), 431)

    def test_headers_under_the_limit_are_served(self):
        headers = [("X-Fill-%02d" % i, "v" * 100) for i in range(MAX_HEADER // 200)]
        resp = self.server.get("/hello.txt", headers)
        self.assertStatus(resp, 200)

    def test_body_over_limit_is_413_without_reading_it(self):
        # Only the head is sent: the 413 must come without waiting for a body.
        with self.server.connect() as c:
            started = time.monotonic()
            c.send(request("POST", "/hello.txt", {"Content-Length": 1000000}))
            resp = c.read_response(within=3.0 * h.SLOW)
            self.assertStatus(resp, 413)
            self.assertLess(time.monotonic() - started, 3.0 * h.SLOW)
            self.assertClosed(c)

    def test_body_over_limit_with_expect_gets_no_100(self):
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": 1000000,
                                                  "Expect": "100-continue"}))
            resp = c.read_response(within=3.0 * h.SLOW)  # a 100 here fails
            self.assertStatus(resp, 413)
            self.assertClosed(c)

    @h.differs_from_nginx("nginx answers 405 before reading, then drains the body whatever its size")
    def test_chunked_body_over_limit_is_413(self):
        # A chunk that alone passes the limit, of which more than the limit
        # is sent; the rest never comes. The engine may refuse on the chunk
        # size (as nginx does) or on the bytes counted: both are there.
        size = MAX_BODY * 4
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")],
                      b"%x\r\n" % size + b"b" * (MAX_BODY + 100))
        self.rejected(raw, 413, follow=b"")

    @h.differs_from_nginx("nginx answers 405 before reading, then drains the body whatever its size")
    def test_chunked_body_over_limit_in_small_chunks_is_413(self):
        chunks = b"".join(b"40\r\n" + b"c" * 64 + b"\r\n" for _ in range(MAX_BODY // 64 + 4))
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")], chunks)
        self.rejected(raw, 413, follow=b"")

    def test_body_at_the_limit_is_accepted(self):
        body = b"b" * MAX_BODY
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body)}, body) + FOLLOW)
            first = c.read_response()
            self.assertNotIn(first.status, (400, 413), first)
            self.assertEqual(c.read_response().body, h.HELLO)

    # -- transfer-codings and versions -----------------------------------------

    def test_unknown_transfer_coding_is_501(self):
        for te in ("gzip, chunked", "foo", "identity"):
            with self.subTest(te=te):
                body = b"5\r\nhello\r\n0\r\n\r\n"
                raw = request("POST", "/hello.txt", [("Transfer-Encoding", te)], body)
                self.rejected(raw, 501)

    def test_chunked_not_last_is_refused(self):
        # RFC 9112 6.3: a request whose final coding is not chunked has no
        # determinable length: 400 (llhttp) or 501 (nginx: unknown coding).
        raw = request("POST", "/hello.txt", [("Transfer-Encoding", "chunked, gzip")],
                      b"5\r\nhello\r\n0\r\n\r\n")
        self.rejected(raw, 400, 501)

    def test_http2_and_http3_request_lines_are_505(self):
        # nginx answers 505 to a request line with a major version above 1;
        # llhttp parses 2.0 and 3.0 as versions, so the engine refuses them.
        for version in ("HTTP/2.0", "HTTP/3.0"):
            with self.subTest(version=version):
                self.rejected(get("/hello.txt", version=version), 505)

    def test_http_1_2(self):
        # A request line of HTTP/1.2: RFC 9110 2.5 lets a server answer a
        # higher minor version as 1.1, which nginx does (200); strict llhttp
        # refuses it as an invalid version, which the engine may answer 505.
        # Either is fine; a hang or a crash is not.
        with self.server.connect() as c:
            c.send(get("/hello.txt", version="HTTP/1.2"))
            resp = c.read_response()
            self.assertStatus(resp, 200, 505)
            if resp.status == 505:
                self.assertClosed(c)

    def test_server_still_serves_after_rejections(self):
        for raw in (b"\x00\x01\x02\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                    request("POST", "/", [("Content-Length", "x")])):
            with self.server.connect() as c:
                c.send(raw)
                try:
                    c.read_until_closed()
                except AssertionError:
                    pass
        self.assertServes()


if __name__ == "__main__":
    h.main()
