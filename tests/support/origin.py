#!/usr/bin/env python3
"""An HTTP/1.1 origin server on raw sockets for end-to-end tests: byte-exact responses, hostile
framing on demand, and a JSON-lines log of every request head it received.

    origin.py --port 0 --ready-file F [--tls CERT KEY] [--bind ADDR] [--ipv6] [--log FILE]

See tests/support/README.md for the endpoints. Standard library only.
"""
import base64
import gzip
import hashlib
import json
import os
import ssl
import sys
import time
import threading
from http import HTTPStatus
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib  # noqa: E402
from serverlib import BadMessage  # noqa: E402

MAX_BIG = 1 << 30
ECHO_KEEP = 1 << 20  # /echo returns bodies up to this size in base64
MAX_SLEEP_MS = 120_000
HANG_SECONDS = 300
WS_MAX_PAYLOAD = 16 << 20
WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def reason(code):
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Status"


class Exchange:
    """One request on one connection, and the means to answer it."""

    def __init__(self, server, conn, req, conn_id, seq):
        self.server = server
        self.conn = conn
        self.req = req
        self.conn_id = conn_id
        self.seq = seq
        self.path, query = req.path_and_query()
        self.query = parse_qs(query, keep_blank_values=True)
        self.body = None  # BodySink once read
        self.trailers = []
        self.logged = False

    def param(self, name, default, lo, hi):
        """An integer query parameter clamped to [lo, hi]; a malformed one is a 400."""
        values = self.query.get(name)
        if not values:
            return default
        try:
            return max(lo, min(hi, int(values[0])))
        except ValueError:
            raise BadMessage("bad %s parameter" % name)

    def read_body(self, keep=0):
        self.body = serverlib.BodySink(keep)
        self.trailers = serverlib.read_body(self.conn, self.req, self.body)

    def head(self, code, headers=(), close=False, length=None):
        """The response head bytes: status line, headers, framing, and Connection."""
        lines = ["HTTP/1.1 %d %s" % (code, reason(code))]
        lines += ["%s: %s" % h for h in headers]
        if length is not None:
            lines.append("Content-Length: %d" % length)
        if close:
            lines.append("Connection: close")
        elif self.req.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def respond(self, code, body=b"", headers=(("Content-Type", "text/plain"),), close=False):
        """A response with Content-Length (none for 1xx/204/304); no body bytes for HEAD."""
        framed = not (100 <= code < 200 or code in (204, 304))
        out = self.head(code, headers, close, len(body) if framed else None)
        if framed and self.req.method != "HEAD":
            out += body
        self.conn.sendall(out)
        return not close

    def json(self, obj, code=200, close=False):
        body = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        return self.respond(code, body, (("Content-Type", "application/json"),), close)

    def stream(self, code, n, headers=(("Content-Type", "application/octet-stream"),)):
        """n pattern bytes with Content-Length, sent as they are generated."""
        self.conn.sendall(self.head(code, headers, self.closing(), n))
        if self.req.method != "HEAD":
            for piece in serverlib.pattern_chunks(n):
                self.conn.sendall(piece)
        return not self.closing()

    def closing(self):
        """Whether the client asked to close after this exchange."""
        return self.req.wants_close()


