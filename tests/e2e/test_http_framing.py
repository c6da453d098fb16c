"""Strict framing over real sockets: every malformed or ambiguous request is answered 400 (414,
431, 417, 505) and closed, and never reaches the origin; an origin that answers with ambiguous or
malformed framing gets a 502 and cannot desynchronise the client's connection."""
import harness
import test_http_common as common
from test_http_common import conf, get

servers = harness.servers

# (name, request bytes with {U} the target URL and {H} its authority, status)
BAD_REQUESTS = [
    ("two Content-Length", "POST {U} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n"
     "Content-Length: 5\r\n\r\nhello", 400),
    ("Content-Length list", "POST {U} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5, 5\r\n\r\nhello",
     400),
    ("Content-Length sign", "POST {U} HTTP/1.1\r\nHost: {H}\r\nContent-Length: +5\r\n\r\nhello",
     400),
    ("Content-Length overflow", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Content-Length: 99999999999999999999999\r\n\r\nhello", 400),
    ("Content-Length and Transfer-Encoding", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding gzip, chunked", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding chunked, chunked", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding twice", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding xchunked", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    ("Transfer-Encoding identity", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: identity\r\n\r\n", 400),
    ("Transfer-Encoding in HTTP/1.0", "POST {U} HTTP/1.0\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("obs-fold", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\r\n b\r\n\r\n", 400),
    ("obs-fold with a tab", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\r\n\tb\r\n\r\n", 400),
    ("leading whitespace on the first field", "GET {U} HTTP/1.1\r\n Host: {H}\r\n\r\n", 400),
    ("bare LF everywhere", "GET {U} HTTP/1.1\nHost: {H}\n\n", 400),
    ("bare LF in a field", "GET {U} HTTP/1.1\r\nHost: {H}\nX-A: 1\r\n\r\n", 400),
    ("bare CR in a value", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\rb\r\n\r\n", 400),
    ("bare CR ending a line", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\r\r\n\r\n", 400),
    ("NUL in a value", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\0b\r\n\r\n", 400),
    ("NUL in a name", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX\0A: a\r\n\r\n", 400),
    ("control byte in a value", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\x01b\r\n\r\n", 400),
    ("DEL in a value", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A: a\x7fb\r\n\r\n", 400),
    ("space before a colon", "GET {U} HTTP/1.1\r\nHost : {H}\r\n\r\n", 400),
    ("space before the colon of Content-Length", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Content-Length : 5\r\n\r\nhello", 400),
    ("tab before a colon", "GET {U} HTTP/1.1\r\nHost: {H}\r\nX-A\t: 1\r\n\r\n", 400),
    ("no colon", "GET {U} HTTP/1.1\r\nHost: {H}\r\nNoColon\r\n\r\n", 400),
    ("chunk size overflow", "POST {U} HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk size not hex", "POST {U} HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n\r\n"
     "zz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk extension over 4 KiB", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked\r\n\r\n5;e=" + "a" * 4200 + "\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk data without CRLF", "POST {U} HTTP/1.1\r\nHost: {H}\r\nTransfer-Encoding: chunked\r\n"
     "\r\n5\r\nhelloXX0\r\n\r\n", 400),
    ("framing field in a trailer", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", 400),
    ("HTTP/0.9", "GET {U}\r\n\r\n", 400),
    ("HTTP/1.2", "GET {U} HTTP/1.2\r\nHost: {H}\r\n\r\n", 505),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("two spaces in the request line", "GET  {U} HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("missing Host", "GET {U} HTTP/1.1\r\n\r\n", 400),
    ("two Host fields", "GET {U} HTTP/1.1\r\nHost: {H}\r\nHost: {H}\r\n\r\n", 400),
    ("Connection naming Content-Length", "POST {U} HTTP/1.1\r\nHost: {H}\r\n"
     "Connection: Content-Length\r\nContent-Length: 5\r\n\r\nhello", 400),
    ("unknown expectation", "GET {U} HTTP/1.1\r\nHost: {H}\r\nExpect: 200-ok\r\n\r\n", 417),
    ("origin-form to a proxy", "GET / HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("https in absolute-form", "GET https://{H}/ HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("userinfo in the target", "GET http://user@{H}/ HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("fragment in the target", "GET {U}#frag HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("space in the target", "GET {U}/a b HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("CONNECT with a body", "CONNECT {H} HTTP/1.1\r\nHost: {H}\r\nContent-Length: 5\r\n\r\n"
     "hello", 400),
    ("CONNECT in absolute-form", "CONNECT {U} HTTP/1.1\r\nHost: {H}\r\n\r\n", 400),
    ("CONNECT without a port", "CONNECT 127.0.0.1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400),
]

# origin.py's /hostile/NAME responses whose head is refused (502 before any byte is sent on)
HOSTILE_HEADS = ["dup-cl", "cl-list", "cl-negative", "cl-plus", "cl-huge",
                 "cl-space-before-colon", "cl-te", "te-gzip-chunked", "te-chunked-gzip",
                 "te-xchunked", "te-http10", "obs-fold", "bare-lf", "bare-cr", "nul-in-header",
                 "no-colon", "space-in-name", "bad-status", "http09", "huge-header"]
# ... and those whose head is fine but whose chunked body is not: the client gets the head, then
# the connection ends without the last chunk
HOSTILE_BODIES = ["bad-chunk", "chunk-overflow"]


class FramingTest(common.HttpCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.p = self.proxy(conf(extra="max_request_line = 200\nmax_header_bytes = 400\n"
                                 "max_header_fields = 6\n"))
        self.base = self.o.url

    def fill(self, text):
        return text.replace("{U}", self.base + "/echo").replace("{H}", self.o.authority) \
            .encode("latin-1")

    def assertRejected(self, data, status, name=""):
        c = common.Client(self.p.http_port)
        self.addCleanup(c.close)
        # a valid request right behind: it must not be served on this connection
        c.send(data + get(self.base + "/"))
        r = c.read_response()
        self.assertEqual(r.status, status, "%s: %r" % (name, r))
        self.assertEqual(r.get("Connection"), "close", name)
        self.assertTrue(r.get("Proxy-Status").startswith("portcullis; error=http_request_error"))
        self.assertTrue(c.is_closed(2), name)
        return r

    def test_malformed_requests_are_refused_and_closed(self):
        for name, text, status in BAD_REQUESTS:
            with self.subTest(name=name):
                self.assertRejected(self.fill(text), status, name)
        # nothing complete ever reached the origin: a rejected body's head may have gone out,
        # but no request was completed there
        for entry in self.o.requests():
            self.assertIsNotNone(entry["error"], entry)

    def test_hosts_that_cannot_be_normalised(self):
        # SPEC §3: refused with 400, never matched loosely; recorded as a block of the host as
        # written, with the port the target gave
        for i, (data, host, port, protocol) in enumerate((
                (get("http://256.1.1.1/"), "256.1.1.1", 80, "http"),
                (get("http://1.2.3.09:81/"), "1.2.3.09", 81, "http"),
                (get("http://a..b:8080/x"), "a..b", 8080, "http"),
                (b"CONNECT 1.2.3.4.5:443 HTTP/1.1\r\nHost: 1.2.3.4.5:443\r\n\r\n", "1.2.3.4.5", 443,
                 "https_connect"))):
            with self.subTest(host=host):
                self.assertRejected(data, 400)
                record = self.p.wait_audit(i + 1)[-1]
                self.assertAudit(record, host, port, "not_allowed", protocol=protocol,
                                 method="GET" if protocol == "http" else None)
        self.assertEqual(len(self.p.audit()), 4)

    def test_http2_preface_gets_a_clear_error(self):
        r = self.assertRejected(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505)
        self.assertIn(b"HTTP/2", r.body)
        self.assertIn(b"HTTP/1.1", r.body)

    def test_chunked_is_case_insensitive(self):
        c = self.client(self.p)
        r = c.request(get(self.base + "/echo", method="POST",
                          extra=b"Transfer-Encoding: ChUnKeD\r\n") + b"5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(r.json()["body_length"], 5)

    def test_request_line_limit_is_414(self):
        target = self.base + "/echo?"
        line = "GET %s HTTP/1.1" % target
        fits = target + "a" * (200 - len(line))
        c = self.client(self.p)
        self.assertEqual(c.request(get(fits, host=self.o.authority)).status, 200)
        self.assertRejected(get(fits + "a", host=self.o.authority), 414)

    def test_header_limits_are_431(self):
        base = len("Host: %s\r\n" % self.o.authority)
        filler = 400 - base - len("X-Fill: \r\n")
        c = self.client(self.p)
        ok = get(self.base + "/echo", extra=b"X-Fill: %s\r\n" % (b"a" * filler))
        self.assertEqual(c.request(ok).status, 200)
        self.assertRejected(get(self.base + "/echo", extra=b"X-Fill: %s\r\n" % (b"a" * (filler + 1))),
                            431)
        five = b"".join(b"X-%d: 1\r\n" % i for i in range(5))
        self.assertEqual(c.request(get(self.base + "/echo", extra=five)).status, 200)
        self.assertRejected(get(self.base + "/echo", extra=five + b"X-5: 1\r\n"), 431)

    def test_hostile_heads_get_502_and_both_sides_close(self):
        for name in HOSTILE_HEADS:
            with self.subTest(name=name):
                c = common.Client(self.p.http_port)
                self.addCleanup(c.close)
                c.send(get(self.base + "/hostile/" + name) + get(self.base + "/request-count"))
                r = c.read_response()
                # "hello" and the close: no head was ever complete
                incomplete = name == "http09"
                self.assertFailure(r, 502, "http_response_incomplete" if incomplete
                                   else "http_protocol_error")
                self.assertNotIn(b"hello", r.body)
                if incomplete:
                    # the origin merely closed: the client's connection stays in step
                    r = c.read_response()
                    self.assertEqual((r.status, r.json()["requests"]), (200, 1), name)
                else:
                    # ambiguous framing: nothing more is read or sent on this connection
                    self.assertEqual(c.wait_closed(5), b"", name)
        # and a new connection is served as usual
        c = self.client(self.p)
        self.assertEqual(c.request(get(self.base + "/small")).body, servers.pattern(1024))

    def test_hostile_response_after_100_continue(self):
        # an interim response does not commit the client to the origin's final one
        c = self.client(self.p)
        c.send(get(self.base + "/hostile/dup-cl", method="POST",
                   extra=b"Expect: 100-continue\r\nContent-Length: 5\r\n"))
        self.assertEqual(c.read_response(interim=True).status, 100)
        c.send(b"hello")
        self.assertFailure(c.read_response(), 502, "http_protocol_error")
        self.assertEqual(c.wait_closed(5), b"")

    def test_hostile_bodies_end_the_client_connection(self):
        for name in HOSTILE_BODIES:
            with self.subTest(name=name):
                c = common.Client(self.p.http_port)
                self.addCleanup(c.close)
                c.send(get(self.base + "/hostile/" + name) + get(self.base + "/"))
                r = c.read_head()
                self.assertEqual(r.status, 200)
                rest = c.wait_closed(5)
                self.assertNotIn(b"0\r\n\r\n", rest)
                self.assertNotIn(b"origin", rest)

    def test_bytes_after_a_response_are_never_forwarded(self):
        c = self.client(self.p)
        c.send(get(self.base + "/hostile/smuggle") + get(self.base + "/request-count"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, b"hello"))
        r = c.read_response()
        self.assertIsNone(r.get("X-Smuggled"), r)
        # a new origin connection: the one that spoke out of turn is not reused
        self.assertEqual(r.json()["requests"], 1)
        self.assertEqual(len({e["conn"] for e in self.o.requests()}), 2)


if __name__ == "__main__":
    harness.main()
