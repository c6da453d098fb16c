"""CONNECT tunnels through the HTTP listener: 200 only once the policy allowed and the dial
succeeded, bytes behind the CONNECT head forwarded, half-close in both directions, ports as the
policy says, blocks and failures as SPEC §7, the idle timeout, and limited mode."""
import socket
import ssl
import time

import harness
import test_http_common as common
from test_http_common import conf, get

servers = harness.servers


def connect_head(authority, host=None, extra=b""):
    return b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (
        authority.encode(), (host or authority).encode(), extra)


class ConnectTest(common.HttpCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.p = self.proxy(conf(allow=["127.0.0.1", "localhost", "::1"]))

    def tunnel(self, authority, p=None):
        c = self.client(p or self.p)
        r = c.request(connect_head(authority), method="CONNECT")
        self.assertEqual(r.status, 200, r)
        # nothing but the status line and the blank line
        self.assertEqual(r.headers, [])
        return c

    def test_http_inside_a_tunnel(self):
        c = self.tunnel(self.o.authority)
        for _ in range(3):
            r = c.request(b"GET /small HTTP/1.1\r\nHost: %s\r\n\r\n" % self.o.authority.encode())
            self.assertEqual(r.body, servers.pattern(1024))
        # one tunnel, one origin connection, origin-form requests as sent
        reqs = self.o.requests()
        self.assertEqual([(e["conn"], e["target"]) for e in reqs], [(reqs[0]["conn"], "/small")] * 3)

    def test_bytes_behind_the_connect_head_are_forwarded(self):
        c = self.client(self.p)
        inner = b"GET /echo HTTP/1.1\r\nHost: %s\r\n\r\n" % self.o.authority.encode()
        c.send(connect_head(self.o.authority) + inner + inner)
        self.assertEqual(c.read_response(method="CONNECT").status, 200)
        self.assertEqual(c.read_response().json()["request"], 1)
        self.assertEqual(c.read_response().json()["request"], 2)

    def test_many_bytes_behind_a_large_connect_head(self):
        # a head larger than one pool buffer, and more data behind it than one buffer holds
        eof = self.loopback(common.EofServer)
        p = self.proxy(conf(extra="max_header_bytes = 1000000\n"), name="big")
        c = self.client(p)
        data = bytes(range(256)) * 600
        c.send(connect_head("127.0.0.1:%d" % eof.port, extra=b"X-Pad: %s\r\n" % (b"p" * 70000))
               + data)
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_response(method="CONNECT").status, 200)
        self.assertEqual(c.wait_closed(10), b"got %d bytes: %s" % (len(data), data[:64]))

    def test_half_close_passes_through(self):
        eof = self.loopback(common.EofServer)
        c = self.tunnel("127.0.0.1:%d" % eof.port)
        c.send(b"first part, ")
        c.send(b"second part")
        c.sock.shutdown(socket.SHUT_WR)
        # the server answers only after our EOF reached it; its close reaches us after the answer
        self.assertEqual(c.wait_closed(5), b"got 23 bytes: first part, second part")

    def test_tls_through_the_tunnel(self):
        certs = self.certs()
        tls = self.origin(tls=certs, name="tls")
        c = self.tunnel("localhost:%d" % tls.port)
        ctx = ssl.create_default_context(cafile=certs["ca"])
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        r = c.request(b"GET /small HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % tls.port)
        self.assertEqual(r.body, servers.pattern(1024))
        self.assertEqual(tls.requests()[0]["sni"], "localhost")

    def test_ipv6_literal(self):
        o6 = self.origin(ipv6=True, name="v6")
        c = self.tunnel("[::1]:%d" % o6.port)
        r = c.request(b"GET /echo HTTP/1.1\r\nHost: [::1]:%d\r\n\r\n" % o6.port)
        self.assertEqual(r.status, 200)
        self.assertTrue(o6.requests()[0]["peer"].startswith("[::1]:"), o6.requests()[0])

    def test_localhost_reaches_either_family(self):
        for bind, other in (("::1", ("127.0.0.1", socket.AF_INET)),
                            ("127.0.0.1", ("::1", socket.AF_INET6))):
            with self.subTest(bind=bind):
                # The origin's port on the other family is held by a socket that does not
                # listen (a connect there is refused), so no other test's server can answer.
                for attempt in range(20):
                    o = self.origin(bind=[bind], name="only%d" % attempt)
                    hold = socket.socket(other[1], socket.SOCK_STREAM)
                    self.addCleanup(hold.close)
                    try:
                        hold.bind((other[0], o.port))
                        break
                    except OSError:
                        continue
                c = self.tunnel("localhost:%d" % o.port)
                r = c.request(b"GET / HTTP/1.1\r\nHost: localhost:%d\r\n\r\n" % o.port)
                self.assertEqual(r.body, b"origin\n")

    def test_ports_are_the_policy_s(self):
        other = self.origin(name="other")
        p = self.proxy(conf(allow=["localhost:%d" % self.o.port]), name="ports")
        self.tunnel("localhost:%d" % self.o.port, p=p)
        c = self.client(p)
        r = c.request(connect_head("localhost:%d" % other.port), method="CONNECT")
        self.assertEqual((r.status, r.get("x-proxy-error")), (403, "blocked-by-allowlist"))

    def test_denied_connect(self):
        c = self.client(self.p)
        r = c.request(connect_head("denied.example:443"))
        self.assertEqual(r.status, 403)
        self.assertEqual(r.get("x-proxy-error"), "blocked-by-allowlist")
        self.assertTrue(r.get("Proxy-Status").startswith(
            "portcullis; error=http_request_denied; details="), r)
        self.assertTrue(r.get("Content-Type").startswith("text/plain"))
        self.assertIn(b"denied.example:443", r.body)
        self.assertIn(b"policy decision", r.body)
        audit = self.p.wait_audit(1)
        self.assertEqual(len(audit), 1)
        self.assertAudit(audit[0], "denied.example", 443, "not_allowed",
                         protocol="https_connect", method=None)
        # the block consumed the whole request: the connection carries the next one
        self.assertEqual(c.request(connect_head(self.o.authority), method="CONNECT").status, 200)

    def test_refused_connect_is_502(self):
        refusing = self.loopback(common.Refusing)
        c = self.client(self.p)
        r = c.request(connect_head("127.0.0.1:%d" % refusing.port))
        self.assertFailure(r, 502, "connection_refused")
        self.assertEqual(r.get("Connection"), "close")
        self.assertTrue(c.is_closed(2))

    def test_no_200_before_the_dial_succeeds(self):
        hole = self.loopback(common.Blackhole)
        p = self.proxy(conf(extra="connect_timeout_s = 1\n"), name="timeout")
        c = self.client(p)
        r = c.request(connect_head("127.0.0.1:%d" % hole.port), timeout=8)
        self.assertFailure(r, 504, "connection_timeout")

    def test_tunnel_idle_timeout(self):
        p = self.proxy(conf(extra="tunnel_idle_timeout_s = 1\n"), name="idle")
        c = self.tunnel(self.o.authority, p=p)
        start = time.monotonic()
        self.assertTrue(c.is_closed(6))
        self.assertGreater(time.monotonic() - start, 0.5)

    def test_limited_mode_needs_interception(self):
        p = self.proxy(conf(extra='mode = "limited"\n'), name="limited")
        c = self.client(p)
        r = c.request(connect_head(self.o.authority))
        self.assertEqual(r.status, 403)
        self.assertEqual(r.get("x-proxy-error"), "blocked-by-mitm-required")
        self.assertTrue(r.get("Proxy-Status").startswith("portcullis; error=http_request_denied"))
        self.assertAudit(p.wait_audit(1)[0], "127.0.0.1", self.o.port, "mitm_required",
                         protocol="https_connect", method=None, mode="limited")
        self.assertEqual(self.o.requests(), [])

    def test_pipelined_request_after_a_denied_connect(self):
        c = self.client(self.p)
        c.send(connect_head("denied.example:443") + get(self.o.url + "/"))
        self.assertEqual(c.read_response().status, 403)
        self.assertEqual(c.read_response().body, b"origin\n")


if __name__ == "__main__":
    harness.main()
