"""Torus behind a proxy: --trusted-proxy and --proxy-protocol.

The client binds its socket to 127.0.0.2 to be the trusted proxy, or to
127.0.0.1 to be any other peer (both are loopback on Linux, and the server
listens on 127.0.0.1). A PHP script prints what it sees in $_SERVER.

- From a trusted peer, X-Forwarded-For/-Proto/-Host/-Port and Forwarded
  set REMOTE_ADDR (the right-most untrusted hop), REMOTE_PORT, HTTPS,
  REQUEST_SCHEME, SERVER_NAME and SERVER_PORT, and the access log's address.
- From another peer they change nothing (PHP still sees HTTP_X_FORWARDED_FOR).
- With --proxy-protocol, a trusted peer's v1 or v2 header sets the client's
  address; a trusted peer without a valid header, and any untrusted peer,
  are closed without an answer."""

import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torus_harness as h  # noqa: E402

PROXY = "127.0.0.2"
OTHER = "127.0.0.1"
KEYS = ["REMOTE_ADDR", "REMOTE_PORT", "HTTPS", "REQUEST_SCHEME", "SERVER_NAME", "SERVER_PORT",
        "HTTP_X_FORWARDED_FOR"]
SCRIPT = b"""<?php
foreach (['%s'] as $k) {
    echo $k, '=', array_key_exists($k, $_SERVER) ? $_SERVER[$k] : '(unset)', "\\n";
}
""" % "','".join(KEYS).encode()


def can_bind(address):
    try:
        with socket.socket() as s:
            s.bind((address, 0))
        return True
    except OSError:
        return False


class ProxyCase(h.ServerTestCase):
    server_options = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(cls.root, "server.php"), "wb") as f:
            f.write(SCRIPT)

    def ask(self, srv, source, headers=(), preface=b""):
        """GET /server.php from source; the $_SERVER entries as a dict."""
        with h.Conn(srv.port, source=source) as c:
            c.send(preface + h.get("/server.php", list(headers)))
            resp, _ = c.read_final_response()
        self.assertStatus(resp, 200)
        return dict(line.split("=", 1) for line in resp.body.decode().splitlines())

    def assertRefused(self, srv, source, data):
        """The server closes the connection without answering."""
        with h.Conn(srv.port, source=source) as c:
            c.try_send(data)
            self.assertEqual(c.read_until_closed(), b"")


@unittest.skipUnless(can_bind(PROXY), "127.0.0.2 is not a local address here")
@h.torus_only("--trusted-proxy")
class TrustedProxy(ProxyCase):
    FORWARDED = [("X-Forwarded-For", "203.0.113.50, 198.51.100.9, 127.0.0.9"),
                 ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "shop.example")]

    def test_trusted_peer_sets_the_client(self):
        log = os.path.join(self.workdir, "access-trusted.log")
        srv = self.start_server(trusted_proxy="127.0.0.0/30", access_log=log)
        v = self.ask(srv, PROXY, self.FORWARDED)
        # 127.0.0.9 is not in 127.0.0.0/30: it is the right-most untrusted hop.
        self.assertEqual(v["REMOTE_ADDR"], "127.0.0.9")
        srv2 = self.start_server(trusted_proxy="127.0.0.0/8", access_log=log + "2")
        v = self.ask(srv2, PROXY, self.FORWARDED)
        self.assertEqual(v["REMOTE_ADDR"], "198.51.100.9")
        self.assertEqual(v["REMOTE_PORT"], "")
        self.assertEqual(v["HTTPS"], "on")
        self.assertEqual(v["REQUEST_SCHEME"], "https")
        self.assertEqual(v["SERVER_NAME"], "shop.example")
        self.assertEqual(v["SERVER_PORT"], "443")
        self.assertEqual(v["HTTP_X_FORWARDED_FOR"], "203.0.113.50, 198.51.100.9, 127.0.0.9")
        # The access log names the client too.
        deadline = time.monotonic() + 5 * h.SLOW
        text = ""
        while time.monotonic() < deadline and "server.php" not in text:
            time.sleep(0.05)
            with open(log + "2", errors="replace") as f:
                text = f.read()
        self.assertTrue(text.startswith("198.51.100.9 "), text)

    def test_forwarded_header(self):
        srv = self.start_server(trusted_proxy="127.0.0.2")
        v = self.ask(srv, PROXY, [("Forwarded", 'for="[2001:db8::7]:4711";proto=https;'
                                                'host="shop.example:8443"'),
                                  ("X-Forwarded-For", "192.0.2.1")])
        self.assertEqual(v["REMOTE_ADDR"], "2001:db8::7")
        self.assertEqual(v["REMOTE_PORT"], "4711")
        self.assertEqual(v["HTTPS"], "on")
        self.assertEqual(v["SERVER_NAME"], "shop.example")
        self.assertEqual(v["SERVER_PORT"], "8443")

    def test_untrusted_peer_changes_nothing(self):
        srv = self.start_server(trusted_proxy="127.0.0.2")
        v = self.ask(srv, OTHER, self.FORWARDED + [("X-Forwarded-Port", "8443")])
        self.assertEqual(v["REMOTE_ADDR"], "127.0.0.1")
        self.assertNotEqual(v["REMOTE_PORT"], "")
        self.assertEqual(v["HTTPS"], "(unset)")
        self.assertEqual(v["REQUEST_SCHEME"], "http")
        self.assertEqual(v["SERVER_NAME"], "localhost")
        self.assertEqual(v["SERVER_PORT"], str(srv.port))
        self.assertEqual(v["HTTP_X_FORWARDED_FOR"], "203.0.113.50, 198.51.100.9, 127.0.0.9")

    def test_no_trusted_proxy_by_default(self):
        srv = self.start_server()
        v = self.ask(srv, PROXY, self.FORWARDED)
        self.assertEqual(v["REMOTE_ADDR"], PROXY)
        self.assertEqual(v["HTTPS"], "(unset)")

    def test_bad_ranges_are_refused(self):
        for value in ("10.0.0.0/33", "nowhere", "::/200"):
            with self.subTest(value=value):
                srv = h.Server(self.root, self.workdir, trusted_proxy=value)
                with self.assertRaises(AssertionError) as cm:
                    srv.start()
                self.assertIn("--trusted-proxy", str(cm.exception))