class Origin:
    def __init__(self, args):
        self.log = serverlib.JsonLog(args.log)
        self.stats = serverlib.Stats()
        self.tls = None
        if args.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls[0], args.tls[1])
            ctx.set_alpn_protocols(["http/1.1"])
            ctx.sni_callback = self._sni
            self.tls = ctx
        self.sni = {}
        self.sni_lock = threading.Lock()

    def _sni(self, sslobj, name, ctx):
        with self.sni_lock:
            self.sni[id(sslobj)] = name
        return None

    # -- connection loop --------------------------------------------------------------------

    def handle(self, sock, peer, conn_id):
        base = {"conn": conn_id, "peer": serverlib.peer_text(peer), "tls": self.tls is not None,
                "sni": None}
        if self.tls is not None:
            idle = sock.gettimeout()
            sock.settimeout(10)
            tsock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
            try:
                tsock.do_handshake()
            except (OSError, ValueError) as e:
                self._log(base, 0, b"", None, error="tls handshake: %s" % e)
                return
            finally:
                with self.sni_lock:
                    base["sni"] = self.sni.pop(id(tsock), None)
            tsock.settimeout(idle)
            sock = tsock
        conn = serverlib.Conn(sock)
        seq = 0
        while True:
            try:
                raw = conn.read_head()
            except BadMessage as e:
                self._log(base, seq + 1, bytes(conn.buf[:4096]), None, error=str(e))
                conn.sendall(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                             b"Content-Length: 0\r\nConnection: close\r\n\r\n")
                return
            if raw is None:
                return
            seq += 1
            self.stats.count_request()
            try:
                req = serverlib.Request(raw)
            except BadMessage as e:
                self._log(base, seq, raw, None, error=str(e))
                self._reject(conn, e)
                return
            ex = Exchange(self, conn, req, conn_id, seq)
            try:
                keep = self.dispatch(ex, base)
            except BadMessage as e:
                if not ex.logged:
                    self._log(base, seq, raw, ex, error=str(e))
                self._reject(conn, e)
                return
            except (EOFError, OSError) as e:
                if not ex.logged:
                    self._log(base, seq, raw, ex, error="connection: %s" % (str(e) or type(e).__name__))
                return
            if not keep or req.wants_close():
                return

    def _reject(self, conn, e):
        body = (str(e) + "\n").encode("latin-1", "replace")
        conn.sendall(b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n%s" % (e.status, reason(e.status).encode(),
                                                       len(body), body))

    def _log(self, base, seq, raw, ex, error=None):
        entry = dict(base)
        entry["seq"] = seq
        entry["head"] = raw.decode("latin-1")
        req = ex.req if ex else None
        entry["method"] = req.method if req else None
        entry["target"] = req.target if req else None
        entry["version"] = req.version if req else None
        entry["headers"] = req.header_list() if req else None
        body = ex.body if ex else None
        entry["chunked"] = req.chunked if req else None
        entry["body_length"] = body.length if body else None
        entry["body_sha256"] = body.hash.hexdigest() if body else None
        entry["trailers"] = ([[n.decode("latin-1"), v.decode("latin-1")] for n, v in ex.trailers]
                             if body else None)
        entry["error"] = error
        self.log.write(entry)
        if ex:
            ex.logged = True

    # -- endpoints --------------------------------------------------------------------------

    def dispatch(self, ex, base):
        path = ex.path
        if path == "/early-417":
            self._log(base, ex.seq, ex.req.raw, ex)
            return ex.respond(417, b"expectation refused\n", close=True)
        expect = ex.req.get("expect")
        if (expect is not None and expect.lower() == "100-continue" and ex.req.version == "HTTP/1.1"
                and (ex.req.chunked or ex.req.length)):
            ex.conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        ex.read_body(ECHO_KEEP if path == "/echo" else 0)
        self._log(base, ex.seq, ex.req.raw, ex)
        if path == "/expect":
            return ex.json({"expect": expect, "body_length": ex.body.length,
                            "body_sha256": ex.body.hash.hexdigest()})
        if ex.req.method == "CONNECT":
            return ex.respond(405, b"origin does not tunnel\n", close=True)
        if path.startswith("/hostile/"):
            return self.hostile(ex, path[len("/hostile/"):])
        fn = ROUTES.get(path)
        if fn is None:
            return ex.respond(404, b"no such endpoint\n")
        return fn(self, ex)

    def ep_root(self, ex):
        return ex.respond(200, b"origin\n")

    def ep_small(self, ex):
        return ex.stream(200, 1024)

    def ep_big(self, ex):
        return ex.stream(200, ex.param("bytes", 1 << 20, 0, MAX_BIG))

    def ep_echo(self, ex):
        req, body = ex.req, ex.body
        obj = {"method": req.method, "target": req.target, "version": req.version,
               "headers": req.header_list(), "body_length": body.length,
               "body_sha256": body.hash.hexdigest(),
               "body_base64": base64.b64encode(body.kept).decode() if body.complete() else None,
               "chunked": req.chunked,
               "trailers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in ex.trailers],
               "connection": ex.conn_id, "request": ex.seq}
        return ex.json(obj)

    def ep_chunked(self, ex):
        n = ex.param("n", 3, 0, 1_000_000)
        size = ex.param("size", 100, 1, 1 << 20)
        trailers = ex.query.get("trailers", ["0"])[0] == "1"
        headers = [("Content-Type", "application/octet-stream"), ("Transfer-Encoding", "chunked")]
        if trailers:
            headers.append(("Trailer", "X-Checksum"))
        close = ex.closing()
        ex.conn.sendall(ex.head(200, headers, close))
        if ex.req.method == "HEAD":
            return not close
        h = hashlib.sha256()
        for i in range(n):
            data = serverlib.pattern(size, i * size)
            h.update(data)
            ex.conn.sendall(b"%x\r\n%s\r\n" % (size, data))
        tail = b"0\r\n"
        if trailers:
            tail += b"X-Checksum: %s\r\nX-Trailer-Test: yes\r\n" % h.hexdigest().encode()
        ex.conn.sendall(tail + b"\r\n")
        return not close

    def ep_close_delimited(self, ex):
        n = ex.param("bytes", 4096, 0, MAX_BIG)
        header = ex.query.get("connection-header", ["1"])[0] != "0"
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
        if header:
            head += "Connection: close\r\n"
        ex.conn.sendall((head + "\r\n").encode())
        if ex.req.method != "HEAD":
            for piece in serverlib.pattern_chunks(n):
                ex.conn.sendall(piece)
        return False

    def ep_status(self, ex):
        code = ex.param("code", 200, 100, 599)
        if code == 101:
            raise BadMessage("101 only through /ws")
        if code < 200:  # an interim response, then a final one
            ex.conn.sendall(b"HTTP/1.1 %d %s\r\n\r\n" % (code, reason(code).encode()))
            return ex.respond(200, b"final\n", close=ex.closing())
        return ex.respond(code, b"status %d\n" % code, close=ex.closing())

    def ep_headers(self, ex):
        extra = []
        for h in ex.query.get("h", []):
            name, sep, value = h.partition(":")
            if not sep or not serverlib.TOKEN.match(name.encode("latin-1", "replace")) or any(
                    c in value for c in "\r\n\0"):
                raise BadMessage("bad h parameter")
            extra.append((name, value.strip()))
        return ex.respond(200, b"headers\n", [("Content-Type", "text/plain")] + extra,
                          close=ex.closing())

    def ep_slow(self, ex):
        time.sleep(ex.param("ms", 1000, 0, MAX_SLEEP_MS) / 1000.0)
        return ex.respond(200, b"slow\n", close=ex.closing())

    def ep_drip(self, ex):
        n = ex.param("chunks", 5, 0, 100_000)
        ms = ex.param("ms", 100, 0, MAX_SLEEP_MS)
        size = ex.param("size", 16, 1, 1 << 20)
        close = ex.closing()
        ex.conn.sendall(ex.head(200, [("Content-Type", "application/octet-stream"),
                                      ("Transfer-Encoding", "chunked")], close))
        for i in range(n):
            if i:
                time.sleep(ms / 1000.0)
            ex.conn.sendall(b"%x\r\n%s\r\n" % (size, serverlib.pattern(size, i * size)))
        ex.conn.sendall(b"0\r\n\r\n")
        return not close

    def ep_hang(self, ex):
        """Never answers; returns when the peer closes, or after HANG_SECONDS."""
        deadline = time.monotonic() + HANG_SECONDS
        while time.monotonic() < deadline:
            ex.conn.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                if not ex.conn.sock.recv(serverlib.RECV_SIZE):
                    break
            except TimeoutError:
                break
        return False

    def ep_request_count(self, ex):
        return ex.json({"connection": ex.conn_id, "requests": ex.seq}, close=ex.closing())

    def ep_stats(self, ex):
        return ex.json(self.stats.snapshot(), close=ex.closing())

    def ep_ws(self, ex):
        req = ex.req
        key = req.get("sec-websocket-key")
        ok = (req.method == "GET" and "websocket" in req.tokens("upgrade")
              and "upgrade" in req.tokens("connection")
              and req.get("sec-websocket-version") == "13" and key is not None)
        try:
            ok = ok and len(base64.b64decode(key, validate=True)) == 16
        except ValueError:
            ok = False
        if not ok:
            return ex.respond(400, b"not a websocket handshake\n", close=True)
        accept = base64.b64encode(hashlib.sha1(key.encode() + WS_GUID).digest()).decode()
        ex.conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % accept).encode())
        websocket_echo(ex.conn)
        return False

    def hostile(self, ex, name):
        entry = HOSTILE.get(name)
        if entry is None:
            return ex.respond(404, b"no such hostile response\n")
        raw, keep = entry
        if callable(raw):
            raw = raw(ex)
        ex.conn.sendall(raw)
        return keep


