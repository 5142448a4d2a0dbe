"""HTTP/1.1 basics of the engine: a static GET and its headers, HEAD,
keep-alive, pipelining, HTTP/1.0, Connection: close, request bodies that
must be consumed so the next request on the connection parses right, and
Expect: 100-continue."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import HELLO, get, request  # noqa: E402

SUB = h.DOCROOT_FILES["dir/sub.txt"]

# A POST to a static file: nginx answers 405; the issue allows the engine
# either answer as long as the body is consumed and the framing kept.
POST_STATUSES = (200, 405)


class Basics(h.ServerTestCase):
    server_options = {}

    def test_get_static_file(self):
        resp = self.server.get("/hello.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)
        self.assertEqual(resp.version, "HTTP/1.1")
        self.assertEqual(resp.reason, "OK")
        self.assertEqual(resp.header_all("Content-Length"), ["13"])
        self.assertEqual(resp.media_type(), "text/plain")
        self.assertIsNone(resp.header("Transfer-Encoding"))

    def test_server_header(self):
        resp = self.server.get("/hello.txt")
        self.assertEqual(len(resp.header_all("Server")), 1, resp)
        self.assertTrue(resp.header("Server").strip(), resp)

    def test_date_header_is_imf_fixdate_and_current(self):
        resp = self.server.get("/hello.txt")
        dates = resp.header_all("Date")
        self.assertEqual(len(dates), 1, resp)
        self.assertTrue(h.is_imf_fixdate(dates[0]), "not an IMF-fixdate: %r" % dates[0])
        self.assertLess(abs(h.http_date_to_epoch(dates[0]) - time.time()), 3.0 * h.SLOW, dates[0])

    def test_date_header_advances(self):
        # Refreshed once a second: two requests 2.2 s apart show two dates.
        first = h.http_date_to_epoch(self.server.get("/hello.txt").header("Date"))
        time.sleep(2.2)
        second = h.http_date_to_epoch(self.server.get("/hello.txt").header("Date"))
        self.assertGreaterEqual(second - first, 1.0)

    def test_content_type_by_extension(self):
        expected = {
            "/index.html": ("text/html",),
            "/page.htm": ("text/html",),
            "/style.css": ("text/css",),
            "/app.js": ("application/javascript", "text/javascript"),
            "/data.json": ("application/json",),
            "/logo.png": ("image/png",),
            "/image.svg": ("image/svg+xml",),
            "/hello.txt": ("text/plain",),
        }
        with self.server.connect() as c:
            for path, types in expected.items():
                c.send(get(path))
                resp = c.read_response()
                self.assertStatus(resp, 200)
                self.assertIn(resp.media_type(), types, "%s: %r" % (path, resp))
                self.assertEqual(resp.body, h.DOCROOT_FILES[path[1:]])

    def test_unknown_extension_is_octet_stream(self):
        srv_root = self.root
        with open(os.path.join(srv_root, "blob.torusunknown"), "wb") as f:
            f.write(b"\x00\x01binary")
        resp = self.server.get("/blob.torusunknown")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.media_type(), "application/octet-stream")
        self.assertEqual(resp.body, b"\x00\x01binary")

    def test_missing_file_is_404(self):
        with self.server.connect() as c:
            c.send(get("/no-such-file.txt"))
            resp = c.read_response()
            self.assertStatus(resp, 404)
            # A 404 keeps the connection usable.
            c.send(get("/hello.txt"))
            self.assertEqual(c.read_response().body, HELLO)

    def test_query_string_is_not_part_of_the_path(self):
        resp = self.server.get("/hello.txt?x=1&y=%20")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_percent_encoded_path(self):
        resp = self.server.get("/with%20space.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, h.DOCROOT_FILES["with space.txt"])
        resp = self.server.get("/hello%2Etxt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)

    def test_head_has_headers_and_no_body(self):
        get_resp = self.server.get("/hello.txt")
        with self.server.connect() as c:
            # HEAD then GET in one send: if HEAD carried a body, the second
            # response would not start where it must.
            c.send(request("HEAD", "/hello.txt") + get("/dir/sub.txt"))
            head = c.read_response(head_request=True)
            self.assertStatus(head, 200)
            self.assertEqual(head.header("Content-Length"), "13")
            for name in ("Content-Type", "Last-Modified", "ETag", "Server"):
                self.assertEqual(head.header(name), get_resp.header(name), name)
            nxt = c.read_response()
            self.assertStatus(nxt, 200)
            self.assertEqual(nxt.body, SUB)

    def test_head_of_missing_file(self):
        with self.server.connect() as c:
            c.send(request("HEAD", "/nope.txt") + get("/hello.txt"))
            self.assertStatus(c.read_response(head_request=True), 404)
            self.assertEqual(c.read_response().body, HELLO)

    def test_keep_alive_many_requests(self):
        with self.server.connect() as c:
            for i in range(20):
                path = "/hello.txt" if i % 2 == 0 else "/dir/sub.txt"
                c.send(get(path))
                resp = c.read_response()
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body, HELLO if i % 2 == 0 else SUB)
                self.assertFalse(resp.has_token("Connection", "close"), resp)
            self.assertFalse(c.is_closed(0.2), "server closed a keep-alive connection")

    def test_pipelining_three_in_one_send(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt") + get("/dir/sub.txt") + get("/nope.txt"))
            first, second, third = c.read_response(), c.read_response(), c.read_response()
            self.assertEqual((first.status, first.body), (200, HELLO))
            self.assertEqual((second.status, second.body), (200, SUB))
            self.assertStatus(third, 404)
            self.assertFalse(c.is_closed(0.2))

    def test_pipelining_many_with_last_closing(self):
        n = 50
        batch = b"".join(get("/hello.txt" if i % 3 else "/dir/sub.txt") for i in range(n - 1))
        batch += get("/hello.txt", {"Connection": "close"})
        with self.server.connect() as c:
            c.send(batch)
            for i in range(n):
                resp = c.read_response()
                self.assertStatus(resp, 200)
                want = SUB if (i % 3 == 0 and i < n - 1) else HELLO
                self.assertEqual(resp.body, want, "response %d" % i)
            self.assertClosed(c)

    def test_pipelining_split_across_sends(self):
        data = get("/hello.txt") + get("/dir/sub.txt")
        with self.server.connect() as c:
            # The first request whole, the second split inside a header name.
            cut = len(get("/hello.txt")) + 20
            c.send(data[:cut])
            self.assertEqual(c.read_response().body, HELLO)
            time.sleep(0.1)
            c.send(data[cut:])
            self.assertEqual(c.read_response().body, SUB)

    def test_request_sent_byte_by_byte(self):
        data = get("/hello.txt", {"User-Agent": "trickle"})
        with self.server.connect() as c:
            for i in range(len(data)):
                c.send(data[i:i + 1])
            resp = c.read_response()
            self.assertEqual(resp.body, HELLO)

    def test_http10_closes_by_default(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt", version="HTTP/1.0", host=None))
            resp = c.read_response()
            self.assertStatus(resp, 200)
            self.assertEqual(resp.body, HELLO)
            self.assertFalse(resp.has_token("Connection", "keep-alive"), resp)
            self.assertClosed(c)

    def test_http10_keep_alive(self):
        with self.server.connect() as c:
            for _ in range(3):
                c.send(get("/hello.txt", {"Connection": "keep-alive"}, version="HTTP/1.0"))
                resp = c.read_response()
                self.assertStatus(resp, 200)
                self.assertEqual(resp.body, HELLO)
                self.assertTrue(resp.has_token("Connection", "keep-alive"), resp)
            # Without the header the next one closes.
            c.send(get("/hello.txt", version="HTTP/1.0"))
            self.assertEqual(c.read_response().body, HELLO)
            self.assertClosed(c)

    def test_connection_close_honoured(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt", {"Connection": "close"}))
            resp = c.read_response()
            self.assertEqual(resp.body, HELLO)
            self.assertTrue(resp.has_token("Connection", "close"), resp)
            self.assertClosed(c)

    def test_connection_close_stops_the_pipeline(self):
        with self.server.connect() as c:
            c.send(get("/hello.txt", {"Connection": "close"}) + get("/dir/sub.txt"))
            self.assertEqual(c.read_response().body, HELLO)
            self.assertClosed(c)

    def test_header_names_are_case_insensitive(self):
        raw = b"GET /hello.txt HTTP/1.1\r\nhOsT: localhost\r\ncOnNeCtIoN: CLOSE\r\n\r\n"
        with self.server.connect() as c:
            c.send(raw)
            self.assertEqual(c.read_response().body, HELLO)
            self.assertClosed(c)

    def test_absolute_form_target(self):
        resp = self.server.fetch(get("http://localhost/hello.txt"))
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, HELLO)


class RequestBodies(h.ServerTestCase):
    server_options = {}

    def check_then_next(self, c, first_status=POST_STATUSES):
        first = c.read_response()
        self.assertStatus(first, *first_status)
        nxt = c.read_response()
        self.assertStatus(nxt, 200)
        self.assertEqual(nxt.body, SUB)

    def test_post_content_length_then_pipelined_get(self):
        body = b"name=value&x=1"
        post = request("POST", "/hello.txt", {"Content-Length": len(body),
                                              "Content-Type": "application/x-www-form-urlencoded"},
                       body)
        with self.server.connect() as c:
            c.send(post + get("/dir/sub.txt"))
            self.check_then_next(c)

    def test_post_body_that_looks_like_a_request_is_not_parsed(self):
        # The body of the POST is itself a request: it must stay a body.
        smuggled = get("/index.html")
        post = request("POST", "/hello.txt", {"Content-Length": len(smuggled)}, smuggled)
        with self.server.connect() as c:
            c.send(post + get("/dir/sub.txt", {"Connection": "close"}))
            self.check_then_next(c)
            self.assertClosed(c)

    def test_post_body_arriving_later(self):
        body = b"x" * 3000
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body)}))
            time.sleep(0.2)
            c.send(body[:1000])
            time.sleep(0.2)
            c.send(body[1000:] + get("/dir/sub.txt"))
            self.check_then_next(c)

    def test_large_post_body_is_consumed(self):
        body = os.urandom(1 << 20)  # 1 MiB, under the default 8M limit
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body)}))
            c.send(body + get("/dir/sub.txt"))
            self.check_then_next(c)

    def test_chunked_body_with_extensions_and_trailers(self):
        chunked = (b"5;ext=1\r\nhello\r\n"
                   b"6;name=\"quoted value\";flag\r\n world\r\n"
                   b"A\r\n0123456789\r\n"
                   b"0\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n")
        post = request("POST", "/hello.txt", {"Transfer-Encoding": "chunked"}, chunked)
        with self.server.connect() as c:
            c.send(post + get("/dir/sub.txt"))
            self.check_then_next(c)

    def test_chunked_body_split_everywhere(self):
        chunked = b"4\r\nabcd\r\n3;e=x\r\nefg\r\n0\r\n\r\n"
        data = request("POST", "/hello.txt", {"Transfer-Encoding": "chunked"}, chunked)
        data += get("/dir/sub.txt")
        with self.server.connect() as c:
            head_len = data.index(b"\r\n\r\n") + 4
            c.send(data[:head_len])
            for i in range(head_len, len(data), 3):
                c.send(data[i:i + 3])
                time.sleep(0.005)
            self.check_then_next(c)

    def test_put_and_delete_bodies_are_consumed(self):
        put = request("PUT", "/hello.txt", {"Content-Length": 4}, b"abcd")
        delete = request("DELETE", "/hello.txt", {"Content-Length": 2}, b"xy")
        with self.server.connect() as c:
            c.send(put + delete + get("/dir/sub.txt"))
            for _ in range(2):  # any status (nginx: 405), as long as framing holds
                c.read_response()
            nxt = c.read_response()
            self.assertEqual(nxt.body, SUB)
        # The PUT did not change the file.
        self.assertEqual(self.server.get("/hello.txt").body, HELLO)

    def test_empty_body_post(self):
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": 0}) + get("/dir/sub.txt"))
            self.check_then_next(c)

    def expect_continue(self, c, body):
        """After a head with Expect: 100-continue and no body yet, the server
        must not sit waiting: it sends "100 Continue" (then the final response
        once the body is in), or answers at once with a final rejection (nginx
        sends 405 for a POST to a static file without asking for the body).
        Either way the body sent afterwards must not be taken for a request."""
        first = c.read_response(allow_interim=True, within=3.0 * h.SLOW)
        if first.status == 100:
            self.assertTrue(first.raw_head.startswith(b"HTTP/1.1 100 Continue\r\n"),
                            first.raw_head)
            c.send(body + get("/dir/sub.txt"))
            self.check_then_next(c)
            return
        # A final answer without reading the body can only be a refusal.
        self.assertStatus(first, 405)
        if first.has_token("Connection", "close"):
            self.assertClosed(c)
            return
        c.send(body + get("/dir/sub.txt"))
        nxt = c.read_response()
        self.assertStatus(nxt, 200)
        self.assertEqual(nxt.body, SUB)

    def test_expect_100_continue(self):
        body = b"0123456789" * 10
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": len(body),
                                                  "Expect": "100-continue"}))
            self.expect_continue(c, body)

    def test_expect_100_continue_chunked(self):
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Transfer-Encoding": "chunked",
                                                  "Expect": "100-continue"}))
            self.expect_continue(c, b"3\r\nabc\r\n0\r\n\r\n")

    def test_expect_without_a_body(self):
        # A client must not send the expectation without a body (RFC 9110
        # 10.1.1); nginx still answers 100 first. Allow one interim response,
        # and require the final one.
        with self.server.connect() as c:
            c.send(get("/hello.txt", {"Expect": "100-continue"}) + get("/dir/sub.txt"))
            final, interim = c.read_final_response()
            self.assertLessEqual(len(interim), 1)
            self.assertStatus(final, 200)
            self.assertEqual(final.body, HELLO)
            self.assertEqual(c.read_response().body, SUB)

    def test_no_100_continue_when_body_already_sent(self):
        # The body came with the head: the final response needs no 100 first,
        # but a server may still send one; what matters is the framing.
        body = b"abc"
        with self.server.connect() as c:
            c.send(request("POST", "/hello.txt", {"Content-Length": 3, "Expect": "100-continue"},
                           body) + get("/dir/sub.txt"))
            final, interim = c.read_final_response()
            self.assertStatus(final, *POST_STATUSES)
            self.assertLessEqual(len(interim), 1)
            nxt = c.read_response()
            self.assertEqual(nxt.body, SUB)


if __name__ == "__main__":
    h.main()