def proxy_v2(src, sport, dst, dport):
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body))
            + body)


@unittest.skipUnless(can_bind(PROXY), "127.0.0.2 is not a local address here")
@h.torus_only("--proxy-protocol")
class ProxyProtocol(ProxyCase):
    server_options = {"trusted_proxy": "127.0.0.2", "proxy_protocol": True}

    def test_v1_header_from_trusted_peer(self):
        v = self.ask(self.server, PROXY,
                     preface=b"PROXY TCP4 203.0.113.7 127.0.0.1 4242 443\r\n")
        self.assertEqual(v["REMOTE_ADDR"], "203.0.113.7")
        self.assertEqual(v["REMOTE_PORT"], "4242")
        self.assertEqual(v["SERVER_PORT"], "443")

    def test_v2_header_from_trusted_peer_split_in_pieces(self):
        data = proxy_v2("198.51.100.20", 5555, "127.0.0.1", 80) + h.get("/server.php")
        with h.Conn(self.server.port, source=PROXY) as c:
            for i in range(0, len(data), 7):
                c.send(data[i:i + 7])
                time.sleep(0.005)
            resp, _ = c.read_final_response()
        self.assertIn(b"REMOTE_ADDR=198.51.100.20\n", resp.body)
        self.assertIn(b"REMOTE_PORT=5555\n", resp.body)

    def test_local_command_keeps_the_peer(self):
        local = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
        v = self.ask(self.server, PROXY, preface=local)
        self.assertEqual(v["REMOTE_ADDR"], PROXY)

    def test_trusted_peer_without_header_is_closed(self):
        self.assertRefused(self.server, PROXY, h.get("/server.php"))
        self.assertRefused(self.server, PROXY, b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n")

    def test_untrusted_peer_is_closed(self):
        self.assertRefused(self.server, OTHER,
                           b"PROXY TCP4 203.0.113.7 127.0.0.1 4242 443\r\n" + h.get("/server.php"))

    def test_needs_trusted_proxy(self):
        srv = h.Server(self.root, self.workdir, proxy_protocol=True)
        with self.assertRaises(AssertionError) as cm:
            srv.start()
        self.assertIn("--proxy-protocol", str(cm.exception))


@unittest.skipUnless(can_bind(PROXY) and shutil.which("openssl"), "needs 127.0.0.2 and openssl")
@h.torus_only("--proxy-protocol on a TLS listener")
class ProxyProtocolTls(ProxyCase):
    """The PROXY header comes before the TLS handshake."""

    def test_header_then_handshake(self):
        key, crt = (os.path.join(self.workdir, n) for n in ("proxy.key", "proxy.pem"))
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", crt,
                        "-days", "1", "-subj", "/CN=localhost"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        tls_port = h.free_port()
        srv = self.start_server(tls_listen="127.0.0.1:%d" % tls_port, tls_cert=crt, tls_key=key,
                                trusted_proxy="127.0.0.2", proxy_protocol=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with h.Conn(tls_port, source=PROXY) as c:
            c.send(b"PROXY TCP4 203.0.113.9 127.0.0.1 40000 443\r\n")
            c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
            c.send(h.get("/server.php"))
            resp, _ = c.read_final_response()
        self.assertStatus(resp, 200)
        self.assertIn(b"REMOTE_ADDR=203.0.113.9\n", resp.body)
        self.assertIn(b"HTTPS=on\n", resp.body)
        # Without the header, the handshake itself is refused.
        with h.Conn(tls_port, source=PROXY) as c:
            with self.assertRaises((ssl.SSLError, OSError)):
                c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        self.assertTrue(srv.alive())


if __name__ == "__main__":
    h.main()
