"""The SOCKS5 listener end to end (issue 4, SPEC §2, §3, §6, §7): CONNECT with real clients
(curl, ssh, git over ssh) against servers the tests start on loopback, the replies of SPEC §7,
the audit records, and limited mode.

This module also holds what test_socks_udp.py and test_socks_malformed.py share: a small
RFC 1928 client over raw sockets, the configuration writer, and a test case whose proxies are
checked for sanitizer reports when they stop.
"""
import hashlib
import ipaddress
import json
import os
import shlex
import socket
import struct
import subprocess
import sys
import time
import unittest

import harness
import servers

WAIT = 5.0  # seconds any single wait of these tests may take
CONNECT, BIND, UDP_ASSOCIATE = 1, 2, 3
SUCCEEDED, GENERAL_FAILURE, NOT_ALLOWED, HOST_UNREACHABLE = 0, 1, 2, 4
CONNECTION_REFUSED, TTL_EXPIRED, COMMAND_NOT_SUPPORTED, ADDRESS_TYPE_NOT_SUPPORTED = 5, 6, 7, 8

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}


def toml_list(items):
    return "[" + ", ".join('"%s"' % i for i in items) + "]"


def config(allow=(), deny=(), dns=None, extra=""):
    """A [network] table: the lists, dns_servers when dns (a DnsServer) is given, and extra
    lines."""
    text = ("[network]\napproval_policy = \"never\"\nallowed_domains = %s\n"
            "denied_domains = %s\n" % (toml_list(allow), toml_list(deny)))
    if dns is not None:
        text += "dns_servers = [\"%s\"]\n" % dns.address
    return text + extra


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def free_port(host="127.0.0.1"):
    """A port nothing listens on (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- the RFC 1928 client ----

def encode_addr(host):
    """ATYP and DST.ADDR for host: an IP literal (str) as ATYP 1 or 4, anything else, and any
    bytes, as a domain (ATYP 3) sent verbatim."""
    if isinstance(host, str):
        try:
            ip = ipaddress.ip_address(host)
            return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
        except ValueError:
            host = host.encode()
    return b"\x03" + bytes([len(host)]) + host


def request_bytes(cmd, host, port):
    return b"\x05" + bytes([cmd]) + b"\x00" + encode_addr(host) + struct.pack("!H", port)


def udp_header(host, port, frag=0):
    return b"\x00\x00" + bytes([frag]) + encode_addr(host) + struct.pack("!H", port)


def decode_addr(atyp, data):
    """(host text, port, bytes used) of an address in a reply or a UDP header."""
    if atyp == 1:
        return socket.inet_ntop(socket.AF_INET, data[:4]), struct.unpack("!H", data[4:6])[0], 6
    if atyp == 4:
        return socket.inet_ntop(socket.AF_INET6, data[:16]), struct.unpack("!H", data[16:18])[0], 18
    if atyp == 3:
        n = data[0]
        return data[1:1 + n].decode(), struct.unpack("!H", data[1 + n:3 + n])[0], 3 + n
    raise AssertionError("unknown ATYP %d" % atyp)


def read_to_close(sock, timeout=WAIT):
    """(bytes, closed): what the peer sends until it closes (closed True; a reset counts) or
    until timeout seconds pass (closed False)."""
    deadline = time.monotonic() + timeout
    out = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out), False
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return bytes(out), False
        except ConnectionResetError:
            return bytes(out), True
        if not data:
            return bytes(out), True
        out += data


class Client:
    """One connection to the SOCKS listener, every read bounded by WAIT."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=WAIT)

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        return servers.recv_exact(self.sock, n, time.monotonic() + WAIT)

    def greet(self, methods=b"\x00"):
        """Sends a greeting offering methods; returns the METHOD chosen."""
        self.send(b"\x05" + bytes([len(methods)]) + methods)
        ver, method = self.recv_exact(2)
        assert ver == 5, ver
        return method

    def auth(self, user=b"user", password=b"pass"):
        """RFC 1929 sub-negotiation; returns STATUS."""
        self.send(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        ver, status = self.recv_exact(2)
        assert ver == 1, ver
        return status

    def read_reply(self):
        """(REP, bound host, bound port) of a request's reply."""
        ver, rep, rsv, atyp = self.recv_exact(4)
        assert ver == 5 and rsv == 0, (ver, rsv)
        rest = self.recv_exact({1: 6, 4: 18}[atyp])
        host, port, _ = decode_addr(atyp, rest)
        return rep, host, port

    def request(self, cmd, host, port):
        self.send(request_bytes(cmd, host, port))
        return self.read_reply()

    def connect(self, host, port, methods=b"\x00"):
        """Greeting (no auth) and CONNECT: the reply."""
        assert self.greet(methods) == 0
        return self.request(CONNECT, host, port)

    def to_close(self, timeout=WAIT):
        return read_to_close(self.sock, timeout)


def http_get(sock, host, path="/"):
    """A GET with Connection: close over an open tunnel; the whole response."""
    sock.sendall(b"GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                 % (path.encode(), host.encode()))
    data, closed = read_to_close(sock)
    assert closed, "response not finished: %r" % data[:200]
    return data


class SocksCase(harness.TestCase):
    """A test whose proxies are stopped at its end and must exit 0 without any sanitizer
    report on stderr."""

    def start_proxy(self, allow=(), deny=(), dns=None, extra="", name="proxy", args=(), **kw):
        return self.proxy(config(allow, deny, dns, extra), name=name, args=args, **kw)

    def client(self, proxy):
        c = Client(proxy.socks_port)
        self.addCleanup(c.close)
        return c

    def run_cmd(self, args, timeout=60, env=None):
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, **(env or {})))

    def curl(self, proxy, url, *args, hostname=True):
        flag = "--socks5-hostname" if hostname else "--socks5"
        return self.run_cmd(["curl", "-sS", "--max-time", "20", flag,
                             "127.0.0.1:%d" % proxy.socks_port] + list(args) + [url])

    def assertBlocked(self, res, host):
        """curl exits 97 for every SOCKS failure: the message must name reply 2."""
        self.assertEqual(res.returncode, 97, res.stderr)
        self.assertIn("Can't complete SOCKS5 connection to %s. (2)" % host, res.stderr)

    def audit_one(self, proxy, **fields):
        """The one audit record so far, checked against fields."""
        records = proxy.wait_audit(1)
        self.assertEqual(len(records), 1, records)
        for key, value in fields.items():
            self.assertEqual(records[0][key], value, records[0])
        return records[0]


