"""Deep HTTP/1.1 pipelines to PHP (issue 18): every answer comes back in
request order, whatever each script takes, in classic and in worker mode,
with several executors that could finish a later request first.

Covered: 16 pipelined requests whose early ones sleep longer than the later
ones; a request body between pipelined requests; HEAD in the middle (no
body); a PHP fatal error in the middle (500, and the pipeline goes on);
`Connection: close` in the middle (answered, then the connection closes and
nothing after it runs); Expect: 100-continue in a pipeline.

The scripts are written into the class's temporary document root:
seq.php?i=N&ms=M sleeps M ms then answers "seq N"; body.php answers the size
and digest of its body; fatal.php dies of a fatal error; the worker script
does the same by path."""

import hashlib
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from torus_harness import get, request  # noqa: E402
from test_php_classic import PhpServer  # noqa: E402

DEPTH = 16

SEQ_PHP = """<?php
usleep((int)($_GET['ms'] ?? 0) * 1000);
header('X-Seq: ' . ($_GET['i'] ?? '-'));
echo 'seq ', $_GET['i'] ?? '-', "\\n";
"""

BODY_PHP = """<?php
$body = file_get_contents('php://input');
echo 'body ', strlen($body), ' ', hash('sha256', $body), "\\n";
"""

FATAL_PHP = """<?php
trigger_error('a fatal error on purpose', E_USER_ERROR);
echo "never reached\\n";
"""

WORKER_PHP = """<?php
$handler = function () {
    $path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
    if ($path === '/body.php') {
        $body = file_get_contents('php://input');
        echo 'body ', strlen($body), ' ', hash('sha256', $body), "\\n";
        return;
    }
    if ($path === '/fatal.php') {
        trigger_error('a fatal error on purpose', E_USER_ERROR);
    }
    usleep((int)($_GET['ms'] ?? 0) * 1000);
    header('X-Seq: ' . ($_GET['i'] ?? '-'));
    echo 'seq ', $_GET['i'] ?? '-', "\\n";
};
while (torus_handle_request($handler)) {
    gc_collect_cycles();
}
"""


def seq_request(i, ms, method="GET", headers=None):
    return request(method, "/seq.php?i=%d&ms=%d" % (i, ms), headers)


@h.torus_only("the reference nginx runs no PHP")
class PipelineCases:
    """The cases, run against the server the subclass starts."""

    server_options = None
    mode_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name, text in (("seq.php", SEQ_PHP), ("body.php", BODY_PHP),
                           ("fatal.php", FATAL_PHP), ("worker.php", WORKER_PHP)):
            with open(os.path.join(cls.root, name), "w") as f:
                f.write(text)
        options = dict(cls.mode_options)
        if "worker" in options:
            options["worker"] = os.path.join(cls.root, options["worker"])
        # Several executors where the PHP build has them: a later, quicker request could finish
        # first, and must still be answered after the ones before it.
        if h.php_kind() == "ZTS":
            options["php_threads_per_core"] = 4
        cls.server = PhpServer(cls.root, cls.workdir, **options).start()

    def read_seq(self, conn, i, head_request=False):
        resp = conn.read_response(head_request=head_request)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.header("x-seq"), str(i), resp)
        if head_request:
            self.assertEqual(resp.body, b"", resp)
        else:
            self.assertEqual(resp.body, b"seq %d\n" % i, resp)
        return resp

    def test_answers_in_request_order_when_early_requests_are_slower(self):
        # Request i sleeps (DEPTH - i) * 10 ms: the first is the slowest, the last the quickest.
        with self.server.connect() as conn:
            conn.send(b"".join(seq_request(i, (DEPTH - i) * 10) for i in range(DEPTH)))
            for i in range(DEPTH):
                self.read_seq(conn, i)
            # The connection stays usable after the pipeline.
            conn.send(seq_request(99, 0))
            self.read_seq(conn, 99)

    def test_pipelines_on_many_connections_at_once(self):
        conns = [self.server.connect() for _ in range(4)]
        try:
            for n, conn in enumerate(conns):
                conn.send(b"".join(seq_request(100 * n + i, (i * 7 + n) % 5)
                                   for i in range(DEPTH)))
            for n, conn in enumerate(conns):
                for i in range(DEPTH):
                    self.read_seq(conn, 100 * n + i)
        finally:
            for conn in conns:
                conn.close()

    def test_request_body_between_pipelined_requests(self):
        body = b"x" * 3000 + b"pipelined body"
        digest = hashlib.sha256(body).hexdigest().encode()
        post = request("POST", "/body.php", [("Content-Type", "application/octet-stream"),
                                             ("Content-Length", str(len(body)))], body)
        with self.server.connect() as conn:
            conn.send(seq_request(0, 30) + post + seq_request(2, 0) + post + seq_request(4, 0))
            self.read_seq(conn, 0)
            resp = conn.read_response()
            self.assertEqual(resp.body, b"body %d %s\n" % (len(body), digest), resp)
            self.read_seq(conn, 2)
            resp = conn.read_response()
            self.assertEqual(resp.body, b"body %d %s\n" % (len(body), digest), resp)
            self.read_seq(conn, 4)

    def test_head_in_the_middle_has_no_body(self):
        with self.server.connect() as conn:
            conn.send(seq_request(0, 20) + seq_request(1, 0, method="HEAD") + seq_request(2, 0))
            self.read_seq(conn, 0)
            self.read_seq(conn, 1, head_request=True)
            self.read_seq(conn, 2)

    def test_fatal_error_in_the_middle(self):
        with self.server.connect() as conn:
            conn.send(seq_request(0, 20) + get("/fatal.php") + seq_request(2, 0))
            self.read_seq(conn, 0)
            resp = conn.read_response()
            self.assertEqual(resp.status, 500, resp)
            self.read_seq(conn, 2)

    def test_connection_close_in_the_middle(self):
        marker = "/seq.php?i=3&ms=0"
        with self.server.connect() as conn:
            conn.send(seq_request(0, 30) + seq_request(1, 0)
                      + seq_request(2, 0, headers=[("Connection", "close")])
                      + request("GET", marker) + request("GET", marker))
            for i in range(3):
                resp = self.read_seq(conn, i)
            self.assertTrue(resp.has_token("connection", "close"), resp)
            rest = conn.read_until_closed()
            self.assertEqual(rest, b"", "answers after Connection: close: %r" % rest)

    def test_expect_continue_in_a_pipeline(self):
        body = b"after continue"
        digest = hashlib.sha256(body).hexdigest().encode()
        with self.server.connect() as conn:
            head = request("POST", "/body.php", [("Expect", "100-continue"),
                                                 ("Content-Length", str(len(body)))])
            head = head[:head.index(b"\r\n\r\n") + 4]
            conn.send(seq_request(0, 20) + head)
            self.read_seq(conn, 0)
            interim = conn.read_response(allow_interim=True)
            self.assertEqual(interim.status, 100, interim)
            conn.send(body + seq_request(2, 0))
            resp = conn.read_response()
            self.assertEqual(resp.body, b"body %d %s\n" % (len(body), digest), resp)
            self.read_seq(conn, 2)


class ClassicPipelineTest(PipelineCases, h.ServerTestCase):
    mode_options = {}


class WorkerPipelineTest(PipelineCases, h.ServerTestCase):
    mode_options = {"worker": "worker.php"}


if __name__ == "__main__":
    unittest.main()
