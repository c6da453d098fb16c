"""The helper servers of tests/support, used directly by real clients (curl, git, ssh, raw
sockets) with no proxy in between: what the proxy tests will rely on must hold here first."""
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import origin as origin_module  # noqa: E402
import servers  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def split_response(data):
    """(status line, [(name, value)], rest) of the first CRLF-framed response head in data."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        raise AssertionError("no complete response head in %r" % data[:200])
    lines = head.split(b"\r\n")
    fields = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields.append((name.decode().lower(), value.strip().decode("latin-1")))
    return lines[0], fields, rest


def get(path, extra=b"", close=True, method=b"GET", version=b"HTTP/1.1"):
    return (b"%s %s %s\r\nHost: origin.test\r\n%s%s\r\n"
            % (method, path.encode(), version, extra, b"Connection: close\r\n" if close else b""))


class ServerTestCase(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="pc-support-")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def start(self, server):
        self.addCleanup(server.stop)
        return server

    def run_cmd(self, args, timeout=60, env=None, check=True, binary=False):
        env = dict(os.environ, **(env or {}))
        res = subprocess.run(args, capture_output=True, timeout=timeout, env=env,
                             text=not binary)
        if check:
            self.assertEqual(res.returncode, 0, "%s: %s" % (args[0], res.stderr))
        return res

    def curl(self, *args, check=True):
        return self.run_cmd(["curl", "-sS", "--max-time", "30"] + list(args), check=check,
                            binary=True)


class OriginTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.o = self.start(servers.Origin(self.tmp))

    def tearDown(self):
        self.o.stop()
        self.assertEqual(self.o.stderr(), "", "the origin hit an internal error")
        super().tearDown()

    def raw(self, data, **kw):
        kw.setdefault("timeout", 10)
        return servers.raw_exchange(self.o.port, data, **kw)

    def test_small_body_and_log(self):
        out = self.curl(self.o.url + "/small").stdout
        self.assertEqual(out, servers.pattern(1024))
        [entry] = self.o.wait_requests(1)
        self.assertEqual(entry["method"], "GET")
        self.assertEqual(entry["target"], "/small")
        self.assertIsNone(entry["error"])
        self.assertTrue(entry["head"].startswith("GET /small HTTP/1.1\r\nHost: %s\r\n"
                                                 % self.o.authority))
        self.assertTrue(self.o.heads()[0].endswith(b"\r\n\r\n"))

    def test_keep_alive_two_urls_in_one_curl(self):
        url = self.o.url + "/request-count"
        out = self.curl("--http1.1", url, url).stdout.decode().splitlines()
        first, second = (json.loads(line) for line in out)
        self.assertEqual(first["connection"], second["connection"])
        self.assertEqual((first["requests"], second["requests"]), (1, 2))
        stats = json.loads(self.curl(self.o.url + "/stats").stdout)
        self.assertEqual(stats["connections"], 2)
        self.assertEqual(stats["requests"], 3)

    def test_pipelined_requests_answered_in_order(self):
        data = self.raw(get("/request-count", close=False) * 2 + get("/request-count"))
        counts = []
        for _ in range(3):
            status, fields, data = split_response(data)
            self.assertEqual(status, b"HTTP/1.1 200 OK")
            n = int(dict(fields)["content-length"])
            counts.append(json.loads(data[:n])["requests"])
            data = data[n:]
        self.assertEqual(counts, [1, 2, 3])
        self.assertEqual(data, b"")

    def test_big_body_streamed(self):
        n = 20 * 1000 * 1000 + 7
        out = self.curl("%s/big?bytes=%d" % (self.o.url, n)).stdout
        self.assertEqual(len(out), n)
        self.assertEqual(hashlib.sha256(out).hexdigest(), servers.pattern_sha256(n))

    def test_echo_reports_headers_in_order_and_body(self):
        body = bytes(range(256))
        path = os.path.join(self.tmp, "body")
        with open(path, "wb") as f:
            f.write(body)
        out = self.curl("-X", "PUT", "-H", "X-Zeta: 1", "-H", "X-Alpha: two",
                        "--data-binary", "@" + path, self.o.url + "/echo?q=1").stdout
        echo = json.loads(out)
        self.assertEqual(echo["method"], "PUT")
        self.assertEqual(echo["target"], "/echo?q=1")
        names = [n for n, _ in echo["headers"]]
        self.assertLess(names.index("X-Zeta"), names.index("X-Alpha"))
        self.assertIn(["X-Alpha", "two"], echo["headers"])
        self.assertEqual(base64.b64decode(echo["body_base64"]), body)
        self.assertEqual(echo["body_sha256"], hashlib.sha256(body).hexdigest())
        self.assertEqual(self.o.wait_requests(1)[0]["body_length"], 256)

    def test_echo_decodes_chunked_request_with_trailers(self):
        req = (b"POST /echo HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\n\r\n")
        _, _, body = split_response(self.raw(req))
        echo = json.loads(body)
        self.assertTrue(echo["chunked"])
        self.assertEqual(base64.b64decode(echo["body_base64"]), b"hello world")
        self.assertEqual(echo["trailers"], [["X-T", "v"]])

    def test_chunked_response_framing_and_trailers(self):
        data = self.raw(get("/chunked?n=3&size=4&trailers=1"))
        status, fields, body = split_response(data)
        self.assertIn(("transfer-encoding", "chunked"), fields)
        self.assertIn(("trailer", "X-Checksum"), fields)
        self.assertNotIn("content-length", dict(fields))
        p = servers.pattern(12)
        expect = b"".join(b"4\r\n" + p[i:i + 4] + b"\r\n" for i in range(0, 12, 4))
        expect += (b"0\r\nX-Checksum: " + hashlib.sha256(p).hexdigest().encode()
                   + b"\r\nX-Trailer-Test: yes\r\n\r\n")
        self.assertEqual(body, expect)
        out = self.curl(self.o.url + "/chunked?n=50&size=1000").stdout
        self.assertEqual(out, servers.pattern(50000))

    def test_close_delimited_response(self):
        status, fields, body = split_response(self.raw(get("/close-delimited?bytes=5000",
                                                           close=False)))
        names = dict(fields)
        self.assertNotIn("content-length", names)
        self.assertNotIn("transfer-encoding", names)
        self.assertEqual(body, servers.pattern(5000))
        self.assertEqual(self.curl(self.o.url + "/close-delimited").stdout, servers.pattern(4096))

    def test_status_codes_framed_correctly(self):
        for code in (204, 304):
            # no body and no Content-Length; the connection stays usable
            data = self.raw(get("/status?code=%d" % code, close=False) + get("/request-count"))
            status, fields, rest = split_response(data)
            self.assertEqual(status, b"HTTP/1.1 %d %s" % (code, origin_module.reason(code).encode()))
            self.assertNotIn("content-length", dict(fields))
            self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest)
        for code in (404, 500, 503):
            status, fields, body = split_response(self.raw(get("/status?code=%d" % code)))
            self.assertEqual(int(status.split()[1]), code)
            self.assertEqual(body, b"status %d\n" % code)
        res = self.curl("-o", "/dev/null", "-w", "%{http_code}", self.o.url + "/status?code=418")
        self.assertEqual(res.stdout, b"418")

    def test_interim_response_before_final(self):
        data = self.raw(get("/status?code=103"))
        self.assertTrue(data.startswith(b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\n"))
        self.assertTrue(data.endswith(b"\r\n\r\nfinal\n"))

    def test_head_has_length_but_no_body(self):
        data = self.raw(get("/small", method=b"HEAD", close=False) + get("/request-count"))
        status, fields, rest = split_response(data)
        self.assertEqual(dict(fields)["content-length"], "1024")
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK\r\n"))

    def test_expect_100_continue(self):
        with socket.create_connection(("127.0.0.1", self.o.port), timeout=10) as s:
            s.sendall(b"POST /expect HTTP/1.1\r\nHost: o\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 5\r\nConnection: close\r\n\r\n")
            interim = servers.recv_until(s, time.monotonic() + 10, b"\r\n\r\n")
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            s.sendall(b"hello")
            _, _, body = split_response(servers.recv_until(s, time.monotonic() + 10))
        self.assertEqual(json.loads(body)["body_length"], 5)
        path = os.path.join(self.tmp, "up")
        with open(path, "wb") as f:
            f.write(b"x" * 100000)
        out = self.curl("-H", "Expect: 100-continue", "--data-binary", "@" + path,
                        self.o.url + "/expect").stdout
        self.assertEqual(json.loads(out), {"expect": "100-continue", "body_length": 100000,
                                           "body_sha256": hashlib.sha256(b"x" * 100000).hexdigest()})

    def test_early_417_without_reading_body(self):
        data = self.raw(b"POST /early-417 HTTP/1.1\r\nHost: o\r\nExpect: 100-continue\r\n"
                        b"Content-Length: 1000\r\n\r\n")
        status, fields, _ = split_response(data)
        self.assertEqual(status, b"HTTP/1.1 417 Expectation Failed")
        self.assertIn(("connection", "close"), fields)
        [entry] = self.o.wait_requests(1)
        self.assertIsNone(entry["body_length"])

    def test_slow_and_hang(self):
        _, _, body = split_response(self.raw(get("/slow?ms=100")))
        self.assertEqual(body, b"slow\n")
        self.assertEqual(self.raw(get("/hang"), timeout=0.5), b"")
        self.assertEqual(self.o.wait_requests(2)[1]["target"], "/hang")

    def test_drip_streams_chunks(self):
        out = self.curl(self.o.url + "/drip?chunks=4&ms=10&size=3").stdout
        self.assertEqual(out, servers.pattern(12))

    def test_extra_response_headers(self):
        data = self.raw(get("/headers?h=Keep-Alive:timeout%3D5&h=X-Extra:%20yes"))
        _, fields, _ = split_response(data)
        self.assertIn(("keep-alive", "timeout=5"), fields)
        self.assertIn(("x-extra", "yes"), fields)

    def test_absolute_form_and_http10(self):
        data = self.raw(b"GET http://origin.test/small HTTP/1.0\r\nHost: origin.test\r\n\r\n")
        status, fields, body = split_response(data)
        self.assertEqual(body, servers.pattern(1024))
        self.assertIn(("connection", "close"), fields)

    def test_websocket_echo(self):
        key = base64.b64encode(b"0123456789abcdef")
        with socket.create_connection(("127.0.0.1", self.o.port), timeout=10) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: o\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
            head = servers.recv_until(s, time.monotonic() + 10, b"\r\n\r\n")
            status, fields, _ = split_response(head)
            self.assertEqual(status, b"HTTP/1.1 101 Switching Protocols")
            accept = base64.b64encode(hashlib.sha1(key + origin_module.WS_GUID).digest()).decode()
            self.assertIn(("sec-websocket-accept", accept), fields)
            for opcode, payload in ((1, b"hello"), (2, bytes(300)), (2, servers.pattern(70000)),
                                    (9, b"ping!")):
                s.sendall(ws_client_frame(opcode, payload))
                reply = recv_frame(s)
                self.assertEqual(reply, (0xA if opcode == 9 else opcode, payload))
            s.sendall(ws_client_frame(8, (1000).to_bytes(2, "big")))
            self.assertEqual(recv_frame(s), (8, (1000).to_bytes(2, "big")))

    def test_websocket_bad_handshake_rejected(self):
        data = self.raw(b"GET /ws HTTP/1.1\r\nHost: o\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "))

    def test_hostile_responses_sent_verbatim(self):
        for name, (raw, _) in origin_module.HOSTILE.items():
            if callable(raw):
                continue
            with self.subTest(name):
                self.assertEqual(self.raw(get("/hostile/" + name)), raw)
        data = self.raw(get("/hostile/dup-cl"))
        self.assertIn(b"Content-Length: 5\r\nContent-Length: 10\r\n", data)
        data = self.raw(get("/hostile/cl-te"))
        self.assertIn(b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", data)
        self.assertIn(b"\r\n second\r\n", self.raw(get("/hostile/obs-fold")))
        self.assertNotIn(b"\r", self.raw(get("/hostile/bare-lf")))
        self.assertIn(b"Transfer-Encoding: gzip, chunked\r\n", self.raw(get("/hostile/te-gzip-chunked")))
        self.assertIn(b"\r\n\r\nzz\r\n", self.raw(get("/hostile/bad-chunk")))

    def test_hostile_huge_header(self):
        status, fields, body = split_response(self.raw(get("/hostile/huge-header")))
        self.assertGreater(len(dict(fields)["x-huge"]), 64 * 1024)
        self.assertEqual(body, b"hello")

    def test_hostile_smuggle_keeps_connection_open(self):
        data = self.raw(get("/hostile/smuggle", close=False) + get("/request-count"))
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
        self.assertTrue(data.startswith(first + origin_module.SMUGGLED + b"HTTP/1.1 200 OK\r\n"))
        self.assertTrue(data.endswith(b'"requests":2}\n'))

    def test_bad_requests_logged_and_server_survives(self):
        bad = [b"GARBAGE\r\n\r\n",
               b"GET / HTTP/1.1\r\nHost: o\r\nX-F: a\r\n b\r\n\r\n",
               b"POST / HTTP/1.1\r\nHost: o\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
               b"POST / HTTP/1.1\r\nHost: o\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
               b"GET / HTTP/1.1\nHost: o\n\n",
               b"POST /echo HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
               b"GET / HTTP/2.0\r\nHost: o\r\n\r\n"]
        for req in bad:
            with self.subTest(req):
                data = self.raw(req)
                self.assertRegex(data, rb"^HTTP/1.1 (400|501|505) ")
                self.assertIn(b"Connection: close\r\n", data)
        data = self.raw(b"GET / HTTP/1.1\r\nHost: o\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")
        self.assertTrue(data.startswith(b"HTTP/1.1 431 "), data[:100])
        entries = self.o.wait_requests(len(bad) + 1)
        self.assertTrue(all(e["error"] for e in entries), entries)
        self.assertEqual(self.curl(self.o.url + "/small").stdout, servers.pattern(1024))
        self.assertTrue(self.o.alive())

    def test_mutated_requests_never_crash(self):
        import random
        import threading
        seeds = [get("/small", close=False), get("/echo", b"Transfer-Encoding: chunked\r\n",
                                                  method=b"POST") + b"5\r\nhello\r\n0\r\n\r\n",
                 get("/ws", b"Upgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: "
                     b"MDEyMzQ1Njc4OWFiY2RlZg==\r\nSec-WebSocket-Version: 13\r\n", close=False)
                 + b"\x81\x85abcdxxxxx\x88\x80abcd",
                 get("/expect", b"Expect: 100-continue\r\nContent-Length: 3\r\n", method=b"POST")
                 + b"abc",
                 get("/status?code=abc"), get("/chunked?n=-1&trailers=1")]

        def mutate(rnd, data):
            data = bytearray(data)
            for _ in range(rnd.randint(1, 6)):
                i = rnd.randint(0, len(data))
                op = rnd.randint(0, 3)
                if op == 0 and i < len(data):
                    del data[i]
                elif op == 1:
                    data[i:i] = bytes([rnd.randint(0, 255)])
                elif op == 2 and i < len(data):
                    data[i] = rnd.choice(b"\r\n :;0123456789abcdef\x00\x80")
                else:
                    data[i:i] = rnd.choice(seeds)
            return bytes(data)

        def worker(seed):
            rnd = random.Random(seed)
            for _ in range(25):
                self.raw(mutate(rnd, rnd.choice(seeds)), timeout=0.3)

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertTrue(self.o.alive())
        self.assertEqual(self.curl(self.o.url + "/small").stdout, servers.pattern(1024))

    def test_peer_closing_midway_is_logged(self):
        self.raw(b"POST /echo HTTP/1.1\r\nHost: o\r\nContent-Length: 100\r\n\r\nshort", timeout=0.2)
        [entry] = self.o.wait_requests(1)
        self.assertIn("connection", entry["error"])
        self.assertTrue(self.o.alive())

    def test_stop_with_a_connection_hanging(self):
        with socket.create_connection(("127.0.0.1", self.o.port), timeout=5) as s:
            s.sendall(get("/hang"))
            self.o.wait_requests(1)
            self.o.stop()
            self.assertEqual(self.o.proc.returncode, 0)


def ws_client_frame(opcode, payload, mask=b"\x01\x02\x03\x04"):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    return head + mask + bytes(c ^ mask[i & 3] for i, c in enumerate(payload))


def recv_frame(sock):
    """(opcode, payload) of one unmasked server frame."""
    deadline = time.monotonic() + 10
    b0, b1 = servers.recv_exact(sock, 2, deadline)
    n = b1 & 0x7F
    if n >= 126:
        n = int.from_bytes(servers.recv_exact(sock, 2 if n == 126 else 8, deadline), "big")
    assert not b1 & 0x80, "server frames are unmasked"
    return b0 & 0x0F, servers.recv_exact(sock, n, deadline)


class TlsOriginTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.certs = servers.make_certs(os.path.join(self.tmp, "certs"), names=["origin.test"])
        self.o = self.start(servers.Origin(self.tmp, tls=self.certs))

    def test_curl_with_cacert(self):
        for host in ("localhost", "127.0.0.1"):
            out = self.curl("--cacert", self.certs["ca"],
                            "https://%s:%d/small" % (host, self.o.port)).stdout
            self.assertEqual(out, servers.pattern(1024))
        res = self.curl("https://localhost:%d/small" % self.o.port, check=False)
        self.assertEqual(res.returncode, 60)  # unknown CA: the certificate is not trusted

    def test_python_client_and_sni_logged(self):
        ctx = ssl.create_default_context(cafile=self.certs["ca"])
        data = servers.raw_exchange(self.o.port, get("/request-count"), ssl_context=ctx,
                                    server_hostname="origin.test", timeout=10)
        status, _, body = split_response(data)
        self.assertEqual(status, b"HTTP/1.1 200 OK")
        entry = self.o.wait_requests(1)[-1]
        self.assertTrue(entry["tls"])
        self.assertEqual(entry["sni"], "origin.test")

    def test_plain_http_on_tls_port_does_not_crash(self):
        servers.raw_exchange(self.o.port, get("/small"), timeout=2)
        [entry] = self.o.wait_requests(1)
        self.assertIn("tls handshake", entry["error"])
        self.assertTrue(self.o.alive())


@unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this machine")
class Ipv6OriginTest(ServerTestCase):
    def test_both_loopbacks_one_port(self):
        o = self.start(servers.Origin(self.tmp, ipv6=True))
        self.assertEqual(self.curl(o.url6 + "/small").stdout, servers.pattern(1024))
        self.assertEqual(self.curl(o.url + "/small").stdout, servers.pattern(1024))
        peers = [e["peer"] for e in o.wait_requests(2)]
        self.assertTrue(peers[0].startswith("[::1]:"), peers)


class CertsTest(ServerTestCase):
    def test_leaf_verifies_and_names(self):
        c = servers.make_certs(self.tmp, names=["a.test"], ips=["127.0.0.2"])
        self.run_cmd(["openssl", "verify", "-CAfile", c["ca"], c["cert"]])
        text = self.run_cmd(["openssl", "x509", "-in", c["cert"], "-noout", "-ext",
                             "subjectAltName"]).stdout
        for name in ("DNS:localhost", "DNS:a.test", "IP Address:127.0.0.1",
                     "IP Address:0:0:0:0:0:0:0:1", "IP Address:127.0.0.2"):
            self.assertIn(name, text)


class GitServerTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.g = self.start(servers.GitServer(self.tmp))

    def git(self, *args, cwd=None):
        return self.run_cmd(["git"] + (["-C", cwd] if cwd else []) + list(args),
                            env=GIT_ENV).stdout.strip()

    def test_clone_over_http(self):
        dest = os.path.join(self.tmp, "clone")
        self.git("clone", "-q", self.g.repo_url, dest)
        self.assertEqual(self.git("rev-parse", "HEAD", cwd=dest), self.g.head)
        self.assertEqual(len(self.git("tag", cwd=dest).split()), 40)
        entries = self.g.requests()
        self.assertEqual(entries[0]["target"], "/repo.git/info/refs?service=git-upload-pack")
        self.assertTrue(all(e["status"] == 200 for e in entries), entries)
        self.assertIn("gzip", [e["content_encoding"] for e in entries])

    def test_push_with_chunked_request_body(self):
        dest = os.path.join(self.tmp, "clone")
        self.git("clone", "-q", self.g.repo_url, dest)
        with open(os.path.join(dest, "blob.bin"), "wb") as f:
            f.write(os.urandom(300_000))  # incompressible: the pack exceeds http.postBuffer
        self.git("add", "blob.bin", cwd=dest)
        self.git("commit", "-qm", "big blob", cwd=dest)
        self.git("-c", "http.postBuffer=65536", "push", "-q", "origin", "main", cwd=dest)
        self.assertEqual(self.git("rev-parse", "main", cwd=self.g.repo_dir),
                         self.git("rev-parse", "HEAD", cwd=dest))
        pushes = [e for e in self.g.requests() if e["target"].endswith("git-receive-pack")
                  and e["method"] == "POST"]
        self.assertTrue(any(e["chunked"] and e["body_length"] > 300_000 for e in pushes), pushes)

    def test_missing_repository_is_404(self):
        res = self.curl("-o", "/dev/null", "-w", "%{http_code}",
                        self.g.url + "/nope.git/info/refs?service=git-upload-pack")
        self.assertEqual(res.stdout, b"404")


class SshdTest(ServerTestCase):
    def setUp(self):
        super().setUp()
        self.assertIsNotNone(shutil.which("ssh"), "ssh client missing (openssh-client)")
        self.s = self.start(servers.Sshd(self.tmp))

    def test_ssh_echo(self):
        res = self.run_cmd(self.s.ssh_args("echo", "hello"), timeout=30)
        self.assertEqual(res.stdout, "hello\n")

    def test_git_clone_over_ssh(self):
        from gitserver import init_repo
        repo, head = init_repo(os.path.join(self.tmp, "repos"))
        dest = os.path.join(self.tmp, "clone")
        self.run_cmd(["git", "clone", "-q", self.s.repo_url(repo), dest],
                     env=dict(GIT_ENV, GIT_SSH_COMMAND=self.s.git_ssh_command))
        out = self.run_cmd(["git", "-C", dest, "rev-parse", "HEAD"]).stdout.strip()
        self.assertEqual(out, head)


if __name__ == "__main__":
    unittest.main(verbosity=2)
