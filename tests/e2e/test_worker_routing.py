"""Worker mode routes like FrankenPHP: the worker is the front controller,
not every script, and several workers share one server.

The fixture php_fixtures/workers has two workers written the way Laravel
Octane's and Symfony Runtime's FrankenPHP workers are (lib/loop.php):
public/app.php, the front controller, and public/api.php, given
match=/api/*; and two scripts that are no worker's: public/tool.php and
public/sub/index.php, which run the classic way on the same server.

Checked: which of them answers each path; each worker's own env= in
$_SERVER and getenv(); FRANKENPHP_WORKER in the worker's own $_SERVER and
not in each request's; max-requests per worker; bad --worker options
(one line naming --worker and the option, exit 2); Debian's NTS PHP
(one executor per shard) refusing a configuration that needs more."""

import json
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402
from test_php_classic import PhpTestCase  # noqa: E402


class WorkersTestCase(PhpTestCase):
    fixture = "workers"
    docroot = "public"
    class_server = False

    def worker(self, script, options=""):
        return (os.path.join(self.root, script) + " " + options).strip()

    def who(self, srv, path):
        resp = srv.get(path)
        self.assertStatus(resp, 200)
        self.assertEqual(resp.media_type(), "application/json", resp)
        return json.loads(resp.body)


@h.needs_zts("two workers and classic executors in one shard")
class TwoWorkers(WorkersTestCase):
    class_server = True

    @classmethod
    def make_server(cls):
        cls.php_options = {"worker": [
            os.path.join(cls.root, "app.php") + " name=front num=1 env=APP_ENV=prod env=WORKER_NAME=front",
            os.path.join(cls.root, "api.php") + " match=/api/* num=2 name=api env=APP_ENV=test",
        ]}
        return super().make_server()

    def test_front_controller_worker(self):
        for path in ("/", "/index.php", "/no/such/page", "/app.php", "/blog/2024?x=1"):
            data = self.who(self.server, path)
            self.assertEqual(data["worker"], "front", path)
            self.assertEqual(data["script"], "app.php", path)

    def test_match_goes_to_its_worker(self):
        for path in ("/api/users", "/api/", "/API/Users/7", "/api.php"):
            data = self.who(self.server, path)
            self.assertEqual(data["worker"], "api", path)
            self.assertEqual(data["script"], "api.php", path)

    def test_other_scripts_run_classic(self):
        data = self.who(self.server, "/tool.php")
        self.assertIsNone(data["worker"])
        self.assertEqual(data["script"], "tool.php")
        self.assertIsNone(data["app_env"])  # no worker's env
        data = self.who(self.server, "/sub/")
        self.assertEqual(data["script_name"], "/sub/index.php")
        self.assertIsNone(data["worker"])

    def test_static_files_still_static(self):
        resp = self.server.get("/static.txt")
        self.assertStatus(resp, 200)
        self.assertEqual(resp.body, b"static\n")

    def test_each_worker_sees_its_own_env(self):
        front = self.who(self.server, "/")
        self.assertEqual(front["app_env"], "prod")
        self.assertEqual(front["getenv_app_env"], "prod")
        api = self.who(self.server, "/api/x")
        self.assertEqual(api["app_env"], "test")
        self.assertEqual(api["getenv_app_env"], "test")

    def test_worker_flag_is_in_the_worker_scope_only(self):
        data = self.who(self.server, "/")
        self.assertEqual(data["boot_flag"], "1")
        self.assertEqual(data["boot_torus_flag"], "1")
        self.assertIsNone(data["request_flag"])

    def test_state_persists_in_a_worker(self):
        first = self.who(self.server, "/persist")["served"]
        second = self.who(self.server, "/persist")["served"]
        self.assertEqual(second, first + 1)


@h.needs_zts("two workers in one shard")
class WorkerMetrics(WorkersTestCase):
    def test_metrics_are_labelled_with_worker_names(self):
        admin = h.free_port()
        srv = self.start_php_server(
            admin_listen="127.0.0.1:%d" % admin,
            worker=[self.worker("app.php", "name=front num=1"),
                    self.worker("api.php", "match=/api/* num=2 name=api max-requests=1")])
        self.assertTrue(h.wait_for(lambda: h.can_connect(admin, 0.2), 10 * h.SLOW))
        self.assertEqual(self.who(srv, "/api/one")["worker"], "api")  # then it restarts

        def executors(text, worker):
            return sum(int(n) for n in re.findall(
                r'^torus_worker_executors\{worker="%s",state="\w+"\} (\d+)$' % worker, text, re.M))

        def metrics():
            return h.admin_get(admin, "/metrics").body.decode()

        self.assertTrue(h.wait_for(lambda: re.search(
            r'^torus_worker_script_restarts_total\{worker="api",reason="max_requests"\} 1$',
            metrics(), re.M), 10 * h.SLOW), metrics())
        text = metrics()
        self.assertEqual(executors(text, "api"), 2)
        self.assertEqual(executors(text, "front"), 1)
        self.assertRegex(text, r'(?m)^torus_worker_script_restarts_total\{worker="front",'
                               r'reason="max_requests"\} 0$')


