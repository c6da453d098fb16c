"""What the HTTP proxy end-to-end tests (tests/e2e/test_http_*.py) share: configuration text, a
raw HTTP/1.1 client that reads responses byte-exactly, a base test case whose proxies are checked
for sanitizer reports when they stop, and small loopback servers the helper scripts do not offer
(a blackhole that never accepts, a server that answers only after the client's EOF).

Run directly, this file tests the response reader itself on canned bytes.
"""
import json
import os
import select
import socket
import subprocess
import threading
import time
import unittest

import harness

servers = harness.servers

# What a sanitizer prints when it finds something (ASan tree: CC=clang -DPC_SANITIZE=ON).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")



def _sanitized():
    """True when the binary under test was built with PC_SANITIZE (its CMake cache says so):
    its memory figures include the sanitizers' own."""
    build = os.environ.get("PC_BUILD_DIR") or os.path.dirname(harness.BIN or ".")
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            return "PC_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()

AUDIT_KEYS = ["ts", "host", "port", "protocol", "reason", "decision", "source", "method",
              "client", "mode"]
BLOCK_KEYS = ["status", "host", "port", "protocol", "reason", "decision", "source", "message"]


def toml_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def conf(allow=("127.0.0.1", "localhost"), deny=(), extra=""):
    """A [network] table: the allowlist names the loopback origins exactly (SPEC §3 (3): an
    exact entry admits a local literal), nobody is asked about misses."""
    return ("[network]\nallowed_domains = %s\ndenied_domains = %s\napproval_policy = \"never\"\n%s"
            % (toml_list(allow), toml_list(deny), extra))


class Response:
    """One HTTP response as received: status line, fields in order, de-chunked body, trailers,
    and the raw bytes of the head and of the whole message."""

    def __init__(self, version, status, reason, headers, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.head = head
        self.body = b""
        self.trailers = []
        self.chunked = False
        self.raw = b""

    def get(self, name):
        """The value of the only field called name (case-insensitive), None when absent."""
        values = self.get_all(name)
        if len(values) > 1:
            raise AssertionError("%s appears %d times" % (name, len(values)))
        return values[0] if values else None

    def get_all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %r body=%d bytes>" % (self.status, self.reason, self.headers,
                                                      len(self.body))


class ProtocolError(AssertionError):
    pass


