#!/usr/bin/env python3
"""A small authoritative DNS server for portcullis tests (Python 3 standard library only).

    dnsserver.py --port 0 --ready-file F --log F [--host ADDR]... [--zone FILE]
                 [--record NAME TYPE VALUE]... [--blackhole NAME]... [--servfail NAME]...
                 [--delay-ms NAME MS]... [--delay-type-ms NAME TYPE MS]...
                 [--truncate NAME]... [--tcp-close NAME]... [--exit-with-parent]

Serves UDP and TCP on one port on 127.0.0.1 and on every --host (e.g. --host ::1 for IPv6).
Once serving, the chosen port is written to the ready file (atomically: a temporary file is
renamed). Every query whose question parses is appended to the log as "NAME TYPE" (flushed at
once), before anything else is decided, so blackholed names are logged too.

Answers: A, AAAA, CNAME (followed within the zone), TXT and ANY from the records; NXDOMAIN for
a name with no record; NOERROR with an empty answer section when the name exists but has no
record of the type. Blackholed names are never answered; servfail names get SERVFAIL; delayed
names are answered MS milliseconds later (without holding up other queries), --delay-type-ms
only for queries of one type (to control which answer of a pair arrives first). --truncate
names are always answered truncated over UDP; over TCP, a query for a --tcp-close name makes
the server close the connection without answering (so the client reconnects). Answers name the
question by a compression pointer. A UDP answer larger than the client's limit (512, or its
EDNS payload size) is sent truncated (TC, question only) so the client retries over TCP.

Zone file lines: "NAME TYPE VALUE", '#' starts a comment. Exits on SIGTERM or SIGINT and, with
--exit-with-parent, when the process that started it is gone. A malformed packet is answered
with FORMERR when its header can be read and is otherwise dropped; it never stops the server.
"""

import argparse
import heapq
import itertools
import os
import selectors
import signal
import socket
import struct
import sys
import time

TYPE_CODES = {
    "A": 1,
    "NS": 2,
    "CNAME": 5,
    "SOA": 6,
    "PTR": 12,
    "MX": 15,
    "TXT": 16,
    "AAAA": 28,
    "SRV": 33,
    "OPT": 41,
    "ANY": 255,
}
TYPE_NAMES = {code: name for name, code in TYPE_CODES.items()}
CLASS_IN = 1
RCODE_NOERROR, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN = 0, 1, 2, 3
RCODE_NOTIMP, RCODE_REFUSED = 4, 5
TTL = 60
UDP_DEFAULT_LIMIT = 512
CNAME_CHAIN_MAX = 8
TCP_BUFFER_MAX = 2 + 65535
TCP_CONN_MAX = 256
POLL_SECONDS = 0.5


class BadPacket(Exception):
    pass


def type_name(code):
    return TYPE_NAMES.get(code, "TYPE%d" % code)


def canonical(name):
    name = name.strip().lower()
    while name.endswith("."):
        name = name[:-1]
    return name


def encode_name(name):
    out = bytearray()
    text = canonical(name)
    for label in text.split(".") if text else []:
        raw = label.encode("ascii")
        if not 1 <= len(raw) <= 63:
            raise ValueError("bad label in %r" % name)
        out += bytes([len(raw)]) + raw
    out.append(0)
    if len(out) > 255:
        raise ValueError("name too long: %r" % name)
    return bytes(out)


def encode_rdata(rtype, value):
    if rtype == TYPE_CODES["A"]:
        return socket.inet_pton(socket.AF_INET, value)
    if rtype == TYPE_CODES["AAAA"]:
        return socket.inet_pton(socket.AF_INET6, value)
    if rtype == TYPE_CODES["CNAME"]:
        return encode_name(value)
    if rtype == TYPE_CODES["TXT"]:
        raw = value.encode("utf-8")
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return b"".join(bytes([len(c)]) + c for c in chunks)
    raise ValueError("unsupported record type %s" % type_name(rtype))


