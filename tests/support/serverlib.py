"""Pieces shared by the helper servers (origin.py, gitserver.py): the common command line, the
listening sockets, the ready file, SIGTERM, a JSON-lines log, an HTTP/1.1 message reader over a
raw socket, and the deterministic body pattern the origin serves.

Python 3 standard library only. Every read has a size cap and every wait a timeout.
"""
import argparse
import hashlib
import json
import os
import re
import selectors
import signal
import socket
import sys
import threading

MAX_HEAD = 1 << 20  # request head cap: big enough to see whatever a proxy forwards
MAX_LINE = 8192  # chunk-size and trailer lines
MAX_TRAILERS = 64 * 1024
MAX_CHUNK = 1 << 40
RECV_SIZE = 65536
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20

TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VERSION = re.compile(rb"^HTTP/[0-9]\.[0-9]$")
HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")


class BadMessage(Exception):
    """The peer sent bytes that are not valid HTTP/1.1; str(e) names the problem."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.status = status


# ---------------------------------------------------------------------------------------------
# The deterministic pattern: byte i of every generated body is PATTERN[i % len(PATTERN)]. The
# block length is prime so that no power-of-two window repeats, and the bytes come from SHA-256 so
# that a shifted or truncated copy never looks right by accident.

PATTERN = b"".join(hashlib.sha256(b"portcullis-pattern-%d" % i).digest() for i in range(2048))[:65521]
_PATTERN2 = memoryview(PATTERN + PATTERN)


def pattern_chunks(n, offset=0, size=RECV_SIZE):
    """Yields the pattern bytes [offset, offset+n) as memoryviews of at most size bytes."""
    size = min(size, len(PATTERN))
    end = offset + n
    while offset < end:
        take = min(size, end - offset)
        start = offset % len(PATTERN)
        yield _PATTERN2[start:start + take]
        offset += take


def pattern(n, offset=0):
    """The pattern bytes [offset, offset+n) as one bytes object (for small n)."""
    return b"".join(pattern_chunks(n, offset))


def pattern_sha256(n):
    """Hex SHA-256 of the first n pattern bytes, computed without holding them."""
    h = hashlib.sha256()
    for chunk in pattern_chunks(n, size=len(PATTERN)):
        h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Command line, sockets, ready file, signals.


def arg_parser(description):
    """An ArgumentParser with the options every helper server shares."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    p.add_argument("--ready-file", help="written (atomically) with the port once accepting")
    p.add_argument("--bind", action="append", default=[],
                   help="address to listen on (repeatable; default 127.0.0.1)")
    p.add_argument("--ipv6", action="store_true", help="also listen on ::1, same port")
    p.add_argument("--log", help="append one JSON line per request to this file")
    p.add_argument("--idle-timeout", type=float, default=60.0,
                   help="seconds a connection may stay silent (default 60)")
    p.add_argument("--max-conns", type=int, default=1000,
                   help="concurrent connections; more are closed at once (default 1000)")
    return p


def bind_addresses(args):
    addrs = list(args.bind) or ["127.0.0.1"]
    if args.ipv6 and "::1" not in addrs:
        addrs.append("::1")
    return addrs


def listen(addrs, port, attempts=50):
    """Listening sockets on every address in addrs, all on one port (port 0: a free one)."""
    for _ in range(attempts):
        socks = []
        try:
            for addr in addrs:
                family = socket.AF_INET6 if ":" in addr else socket.AF_INET
                s = socket.socket(family, socket.SOCK_STREAM)
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((addr, port))
                s.listen(512)
                port = s.getsockname()[1]
            return socks, port
        except OSError:
            for s in socks:
                s.close()
            if port != 0 and len(socks) <= 1:
                raise  # the caller's fixed port is taken
            port = 0  # the second address collided on a port chosen for the first: retry
    raise OSError("no common free port for %s" % ", ".join(addrs))


def write_ready(path, text):
    """Writes text to path atomically: readers see nothing or all of it."""
    if not path:
        return
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def install_sigterm():
    """SIGTERM and SIGINT end the process through SystemExit in the main thread."""

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


class JsonLog:
    """Appends one JSON object per line to a file, whole lines only, from any thread."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if path else -1
        self.lock = threading.Lock()

    def write(self, entry):
        if self.fd < 0:
            return
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self.fd, line)


class Stats:
    """Counters shared by all connections of one server."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.open = 0

    def snapshot(self):
        with self.lock:
            return {"connections": self.connections, "requests": self.requests, "open": self.open}

    def count_request(self):
        with self.lock:
            self.requests += 1


