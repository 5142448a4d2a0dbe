"""Request headers a client must not be able to turn into something else
on the PHP side (issue 20): a name with '_' is dropped as nginx drops it,
so X-Forwarded_For cannot overwrite the X-Forwarded-For a proxy set
(--allow-underscores-in-headers keeps them); Proxy: never becomes
HTTP_PROXY (httpoxy)."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402

SPOOF = [("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded_For", "6.6.6.6"), ("X_Custom", "u"),
         ("X-Kept", "k")]


class UnderscoreHeaders(PhpTestCase):

    def server_vars(self, srv=None):
        return self.fetch_json(get("/server.php", SPOOF), srv)["SERVER"]

    def headers_seen(self, srv=None):
        return self.fetch_json(get("/request_headers.php", SPOOF), srv)["getallheaders"]

    def test_underscore_names_are_dropped(self):
        server = self.server_vars()
        self.assertEqual(server["HTTP_X_FORWARDED_FOR"], "10.0.0.1")
        self.assertNotIn("HTTP_X_CUSTOM", server)
        self.assertEqual(server["HTTP_X_KEPT"], "k")
        seen = self.headers_seen()
        self.assertNotIn("X-Forwarded_For", seen)
        self.assertNotIn("X_Custom", seen)
        self.assertEqual(seen["X-Forwarded-For"], "10.0.0.1")

    def test_allowed_with_the_flag(self):
        srv = self.start_php_server(allow_underscores_in_headers=True)
        server = self.server_vars(srv)
        self.assertEqual(server["HTTP_X_CUSTOM"], "u")
        self.assertIn("X_Custom", self.headers_seen(srv))

    def test_proxy_header_is_not_http_proxy(self):
        data = self.fetch_json(get("/server.php", [("Proxy", "http://evil.example:8080")]))
        self.assertNotIn("HTTP_PROXY", data["SERVER"])


class UnderscoreHeadersWorker(PhpTestCase):
    fixture = "worker"
    docroot = "public"
    php_options = {}

    @classmethod
    def make_server(cls):
        cls.php_options = dict(worker=os.path.join(cls.fixture_dir, "worker.php"))
        return super().make_server()

    def test_underscore_names_are_dropped(self):
        resp = self.server.fetch(get("/dump", SPOOF))
        self.assertStatus(resp, 200)
        headers = json.loads(resp.body)["headers"]
        self.assertEqual(headers.get("X-Forwarded-For"), "10.0.0.1")
        self.assertNotIn("X-Forwarded_For", headers)
        self.assertNotIn("X_Custom", headers)


if __name__ == "__main__":
    h.main()