class CurlTest(SocksCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.dns_server = self.dns(records=[("origin.test", "A", "127.0.0.1"),
                                            ("other.test", "A", "127.0.0.1")])

    def test_hostname_through_test_dns_to_origin(self):
        p = self.start_proxy(allow=["origin.test"], dns=self.dns_server,
                             extra="allow_local_binding = true\n")
        res = self.curl(p, "http://origin.test:%d/" % self.o.port)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "origin\n")
        self.assertIn("origin.test", self.dns_server.queries())
        # what a child of `portcullis run` gets: ALL_PROXY=socks5h://
        res = self.run_cmd(["curl", "-sS", "--max-time", "20", "http://origin.test:%d/echo"
                            % self.o.port], env={"ALL_PROXY": "socks5h://127.0.0.1:%d"
                                                 % p.socks_port})
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("/echo", res.stdout)
        entries = self.o.wait_requests(2)
        self.assertEqual([e["target"] for e in entries], ["/", "/echo"])
        self.assertEqual(p.audit(), [])

    def test_hostname_to_loopback_without_allow_local_is_blocked(self):
        p = self.start_proxy(allow=["origin.test"], dns=self.dns_server)
        res = self.curl(p, "http://origin.test:%d/" % self.o.port)
        self.assertBlocked(res, "origin.test")
        self.audit_one(p, host="origin.test", port=self.o.port, protocol="socks5_tcp",
                       reason="not_allowed_local", decision="deny")
        self.assertEqual(self.o.requests(), [])

    def test_literal_allowed_by_exact_entry(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        res = self.curl(p, "http://127.0.0.1:%d/" % self.o.port, hostname=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "origin\n")
        self.assertEqual(len(self.o.wait_requests(1)), 1)

    def test_literal_blocked(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        res = self.curl(p, "http://127.0.0.2:%d/" % self.o.port, hostname=False)
        self.assertBlocked(res, "127.0.0.2")
        record = self.audit_one(p, host="127.0.0.2", port=self.o.port, protocol="socks5_tcp",
                                reason="not_allowed_local", source="baseline_policy",
                                decision="deny", method=None, mode="full")
        self.assertTrue(record["client"].startswith("127.0.0.1:"), record)
        # a public literal nobody allowed is refused before any packet is sent
        res = self.curl(p, "http://198.51.100.7:80/", hostname=False)
        self.assertBlocked(res, "198.51.100.7")
        res = self.curl(p, "http://93.184.216.34:80/", hostname=False)
        self.assertBlocked(res, "93.184.216.34")
        records = p.wait_audit(3)
        self.assertEqual([r["reason"] for r in records],
                         ["not_allowed_local", "not_allowed_local", "not_allowed"])
        self.assertEqual(self.o.requests(), [])

    def test_denied_and_unlisted_names_never_reach_dns(self):
        p = self.start_proxy(allow=["*.test"], deny=["other.test"], dns=self.dns_server,
                             extra="allow_local_binding = true\n")
        res = self.curl(p, "http://other.test:%d/" % self.o.port)
        self.assertBlocked(res, "other.test")
        res = self.curl(p, "http://unlisted.example:%d/" % self.o.port)
        self.assertBlocked(res, "unlisted.example")
        records = p.wait_audit(2)
        self.assertEqual([(r["host"], r["reason"]) for r in records],
                         [("other.test", "denied"), ("unlisted.example", "not_allowed")])
        # the allowed name is asked, and only then: the log is in order
        res = self.curl(p, "http://origin.test:%d/" % self.o.port)
        self.assertEqual(res.stdout, "origin\n", res.stderr)
        self.assertEqual(set(self.dns_server.queries()), {"origin.test"})

    def test_username_password_accepted(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        res = self.curl(p, "http://127.0.0.1:%d/" % self.o.port, "-U", "user:secret",
                        hostname=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "origin\n")

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this machine")
    def test_ipv6_literal(self):
        o6 = self.origin(ipv6=True, name="origin6")
        p = self.start_proxy(allow=["::1"])
        res = self.curl(p, "http://[::1]:%d/" % o6.port, hostname=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "origin\n")
        [entry] = o6.wait_requests(1)
        self.assertTrue(entry["peer"].startswith("[::1]:"), entry)


class ConnectTest(SocksCase):
    """CONNECT over a raw socket: exact replies."""

    def setUp(self):
        super().setUp()
        self.o = self.origin()

    def test_bound_address_is_the_origins_view_of_the_proxy(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        c = self.client(p)
        rep, host, port = c.connect("127.0.0.1", self.o.port)
        self.assertEqual(rep, SUCCEEDED)
        self.assertIn(b"\r\n\r\norigin", http_get(c.sock, "127.0.0.1"))
        [entry] = self.o.wait_requests(1)
        self.assertEqual(entry["peer"], "%s:%d" % (host, port))
        self.assertNotEqual(port, 0)

    @unittest.skipUnless(has_ipv6_loopback(), "no ::1 on this machine")
    def test_bound_address_ipv6(self):
        o6 = self.origin(ipv6=True, name="origin6")
        p = self.start_proxy(allow=["::1"])
        c = self.client(p)
        rep, host, port = c.connect(b"[::1]", o6.port)  # a domain that is an IPv6 literal
        self.assertEqual((rep, host), (SUCCEEDED, "::1"))
        self.assertIn(b"origin", http_get(c.sock, "[::1]"))
        [entry] = o6.wait_requests(1)
        self.assertEqual(entry["peer"], "[::1]:%d" % port)

    def test_domain_that_is_an_address_is_judged_as_the_address(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        for spelling in ("127.1", "0x7f.0.0.1", "2130706433", "127.0.0.1."):
            c = self.client(p)
            rep, _, _ = c.connect(spelling.encode(), self.o.port)
            self.assertEqual(rep, SUCCEEDED, spelling)
            c.close()
        c = self.client(p)
        self.assertEqual(c.connect(b"127.0.0.010", self.o.port)[0], NOT_ALLOWED)  # 127.0.0.8

    def test_denylist_bypass_via_address_spellings(self):
        """Every spelling of a denied address, literal or behind a name, is refused before a
        dial: mapped, compatible, NAT64 and 6to4 forms are judged by their IPv4."""
        dns = self.dns(records=[("origin.test", "A", "127.0.0.1"),
                                ("mapped.test", "AAAA", "::ffff:127.0.0.1")])
        targets = ["::ffff:127.0.0.1", "::ffff:7f00:1", "::7f00:1", "64:ff9b::7f00:1",
                   "2002:7f00:1::1", b"::ffff:127.0.0.1", b"[::ffff:127.0.0.1]", b"127.1",
                   b"0x7f000001", b"0177.0.0.1", b"127.0.0.1.", b"localhost", b"LOCALHOST.",
                   b"a.localhost", b"origin.test", b"mapped.test"]
        for i, deny in enumerate(("127.0.0.0/8", "127.0.0.1", "127.0.0.1:%d" % self.o.port)):
            p = self.start_proxy(allow=["*"], deny=[deny], dns=dns, name="proxy%d" % i,
                                 extra="allow_local_binding = true\n")
            for target in targets:
                c = self.client(p)
                self.assertEqual(c.connect(target, self.o.port)[0], NOT_ALLOWED, (deny, target))
                c.close()
            records = p.wait_audit(len(targets))
            self.assertEqual([r["reason"] for r in records], ["denied"] * len(targets))
        self.assertEqual(self.o.requests(), [])

    def test_pipelined_greeting_auth_request_and_data(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        c = self.client(p)
        c.send(b"\x05\x01\x02" + b"\x01\x01u\x00" + request_bytes(CONNECT, "127.0.0.1", self.o.port)
               + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertEqual(c.recv_exact(2), b"\x05\x02")
        self.assertEqual(c.recv_exact(2), b"\x01\x00")
        self.assertEqual(c.read_reply()[0], SUCCEEDED)
        data, closed = c.to_close()
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data)
        self.assertTrue(data.endswith(b"\r\n\r\norigin\n"), data)

    def test_tunnel_bytes_sent_before_the_reply_arrive_whole(self):
        # The request is followed at once by far more bytes than the proxy buffers while it
        # decides and dials: it reads what fits, leaves the rest in the kernel, and the tunnel
        # carries all of it, in order, once the reply is out.
        p = self.start_proxy(allow=["127.0.0.1"])
        c = self.client(p)
        self.assertEqual(c.greet(), 0)
        body = servers.pattern(200_000)
        c.send(request_bytes(CONNECT, "127.0.0.1", self.o.port)
               + b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.assertEqual(c.read_reply()[0], SUCCEEDED)
        data, closed = c.to_close()
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:200])
        echo = json.loads(data.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(echo["body_length"], len(body))
        self.assertEqual(echo["body_sha256"], hashlib.sha256(body).hexdigest())

    def test_username_password_method_chosen_when_offered(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        c = self.client(p)
        self.assertEqual(c.greet(b"\x00\x02"), 2)
        self.assertEqual(c.auth(b"u" * 255, b"p" * 255), 0)
        self.assertEqual(c.request(CONNECT, "127.0.0.1", self.o.port)[0], SUCCEEDED)
        c = self.client(p)
        self.assertEqual(c.greet(b"\x02"), 2)
        self.assertEqual(c.auth(b"\x00any\xff", b""), 0)  # any bytes; empty password too
        self.assertEqual(c.request(CONNECT, "127.0.0.1", self.o.port)[0], SUCCEEDED)

    def test_connection_refused_is_0x05(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", free_port()), (CONNECTION_REFUSED, "0.0.0.0", 0))
        self.assertEqual(c.to_close(), (b"", True))
        self.assertEqual(p.audit(), [])  # not a policy block

    def test_connect_timeout_is_0x06(self):
        port = full_backlog_listener(self)
        p = self.start_proxy(allow=["127.0.0.1"], extra="connect_timeout_s = 1\n")
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", port)[0], TTL_EXPIRED)

    def test_network_unreachable_is_0x04(self):
        # TCP to a multicast address fails in the route lookup (ENETUNREACH): nothing is sent,
        # and SPEC §7 answers every "unreachable" with 0x04.
        p = self.start_proxy(allow=["224.0.0.1"])
        c = self.client(p)
        self.assertEqual(c.connect("224.0.0.1", 80)[0], HOST_UNREACHABLE)

    def test_dns_failure_is_0x04_with_allow_local_binding(self):
        dns = self.dns(servfail=["broken.test"])
        p = self.start_proxy(allow=["*.test"], dns=dns, extra="allow_local_binding = true\n")
        c = self.client(p)
        self.assertEqual(c.connect(b"missing.test", 80)[0], HOST_UNREACHABLE)
        c = self.client(p)
        self.assertEqual(c.connect(b"broken.test", 80)[0], HOST_UNREACHABLE)
        self.assertEqual(p.audit(), [])
        self.assertEqual(sorted(set(dns.queries())), ["broken.test", "missing.test"])

    def test_dns_failure_is_a_policy_block_without_allow_local_binding(self):
        dns = self.dns()
        p = self.start_proxy(allow=["*.test"], dns=dns)
        c = self.client(p)
        self.assertEqual(c.connect(b"missing.test", 80)[0], NOT_ALLOWED)
        self.audit_one(p, host="missing.test", reason="not_allowed_local")

    def test_proxy_itself_is_0x04(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        for port in (p.socks_port, p.http_port):
            c = self.client(p)
            self.assertEqual(c.connect("127.0.0.1", port)[0], HOST_UNREACHABLE)

    def test_udp_associate_disabled_is_0x07(self):
        p = self.start_proxy(allow=["127.0.0.1"], extra="enable_socks5_udp = false\n")
        c = self.client(p)
        self.assertEqual(c.greet(), 0)
        self.assertEqual(c.request(UDP_ASSOCIATE, "0.0.0.0", 0)[0], COMMAND_NOT_SUPPORTED)
        self.assertEqual(c.to_close(), (b"", True))


class LimitedModeTest(SocksCase):
    def setUp(self):
        super().setUp()
        self.p = self.start_proxy(allow=["127.0.0.1"], extra="mode = \"limited\"\n")

    def test_tcp_to_ssh_port_is_method_not_allowed(self):
        c = self.client(self.p)
        self.assertEqual(c.connect("127.0.0.1", 22)[0], NOT_ALLOWED)
        self.assertEqual(c.to_close(), (b"", True))
        self.audit_one(self.p, host="127.0.0.1", port=22, protocol="socks5_tcp",
                       reason="method_not_allowed", source="mode_guard", mode="limited")

    def test_tcp_to_443_needs_interception(self):
        c = self.client(self.p)
        self.assertEqual(c.connect("127.0.0.1", 443)[0], NOT_ALLOWED)
        self.audit_one(self.p, host="127.0.0.1", port=443, protocol="socks5_tcp",
                       reason="mitm_required", source="mode_guard", mode="limited")

    def test_udp_associate_refused(self):
        c = self.client(self.p)
        self.assertEqual(c.greet(), 0)
        self.assertEqual(c.request(UDP_ASSOCIATE, "0.0.0.0", 0)[0], NOT_ALLOWED)
        self.assertEqual(c.to_close(), (b"", True))
        self.audit_one(self.p, protocol="socks5_udp", reason="method_not_allowed",
                       source="mode_guard", mode="limited")


def full_backlog_listener(case):
    """A listening socket whose accept queue is full: every further SYN is dropped, so a dial
    to it hangs without a packet leaving the machine. Returns its port."""
    listener = socket.socket()
    case.addCleanup(listener.close)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    for _ in range(4):
        f = socket.socket()
        case.addCleanup(f.close)
        f.setblocking(False)
        f.connect_ex(listener.getsockname())
    return listener.getsockname()[1]


class LifecycleTest(SocksCase):
    """Many clients at once, long transfers, and clients or the proxy leaving at every stage:
    the proxy must stay up and exit cleanly (no sanitizer report)."""

    def setUp(self):
        super().setUp()
        self.o = self.origin()

    def test_many_concurrent_tunnels(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        clients = []
        for _ in range(64):
            c = self.client(p)
            self.assertEqual(c.greet(), 0)
            c.send(request_bytes(CONNECT, "127.0.0.1", self.o.port))
            clients.append(c)
        for c in clients:
            self.assertEqual(c.read_reply()[0], SUCCEEDED)
        for c in clients:
            c.send(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        for c in clients:
            data, closed = c.to_close()
            self.assertTrue(closed and data.endswith(servers.pattern(1024)), data[:100])

    def test_large_download_through_tunnel(self):
        p = self.start_proxy(allow=["127.0.0.1"])
        out = os.path.join(self.tmp, "big")
        n = 32 << 20
        res = self.curl(p, "http://127.0.0.1:%d/big?bytes=%d" % (self.o.port, n), "-o", out,
                        hostname=False)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(os.path.getsize(out), n)
        with open(out, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), servers.pattern_sha256(n))

    def test_idle_tunnel_is_cut_after_tunnel_idle_timeout(self):
        p = self.start_proxy(allow=["127.0.0.1"], extra="tunnel_idle_timeout_s = 1\n")
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", self.o.port)[0], SUCCEEDED)
        self.assertEqual(c.to_close(timeout=10), (b"", True))

    def test_clients_leaving_at_every_stage(self):
        dns = self.dns(blackhole=["slow.test"])
        p = self.start_proxy(allow=["127.0.0.1", "slow.test"], dns=dns)
        hung = full_backlog_listener(self)
        for target in ((b"slow.test", 80), ("127.0.0.1", hung), ("127.0.0.1", self.o.port)):
            c = self.client(p)
            self.assertEqual(c.greet(), 0)
            c.send(request_bytes(CONNECT, *target))
            if target[1] == self.o.port:
                self.assertEqual(c.read_reply()[0], SUCCEEDED)
            c.close()  # while deciding, while dialling, in the tunnel
        self.assertTrue(servers.wait_for_file(dns.log))  # the lookup was asked for
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", self.o.port)[0], SUCCEEDED)

    def test_stop_with_everything_in_flight(self):
        dns = self.dns(blackhole=["slow.test"])
        p = self.start_proxy(allow=["127.0.0.1", "slow.test"], dns=dns, args=["--grace", "1"])
        hung = full_backlog_listener(self)
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", self.o.port)[0], SUCCEEDED)  # a tunnel
        for target in ((b"slow.test", 80), ("127.0.0.1", hung)):  # deciding, dialling
            c = self.client(p)
            self.assertEqual(c.greet(), 0)
            c.send(request_bytes(CONNECT, *target))
        c = self.client(p)
        c.send(b"\x05\x01")  # negotiating
        c = self.client(p)
        self.assertEqual(c.greet(), 0)
        self.assertEqual(c.request(UDP_ASSOCIATE, "0.0.0.0", 0)[0], SUCCEEDED)
        self.assertTrue(servers.wait_for_file(dns.log))
        self.stop_proxy(p)  # exit 0 within the grace period, nothing leaked


class DisabledTest(SocksCase):
    """enabled = false: the listener still answers, and every request is a block."""

    def test_every_request_is_refused_as_proxy_disabled(self):
        o = self.origin()
        p = self.start_proxy(allow=["127.0.0.1"], extra="enabled = false\n")
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", o.port)[0], NOT_ALLOWED)
        c = self.client(p)
        self.assertEqual(c.greet(), 0)
        self.assertEqual(c.request(UDP_ASSOCIATE, "0.0.0.0", 0)[0], NOT_ALLOWED)
        records = p.wait_audit(2)
        self.assertEqual([(r["protocol"], r["reason"], r["source"]) for r in records],
                         [("socks5_tcp", "proxy_disabled", "proxy_state"),
                          ("socks5_udp", "proxy_disabled", "proxy_state")])
        self.assertEqual(o.requests(), [])

    def test_approval_on_request_with_nobody_to_ask_is_a_deny(self):
        p = self.proxy("[network]\nallowed_domains = [\"127.0.0.1\"]\n")
        c = self.client(p)
        self.assertEqual(c.connect("93.184.216.34", 443)[0], NOT_ALLOWED)
        self.audit_one(p, host="93.184.216.34", reason="not_allowed", decision="deny")


# A ProxyCommand for ssh: CONNECT through the SOCKS listener, then stdin/stdout <-> the tunnel.
PROXY_COMMAND = r'''
import ipaddress, os, select, socket, struct, sys
socks_port, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", socks_port), timeout=10)
def exact(n):
    out = b""
    while len(out) < n:
        data = s.recv(n - len(out))
        if not data:
            sys.exit("proxy closed")
        out += data
    return out
try:
    ip = ipaddress.ip_address(host)
    addr = (b"\x01" if ip.version == 4 else b"\x04") + ip.packed
except ValueError:
    addr = b"\x03" + bytes([len(host)]) + host.encode()
s.sendall(b"\x05\x01\x00")
if exact(2) != b"\x05\x00":
    sys.exit("no acceptable method")
s.sendall(b"\x05\x01\x00" + addr + struct.pack("!H", port))
head = exact(4)
if head[1] != 0:
    sys.exit("SOCKS reply %d" % head[1])
exact({1: 6, 4: 18}[head[3]])
s.settimeout(None)
stdin_open = True
while True:
    ready, _, _ = select.select([0, s] if stdin_open else [s], [], [], 60)
    if not ready:
        sys.exit("idle")
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            s.sendall(data)
        else:
            stdin_open = False
            s.shutdown(socket.SHUT_WR)
    if s in ready:
        data = s.recv(65536)
        if not data:
            break
        os.write(1, data)
'''


class SshTest(SocksCase):
    """ssh and git over ssh through the listener, by name, to an sshd on loopback."""

    def setUp(self):
        super().setUp()
        self.sshd = servers.Sshd(self.tmp)
        self.addCleanup(self.sshd.stop)
        self.dns_server = self.dns(records=[("sshd.test", "A", "127.0.0.1")])
        self.p = self.start_proxy(allow=["sshd.test"], dns=self.dns_server,
                                  extra="allow_local_binding = true\n")
        script = self.write("socks_proxy_command.py", PROXY_COMMAND)
        self.proxy_command = "ProxyCommand=%s %s %d %%h %%p" % (
            shlex.quote(sys.executable), shlex.quote(script), self.p.socks_port)

    def test_ssh_command(self):
        res = self.run_cmd(self.sshd.ssh_args("echo", "through-socks", host="sshd.test",
                                              options=["-o", self.proxy_command]), timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "through-socks\n")
        self.assertIn("sshd.test", self.dns_server.queries())

    def test_ssh_to_unlisted_name_is_blocked(self):
        res = self.run_cmd(self.sshd.ssh_args("true", host="elsewhere.test",
                                              options=["-o", self.proxy_command]), timeout=30)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("SOCKS reply 2", res.stderr)
        self.audit_one(self.p, host="elsewhere.test", port=self.sshd.port,
                       protocol="socks5_tcp", reason="not_allowed")

    def test_git_clone_over_ssh(self):
        from gitserver import init_repo
        repo, head = init_repo(os.path.join(self.tmp, "repos"))
        dest = os.path.join(self.tmp, "clone")
        ssh = self.sshd.git_ssh_command + " -o " + shlex.quote(self.proxy_command)
        res = self.run_cmd(["git", "clone", "-q", self.sshd.repo_url(repo, host="sshd.test"),
                            dest], env=dict(GIT_ENV, GIT_SSH_COMMAND=ssh))
        self.assertEqual(res.returncode, 0, res.stderr)
        res = self.run_cmd(["git", "-C", dest, "rev-parse", "HEAD"])
        self.assertEqual(res.stdout.strip(), head)


if __name__ == "__main__":
    harness.main()