def serve(listeners, handler, stats, max_conns, idle_timeout):
    """Accepts until SIGTERM; each connection runs handler(sock, peer, conn_id) in its own thread.

    The socket is closed (with a lingering close) when handler returns or raises; an exception is
    reported on stderr and never stops the server.
    """
    threading.stack_size(512 * 1024)
    sel = selectors.DefaultSelector()
    for s in listeners:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)

    def run(sock, peer, conn_id):
        try:
            handler(sock, peer, conn_id)
        except Exception as e:  # a bad peer must never take the server down
            if not isinstance(e, (OSError, EOFError)):
                print("connection %d: %r" % (conn_id, e), file=sys.stderr)
        finally:
            linger_close(sock)
            with stats.lock:
                stats.open -= 1

    try:
        while True:
            for key, _ in sel.select(timeout=1.0):
                try:
                    sock, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                with stats.lock:
                    if stats.open >= max_conns:
                        sock.close()
                        continue
                    stats.open += 1
                    stats.connections += 1
                    conn_id = stats.connections
                sock.setblocking(True)
                sock.settimeout(idle_timeout)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                threading.Thread(target=run, args=(sock, peer, conn_id), daemon=True).start()
    finally:
        for s in listeners:
            s.close()


def main_loop(args, handler, stats):
    """Listens as args say, writes the ready file, serves until SIGTERM, then exits at once."""
    install_sigterm()
    listeners, port = listen(bind_addresses(args), args.port)
    write_ready(args.ready_file, "%d\n" % port)
    try:
        serve(listeners, handler, stats, args.max_conns, args.idle_timeout)
    except SystemExit:
        pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # connection threads may be blocked in recv: do not wait for them


def linger_close(sock, seconds=LINGER_SECONDS):
    """Closes after sending FIN and draining what the peer still sends (bounded), so that unread
    request bytes do not turn the close into a reset that destroys the response in flight."""
    try:
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(seconds)
        drained = 0
        while drained < LINGER_BYTES:
            data = sock.recv(RECV_SIZE)
            if not data:
                break
            drained += len(data)
    except (OSError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass


def peer_text(peer):
    host, port = peer[0], peer[1]
    return "[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)


# ---------------------------------------------------------------------------------------------
# Reading HTTP/1.1 messages from a socket.


class Conn:
    """A socket with a read buffer: the bytes after one message stay for the next (pipelining)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(RECV_SIZE)
        if not data:
            raise EOFError("peer closed")
        self.buf += data

    def read_head(self, limit=MAX_HEAD):
        """The raw head up to and including its empty line (CRLF or bare LF), or None if the peer
        closed before sending a byte. Raises BadMessage(431) past limit, EOFError when cut short."""
        start = 0
        while True:
            end = _head_end(self.buf, start)
            if end > limit:
                raise BadMessage("head larger than %d bytes" % limit, 431)
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[:end]
                return head
            if len(self.buf) > limit:
                raise BadMessage("head larger than %d bytes" % limit, 431)
            start = max(0, len(self.buf) - 3)
            try:
                self._fill()
            except EOFError:
                if not self.buf:
                    return None
                raise

    def read_line(self, limit=MAX_LINE):
        """One line including its LF."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                if i + 1 > limit:
                    raise BadMessage("line too long")
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) > limit:
                raise BadMessage("line too long")
            self._fill()

    def read_some(self, n):
        """Up to n bytes (at least one)."""
        if not self.buf:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:len(data)]
        return data

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def sendall(self, data):
        self.sock.sendall(data)


_HEAD_END = re.compile(rb"(?:^|\n)\r?\n")


def _head_end(buf, start):
    """Index just past the empty line (CRLF or bare LF) ending the head in buf, or -1."""
    m = _HEAD_END.search(buf, start)
    return m.end() if m else -1


class Message:
    """A parsed request head. Bytes fields keep the exact wire bytes; str fields are latin-1."""

    def __init__(self, raw):
        self.raw = raw
        self.bare_lf = False
        lines = raw.split(b"\n")
        lines.pop()  # after the final LF
        if lines and lines[-1] in (b"", b"\r"):
            lines.pop()
        out = []
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            else:
                self.bare_lf = True
            out.append(line)
        if not out:
            raise BadMessage("empty head")
        self.start_line = out[0]
        self.fields = []  # [(name bytes, value bytes)]
        for line in out[1:]:
            if line[:1] in (b" ", b"\t"):
                raise BadMessage("obsolete line folding")
            name, sep, value = line.partition(b":")
            if not sep or not TOKEN.match(name):
                raise BadMessage("malformed header line %r" % line[:80])
            value = value.strip(b" \t")
            if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value):
                raise BadMessage("control byte in header %r" % name)
            self.fields.append((name, value))
        if self.bare_lf:
            raise BadMessage("bare LF line ending")

    def header_list(self):
        return [[n.decode("latin-1"), v.decode("latin-1")] for n, v in self.fields]

    def get_all(self, name):
        name = name.lower().encode()
        return [v for n, v in self.fields if n.lower() == name]

    def get(self, name):
        """The value of a header that must appear at most once (str), or None."""
        values = self.get_all(name)
        if len(values) > 1:
            raise BadMessage("repeated %s" % name)
        return values[0].decode("latin-1") if values else None

    def tokens(self, name):
        """The comma-separated, lowercased tokens of every instance of a header."""
        out = []
        for v in self.get_all(name):
            out += [t.strip(b" \t").lower().decode("latin-1") for t in v.split(b",")]
        return [t for t in out if t]


