"""Static files from --root: validators and conditional requests, ranges,
directories, path safety (traversal, NUL, dotfiles, PHP source) and large
files."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

BIG = 8 << 20  # 8 MiB


class Validators(h.ServerTestCase):
    server_options = {}

    def test_last_modified_and_etag(self):
        resp = self.server.get("/hello.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Last-Modified"), h.FIXED_HTTP_DATE)
        etag = resp.header("ETag")
        self.assertIsNotNone(etag, resp)
        self.assertRegex(etag, r'^(W/)?"[\x21\x23-\x7e]*"$')
        # Stable across requests, different for a different file.
        self.assertEqual(self.server.get("/hello.txt").header("ETag"), etag)
        self.assertNotEqual(self.server.get("/dir/sub.txt").header("ETag"), etag)

    def etag(self, path="/hello.txt"):
        return self.server.get(path).header("ETag")

    def test_if_none_match_gives_304(self):
        etag = self.etag()
        with self.server.connect() as c:
            # The 304 has no body: the pipelined GET that follows proves it.
            c.send(get("/hello.txt", {"If-None-Match": etag}) + get("/dir/sub.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 304)
            self.assertEqual(resp.header("ETag"), etag)
            if c.buf:
                self.assertTrue(c.buf.startswith(b"HTTP/"), c.buf[:100])
            nxt = c.read_response()
            self.assertEqual(nxt.body, h.DOCROOT_FILES["dir/sub.txt"])

    def test_if_none_match_in_a_list_and_star(self):
        etag = self.etag()
        resp = self.server.get("/hello.txt", {"If-None-Match": '"nope", %s' % etag})
        self.assertStatus(resp, 304)
        resp = self.server.get("/hello.txt", {"If-None-Match": "*"})
        self.assertStatus(resp, 304)

    def test_if_none_match_other_etag_gives_200(self):
        resp = self.server.get("/hello.txt", {"If-None-Match": '"not-the-etag"'})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_head_with_if_none_match(self):
        etag = self.etag()
        with self.server.connect() as c:
            c.send(request("HEAD", "/hello.txt", {"If-None-Match": etag}) + get("/hello.txt"))
            self.assertStatus(c.read_response(head_request=True), 304)
            self.assertEqual(c.read_response().body, HELLO)

    def test_if_modified_since_gives_304(self):
        resp = self.server.get("/hello.txt", {"If-Modified-Since": h.FIXED_HTTP_DATE})
        self.assertStatus(resp, 304)
        self.assertEqual(resp.body, b"")

    def test_if_modified_since_earlier_gives_200(self):
        resp = self.server.get("/hello.txt", {"If-Modified-Since": "Tue, 31 Dec 2019 23:59:59 GMT"})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_if_modified_since_garbage_gives_200(self):
        resp = self.server.get("/hello.txt", {"If-Modified-Since": "yesterday-ish"})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_if_none_match_wins_over_if_modified_since(self):
        # RFC 9110 13.2.2: If-Modified-Since is ignored when If-None-Match is there.
        resp = self.server.get("/hello.txt", {"If-None-Match": '"other"',
                                              "If-Modified-Since": h.FIXED_HTTP_DATE})
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_changed_file_is_served_fresh(self):
        path = os.path.join(self.root, "mutable.txt")
        with open(path, "wb") as f:
            f.write(b"first version\n")
        os.utime(path, (h.FIXED_MTIME, h.FIXED_MTIME))
        first = self.server.get("/mutable.txt")
        self.assertEqual(first.body, b"first version\n")
        with open(path, "wb") as f:
            f.write(b"second, longer version\n")
        os.utime(path, (h.FIXED_MTIME + 3600, h.FIXED_MTIME + 3600))
        # A file cache may trust what it checked during the current second
        # (as nginx's open_file_cache_valid does, for longer): not beyond.
        time.sleep(1.1)
        second = self.server.get("/mutable.txt")
        self.assertEqual(second.body, b"second, longer version\n")
        self.assertNotEqual(second.header("ETag"), first.header("ETag"))
        self.assertEqual(second.header("Last-Modified"), "Wed, 01 Jan 2020 01:00:00 GMT")
        # The old ETag no longer matches.
        self.assertStatus(self.server.get("/mutable.txt", {"If-None-Match": first.header("ETag")}),
                          200)

    def test_empty_file(self):
        with open(os.path.join(self.root, "empty.txt"), "wb"):
            pass
        resp = self.server.get("/empty.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.header("Content-Length"), "0")
        self.assertEqual(resp.body, b"")


class Ranges(h.ServerTestCase):
    server_options = {}

    def ranged(self, spec, path="/hello.txt"):
        return self.server.get(path, {"Range": spec})

    def test_first_bytes(self):
        resp = self.ranged("bytes=0-4")
        self.assertStatus(resp, 206)
        self.assertEqual(resp.header("Content-Range"), "bytes 0-4/13")
        self.assertEqual(resp.header("Content-Length"), "5")
        self.assertEqual(resp.body, b"Hello")

    def test_suffix(self):
        resp = self.ranged("bytes=-3")
        self.assertStatus(resp, 206)
        self.assertEqual(resp.header("Content-Range"), "bytes 10-12/13")
        self.assertEqual(resp.body, b"ld\n")

    def test_open_ended(self):
        resp = self.ranged("bytes=7-")
        self.assertStatus(resp, 206)
        self.assertEqual(resp.header("Content-Range"), "bytes 7-12/13")
        self.assertEqual(resp.body, b"world\n")

    def test_end_past_the_file_is_clamped(self):
        resp = self.ranged("bytes=5-100")
        self.assertStatus(resp, 206)
        self.assertEqual(resp.header("Content-Range"), "bytes 5-12/13")
        self.assertEqual(resp.body, HELLO[5:])

    def test_single_byte(self):
        resp = self.ranged("bytes=12-12")
        self.assertStatus(resp, 206)
        self.assertEqual(resp.body, b"\n")

    def test_unsatisfiable_is_416(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt", {"Range": "bytes=100-"}) + get("/hello.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 416)
            self.assertEqual(resp.header("Content-Range"), "bytes */13")
            # The connection stays usable.
            self.assertEqual(c.read_response().body, HELLO)

    def test_start_equal_to_size_is_416(self):
        resp = self.ranged("bytes=13-")
        self.assertStatus(resp, 416)
        self.assertEqual(resp.header("Content-Range"), "bytes */13")

    def test_other_unit_is_ignored(self):
        resp = self.ranged("items=0-4")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_head_with_range(self):
        with self.server.connect() as c:
            c.send(request("HEAD", "/hello.txt", {"Range": "bytes=0-4"}) + get("/hello.txt"))
            resp = c.read_response(head_request=True)
            self.assertStatus(resp, 206)
            self.assertEqual(resp.header("Content-Range"), "bytes 0-4/13")
            self.assertEqual(c.read_response().body, HELLO)


class Directories(h.ServerTestCase):
    server_options = {}

    def test_root_serves_index_html(self):
        resp = self.server.get("/")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, h.DOCROOT_FILES["index.html"])
        self.assertEqual(resp.media_type(), "text/html")

    def test_directory_serves_its_index_html(self):
        resp = self.server.get("/dir/")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, h.DOCROOT_FILES["dir/index.html"])

    def test_directory_without_slash_redirects(self):
        with self.server.connect() as c:
            c.send(get("/dir") + get("/hello.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 301)
            location = resp.header("Location") or ""
            # Absolute (nginx: http://host:port/dir/) or absolute-path.
            self.assertRegex(location, r"^(https?://[^/]+)?/dir/$")
            self.assertEqual(c.read_response().body, HELLO)

    def test_redirect_keeps_a_long_query(self):
        # Every target that fits --max-uri-size (8K by default) keeps its Location.
        for size in (1000, 4000, 8000):
            with self.subTest(size=size):
                query = "q=" + "a" * (size - len("/dir?q="))
                resp = self.server.get("/dir?" + query)
                self.assertStatus(resp, 301)
                self.assertRegex(resp.header("Location") or "",
                                 r"^(https?://[^/]+)?/dir/\?" + query + "$")

    def test_directory_without_index(self):
        resp = self.server.get("/noindex/")
        self.assertStatus(resp, 403, 404)  # nginx: 403; never a listing
        self.assertNotIn(b"file.txt", resp.body)


class PathSafety(h.ServerTestCase):
    server_options = {}

    def assertNoLeak(self, resp):
        for secret in (h.OUTSIDE_MARKER, b"root:x:0:0", h.PHP_MARKER, b"<?php"):
            self.assertNotIn(secret, resp.body, resp)

    def test_traversal_is_refused(self):
        targets = [
            "/../etc/passwd",
            "/../../../../../../etc/passwd",
            "/../outside/secret.txt",
            "/dir/../../outside/secret.txt",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/%2e%2e/outside/secret.txt",
            "/%2E%2E/%2E%2E/%2E%2E/%2E%2E/etc/passwd",
            "/a/..%2f..%2fetc/passwd",
            "/..%2foutside%2fsecret.txt",
            "/dir/..%2F..%2Foutside/secret.txt",
            "/.%2e/outside/secret.txt",
            "/..\\..\\etc\\passwd",
            "//etc/passwd",
            "/%252e%252e/outside/secret.txt",
        ]
        for target in targets:
            with self.subTest(target=target):
                resp = self.server.get(target)
                self.assertNoLeak(resp)
                self.assertStatus(resp, 400, 404)

    def test_nul_is_refused(self):
        for target in ("/hello.txt%00", "/hello.txt%00.html", "/%00", "/dir/%00/../hello.txt"):
            with self.subTest(target=target):
                resp = self.server.get(target)
                self.assertNoLeak(resp)
                self.assertStatus(resp, 400, 404)

    def test_dotfiles_are_404(self):
        for target in ("/.env", "/.git/config", "/.git/", "/.git", "/dir/.hidden", "/%2eenv",
                       "/.git%2fconfig", "/dir/%2Ehidden"):
            with self.subTest(target=target):
                resp = self.server.get(target)
                self.assertNoLeak(resp)
                self.assertStatus(resp, 404)

    def test_php_source_is_never_sent(self):
        targets = ["/secret.php", "/dir/page.php", "/secret.php?x=1", "/secret%2ephp",
                   "/secret.ph%70", "/secret.php/", "/secret.php%00", "/secret.php%00.txt",
                   "/./secret.php", "/dir/../secret.php"]
        for target in targets:
            with self.subTest(target=target):
                self.assertNoLeak(self.server.get(target))
        # Nor a piece of it through a range, nor through HEAD's length trick.
        resp = self.server.get("/secret.php", {"Range": "bytes=0-4"})
        self.assertNoLeak(resp)
        self.assertNotEqual(resp.status, 206, resp)

    def test_server_still_serves(self):
        self.assertServes()


class LargeFiles(h.ServerTestCase):
    server_options = {}
    big_files = {"big.bin": BIG}

    def test_large_file_intact(self):
        content = h.big_content(BIG)
        with self.server.connect() as c:
            c.send(get("/big.bin"))
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.header("Content-Length"), str(BIG))
            self.assertEqual(h.sha256(resp.body), h.sha256(content))
            # And the connection is still good for another request.
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)

    def test_range_in_the_middle(self):
        content = h.big_content(BIG)
        start, end = 3000001, 4500000
        resp = self.server.get("/big.bin", {"Range": "bytes=%d-%d" % (start, end)})
        self.assertStatus(resp, 206)
        self.assertEqual(resp.header("Content-Range"), "bytes %d-%d/%d" % (start, end, BIG))
        self.assertEqual(len(resp.body), end - start + 1)
        self.assertEqual(resp.body, content[start:end + 1])

    def test_suffix_range_of_large_file(self):
        content = h.big_content(BIG)
        resp = self.server.get("/big.bin", {"Range": "bytes=-1000"})
        self.assertStatus(resp, 206)
        self.assertEqual(resp.body, content[-1000:])

    def test_pipelined_large_then_small(self):
        content = h.big_content(BIG)
        with self.server.connect() as c:
            c.send(get("/big.bin") + get("/hello.txt") + request("HEAD", "/big.bin")
                   + get("/dir/sub.txt"))
            self.assertEqual(h.sha256(c.read_response().body), h.sha256(content))
            self.assertEqual(c.read_response().body, HELLO)
            head = c.read_response(head_request=True)
            self.assertEqual(head.header("Content-Length"), str(BIG))
            self.assertEqual(c.read_response().body, h.DOCROOT_FILES["dir/sub.txt"])

    def test_two_large_downloads_at_once(self):
        content = h.big_content(BIG)
        a, b = self.server.connect(), self.server.connect()
        try:
            a.send(get("/big.bin"))
            b.send(get("/big.bin"))
            started = time.monotonic()
            ra, rb = a.read_response(), b.read_response()
            self.assertEqual(h.sha256(ra.body), h.sha256(content))
            self.assertEqual(h.sha256(rb.body), h.sha256(content))
            self.assertLess(time.monotonic() - started, 20 * h.SLOW)
        finally:
            a.close()
            b.close()


if __name__ == "__main__":
    h.main()