def label_text(raw):
    """Printable form of a wire label: unusual bytes become \\DDD, as in zone files."""
    out = []
    for b in raw:
        if b in (0x2E, 0x5C) or b <= 0x20 or b >= 0x7F:
            out.append("\\%03d" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def parse_question(msg, off):
    """Returns (text name, offset after the name). Compression is refused in questions."""
    labels = []
    total = 0
    while True:
        if off >= len(msg):
            raise BadPacket("name runs past the packet")
        n = msg[off]
        off += 1
        if n == 0:
            break
        if n & 0xC0:
            raise BadPacket("compressed or extended label in a question")
        if off + n > len(msg):
            raise BadPacket("label runs past the packet")
        total += n + 1
        if total > 254:
            raise BadPacket("name longer than 255 bytes")
        labels.append(label_text(msg[off : off + n]))
        off += n
    return ".".join(labels), off


def skip_name(msg, off):
    for _ in range(128):
        if off >= len(msg):
            raise BadPacket("name runs past the packet")
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        if n & 0xC0:
            raise BadPacket("extended label")
        off += 1 + n
    raise BadPacket("too many labels")


def udp_limit(msg, off, arcount):
    """The client's EDNS payload size if an OPT record follows the question, else 512."""
    try:
        for _ in range(min(arcount, 16)):
            off = skip_name(msg, off)
            if off + 10 > len(msg):
                break
            rtype, rclass, _ttl, rdlen = struct.unpack("!HHIH", msg[off : off + 10])
            if rtype == TYPE_CODES["OPT"]:
                return max(UDP_DEFAULT_LIMIT, min(rclass, 65535))
            off += 10 + rdlen
    except BadPacket:
        pass
    return UDP_DEFAULT_LIMIT


class Query:
    def __init__(self, qid, flags, question, name, qtype, qclass, limit):
        self.qid = qid
        self.flags = flags
        self.question = question
        self.name = name
        self.qtype = qtype
        self.qclass = qclass
        self.limit = limit


def parse_query(msg):
    """Returns a Query, None for a packet to drop silently, or raises BadPacket carrying the
    id and flags needed for a FORMERR answer (as e.args[1:])."""
    if len(msg) < 12:
        return None
    qid, flags, qdcount, ancount, nscount, arcount = struct.unpack("!6H", msg[:12])
    if flags & 0x8000:
        return None  # a response: never answer one
    if qdcount != 1:
        raise BadPacket("question count %d" % qdcount, qid, flags)
    try:
        name, off = parse_question(msg, 12)
    except BadPacket as e:
        raise BadPacket(str(e), qid, flags)
    if off + 4 > len(msg):
        raise BadPacket("question truncated", qid, flags)
    qtype, qclass = struct.unpack("!HH", msg[off : off + 4])
    end = off + 4
    if ancount or nscount:
        limit = UDP_DEFAULT_LIMIT
    else:
        limit = udp_limit(msg, end, arcount)
    return Query(qid, flags, msg[12:end], name, qtype, qclass, limit)


def build_response(qid, qflags, question, rcode, answers=(), truncated=False):
    flags = 0x8000 | (qflags & 0x7800) | 0x0400 | (qflags & 0x0100) | 0x0080 | rcode
    if truncated:
        flags |= 0x0200
    out = bytearray(
        struct.pack("!6H", qid, flags, 1 if question else 0, len(answers), 0, 0)
    )
    out += question or b""
    for owner, rtype, rdata in answers:
        out += owner + struct.pack("!HHIH", rtype, CLASS_IN, TTL, len(rdata)) + rdata
    return bytes(out)


class Zone:
    def __init__(self):
        self.records = {}  # canonical name -> list of (type code, rdata bytes)
        self.blackhole = set()
        self.servfail = set()
        self.delay_ms = {}  # canonical name or (name, type code) -> milliseconds
        self.truncate = set()
        self.tcp_close = set()

    def add(self, name, rtype_text, value):
        rtype = TYPE_CODES.get(rtype_text.upper())
        if rtype is None:
            raise ValueError("unknown record type %r" % rtype_text)
        self.records.setdefault(canonical(name), []).append(
            (rtype, encode_rdata(rtype, value.strip()))
        )

    def load(self, path):
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split(None, 2)
                if len(parts) != 3:
                    raise ValueError("%s:%d: expected NAME TYPE VALUE" % (path, lineno))
                self.add(*parts)

    def answer(self, q):
        """Returns (rcode, answers) for a parsed query."""
        if q.qclass != CLASS_IN:
            return RCODE_REFUSED, []
        answers = []
        current = canonical(q.name)
        owner = b"\xc0\x0c"  # the question name, at offset 12
        for _ in range(CNAME_CHAIN_MAX):
            records = self.records.get(current)
            if records is None:
                return RCODE_NXDOMAIN, answers
            wanted = [r for r in records if q.qtype in (r[0], TYPE_CODES["ANY"])]
            if wanted:
                return RCODE_NOERROR, answers + [(owner, t, d) for t, d in wanted]
            cname = [d for t, d in records if t == TYPE_CODES["CNAME"]]
            if not cname:
                return RCODE_NOERROR, answers
            answers.append((owner, TYPE_CODES["CNAME"], cname[0]))
            owner = cname[0]
            current = wire_name_text(cname[0])
        return RCODE_SERVFAIL, []


def wire_name_text(raw):
    labels = []
    off = 0
    while raw[off]:
        labels.append(raw[off + 1 : off + 1 + raw[off]].decode("ascii"))
        off += 1 + raw[off]
    return ".".join(labels)


class Server:
    def __init__(self, zone, log):
        self.zone = zone
        self.log = log
        self.sel = selectors.DefaultSelector()
        self.timers = []  # heap of (due, seq, function)
        self.seq = itertools.count()
        self.tcp_conns = {}

    def later(self, delay_s, fn):
        heapq.heappush(self.timers, (time.monotonic() + delay_s, next(self.seq), fn))

    def handle(self, msg, send, is_udp, close=None):
        """Answers one message through send(bytes); never raises for bad input. close() ends
        a TCP connection."""
        try:
            q = parse_query(msg)
        except BadPacket as e:
            if len(e.args) == 3:
                send(build_response(e.args[1], e.args[2], None, RCODE_FORMERR))
            return
        if q is None:
            return
        shown = q.name if q.name else "."
        self.log.write("%s %s\n" % (shown, type_name(q.qtype)))
        self.log.flush()
        if (q.flags >> 11) & 0xF != 0:
            send(build_response(q.qid, q.flags, q.question, RCODE_NOTIMP))
            return
        key = canonical(q.name)
        if key in self.zone.blackhole:
            return
        if close is not None and key in self.zone.tcp_close:
            close()
            return
        if key in self.zone.servfail:
            rcode, answers = RCODE_SERVFAIL, []
        else:
            rcode, answers = self.zone.answer(q)
        reply = build_response(q.qid, q.flags, q.question, rcode, answers)
        if is_udp and (len(reply) > q.limit or key in self.zone.truncate):
            reply = build_response(q.qid, q.flags, q.question, rcode, truncated=True)
        delay = self.zone.delay_ms.get((key, q.qtype), self.zone.delay_ms.get(key, 0))
        if delay > 0:
            self.later(delay / 1000.0, lambda: send(reply))
        else:
            send(reply)

    def udp_readable(self, sock):
        try:
            msg, peer = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError, ConnectionError):
            return

        def send(data):
            try:
                sock.sendto(data, peer)
            except OSError:
                pass

        self.handle(msg, send, True)

    def tcp_accept(self, lsock):
        try:
            conn, _ = lsock.accept()
        except (BlockingIOError, InterruptedError, ConnectionError):
            return
        if len(self.tcp_conns) >= TCP_CONN_MAX:
            conn.close()
            return
        conn.setblocking(False)
        state = {"in": bytearray(), "out": bytearray(), "closed": False}
        self.tcp_conns[conn] = state
        self.sel.register(conn, selectors.EVENT_READ, ("tcp", conn))

    def tcp_close(self, conn):
        state = self.tcp_conns.pop(conn, None)
        if state is None:
            return
        state["closed"] = True
        try:
            self.sel.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def tcp_send(self, conn, data):
        state = self.tcp_conns.get(conn)
        if state is None or state["closed"]:
            return
        state["out"] += struct.pack("!H", len(data)) + data
        self.tcp_flush(conn)

    def tcp_flush(self, conn):
        state = self.tcp_conns[conn]
        try:
            while state["out"]:
                n = conn.send(state["out"])
                del state["out"][:n]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self.tcp_close(conn)
            return
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if state["out"] else 0)
        self.sel.modify(conn, events, ("tcp", conn))

    def tcp_event(self, conn, mask):
        if mask & selectors.EVENT_WRITE:
            self.tcp_flush(conn)
            if conn not in self.tcp_conns:
                return
        if not mask & selectors.EVENT_READ:
            return
        state = self.tcp_conns[conn]
        try:
            data = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.tcp_close(conn)
            return
        state["in"] += data
        if len(state["in"]) > TCP_BUFFER_MAX:
            self.tcp_close(conn)
            return
        while len(state["in"]) >= 2 and not state["closed"]:
            (n,) = struct.unpack("!H", state["in"][:2])
            if len(state["in"]) < 2 + n:
                break
            msg = bytes(state["in"][2 : 2 + n])
            del state["in"][: 2 + n]
            self.handle(msg, lambda reply, c=conn: self.tcp_send(c, reply), False,
                        lambda c=conn: self.tcp_close(c))

    def run_timers(self):
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            fn()

    def serve(self, parent):
        while True:
            timeout = POLL_SECONDS
            if self.timers:
                timeout = max(0.0, min(timeout, self.timers[0][0] - time.monotonic()))
            for key, mask in self.sel.select(timeout):
                kind, sock = key.data
                try:
                    if kind == "udp":
                        self.udp_readable(sock)
                    elif kind == "listen":
                        self.tcp_accept(sock)
                    else:
                        self.tcp_event(sock, mask)
                except Exception as e:  # test infrastructure must outlive any bad input
                    print("dnsserver: %s: %r" % (kind, e), file=sys.stderr)
                    if kind == "tcp":
                        self.tcp_close(sock)
            self.run_timers()
            if parent is not None and os.getppid() != parent:
                return


