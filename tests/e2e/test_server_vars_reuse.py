"""$_SERVER and the working directory as Torus prepares them per request
(issue 18): each executor copies the environment's part of $_SERVER from a
template made once, and enters the script's directory without PHP's stat()
checks. What a script sees must stay what PHP-FPM (classic mode) and
FrankenPHP (worker mode) show:

  classic  getcwd() is the script's directory (symbolic links resolved) while
           it runs, and the server's own directory again in shutdown
           functions; a putenv() before $_SERVER is first used shows in it
           (auto_globals_jit), and not in the next request's
  worker   $_SERVER is the same, key for key and in the same order, in two
           requests of one worker, whatever the first one unset or changed
           in it; $_SERVER['argv'] is built from the query string as PHP does
           with register_argc_argv on

Fixtures: php_fixtures/server_reuse. One shard, one executor."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torus_harness import get  # noqa: E402
from test_php_classic import ENV_NAME, ENV_VALUE, PhpTestCase  # noqa: E402


class ClassicScripts(PhpTestCase):
    fixture = "server_reuse"
    php_options = {"php_threads_per_core": 1}
    defines = ("register_argc_argv=0", "auto_globals_jit=1")

    def lines(self, path):
        resp = self.server.fetch(get(path))
        self.assertStatus(resp, 200)
        return resp.body.decode().splitlines()

    def test_working_directory_is_the_scripts_then_the_servers(self):
        server_cwd = os.path.realpath(self.workdir)
        root = os.path.realpath(self.root)
        link = os.path.join(self.root, "link")
        if not os.path.islink(link):
            os.symlink("real", link)
        for _ in range(2):  # the second time on the same executor
            self.assertEqual(self.lines("/cwd.php"),
                             ["run " + root, "shutdown " + server_cwd])
            self.assertEqual(self.lines("/real/cwd.php"),
                             ["run " + os.path.join(root, "real"), "shutdown " + server_cwd])
            self.assertEqual(self.lines("/link/cwd.php"),
                             ["run " + os.path.join(root, "real"), "shutdown " + server_cwd])

    def test_putenv_before_server_is_made_shows_in_it_once(self):
        before = self.fetch_json(get("/late_server.php"))
        self.assertIsNone(before["late"])
        self.assertEqual(before["env"], ENV_VALUE)
        data = self.fetch_json(get("/putenv.php"))
        self.assertEqual(data["late"], "set-by-putenv")
        self.assertEqual(data["env"], ENV_VALUE)
        self.assertEqual(data["count"], before["count"] + 1)
        after = self.fetch_json(get("/late_server.php"))
        self.assertIsNone(after["late"])
        self.assertEqual(after["count"], before["count"])


class WorkerServer(PhpTestCase):
    fixture = "server_reuse"
    defines = ("register_argc_argv=1",)

    @classmethod
    def make_server(cls):
        cls.php_options = dict(php_threads_per_core=1,
                               worker=os.path.join(cls.fixture_dir, "worker.php"))
        return super().make_server()

    def test_server_is_the_same_in_each_request(self):
        headers = [("User-Agent", "reuse-test"), ("X-Extra", "1")]
        with self.server.connect() as conn:  # one worker, one connection
            first = []
            for _ in range(3):
                conn.send(get("/any?spoil", headers))
                resp = conn.read_response()
                self.assertStatus(resp, 200)
                first.append(json.loads(resp.body))
        counts = [d["requests"] for d in first]  # one worker served the three
        self.assertEqual(counts, [counts[0], counts[0] + 1, counts[0] + 2])
        for data in first[1:]:
            self.assertEqual(data["keys"], first[0]["keys"])  # the same order
            self.assertEqual(data["server"], first[0]["server"])
        server = first[2]["server"]
        self.assertEqual(server[ENV_NAME], ENV_VALUE)
        self.assertEqual(server["PATH"], os.environ["PATH"])
        self.assertEqual(server["GATEWAY_INTERFACE"], "CGI/1.1")
        self.assertEqual(server["HTTP_USER_AGENT"], "reuse-test")
        self.assertEqual(server["HTTP_X_EXTRA"], "1")
        self.assertEqual(server["REQUEST_METHOD"], "GET")
        self.assertTrue(server["SERVER_SOFTWARE"].startswith("Torus/"))
        self.assertNotIn("ADDED_BY_REQUEST", server)
        self.assertEqual(first[2]["cwd"], os.path.realpath(self.fixture_dir))
        # The environment comes before the request's variables, as under PHP-FPM.
        keys = first[2]["keys"]
        self.assertLess(keys.index(ENV_NAME), keys.index("HTTP_USER_AGENT"))
        self.assertLess(keys.index("HTTP_USER_AGENT"), keys.index("REQUEST_METHOD"))

    def test_argv_comes_from_the_query_string(self):
        data = self.fetch_json(get("/any?first+second"))
        self.assertEqual(data["server"]["argv"], ["first", "second"])
        self.assertEqual(data["server"]["argc"], 2)
        data = self.fetch_json(get("/any"))
        self.assertEqual(data["server"]["argv"], [])
        self.assertEqual(data["server"]["argc"], 0)


if __name__ == "__main__":
    unittest.main()
