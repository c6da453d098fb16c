"""The HTTP proxy's absolute-form forwarding, end to end against origins on loopback: keep-alive
and pipelining, per-request decisions, the Host rule, the regenerated head, bodies both ways,
interim responses, HEAD/204/304, WebSocket upgrades, and the errors of dialing (508, 502, 504)."""
import base64
import hashlib
import os
import socket
import threading
import time

import harness
import test_http_common as common
from test_http_common import conf, get
from test_support_servers import ws_client_frame

servers = harness.servers


class ForwardTest(common.HttpCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.p = self.proxy(conf())
        self.base = self.o.url

    def test_curl_keeps_both_connections_alive_across_urls(self):
        urls = [self.base + "/small", self.base + "/echo", self.base + "/chunked?n=2&size=10",
                self.base + "/close-delimited?bytes=300", self.base + "/"]
        args = ["-x", self.p.url, "-w", "%{http_code}:%{num_connects} "]
        for u in urls:
            args += [u, "-o", "/dev/null"]
        res = self.curl(*args)
        self.assertEqual(res.returncode, 0, res.stderr)
        # one connection to the proxy for all five transfers
        self.assertEqual(res.stdout.decode().split(), ["200:1", "200:0", "200:0", "200:0", "200:0"])
        reqs = self.o.requests()
        self.assertEqual(len(reqs), 5)
        # the origin connection is reused until the close-delimited response ends it
        self.assertEqual(len({r["conn"] for r in reqs[:4]}), 1, reqs)
        self.assertNotEqual(reqs[4]["conn"], reqs[3]["conn"])
        self.assertEqual([r["seq"] for r in reqs], [1, 2, 3, 4, 1])

    def test_pipelined_requests_are_answered_in_order(self):
        c = self.client(self.p)
        c.send(get(self.base + "/small") + get(self.base + "/chunked?n=3&size=10")
               + get(self.base + "/close-delimited?bytes=100&connection-header=0")
               + get(self.base + "/status?code=204") + get(self.base + "/"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, servers.pattern(1024)))
        r = c.read_response()
        self.assertEqual((r.status, r.body, r.chunked), (200, servers.pattern(30), True))
        r = c.read_response()
        # close-delimited at the origin, chunked for an HTTP/1.1 client: the connection lives
        self.assertEqual((r.status, r.body, r.chunked), (200, servers.pattern(100), True))
        self.assertIsNone(r.get("Connection"))
        self.assertEqual(c.read_response().status, 204)
        self.assertEqual(c.read_response().body, b"origin\n")
        self.assertEqual(c.request(get(self.base + "/small")).status, 200)
        self.assertEqual(len(self.o.requests()), 6)

    def test_pipelined_denied_request_after_an_allowed_one_is_blocked(self):
        c = self.client(self.p)
        c.send(get(self.base + "/echo") + get("http://denied.example/secret")
               + get(self.base + "/small"))
        self.assertEqual(c.read_response().status, 200)
        r = c.read_response()
        self.assertBlocked(r, "not_allowed", "blocked-by-allowlist", "http_request_denied",
                           "denied.example", 80)
        # a block without a request body keeps the connection
        self.assertIsNone(r.get("Connection"))
        self.assertEqual(c.read_response().body, servers.pattern(1024))
        self.assertEqual([e["target"] for e in self.o.requests()], ["/echo", "/small"])
        audit = self.p.wait_audit(1)
        self.assertEqual(len(audit), 1, audit)
        self.assertAudit(audit[0], "denied.example", 80, "not_allowed")

    def test_responses_of_our_own_to_head_have_no_body(self):
        refusing = self.loopback(common.Refusing)
        c = self.client(self.p)
        c.send(get("http://denied.example/", method="HEAD")
               + get("http://127.0.0.1:%d/" % refusing.port, method="HEAD")
               + get(self.base + "/"))
        r = c.read_response(method="HEAD")
        self.assertEqual((r.status, r.get("x-proxy-error")), (403, "blocked-by-allowlist"))
        r = c.read_response(method="HEAD")
        self.assertFailure(r, 502, "connection_refused")
        # had a body followed either head, it would be read here as the next response
        self.assertEqual(c.read_response().body, b"origin\n")

    def test_http10_client_gets_our_responses_with_close(self):
        c = self.client(self.p)
        r = c.request(get("http://denied.example/", version="1.0",
                          extra=b"Connection: keep-alive\r\n"))
        self.assertEqual(r.status, 403)
        self.assertEqual(r.get("Connection"), "close")
        self.assertTrue(c.is_closed(2))

    def test_denied_request_with_body_is_blocked_and_closed(self):
        c = self.client(self.p)
        c.send(get("http://denied.example/", method="POST", extra=b"Content-Length: 5\r\n")
               + b"hello" + get(self.base + "/"))
        r = c.read_response()
        self.assertEqual(r.status, 403)
        self.assertEqual(r.get("Connection"), "close")
        self.assertTrue(c.is_closed(2))
        self.assertEqual(self.o.requests(), [])
        self.assertAudit(self.p.wait_audit(1)[0], "denied.example", 80, "not_allowed",
                         method="POST")

    def test_refused_upload_can_still_be_sent_whole_after_the_response(self):
        # The proxy answers at the head and shuts its side, but keeps reading (and dropping) the
        # body: a client that writes its whole body before reading must not meet a reset.
        body = b"x" * (4 << 20)
        c = self.client(self.p)
        c.send(get("http://denied.example/up", method="POST",
                   extra=b"Content-Length: %d\r\n" % len(body)))
        r = c.read_response(method="POST")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.get("Connection"), "close")
        self.assertTrue(c.is_closed(2))
        c.send(body)  # raises BrokenPipeError / ConnectionResetError if the proxy closed
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.sock.recv(1), b"")
        self.assertEqual(self.o.requests(), [])

    def test_lingering_after_a_refusal_ends_when_the_client_goes_quiet(self):
        # A client that never finishes its refused body does not hold the connection: after 5 s
        # without a byte the proxy closes for good, and later bytes meet a reset.
        c = self.client(self.p)
        c.send(get("http://denied.example/up", method="POST", extra=b"Content-Length: 1000\r\n")
               + b"x" * 10)
        self.assertEqual(c.read_response(method="POST").status, 403)
        self.assertTrue(c.is_closed(2))
        time.sleep(6.5)
        with self.assertRaises((ConnectionResetError, BrokenPipeError)):
            for _ in range(50):
                c.send(b"y" * 1000)
                c.sock.settimeout(0.1)
                try:
                    c.sock.recv(1)
                except (TimeoutError, socket.timeout):
                    pass

    def test_denylist_block(self):
        p = self.proxy(conf(deny=["127.0.0.1"]), name="deny")
        c = self.client(p)
        r = c.request(get(self.base + "/"))
        body = self.assertBlocked(r, "denied", "blocked-by-denylist", "http_request_denied",
                                  "127.0.0.1", self.o.port)
        self.assertEqual(body["source"], "baseline_policy")
        self.assertIn("details=", r.get("Proxy-Status"))
        self.assertAudit(p.wait_audit(1)[0], "127.0.0.1", self.o.port, "denied")
        self.assertEqual(self.o.requests(), [])

    def test_each_block_is_one_audit_line_in_the_audit_log_file(self):
        path = os.path.join(self.tmp, "audit.jsonl")
        p = self.proxy(conf(extra='audit_log = "%s"\n' % path), name="auditfile")
        c = self.client(p)
        for host in ("a.example", "b.example", "a.example"):
            self.assertEqual(c.request(get("http://%s/" % host)).status, 403)
        with open(path) as f:
            records = [common.json.loads(line) for line in f]
        self.assertEqual([r["host"] for r in records], ["a.example", "b.example", "a.example"])
        for r in records:
            self.assertAudit(r, r["host"], 80, "not_allowed")
        self.assertEqual(p.audit(), [], "audit_log set: no records on stderr")

    def test_request_head_is_regenerated(self):
        port = self.o.port
        c = self.client(self.p)
        r = c.request(("GET http://127.0.0.1:%d/echo?q=1&r=%%20 HTTP/1.1\r\n"
                       "Host: 127.0.0.1:%d\r\n"
                       "Connection: keep-alive, X-Private\r\n"
                       "X-Private: secret\r\n"
                       "Keep-Alive: timeout=5\r\n"
                       "Proxy-Connection: keep-alive\r\n"
                       "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                       "TE: trailers\r\n"
                       "Trailer: X-T\r\n"
                       "Upgrade: h2c\r\n"
                       "X-End: 1\r\n"
                       "Accept: */*\r\n\r\n" % (port, port)).encode())
        self.assertEqual(r.status, 200)
        entry = self.o.requests()[0]
        self.assertEqual(entry["head"], "GET /echo?q=1&r=%%20 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         "X-End: 1\r\nAccept: */*\r\n\r\n" % port)

    def test_host_is_generated_from_the_normalised_target(self):
        port = self.o.port
        for target, host in (("http://LocalHost:%d/" % port, "localhost:%d" % port),
                             ("http://localhost.:%d/" % port, "LOCALHOST:%d" % port),
                             ("http://localhost:%d/" % port, "localhost.:%d" % port)):
            with self.subTest(target=target, host=host):
                c = common.Client(self.p.http_port)
                self.addCleanup(c.close)
                r = c.request(get(target, host=host))
                self.assertEqual(r.status, 200, r)
        hosts = [dict(e["headers"])["Host"] for e in self.o.requests()]
        self.assertEqual(hosts, ["localhost:%d" % port] * 3)

    def test_host_mismatch_is_exactly_400(self):
        p = self.proxy(conf(deny=["denied.example"]), name="mismatch")
        port = self.o.port
        cases = [
            ("http://127.0.0.1:%d/" % port, "localhost:%d" % port),  # both allowed
            ("http://127.0.0.1:%d/" % port, "127.0.0.1"),  # no port: only the default
            ("http://127.0.0.1:%d/" % port, "127.0.0.1:80"),
            ("http://127.0.0.1/", "127.0.0.1:%d" % port),
            ("http://127.0.0.1:%d/" % port, "127.0.0.2:%d" % port),
            ("http://other.example/", "127.0.0.1:%d" % port),  # target not allowed
            ("http://127.0.0.1:%d/" % port, "other.example"),  # Host not allowed
            ("http://denied.example/", "127.0.0.1:%d" % port),  # target denied
            ("http://127.0.0.1:%d/" % port, "denied.example"),
            ("http://127.0.0.1:%d/" % port, ""),
            ("http://localhost:%d/" % port, "xn--a.example:%d" % port),  # not valid IDNA
            ("http://127.0.0.1:%d/" % port, "[::1]:%d" % port),
        ]
        for target, host in cases:
            with self.subTest(target=target, host=host):
                c = common.Client(p.http_port)
                self.addCleanup(c.close)
                r = c.request(get(target, host=host) + get(self.base + "/"))
                self.assertFailure(r, 400, "http_request_error")
                self.assertEqual(r.get("Connection"), "close")
                self.assertTrue(c.is_closed(2))
        self.assertEqual(self.o.requests(), [])
        self.assertEqual(p.audit(), [])

    def test_host_without_port_matches_the_default_port(self):
        for data in (get("http://127.0.0.1/", host="127.0.0.1"),
                     get("http://127.0.0.1:80/", host="127.0.0.1"),
                     get("http://127.0.0.1/", host="127.0.0.1:80"),
                     b"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"):
            with self.subTest(data=data):
                c = common.Client(self.p.http_port)
                self.addCleanup(c.close)
                method = "CONNECT" if data.startswith(b"CONNECT") else "GET"
                r = c.request(data, method=method)
                # dialled (nothing listens there, or something does), never refused as a mismatch
                self.assertNotEqual(r.status, 400, r)

    def test_idna_host_matches_its_a_label_form(self):
        dns = self.dns(records=[("xn--bcher-kva.example", "A", "127.0.0.1")])
        p = self.proxy(conf(allow=["xn--bcher-kva.example"],
                            extra='allow_local_binding = true\ndns_servers = ["%s"]\n'
                            % dns.address), name="idna")
        port = self.o.port
        c = self.client(p)
        r = c.request(get("http://XN--BCHER-KVA.example:%d/echo" % port,
                          host="xn--bcher-kva.EXAMPLE.:%d" % port))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(dict(self.o.requests()[0]["headers"])["Host"],
                         "xn--bcher-kva.example:%d" % port)

    def test_content_length_request_body(self):
        body = os.urandom(3 << 20)
        c = self.client(self.p)
        c.send(get(self.base + "/echo", method="PUT",
                   extra=b"Content-Length: %d\r\n" % len(body)))
        c.send(body)
        r = c.read_response()
        echo = r.json()
        self.assertEqual((echo["body_length"], echo["body_sha256"], echo["chunked"]),
                         (len(body), hashlib.sha256(body).hexdigest(), False))
        self.assertEqual(dict(echo["headers"])["Content-Length"], str(len(body)))
        self.assertEqual(c.request(get(self.base + "/")).status, 200)

    def test_chunked_request_body_is_reframed(self):
        parts = [os.urandom(n) for n in (1, 5000, 70000, 3)]
        wire = b"".join(b"%x;ext=%d\r\n%s\r\n" % (len(p), i, p) for i, p in enumerate(parts))
        wire += b"0\r\nX-Trailer: dropped\r\n\r\n"
        c = self.client(self.p)
        c.send(get(self.base + "/echo", method="POST", extra=b"Transfer-Encoding: chunked\r\n"))
        for i in range(0, len(wire), 999):  # in pieces that split sizes and data
            c.send(wire[i:i + 999])
        echo = c.read_response().json()
        whole = b"".join(parts)
        self.assertEqual((echo["body_length"], echo["body_sha256"], echo["chunked"]),
                         (len(whole), hashlib.sha256(whole).hexdigest(), True))
        head = self.o.requests()[0]["head"]
        self.assertIn("Transfer-Encoding: chunked\r\n", head)
        self.assertNotIn("ext=", head)
        self.assertEqual(c.request(get(self.base + "/")).status, 200)

    def test_bodies_with_curl(self):
        data = os.path.join(self.tmp, "upload")
        blob = os.urandom(1 << 20)
        with open(data, "wb") as f:
            f.write(blob)
        res = self.curl("-x", self.p.url, "--data-binary", "@" + data, self.base + "/echo")
        self.assertEqual(res.returncode, 0, res.stderr)
        echo = common.json.loads(res.stdout)
        self.assertEqual(echo["body_sha256"], hashlib.sha256(blob).hexdigest())
        res = self.curl("-x", self.p.url, "-H", "Transfer-Encoding: chunked", "--data-binary",
                        "@" + data, self.base + "/echo")
        echo = common.json.loads(res.stdout)
        self.assertEqual((echo["body_sha256"], echo["chunked"]),
                         (hashlib.sha256(blob).hexdigest(), True))
        res = self.curl("-x", self.p.url, self.base + "/big?bytes=%d" % (5 << 20))
        self.assertEqual(hashlib.sha256(res.stdout).hexdigest(), servers.pattern_sha256(5 << 20))

    def test_chunked_response_with_trailers(self):
        c = self.client(self.p)
        r = c.request(get(self.base + "/chunked?n=4&size=3000&trailers=1"))
        self.assertTrue(r.chunked)
        self.assertEqual(r.body, servers.pattern(12000))
        self.assertEqual(dict(r.trailers), {"X-Checksum": hashlib.sha256(r.body).hexdigest(),
                                            "X-Trailer-Test": "yes"})
        # the Trailer field is hop-by-hop and dropped; the trailers themselves arrive
        self.assertIsNone(r.get("Trailer"))
        self.assertEqual(c.request(get(self.base + "/")).status, 200)

    def test_http10_client_gets_close_delimited_bodies(self):
        # (the large one goes past the first read: the rest moves by splice, up to the EOF)
        for path in ("/chunked?n=3&size=7", "/close-delimited?bytes=50",
                     "/close-delimited?bytes=%d" % (3 << 20)):
            with self.subTest(path=path):
                c = common.Client(self.p.http_port)
                self.addCleanup(c.close)
                r = c.request(get(self.base + path, version="1.0"))
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.get("Transfer-Encoding"))
                self.assertIsNone(r.get("Content-Length"))
                self.assertTrue(c.eof, "the body ended with the close")
                n = int(path.rsplit("=", 1)[1]) if "bytes" in path else 21
                self.assertEqual(r.body, servers.pattern(n) if "bytes" in path else r.body)
                self.assertEqual(len(r.body), n)

    def test_http10_keep_alive(self):
        c = self.client(self.p)
        r = c.request(get(self.base + "/small", version="1.0", extra=b"Connection: keep-alive\r\n"))
        self.assertEqual((r.status, r.get("Connection")), (200, "keep-alive"))
        r = c.request(get(self.base + "/", version="1.0"))
        self.assertEqual(r.status, 200)
        self.assertTrue(c.is_closed(2), "HTTP/1.0 without keep-alive closes")

    def test_expect_100_continue_is_relayed_before_the_body(self):
        c = self.client(self.p)
        body = os.urandom(100000)
        c.send(get(self.base + "/expect", method="POST",
                   extra=b"Expect: 100-continue\r\nContent-Length: %d\r\n" % len(body)))
        interim = c.read_response(interim=True)
        self.assertEqual(interim.status, 100)
        c.send(body)
        r = c.read_response()
        self.assertEqual(r.json(), {"expect": "100-continue", "body_length": len(body),
                                    "body_sha256": hashlib.sha256(body).hexdigest()})
        self.assertEqual(c.request(get(self.base + "/")).status, 200)

    def test_expect_refused_by_the_origin(self):
        c = self.client(self.p)
        c.send(get(self.base + "/early-417", method="POST",
                   extra=b"Expect: 100-continue\r\nContent-Length: 10\r\n"))
        r = c.read_response()
        self.assertEqual(r.status, 417)
        # the body was never sent: the connection cannot carry another request
        self.assertEqual(r.get("Connection"), "close")
        self.assertTrue(c.is_closed(2))

    def test_expect_with_curl(self):
        blob = os.urandom(2 << 20)
        path = os.path.join(self.tmp, "blob")
        with open(path, "wb") as f:
            f.write(blob)
        res = self.curl("-x", self.p.url, "-H", "Expect: 100-continue", "--expect100-timeout",
                        "10", "--data-binary", "@" + path, self.base + "/expect")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(common.json.loads(res.stdout)["body_sha256"],
                         hashlib.sha256(blob).hexdigest())

    def test_interim_responses(self):
        c = self.client(self.p)
        c.send(get(self.base + "/status?code=103"))
        r = c.read_response(interim=True)
        self.assertEqual(r.status, 103)
        self.assertEqual(c.read_response().body, b"final\n")
        # an HTTP/1.0 client never sees a 1xx
        c2 = self.client(self.p)
        c2.send(get(self.base + "/status?code=103", version="1.0"))
        r = c2.read_head()
        self.assertEqual(r.status, 200)

    def test_head_204_304_have_no_body(self):
        c = self.client(self.p)
        c.send(get(self.base + "/small", method="HEAD") + get(self.base + "/status?code=204")
               + get(self.base + "/status?code=304") + get(self.base + "/big?bytes=99", method="HEAD")
               + get(self.base + "/chunked?n=2", method="HEAD") + get(self.base + "/"))
        r = c.read_response(method="HEAD")
        self.assertEqual((r.status, r.get("Content-Length")), (200, "1024"))
        r = c.read_response()
        self.assertEqual((r.status, r.get("Content-Length"), r.get("Transfer-Encoding")),
                         (204, None, None))
        r = c.read_response()
        self.assertEqual((r.status, r.get("Transfer-Encoding")), (304, None))
        r = c.read_response(method="HEAD")
        self.assertEqual(r.get("Content-Length"), "99")
        r = c.read_response(method="HEAD")
        self.assertEqual(r.status, 200)
        # whatever framing fields a HEAD response carries, no body follows: the next response is
        # the next request's
        r = c.read_response()
        self.assertEqual(r.body, b"origin\n")

    def ws_handshake(self, p):
        """Offers a WebSocket upgrade to the origin's /ws; returns the response and the key."""
        c = self.client(p)
        key = base64.b64encode(os.urandom(16)).decode()
        r = c.request(("GET ws://127.0.0.1:%d/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n\r\n"
                       % (self.o.port, self.o.port, key)).encode())
        return c, r, key

    def test_websocket_upgrade_becomes_a_tunnel(self):
        c, r, key = self.ws_handshake(self.p)
        self.assertEqual(r.status, 101, r)
        self.assertEqual(r.get("Upgrade"), "websocket")
        accept = base64.b64encode(hashlib.sha1(key.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                  .digest()).decode()
        self.assertEqual(r.get("Sec-WebSocket-Accept"), accept)
        for payload in (b"hello", os.urandom(300), os.urandom(70000)):
            c.send(ws_frame(0x2, payload))
            self.assertEqual(ws_read(c), (0x2, payload))
        c.send(ws_frame(0x8, b"\x03\xe8"))
        self.assertEqual(ws_read(c), (0x8, b"\x03\xe8"))
        self.assertTrue(c.is_closed(3))

    def test_websocket_upgrade_refused_in_limited_mode(self):
        p = self.proxy(conf(extra='mode = "limited"\n'), name="limited")
        _, r, _ = self.ws_handshake(p)
        # the offer is not passed on, so the origin refuses the handshake
        self.assertEqual(r.status, 400, r)
        self.assertNotIn("Upgrade", self.o.requests()[0]["head"])

    def test_request_to_the_proxy_itself_is_508(self):
        p = self.proxy(conf(extra="allow_local_binding = true\n"), name="loop")
        for port in (p.http_port, p.socks_port):
            for host in ("127.0.0.1", "localhost"):
                with self.subTest(port=port, host=host):
                    c = common.Client(p.http_port)
                    self.addCleanup(c.close)
                    r = c.request(get("http://%s:%d/" % (host, port)))
                    self.assertFailure(r, 508, "proxy_loop_detected")
        c = self.client(p)
        r = c.request(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n"
                      % (p.http_port, p.http_port), method="CONNECT")
        self.assertFailure(r, 508, "proxy_loop_detected")

    def test_refused_origin_is_502(self):
        refusing = self.loopback(common.Refusing)
        c = self.client(self.p)
        r = c.request(get("http://127.0.0.1:%d/" % refusing.port))
        self.assertFailure(r, 502, "connection_refused")
        self.assertIn("127.0.0.1:%d" % refusing.port, r.body.decode())

    def test_dial_timeout_is_504(self):
        hole = self.loopback(common.Blackhole)
        p = self.proxy(conf(extra="connect_timeout_s = 1\n"), name="timeout")
        c = self.client(p)
        start = time.monotonic()
        r = c.request(get("http://127.0.0.1:%d/" % hole.port), timeout=8)
        self.assertFailure(r, 504, "connection_timeout")
        self.assertLess(time.monotonic() - start, 6)

    def test_pipelined_behind_a_large_response(self):
        c = self.client(self.p)
        c.send(get(self.base + "/big?bytes=%d" % (3 << 20)) + get(self.base + "/small")
               + get(self.base + "/chunked?n=100&size=20000"))
        self.assertEqual(c.read_response().body, servers.pattern(3 << 20))
        self.assertEqual(c.read_response().body, servers.pattern(1024))
        self.assertEqual(c.read_response().body, servers.pattern(2000000))

    def test_half_closed_client_gets_its_response(self):
        c = self.client(self.p)
        c.send(get(self.base + "/small") + get(self.base + "/echo", method="POST",
                                               extra=b"Content-Length: 3\r\n") + b"abc")
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_response().body, servers.pattern(1024))
        self.assertEqual(c.read_response().json()["body_length"], 3)
        self.assertTrue(c.is_closed(3))

    def test_origin_closing_an_idle_connection(self):
        o = self.origin(extra_args=["--idle-timeout", "0.2"], name="idle")
        c = self.client(self.p)
        for _ in range(3):
            self.assertEqual(c.request(get(o.url + "/echo")).status, 200)
            time.sleep(0.4)
        self.assertEqual(len({e["conn"] for e in o.requests()}), 3)

    def test_http10_request_with_a_body(self):
        c = self.client(self.p)
        r = c.request(get(self.base + "/echo", method="POST", version="1.0",
                          extra=b"Content-Length: 4\r\n") + b"abcd")
        echo = r.json()
        self.assertEqual((echo["version"], echo["body_length"]), ("HTTP/1.1", 4))
        self.assertTrue(c.is_closed(2))

    def test_clients_that_go_away(self):
        """A client may vanish at any stage; the proxy cleans up (the ASan tree checks for
        leaks and use-after-free at exit) and serves the next one."""
        hole = self.loopback(common.Blackhole)
        dns = self.dns(blackhole=["slow.example"])
        p = self.proxy(conf(allow=["127.0.0.1", "slow.example"],
                            extra='connect_timeout_s = 1\ndns_servers = ["%s"]\n' % dns.address),
                       name="vanish", args=["--grace", "1"])
        stages = [
            get("http://slow.example/"),  # deciding (DNS)
            get("http://127.0.0.1:%d/" % hole.port),  # dialling
            get(self.base + "/hang"),  # waiting for the response
            get(self.base + "/big?bytes=%d" % (64 << 20)),  # streaming the response
            get(self.base + "/echo", method="PUT", extra=b"Content-Length: 100000\r\n") + b"x",
            b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % ((self.o.authority.encode(),) * 2),
            b"GET http://127.0.0.1",  # mid-head
        ]
        for data in stages:
            c = common.Client(p.http_port)
            c.send(data)
            time.sleep(0.1)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            c.close()  # with a reset
        for data in stages:
            c = common.Client(p.http_port)
            c.send(data)
            time.sleep(0.1)
            c.close()
        time.sleep(1.5)
        self.assertEqual(self.client(p).request(get(self.base + "/")).status, 200)
        # (the exchange with /hang whose client went away is noticed only at idle_timeout_s,
        # like any client that half-closed while waiting: the stop cuts it after --grace)

    def test_early_response_to_a_request_with_a_body(self):
        """An origin answers before it has read the request body. The body bytes are the
        client's and never a next request: the connection either ends with this response or
        (when the whole body was written out) carries the client's real next request."""
        early = self.loopback(EarlyResponder)
        c = self.client(self.p)
        inner = get(self.base + "/request-count?smuggled")
        body = inner + b"p" * (60000 - len(inner))
        c.send(get("http://127.0.0.1:%d/upload" % early.port, method="POST",
                   extra=b"Content-Length: %d\r\n" % len(body)) + body)
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"ok"))
        if r.get("Connection") == "close":
            self.assertTrue(c.is_closed(3))
        else:
            self.assertEqual(c.request(get(self.base + "/small")).body, servers.pattern(1024))
        self.assertEqual([e["target"] for e in self.o.requests()],
                         [] if r.get("Connection") else ["/small"])

    def test_origin_answering_mid_upload_is_heard_at_once(self):
        """An origin that refuses an upload after reading part of it, and then reads no more.
        The body is moving by splice by then; its answer must still reach the client while
        the rest of the body is unsent, not wait behind it until a timeout."""
        origin = self.loopback(PartialReader)
        c = self.client(self.p)
        size = 256 << 20
        c.send(get("http://127.0.0.1:%d/upload" % origin.port, method="PUT",
                   extra=b"Content-Length: %d\r\n" % size))
        stop = threading.Event()

        def send_body():
            s = c.sock.dup()
            s.settimeout(0.2)
            chunk, sent = b"u" * 65536, 0
            try:
                while sent < size and not stop.is_set():
                    try:
                        sent += s.send(chunk)
                    except (TimeoutError, socket.timeout):
                        pass
            except OSError:
                pass
            finally:
                s.close()

        sender = threading.Thread(target=send_body, daemon=True)
        sender.start()
        try:
            r = c.read_response(method="PUT", timeout=10)
        finally:
            stop.set()
            sender.join(5)
        self.assertEqual((r.status, r.body), (413, b"too big\n"))
        self.assertEqual(r.get("Connection"), "close")
        self.assertEqual(origin.got, PartialReader.take)
        self.assertTrue(c.is_closed(5))

    def test_origin_failure_keeps_the_client_connection(self):
        refusing = self.loopback(common.Refusing)
        c = self.client(self.p)
        c.send(get("http://127.0.0.1:%d/" % refusing.port) + get(self.base + "/small"))
        self.assertEqual(c.read_response().status, 502)
        self.assertEqual(c.read_response().body, servers.pattern(1024))



class EarlyResponder:
    """An origin that answers a request once its head and the first `take` bytes of its body
    are in (none by default), then reads nothing more and keeps the connection: with a small
    receive buffer, the proxy cannot write the rest of the body out."""

    take = 0
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.got = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self.conns.append(conn)
        conn.settimeout(10)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                head += conn.recv(1)  # never more than the head
            while self.got < self.take:
                data = conn.recv(min(65536, self.take - self.got))
                if not data:
                    return
                self.got += len(data)
            conn.sendall(self.answer)
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for conn in self.conns:
            conn.close()
        self.thread.join(2)


class PartialReader(EarlyResponder):
    """Refuses an upload with a 413 after reading its first MiB."""

    take = 1 << 20
    answer = (b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n"
              b"\r\ntoo big\n")


def ws_frame(opcode, payload):
    """A masked (client) WebSocket frame with a fresh mask."""
    return ws_client_frame(opcode, payload, mask=os.urandom(4))


def ws_read(c):
    b = c.read_exact(2)
    n = b[1] & 0x7F
    if n == 126:
        n = int.from_bytes(c.read_exact(2), "big")
    elif n == 127:
        n = int.from_bytes(c.read_exact(8), "big")
    return b[0] & 0x0F, c.read_exact(n)


if __name__ == "__main__":
    harness.main()
