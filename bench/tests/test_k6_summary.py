"""bench/k6/lib.js's summary line, read back by the same parser as wrk's, and the
options the scripts give k6 (https URLs, https-new-conn).

k6 is not in Debian, so k6 itself is not run here: node (when installed)
runs lib.js's benchResult() on end-of-test data shaped like k6's
handleSummary() argument, and the line it prints must parse into the
numbers that data holds. Skipped without node.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import support
import wrk_output

K6_DATA = {
    "state": {"testRunDurationMs": 10000.5},
    "metrics": {
        "http_reqs": {"values": {"count": 52000, "rate": 5199.7}},
        "http_req_duration": {"values": {"avg": 1.25, "min": 0.1, "med": 1.0, "max": 40.0,
                                         "p(50)": 1.0, "p(90)": 2.5, "p(99)": 9.75}},
        "http_req_failed": {"values": {"rate": 0.001, "passes": 52, "fails": 51948}},
        "data_received": {"values": {"count": 7800000, "rate": 780000}},
        "http_reqs{scenario:hello}": {"values": {"count": 30000, "rate": 3000}},
        "http_req_duration{scenario:hello}": {"values": {"avg": 2.0, "max": 50.0, "p(50)": 1.5,
                                                         "p(90)": 3.0, "p(99)": 20.0}},
    },
}


@unittest.skipUnless(shutil.which("node"), "node is not installed")
class K6Summary(unittest.TestCase):
    def run_lib(self, call):
        with open(os.path.join(support.BENCH_DIR, "k6", "lib.js")) as f:
            lib = f.read().replace("import http from 'k6/http';", "const http = {};")
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "lib.mjs"), "w") as f:
                f.write(lib)
            with open(os.path.join(tmp, "main.mjs"), "w") as f:
                f.write("globalThis.__ENV = {};\n"
                        "const { benchResult } = await import('./lib.mjs');\n"
                        f"const data = {json.dumps(K6_DATA)};\n"
                        f"process.stdout.write({call}.stdout);\n")
            done = subprocess.run(["node", os.path.join(tmp, "main.mjs")], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout)
        return done.stdout

    def test_whole_test(self):
        r = wrk_output.parse(self.run_lib("benchResult(data)"))
        self.assertEqual(r.requests, 52000)
        self.assertAlmostEqual(r.duration_s, 10.0005)
        self.assertAlmostEqual(r.p50_ms, 1.0)
        self.assertAlmostEqual(r.p90_ms, 2.5)
        self.assertAlmostEqual(r.p99_ms, 9.75)
        self.assertAlmostEqual(r.max_ms, 40.0)
        self.assertEqual(r.status_errors, 52)
        self.assertEqual(r.bytes, 7800000)

    def test_sub_metric_of_one_scenario(self):
        r = wrk_output.parse(self.run_lib("benchResult(data, '{scenario:hello}', 10000)"))
        self.assertEqual(r.requests, 30000)
        self.assertAlmostEqual(r.rps, 3000.0)
        self.assertAlmostEqual(r.p99_ms, 20.0)
        self.assertEqual(r.status_errors, 52)  # no sub-metric: falls back to the whole test


@unittest.skipUnless(shutil.which("node"), "node is not installed")
class K6Options(unittest.TestCase):
    """The options the scripts give k6: https URLs skip certificate verification (the
    harness's certificate is self-signed), https-new-conn opens a TLS 1.3 connection per
    request."""

    # k6/http as far as the scripts use it; the calls are recorded.
    HTTP_STUB = "{ TLS_1_3: 'tls1.3', calls: [], get(url, params) { this.calls.push([url, params]); } }"

    def run_script(self, script, env):
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("lib.js", script):
                with open(os.path.join(support.BENCH_DIR, "k6", name)) as f:
                    text = f.read().replace("import http from 'k6/http';", "")
                text = text.replace("'./lib.js'", "'./lib.mjs'")
                with open(os.path.join(tmp, name.replace(".js", ".mjs")), "w") as f:
                    f.write(text)
            with open(os.path.join(tmp, "main.mjs"), "w") as f:
                f.write(f"globalThis.__ENV = {json.dumps(env)};\n"
                        f"globalThis.http = {self.HTTP_STUB};\n"
                        f"const m = await import('./{script.replace('.js', '.mjs')}');\n"
                        "m.default();\n"
                        "process.stdout.write(JSON.stringify({options: m.options, calls: http.calls}));\n")
            done = subprocess.run(["node", os.path.join(tmp, "main.mjs")], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stdout)
        return json.loads(done.stdout)

    def test_plain_hello_keeps_verification(self):
        out = self.run_script("hello.js", {"BASE_URL": "http://127.0.0.1:8080"})
        self.assertFalse(out["options"]["insecureSkipTLSVerify"])
        self.assertEqual(out["calls"][0][0], "http://127.0.0.1:8080/hello.php")

    def test_https_hello_skips_verification(self):
        out = self.run_script("hello.js", {"BASE_URL": "https://127.0.0.1:8443", "VUS": "32"})
        self.assertTrue(out["options"]["insecureSkipTLSVerify"])
        self.assertEqual(out["options"]["vus"], 32)
        self.assertEqual(out["calls"][0][0], "https://127.0.0.1:8443/hello.php")

    def test_https_new_conn(self):
        out = self.run_script("https-new-conn.js", {"BASE_URL": "https://127.0.0.1:8443", "DURATION": "3s"})
        o = out["options"]
        self.assertTrue(o["insecureSkipTLSVerify"])
        self.assertTrue(o["noConnectionReuse"])
        self.assertEqual(o["tlsVersion"], {"min": "tls1.3", "max": "tls1.3"})
        self.assertEqual(o["duration"], "3s")
        self.assertEqual(out["calls"], [["https://127.0.0.1:8443/hello.php", {"headers": {"Connection": "close"}}]])


if __name__ == "__main__":
    support.main(__name__)
