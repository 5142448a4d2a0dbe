"""Request smuggling through the framing of a request: chunk data that runs
past its declared size, chunk sizes too large to hold, unbounded chunk
extensions and trailers, bare CRs in a head. (Host: test_http_reject.py.)

Every refused request is followed on the same connection by a valid
pipelined GET (or by a second, smuggled request hidden in the body): the
server must answer the bad request with the exact status and close without
answering anything after it. Some cases are also sent in pieces, so the
check does not depend on where the server's reads end."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402

FOLLOW = get("/hello.txt")  # the pipelined request that must never be answered
SMUGGLED = b"GET /dir/sub.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"

MAX_HEADER = 4096
MAX_BODY = 1024

# nginx answers a POST to a static file with 405 before it reads the body
# (see test_http_reject.py); in reference mode a 405 stands in for a refusal
# of the body's framing.
BODY_REFUSED = (405,) if h.REFERENCE == "nginx" else ()


def chunked_post(body):
    return request("POST", "/hello.txt", [("Transfer-Encoding", "chunked")], body)


class Smuggling(h.ServerTestCase):
    server_options = {"max_header_size": "4K", "max_body_size": "1K"}

    def rejected(self, parts, *statuses):
        """Sends parts (bytes, or a list of pieces sent 50 ms apart); the
        first response must have one of statuses, then the connection must
        close with no other response."""
        if isinstance(parts, bytes):
            parts = [parts]
        with self.server.connect() as c:
            for i, part in enumerate(parts):
                if i:
                    time.sleep(0.05)
                if not c.try_send(part):
                    break
            resp = c.read_response()
            self.assertStatus(resp, *statuses)
            self.assertClosed(c)
            return resp

    # -- chunk data must end with exactly CRLF -------------------------------

    def test_chunk_data_running_past_its_size_smuggles_nothing(self):
        # "3" declares three bytes; the two after "abc" are not CRLF. Read
        # as "abc" + two skipped bytes, the rest would end the body and the
        # smuggled GET would be answered as a request of its own.
        raw = chunked_post(b"3\r\nabcde0\r\n\r\n" + SMUGGLED) + FOLLOW
        self.rejected(raw, 400, *BODY_REFUSED)

    def test_chunk_data_followed_by_other_bytes(self):
        for after in (b"XX", b"\rX", b"X\n", b"\n\n", b"\r\r"):
            with self.subTest(after=after):
                raw = chunked_post(b"3\r\nabc" + after + b"0\r\n\r\n") + FOLLOW
                self.rejected(raw, 400, *BODY_REFUSED)

    def test_chunk_data_overrun_split_across_reads(self):
        head = chunked_post(b"")
        pieces = [
            [head + b"3\r\nabc", b"de0\r\n\r\n" + SMUGGLED + FOLLOW],
            [head + b"3\r\nabc\r", b"X0\r\n\r\n" + SMUGGLED + FOLLOW],
            [head + b"3\r\nab", b"cX", b"X0\r\n\r\n" + FOLLOW],
        ]
        for parts in pieces:
            with self.subTest(parts=parts[1:]):
                self.rejected(parts, 400, *BODY_REFUSED)

    def test_well_framed_chunks_split_across_reads_are_served(self):
        head = chunked_post(b"")
        with self.server.connect() as c:
            for part in (head + b"3\r\nabc", b"\r", b"\n2\r\nde\r\n0\r\n", b"\r\n" + FOLLOW):
                c.send(part)
                time.sleep(0.05)
            self.assertStatus(c.read_response(), 405)
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, h.HELLO)

    def test_header_section_must_end_with_crlf(self):
        # A CR then any byte must not end a head or a trailer section (the
        # byte would vanish, and with it where the next request starts).
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\rX" + FOLLOW
        self.rejected(raw, 400)
        self.rejected(chunked_post(b"0\r\n\rX") + FOLLOW, 400, *BODY_REFUSED)
        self.rejected(chunked_post(b"0\r\nX-T: 1\r\n\rX") + FOLLOW, 400, *BODY_REFUSED)
        head = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\n\r"
        self.rejected([head, b"X" + FOLLOW], 400)

    def test_cr_must_be_followed_by_lf(self):
        # The same for the line of an empty header value and for a chunk-size
        # line: "3\rX" is not a size line that ends.
        raw = b"GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-E:\rX-F: b\r\n\r\n" + FOLLOW
        self.rejected(raw, 400)
        for body in (b"3\rXabc\r\n0\r\n\r\n", b"3;e=1\rXabc\r\n0\r\n\r\n",
                     b"3\r\nabc\r\n0\rX\r\n"):
            with self.subTest(body=body):
                self.rejected(chunked_post(body) + FOLLOW, 400, *BODY_REFUSED)
        self.rejected([chunked_post(b"3\r"), b"Xabc\r\n0\r\n\r\n" + FOLLOW], 400, *BODY_REFUSED)

    # -- chunk sizes -----------------------------------------------------------

    def test_chunk_size_of_sixteen_hex_digits_is_400(self):
        # Past 63 bits, what nginx calls an invalid size (its parser refuses a
        # digit after 2^59 - 1, i.e. any size from 2^63): refused on sight, not
        # waited for. 2^60 is a valid size, over the body limit (413).
        for size in (b"ffffffffffffffff", b"8000000000000000"):
            with self.subTest(size=size):
                raw = chunked_post(size + b"\r\nhello\r\n0\r\n\r\n") + FOLLOW
                self.rejected(raw, 400, *BODY_REFUSED)

    def test_chunk_size_of_sixteen_hex_digits_alone_is_answered(self):
        # Only the size line: the answer must come without any chunk data.
        self.rejected(chunked_post(b"ffffffffffffffff\r\n"), 400, *BODY_REFUSED)

    def test_chunk_size_overflowing_64_bits_is_400(self):
        raw = chunked_post(b"10000000000000000\r\nhello\r\n0\r\n\r\n") + FOLLOW
        self.rejected(raw, 400, *BODY_REFUSED)

    @h.differs_from_nginx("nginx answers 405 before reading, then drains the body")
    def test_chunk_size_over_the_body_limit_is_413_on_sight(self):
        # Refused on the size line alone, before any of its data.
        self.rejected(chunked_post(b"%x\r\n" % (MAX_BODY + 1)), 413)
        self.rejected(chunked_post(b"1000000000000000\r\n"), 413)
        self.rejected(chunked_post(b"200\r\n" + b"a" * 512 + b"\r\n201\r\n"), 413)

    def test_chunk_size_with_leading_zeros_is_accepted(self):
        with self.server.connect() as c:
            c.send(chunked_post(b"00000000000000000003\r\nabc\r\n0\r\n\r\n") + FOLLOW)
            self.assertStatus(c.read_response(), 405)
            self.assertStatus(c.read_response(), 200)

    # -- chunk extensions and trailers ----------------------------------------

    def test_short_chunk_extensions_and_trailers_are_accepted(self):
        # (Debian's llhttp 8.1 refuses an unquoted extension value followed
        # by another extension: one per chunk here.)
        body = b"3;name=value\r\nabc\r\n2;x=\"q\"\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n"
        with self.server.connect() as c:
            c.send(chunked_post(body) + FOLLOW)
            self.assertStatus(c.read_response(), 405)
            self.assertStatus(c.read_response(), 200)

    @h.differs_from_nginx("nginx answers 405 before reading, then drains the body")
    def test_chunk_extensions_are_bounded(self):
        extension = b";e=" + b"x" * (MAX_HEADER + 100)
        self.rejected(chunked_post(b"3" + extension + b"\r\nabc\r\n0\r\n\r\n") + FOLLOW, 400)
        # Many short ones, each under the bound, count together.
        chunks = b"".join(b"1;e=" + b"y" * 200 + b"\r\nz\r\n" for _ in range(MAX_HEADER // 200 + 2))
        self.rejected(chunked_post(chunks + b"0\r\n\r\n") + FOLLOW, 400)

    @h.differs_from_nginx("nginx answers 405 before reading, then drains the body")
    def test_trailers_count_against_the_header_limit(self):
        trailers = b"".join(b"X-T%02d: %s\r\n" % (i, b"v" * 150) for i in range(MAX_HEADER // 150))
        self.rejected(chunked_post(b"3\r\nabc\r\n0\r\n" + trailers + b"\r\n") + FOLLOW, 431)


if __name__ == "__main__":
    h.main()