class Client:
    """A raw TCP connection to a proxy (or any HTTP server) that sends bytes as given and reads
    responses strictly. Every read has a deadline."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = bytearray()
        self.eof = False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more bytes; returns False at EOF. Raises when the deadline passes."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError("timed out waiting for the peer; have %r" % bytes(self.buf[:300]))
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (TimeoutError, socket.timeout):
            raise ProtocolError("timed out waiting for the peer; have %r" % bytes(self.buf[:300]))
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > limit:
                raise ProtocolError("line too long")
            if not self._fill(deadline):
                raise ProtocolError("EOF inside a line: %r" % bytes(self.buf[:300]))

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError("EOF after %d of %d body bytes" % (len(self.buf), n))
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_exact(self, n, timeout=None):
        return self._exact(n, time.monotonic() + (timeout or self.timeout))

    def read_head(self, timeout=None):
        """The next response head (interim ones included)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        lines = []
        raw = bytearray()
        while True:
            line = self._line(deadline)
            raw += line + b"\r\n"
            if line == b"":
                break
            if b"\n" in line or b"\r" in line or b"\0" in line:
                raise ProtocolError("bare CR/LF or NUL in %r" % line)
            lines.append(line)
            if len(lines) > 1000:
                raise ProtocolError("too many header lines")
        if not lines:
            raise ProtocolError("empty head")
        parts = lines[0].decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3:
            raise ProtocolError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep or name != name.strip() or not name:
                raise ProtocolError("bad field line %r" % line)
            headers.append((name, value.strip(" \t")))
        return Response(parts[0], int(parts[1]), parts[2] if len(parts) > 2 else "", headers,
                        bytes(raw))

    def read_response(self, method="GET", timeout=None, interim=False):
        """The next final response (interim 1xx heads are skipped unless interim is set, when
        a 1xx head is returned as it is). The body is read as its framing says; a body that
        runs until EOF is read to EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            r = self.read_head(timeout=max(0.01, deadline - time.monotonic()))
            if 100 <= r.status < 200 and r.status != 101:
                if interim:
                    return r
                continue
            break
        r.raw = r.head
        te = r.get("Transfer-Encoding")
        cls = r.get_all("Content-Length")
        if len(cls) > 1 or (te is not None and cls):
            raise ProtocolError("ambiguous framing: %r" % r.headers)
        if method == "HEAD" or r.status in (101, 204, 304) or (method == "CONNECT" and
                                                                 200 <= r.status < 300):
            return r
        if te is not None:
            if te.lower() != "chunked":
                raise ProtocolError("Transfer-Encoding %r" % te)
            r.chunked = True
            body = bytearray()
            while True:
                size_line = self._line(deadline)
                r.raw += size_line + b"\r\n"
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    break
                data = self._exact(size, deadline)
                body += data
                if self._exact(2, deadline) != b"\r\n":
                    raise ProtocolError("chunk without CRLF")
                r.raw += data + b"\r\n"
            while True:
                line = self._line(deadline)
                r.raw += line + b"\r\n"
                if line == b"":
                    break
                name, _, value = line.decode("latin-1").partition(":")
                r.trailers.append((name, value.strip()))
            r.body = bytes(body)
        elif cls:
            r.body = self._exact(int(cls[0]), deadline)
            r.raw += r.body
        else:
            while self._fill(deadline):
                pass
            r.body = bytes(self.buf)
            self.buf.clear()
            r.raw += r.body
        return r

    def request(self, data, method="GET", timeout=None):
        self.send(data)
        return self.read_response(method=method, timeout=timeout)

    def wait_closed(self, timeout=5.0):
        """The bytes that arrived until the peer closed; fails if it stays open."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def is_closed(self, timeout=0.5):
        """True when the peer closes (EOF, nothing more) within timeout; False if it stays open
        and silent. Bytes arriving instead are an error."""
        try:
            rest = self.wait_closed(timeout)
        except ProtocolError:
            if self.buf:
                raise
            return False
        if rest:
            raise ProtocolError("unexpected bytes before the close: %r" % rest[:300])
        return True


def get(url, host=None, extra=b"", method="GET", version="1.1"):
    """The bytes of an absolute-form request for url with a matching Host."""
    if host is None:
        host = url.split("/", 3)[2]
    return (("%s %s HTTP/%s\r\nHost: %s\r\n" % (method, url, version, host)).encode()
            + extra + b"\r\n")


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def proc_io(pid):
    """The process's I/O counters (/proc/PID/io): rchar and wchar count the bytes its read and
    write calls moved, sockets included; bytes that splice(2) moves are not among them."""
    with open("/proc/%d/io" % pid) as f:
        return {k: int(v) for k, v in (line.split(":") for line in f)}


class Blackhole:
    """A listening socket whose accept queue is full: the kernel drops further SYNs, so a
    connect to it stays in progress until the dialer's timeout. Nothing leaves the machine
    (the same construction as tests/unit/test_dial.c)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(s)
            _, writable, _ = select.select([], [s], [], 0.3)
            if not writable:
                return  # this SYN was dropped: the queue is full
        raise AssertionError("could not fill the accept queue")

    def close(self):
        for s in self.fillers:
            s.close()
        self.sock.close()


class Refusing:
    """A bound port nobody listens on: every SYN gets a RST."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class Sink:
    """A listening socket that never accepts: connections complete in the kernel and bytes sent
    to them fill the buffers and stay there."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class EofServer:
    """Answers each connection only after the peer has half-closed: it reads to EOF, then
    sends b"got N bytes: <first 64 bytes>" and closes. Proves that a half-close crosses a
    tunnel in both directions."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(10)
        got = bytearray()
        try:
            while len(got) < 1 << 24:
                data = conn.recv(65536)
                if not data:
                    break
                got += data
            conn.sendall(b"got %d bytes: %s" % (len(got), bytes(got[:64])))
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stopping = True
        self.sock.close()
        self.thread.join(2)