class Request(Message):
    def __init__(self, raw):
        super().__init__(raw)
        parts = self.start_line.split(b" ")
        if len(parts) != 3 or not parts[0] or not parts[1] or not TOKEN.match(parts[0]):
            raise BadMessage("malformed request line %r" % self.start_line[:80])
        if not VERSION.match(parts[2]):
            raise BadMessage("bad version %r" % parts[2][:20])
        if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
            raise BadMessage("unsupported version", 505)
        if re.search(rb"[\x00-\x20\x7f]", parts[1]):
            raise BadMessage("control byte in target")
        self.method = parts[0].decode("latin-1")
        self.target = parts[1].decode("latin-1")
        self.version = parts[2].decode("latin-1")
        hosts = self.get_all("host")
        if len(hosts) > 1 or (not hosts and self.version == "HTTP/1.1"):
            raise BadMessage("HTTP/1.1 needs exactly one Host")
        self.chunked = False
        self.length = 0
        te = self.tokens("transfer-encoding")
        cls = self.get_all("content-length")
        if te:
            if cls:
                raise BadMessage("both Content-Length and Transfer-Encoding")
            if te != ["chunked"]:
                raise BadMessage("unsupported transfer coding %s" % ",".join(te), 501)
            if self.version == "HTTP/1.0":
                raise BadMessage("Transfer-Encoding in HTTP/1.0")
            self.chunked = True
        elif cls:
            if len(set(cls)) != 1 or not re.match(rb"^[0-9]{1,15}$", cls[0]):
                raise BadMessage("bad Content-Length")
            self.length = int(cls[0])

    def path_and_query(self):
        """The target's path and query string; absolute-form is reduced to origin-form."""
        target = self.target
        m = re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", target)
        if m:
            target = target[m.end():] or "/"
        path, _, query = target.partition("?")
        return path, query

    def wants_close(self):
        conn = self.tokens("connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" not in conn
        return "close" in conn


def read_body(conn, msg, sink):
    """Reads the body msg's framing announces from conn, calling sink(bytes) for each piece of
    decoded content; returns the trailer fields [(name, value)] of a chunked body."""
    if not msg.chunked:
        left = msg.length
        while left > 0:
            data = conn.read_some(min(left, RECV_SIZE))
            sink(data)
            left -= len(data)
        return []
    total_trailers = 0
    while True:
        line = conn.read_line()
        if not line.endswith(b"\r\n"):
            raise BadMessage("chunk-size line without CRLF")
        size_text = line[:-2].split(b";", 1)[0].rstrip(b" \t")
        if not HEX.match(size_text):
            raise BadMessage("bad chunk size %r" % size_text[:20])
        size = int(size_text, 16)
        if size > MAX_CHUNK:
            raise BadMessage("chunk too large")
        if size == 0:
            break
        left = size
        while left > 0:
            data = conn.read_some(min(left, RECV_SIZE))
            sink(data)
            left -= len(data)
        if conn.read_exact(2) != b"\r\n":
            raise BadMessage("chunk data not followed by CRLF")
    trailers = []
    while True:
        line = conn.read_line()
        total_trailers += len(line)
        if total_trailers > MAX_TRAILERS:
            raise BadMessage("trailers too large")
        if line == b"\r\n":
            return trailers
        if not line.endswith(b"\r\n"):
            raise BadMessage("trailer line without CRLF")
        name, sep, value = line[:-2].partition(b":")
        if not sep or not TOKEN.match(name):
            raise BadMessage("malformed trailer line")
        trailers.append((name, value.strip(b" \t")))


class BodySink:
    """Counts, hashes, and keeps up to keep bytes of a body."""

    def __init__(self, keep=0):
        self.length = 0
        self.hash = hashlib.sha256()
        self.keep = keep
        self.kept = bytearray()

    def __call__(self, data):
        self.length += len(data)
        self.hash.update(data)
        if len(self.kept) < self.keep:
            self.kept += data[:self.keep - len(self.kept)]

    def complete(self):
        return self.length == len(self.kept)