def websocket_echo(conn):
    """Echoes data frames back unmasked, answers ping with pong, and close with close (RFC 6455
    framing; fragments are echoed frame by frame). Unmasked client frames close with 1002."""
    while True:
        b0, b1 = conn.read_exact(2)
        opcode = b0 & 0x0F
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(conn.read_exact(2), "big")
        elif n == 127:
            n = int.from_bytes(conn.read_exact(8), "big")
        if not b1 & 0x80:
            conn.sendall(ws_frame(0x8, (1002).to_bytes(2, "big")))
            return
        if n > WS_MAX_PAYLOAD or (opcode >= 0x8 and n > 125):
            conn.sendall(ws_frame(0x8, (1009).to_bytes(2, "big")))
            return
        mask = conn.read_exact(4)
        data = bytes(c ^ mask[i & 3] for i, c in enumerate(conn.read_exact(n)))
        if opcode == 0x8:
            conn.sendall(ws_frame(0x8, data[:2]))
            return
        if opcode == 0x9:
            conn.sendall(ws_frame(0xA, data))
        elif opcode in (0x0, 0x1, 0x2):
            conn.sendall(ws_frame(opcode, data, fin=bool(b0 & 0x80)))
        elif opcode != 0xA:
            conn.sendall(ws_frame(0x8, (1002).to_bytes(2, "big")))
            return