@h.needs_zts("two workers in one shard")
class WorkersFromTheEnvironment(WorkersTestCase):
    def test_torus_worker_lists_workers(self):
        srv = self.start_php_server(env={"TORUS_WORKER": "%s\n%s" % (
            self.worker("app.php", "name=front"), self.worker("api.php", "match=/api/* name=api"))})
        self.assertEqual(self.who(srv, "/api/x")["worker"], "api")
        self.assertEqual(self.who(srv, "/elsewhere")["worker"], "front")

    def test_bad_option_names_the_variable(self):
        env = dict(os.environ, TORUS_WORKER=self.worker("app.php", "bogus=1"))
        proc = subprocess.run([h.TORUS_BIN, "--root", self.root, "--listen",
                               "127.0.0.1:%d" % h.free_port()], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30 * h.SLOW)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, 2, err)
        self.assertIn("TORUS_WORKER", err)
        self.assertIn("bogus", err)


@h.needs_zts("a worker next to classic executors")
class PerWorkerMaxRequests(WorkersTestCase):
    def test_max_requests_restarts_only_that_worker(self):
        srv = self.start_php_server(worker=[self.worker("app.php", "max-requests=2 num=1")],
                                    max_requests=0)
        served = [self.who(srv, "/")["served"] for _ in range(5)]
        self.assertEqual(served, [1, 2, 1, 2, 1])


class BadWorkerOptions(WorkersTestCase):
    def run_torus(self, *workers):
        argv = [h.TORUS_BIN, "--root", self.root, "--listen", "127.0.0.1:%d" % h.free_port()]
        for w in workers:
            argv += ["--worker", w]
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=30 * h.SLOW)

    def assertRefused(self, needle, *workers):
        proc = self.run_torus(*workers)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, 2, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn("--worker", err)
        self.assertIn(needle, err)

    def test_unknown_option(self):
        self.assertRefused("bogus", self.worker("app.php", "bogus=1"))

    def test_bad_values(self):
        self.assertRefused("num=0", self.worker("app.php", "num=0"))
        self.assertRefused("num=x", self.worker("app.php", "num=x"))
        self.assertRefused("max-requests=-1", self.worker("app.php", "max-requests=-1"))
        self.assertRefused("env=NOVALUE", self.worker("app.php", "env=NOVALUE"))
        self.assertRefused("match=api", self.worker("app.php", "match=api"))
        self.assertRefused("not OPTION=VALUE", self.worker("app.php", "num"))

    def test_missing_script(self):
        self.assertRefused("missing.php", self.worker("missing.php"))

    def test_two_front_controllers(self):
        self.assertRefused("front controller", self.worker("app.php"), self.worker("api.php"))

    def test_same_name(self):
        self.assertRefused("same name", self.worker("app.php", "name=x"),
                           self.worker("api.php", "match=/api/* name=x"))


@unittest.skipIf(h.php_kind() != "NTS", "the rule of an NTS PHP (one executor per shard)")
class NtsOneExecutor(WorkersTestCase):
    """Debian's NTS PHP has one interpreter per process, so a shard has one
    executor: a configuration with more than one worker executor is refused,
    and one worker also answers the requests for the other scripts."""

    def test_two_workers_refused(self):
        proc = subprocess.run(
            [h.TORUS_BIN, "--root", self.root, "--listen", "127.0.0.1:%d" % h.free_port(),
             "--worker", self.worker("app.php"), "--worker", self.worker("api.php", "match=/api/*")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30 * h.SLOW)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, 2, err)
        self.assertIn("--worker", err)
        self.assertIn("NTS", err)

    def test_one_worker_answers_other_scripts(self):
        srv = self.start_php_server(worker=[self.worker("app.php")])
        data = self.who(srv, "/tool.php")
        self.assertEqual(data["worker"], "front")  # the worker, running its own script
        self.assertEqual(data["script"], "app.php")
        self.assertEqual(data["uri"], "/tool.php")


if __name__ == "__main__":
    h.main()