def bind_all(hosts, port):
    """Binds UDP and TCP on every host with one port number; port 0 picks a free one."""
    for _ in range(32):
        socks = []
        try:
            chosen = port
            for host in hosts:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(family, kind)
                    socks.append(s)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    if kind == socket.SOCK_STREAM:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((host, chosen))
                    chosen = s.getsockname()[1]
                    if kind == socket.SOCK_STREAM:
                        s.listen(64)
                    s.setblocking(False)
            return chosen, socks
        except OSError:
            for s in socks:
                s.close()
            if port != 0:
                raise
    raise OSError("no free port for UDP and TCP on %s" % ",".join(hosts))


def write_atomically(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="ascii") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main(argv):
    p = argparse.ArgumentParser(description="DNS server for tests")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--host", action="append", default=[])
    p.add_argument("--ready-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--zone", action="append", default=[])
    p.add_argument("--record", nargs=3, action="append", default=[],
                   metavar=("NAME", "TYPE", "VALUE"))
    p.add_argument("--blackhole", action="append", default=[])
    p.add_argument("--servfail", action="append", default=[])
    p.add_argument("--delay-ms", nargs=2, action="append", default=[],
                   metavar=("NAME", "MS"))
    p.add_argument("--delay-type-ms", nargs=3, action="append", default=[],
                   metavar=("NAME", "TYPE", "MS"))
    p.add_argument("--truncate", action="append", default=[])
    p.add_argument("--tcp-close", action="append", default=[])
    p.add_argument("--exit-with-parent", action="store_true")
    args = p.parse_args(argv)

    zone = Zone()
    try:
        for path in args.zone:
            zone.load(path)
        for name, rtype, value in args.record:
            zone.add(name, rtype, value)
        zone.blackhole = {canonical(n) for n in args.blackhole}
        zone.servfail = {canonical(n) for n in args.servfail}
        zone.truncate = {canonical(n) for n in args.truncate}
        zone.tcp_close = {canonical(n) for n in args.tcp_close}
        zone.delay_ms = {canonical(n): int(ms) for n, ms in args.delay_ms}
        for name, rtype, ms in args.delay_type_ms:
            if rtype.upper() not in TYPE_CODES:
                raise ValueError("unknown record type %r" % rtype)
            zone.delay_ms[(canonical(name), TYPE_CODES[rtype.upper()])] = int(ms)
    except (OSError, ValueError) as e:
        p.error(str(e))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    parent = os.getppid() if args.exit_with_parent else None

    hosts = ["127.0.0.1"] + [h for h in args.host if h != "127.0.0.1"]
    port, socks = bind_all(hosts, args.port)
    with open(args.log, "a", encoding="utf-8") as log:
        server = Server(zone, log)
        for s in socks:
            kind = "udp" if s.type == socket.SOCK_DGRAM else "listen"
            server.sel.register(s, selectors.EVENT_READ, (kind, s))
        write_atomically(args.ready_file, "%d\n" % port)
        try:
            server.serve(parent)
        finally:
            for s in socks:
                s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