class HttpCase(harness.TestCase):
    """A test with proxies whose exit is checked: SIGTERM must end them with status 0 and no
    sanitizer report on stderr."""

    def proxy(self, config_text, args=(), name="proxy", env=None, check_exit=True):
        if env is None:
            env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        p = super().proxy(config_text, args=args, name=name, env=env)
        if check_exit:
            self.addCleanup(self.assertCleanExit, p)
        return p

    def assertCleanExit(self, p):
        rc = p.stop()
        log = p.log()
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, log, "the proxy's stderr:\n" + log[-6000:])
        self.assertEqual(rc, 0, "the proxy's stderr:\n" + log[-3000:])

    def client(self, p, timeout=10.0):
        c = Client(p.http_port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def loopback(self, cls):
        """One of the loopback helpers above, closed when the test ends."""
        obj = cls()
        self.addCleanup(obj.close)
        return obj

    def curl(self, *args, timeout=20, env=None):
        """curl with a bounded run time; returns the CompletedProcess (bytes)."""
        cmd = ["curl", "--silent", "--show-error", "--max-time", str(timeout)] + list(args)
        return subprocess.run(cmd, capture_output=True, timeout=timeout + 5, env=env)

    def assertBlocked(self, r, reason, x_proxy_error, proxy_status, host, port,
                      protocol="http", status=403):
        """A SPEC §7 block: status, x-proxy-error, Proxy-Status, and the JSON body."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.get("x-proxy-error"), x_proxy_error, r)
        ps = r.get("Proxy-Status")
        self.assertTrue(ps.startswith("portcullis; error=%s" % proxy_status), ps)
        self.assertEqual(r.get("Content-Type"), "application/json")
        body = r.json()
        self.assertEqual(list(body.keys()), BLOCK_KEYS)
        self.assertEqual(body["status"], "blocked")
        self.assertEqual(body["host"], host)
        self.assertEqual(body["port"], port)
        self.assertEqual(body["protocol"], protocol)
        self.assertEqual(body["reason"], reason)
        self.assertEqual(body["decision"], "deny")
        self.assertIn("policy", body["message"])
        self.assertIn("do not try to reach this destination another way", body["message"])
        return body

    def assertFailure(self, r, status, proxy_status):
        """portcullis's own failure response (not a policy block)."""
        self.assertEqual(r.status, status, r)
        self.assertIsNone(r.get("x-proxy-error"), r)
        ps = r.get("Proxy-Status")
        self.assertIsNotNone(ps, r)
        self.assertTrue(ps.startswith("portcullis; error=%s" % proxy_status), ps)

    def assertAudit(self, record, host, port, reason, protocol="http", method="GET",
                    mode="full"):
        self.assertEqual(list(record.keys()), AUDIT_KEYS)
        self.assertEqual((record["host"], record["port"], record["protocol"], record["reason"],
                          record["decision"], record["method"], record["mode"]),
                         (host, port, protocol, reason, "deny", method, mode), record)
        self.assertTrue(record["client"].startswith("127.0.0.1:"), record)


# ---- self-test of the reader ----

class _Canned:
    """A socket pair whose far end holds canned bytes then closes."""

    def __init__(self, data):
        self.a, self.b = socket.socketpair()
        self.b.sendall(data)
        self.b.close()
        self.client = Client.__new__(Client)
        self.client.sock = self.a
        self.client.timeout = 2.0
        self.client.buf = bytearray()
        self.client.eof = False


class ReaderTest(unittest.TestCase):
    def read(self, data, method="GET"):
        c = _Canned(data).client
        self.addCleanup(c.close)
        return c, c.read_response(method=method)

    def test_content_length_then_next(self):
        c, r = self.read(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"
                         b"HTTP/1.1 204 No Content\r\n\r\n")
        self.assertEqual((r.status, r.body, r.get("x")), (200, b"abc", "y"))
        self.assertEqual(c.read_response().status, 204)
        self.assertTrue(c.is_closed())

    def test_chunked_with_trailers(self):
        _, r = self.read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\nT: 1\r\n\r\n")
        self.assertEqual((r.body, r.trailers, r.chunked), (b"abcde", [("T", "1")], True))

    def test_interim_skipped_and_close_delimited(self):
        _, r = self.read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nuntil close")
        self.assertEqual((r.status, r.body), (200, b"until close"))

    def test_head_has_no_body(self):
        c, r = self.read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method="HEAD")
        self.assertEqual(r.body, b"")
        self.assertTrue(c.is_closed())

    def test_ambiguous_framing_is_an_error(self):
        with self.assertRaises(ProtocolError):
            self.read(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na")
        with self.assertRaises(ProtocolError):
            self.read(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")


if __name__ == "__main__":
    harness.main()
