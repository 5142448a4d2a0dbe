"""bench/lib/rawhttp.py: the response reader on a socket pair (framings, bad input,
deadlines), the stream check, and that it agrees byte for byte with what
bench/php/scenarios.php prints (with the PHP CLI, when installed)."""

import hashlib
import os
import shutil
import socket
import subprocess
import threading
import time
import unittest

import support  # noqa: F401  (sets the import path)
import rawhttp

MIB = rawhttp.MIB


def feed(data, pieces=7):
    """A socket whose peer sends data in uneven pieces from a thread, then closes."""
    ours, theirs = socket.socketpair()

    def send():
        step = max(1, len(data) // pieces)
        try:
            for start in range(0, len(data), step):
                theirs.sendall(data[start:start + step])
                time.sleep(0.001)
        except OSError:
            pass  # the reader gave up first (bad input) and its socket is gone
        finally:
            theirs.close()

    threading.Thread(target=send, daemon=True).start()
    return ours


def reader_of(data, seconds=5.0):
    return rawhttp.ResponseReader(feed(data), time.monotonic() + seconds)


def numbered_stream(mib):
    pattern = rawhttp.stream_pattern()
    return b"".join(rawhttp.numbered_block(i, pattern) for i in range(mib))


class Reader(unittest.TestCase):
    def test_content_length_then_a_second_response(self):
        reader = reader_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello"
                           b"HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno")
        self.assertEqual(reader.read_response(), (200, {"content-length": "5", "x-a": "b"}, b"hello"))
        self.assertEqual(reader.read_response()[::2], (404, b"no"))

    def test_chunked_with_extension_and_trailer(self):
        reader = reader_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n")
        self.assertEqual(reader.read_response()[2], b"hello world")

    def test_body_to_a_sink(self):
        pieces = []
        body = os.urandom(300000)
        reader = reader_of(b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n" + body, seconds=10)
        status, _, length = reader.read_response(pieces.append)
        self.assertEqual((status, length), (200, 300000))
        self.assertGreater(len(pieces), 1)
        self.assertEqual(b"".join(pieces), body)

    def test_body_until_close(self):
        self.assertEqual(reader_of(b"HTTP/1.0 200 OK\r\n\r\nall of it").read_response()[2], b"all of it")

    def test_interim_responses_are_skipped(self):
        reader = reader_of(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(reader.read_response()[0], 201)

    def test_bad_input_is_one_line(self):
        for data, words in ((b"SSH-2.0-OpenSSH\r\n\r\n", "not a status line"),
                            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "not a header line"),
                            (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "5 bytes of a body missing"),
                            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
                            (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "CRLF"),
                            (b"HTTP/1.1 200", "closed")):
            with self.subTest(data=data):
                with self.assertRaises(rawhttp.ClientFailed) as caught:
                    reader_of(data).read_response()
                self.assertIn(words, str(caught.exception))
                self.assertNotIn("\n", str(caught.exception))

    def test_a_silent_server_costs_the_deadline_only(self):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            started = time.monotonic()
            with self.assertRaises(rawhttp.ClientFailed) as caught:
                rawhttp.ResponseReader(ours, time.monotonic() + 0.3).read_response()
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertIn("timed out", str(caught.exception))

    def test_request_bytes(self):
        self.assertEqual(rawhttp.request_bytes("GET", "/hello.php", 8080, (("X-A", "1"),)),
                         b"GET /hello.php HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench-memory\r\n"
                         b"X-A: 1\r\n\r\n")


class Stream(unittest.TestCase):
    def test_blocks_are_numbered_and_one_mib(self):
        pattern = rawhttp.stream_pattern()
        self.assertEqual(len(pattern), MIB)
        block = rawhttp.numbered_block(42, pattern)
        self.assertEqual(len(block), MIB)
        self.assertEqual(block[:16], b"0000000000000042")
        self.assertEqual(block[16:], pattern[16:])

    def test_the_whole_stream_in_odd_pieces_passes(self):
        data = numbered_stream(3)
        check = rawhttp.StreamCheck()
        for start in range(0, len(data), 77777):
            check(data[start:start + 77777])
        self.assertIsNone(check.verdict(3 * MIB))

    def test_a_changed_byte_is_found_where_it_is(self):
        data = bytearray(numbered_stream(2))
        data[MIB + 3] ^= 1  # in the number of block 1
        check = rawhttp.StreamCheck()
        check(bytes(data[:MIB + 100]))
        check(bytes(data[MIB + 100:]))
        self.assertEqual(check.first_difference, MIB + 3)
        self.assertEqual(check.offset, 2 * MIB)
        self.assertIn("1,048,579", check.verdict(2 * MIB))

    def test_swapped_blocks_and_short_streams_fail(self):
        pattern = rawhttp.stream_pattern()
        check = rawhttp.StreamCheck()
        check(rawhttp.numbered_block(1, pattern))
        self.assertIsNotNone(check.verdict(MIB))
        check = rawhttp.StreamCheck()
        check(numbered_stream(1)[:-1])
        self.assertIn("1,048,575 bytes received, 1,048,576 expected", check.verdict(MIB))

    def test_upload_blocks_are_numbered_copies_of_one_random_mib(self):
        base = os.urandom(MIB)
        blocks = list(rawhttp.upload_blocks(3, seed=base))
        self.assertEqual([b[:16] for b in blocks], [b"%016d" % i for i in range(3)])
        self.assertTrue(all(b[16:] == base[16:] for b in blocks))
        self.assertNotEqual(hashlib.sha256(b"".join(rawhttp.upload_blocks(2))).digest(),
                            hashlib.sha256(b"".join(rawhttp.upload_blocks(2))).digest())


@unittest.skipUnless(shutil.which("php"), "the PHP CLI is not installed")
class SameAsPhp(unittest.TestCase):
    """bench_stream() prints exactly what StreamCheck expects."""

    def php(self, code):
        scenarios = os.path.join(support.BENCH_DIR, "php", "scenarios.php")
        done = subprocess.run(["php", "-r", f"require '{scenarios}'; {code}"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_stream_with_and_without_flush(self):
        for flush in ("0", "1"):
            with self.subTest(flush=flush):
                out = self.php(f"$_GET = ['mib' => '2', 'flush' => '{flush}']; bench_stream();")
                check = rawhttp.StreamCheck()
                check(out)
                self.assertIsNone(check.verdict(2 * MIB))

    def test_stream_size_is_clamped(self):
        self.assertEqual(len(self.php("$_GET = ['mib' => '0']; bench_stream();")), MIB)


if __name__ == "__main__":
    support.main(__name__)