def ws_frame(opcode, payload, fin=True):
    """An unmasked (server) frame."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + n.to_bytes(2, "big")
    else:
        head += bytes([127]) + n.to_bytes(8, "big")
    return head + payload


def _chunked(data):
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)


def _huge_header(ex):
    n = ex.param("bytes", 70_000, 1, 16 << 20)
    return b"HTTP/1.1 200 OK\r\nX-Huge: " + b"a" * n + b"\r\nContent-Length: 5\r\n\r\nhello"


OK = b"HTTP/1.1 200 OK\r\n"
SMUGGLED = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Smuggled: yes\r\n\r\nsmuggled"

# name: (exact response bytes or a function of the exchange, keep the connection afterwards)
HOSTILE = {
    "dup-cl": (OK + b"Content-Length: 5\r\nContent-Length: 10\r\n\r\n0123456789", False),
    "cl-list": (OK + b"Content-Length: 5, 5\r\n\r\nhello", False),
    "cl-negative": (OK + b"Content-Length: -1\r\n\r\nhello", False),
    "cl-plus": (OK + b"Content-Length: +5\r\n\r\nhello", False),
    "cl-huge": (OK + b"Content-Length: 99999999999999999999999\r\n\r\nhello", False),
    "cl-space-before-colon": (OK + b"Content-Length : 5\r\n\r\nhello", False),
    "cl-te": (OK + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(b"hello"),
              False),
    "te-gzip-chunked": (OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
                        + _chunked(gzip.compress(b"hello", mtime=0)), False),
    "te-chunked-gzip": (OK + b"Transfer-Encoding: chunked, gzip\r\n\r\n"
                        + gzip.compress(_chunked(b"hello"), mtime=0), False),
    "te-xchunked": (OK + b"Transfer-Encoding: xchunked\r\n\r\n" + _chunked(b"hello"), False),
    "te-http10": (b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + _chunked(b"hello"),
                  False),
    "bad-chunk": (OK + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", False),
    "chunk-overflow": (OK + b"Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n"
                       b"0\r\n\r\n", False),
    "obs-fold": (OK + b"Content-Length: 5\r\nX-Folded: first\r\n second\r\n\r\nhello", False),
    "bare-lf": (b"HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 5\n\nhello", False),
    "bare-cr": (OK + b"X-A: a\rb\r\nContent-Length: 5\r\n\r\nhello", False),
    "nul-in-header": (OK + b"X-Nul: a\x00b\r\nContent-Length: 5\r\n\r\nhello", False),
    "no-colon": (OK + b"NoColonHere\r\nContent-Length: 5\r\n\r\nhello", False),
    "space-in-name": (OK + b"X Bad: 1\r\nContent-Length: 5\r\n\r\nhello", False),
    "bad-status": (b"HTTP/1.1 2OO OK\r\nContent-Length: 5\r\n\r\nhello", False),
    "http09": (b"hello", False),
    "smuggle": (OK + b"Content-Length: 5\r\n\r\nhello" + SMUGGLED, True),
    "huge-header": (_huge_header, False),
}

ROUTES = {
    "/": Origin.ep_root,
    "/small": Origin.ep_small,
    "/big": Origin.ep_big,
    "/echo": Origin.ep_echo,
    "/chunked": Origin.ep_chunked,
    "/close-delimited": Origin.ep_close_delimited,
    "/status": Origin.ep_status,
    "/headers": Origin.ep_headers,
    "/slow": Origin.ep_slow,
    "/drip": Origin.ep_drip,
    "/hang": Origin.ep_hang,
    "/request-count": Origin.ep_request_count,
    "/stats": Origin.ep_stats,
    "/ws": Origin.ep_ws,
}


def main():
    p = serverlib.arg_parser("HTTP/1.1 origin server for end-to-end tests")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="speak TLS with this pair")
    args = p.parse_args()
    origin = Origin(args)
    serverlib.main_loop(args, origin.handle, origin.stats)


if __name__ == "__main__":
    main()
