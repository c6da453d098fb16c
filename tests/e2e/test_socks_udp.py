"""SOCKS5 UDP ASSOCIATE end to end (issue 4, SPEC §2, §3, §7): a Python client speaking RFC
1928 §7 through the relay to UDP peers on loopback that the test runs, every datagram decided
(protocol socks5_udp), blocks dropped and audited at a bounded rate, and the association's
life tied to its control connection and to udp_idle_timeout_s.

Absence is proved by order, never by waiting: the proxy handles datagrams one after another,
so once a later, allowed datagram has come back, an earlier one that was to be dropped would
already have arrived."""
import selectors
import socket
import threading
import time
import unittest

import harness
import test_socks as t

ECHO_HOST = "127.0.0.1"
OTHER_HOST = "127.0.0.2"  # loopback too, but not allowlisted


class UdpPeers:
    """n UDP sockets on host served by one thread: every datagram is recorded as (socket index,
    source, payload) and, when echo, sent back to its source."""

    def __init__(self, host=ECHO_HOST, n=1, echo=True):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socks = []
        for _ in range(n):
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.bind((host, 0))
            s.setblocking(False)
            self.socks.append(s)
        self.host = host
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.port = self.ports[0]
        self.echo = echo
        self.got = []
        self.cond = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        while not self.stopping:
            for key, _ in sel.select(timeout=0.1):
                try:
                    data, src = key.fileobj.recvfrom(65535)
                except (BlockingIOError, OSError):
                    continue
                with self.cond:
                    self.got.append((key.data, src, data))
                    self.cond.notify_all()
                if self.echo:
                    key.fileobj.sendto(data, src)
        sel.close()

    def wait(self, n, timeout=t.WAIT):
        """The datagrams received, once there are at least n (bounded wait)."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.got) >= n, timeout)
            return list(self.got)

    def payloads(self):
        with self.cond:
            return [data for _, _, data in self.got]

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        for s in self.socks:
            s.close()


def bound_udp(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(t.WAIT)
    return s


def nothing_pending(sock):
    """True when no datagram waits on sock."""
    sock.setblocking(False)
    try:
        sock.recv(65535)
        return False
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(t.WAIT)


def port_is_free(host, port, kind=socket.SOCK_DGRAM):
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def wait_until(cond, timeout=t.WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


class Association:
    """A control connection with its UDP ASSOCIATE done, and the client's UDP socket."""

    def __init__(self, case, proxy, declare=True):
        self.ctl = case.client(proxy)
        case.assertEqual(self.ctl.greet(), 0)
        self.udp = bound_udp()
        case.addCleanup(self.udp.close)
        port = self.udp.getsockname()[1] if declare else 0
        rep, host, relay_port = self.ctl.request(t.UDP_ASSOCIATE, "0.0.0.0", port)
        case.assertEqual(rep, t.SUCCEEDED)
        self.relay = (host, relay_port)

    def send(self, host, port, payload, frag=0, sock=None):
        (sock or self.udp).sendto(t.udp_header(host, port, frag) + payload, self.relay)

    def recv(self, sock=None):
        """(source host, source port, payload) of the next datagram from the relay."""
        data, src = (sock or self.udp).recvfrom(70000)
        assert src == self.relay, (src, self.relay)
        assert data[:3] == b"\x00\x00\x00", data[:3]
        host, port, used = t.decode_addr(data[3], data[4:])
        return host, port, data[4 + used:]

    def echo(self, peers, payload, index=0, host=None):
        """Sends payload to peers (socket index) and returns the echoed payload."""
        self.send(host or peers.host, peers.ports[index], payload)
        src_host, src_port, data = self.recv()
        assert (src_port, data) == (peers.ports[index], payload), (src_port, data)
        return data


class UdpCase(t.SocksCase):
    def peers(self, **kw):
        p = UdpPeers(**kw)
        self.addCleanup(p.stop)
        return p

    def udp_audit(self, proxy, n=1):
        return [r for r in proxy.wait_audit(n) if r["protocol"] == "socks5_udp"]


class RelayTest(UdpCase):
    def setUp(self):
        super().setUp()
        self.echo = self.peers()
        self.p = self.start_proxy(allow=[ECHO_HOST])

    def test_echo_round_trip(self):
        a = Association(self, self.p)
        self.assertEqual(a.relay[0], "127.0.0.1")
        self.assertNotEqual(a.relay[1], 0)
        a.send(ECHO_HOST, self.echo.port, b"ping")
        self.assertEqual(a.recv(), (ECHO_HOST, self.echo.port, b"ping"))
        for payload in (b"", b"x" * 1400, bytes(range(256)) * 250, b"y" * 65000):
            self.assertEqual(a.echo(self.echo, payload), payload)
        for i in range(20):
            a.send(ECHO_HOST, self.echo.port, b"%d" % i)
        self.assertEqual([a.recv()[2] for _ in range(20)], [b"%d" % i for i in range(20)])
        # the destination sees the proxy, not the client
        src = self.echo.wait(1)[0][1]
        self.assertNotEqual(src[1], a.udp.getsockname()[1])
        self.assertEqual(self.p.audit(), [])

    def test_frag_not_zero_is_dropped(self):
        a = Association(self, self.p)
        for frag in (1, 2, 0x7f, 0x80, 0xff):
            a.send(ECHO_HOST, self.echo.port, b"frag %d" % frag, frag=frag)
        self.assertEqual(a.echo(self.echo, b"whole"), b"whole")
        self.assertEqual(self.echo.payloads(), [b"whole"])

    def test_malformed_datagrams_are_dropped(self):
        a = Association(self, self.p)
        port = self.echo.port.to_bytes(2, "big")
        for bad in (b"", b"\x00", b"\x00\x00\x00",
                    b"\x00\x01\x00\x01\x7f\x00\x00\x01" + port + b"rsv",
                    b"\x01\x00\x00\x01\x7f\x00\x00\x01" + port + b"rsv",
                    b"\x00\x00\x00\x05\x7f\x00\x00\x01" + port + b"atyp",
                    b"\x00\x00\x00\x01\x7f\x00\x00\x01\x00\x00port0",
                    b"\x00\x00\x00\x01\x7f\x00\x00",
                    b"\x00\x00\x00\x03\x081.2.3.09" + port + b"numeric",
                    b"\x00\x00\x00\x03\x05a\x00.bc" + port + b"nul",
                    b"\x00\x00\x00\x03\x00" + port + b"empty name"):
            a.udp.sendto(bad, a.relay)
        self.assertEqual(a.echo(self.echo, b"fine"), b"fine")
        self.assertEqual(self.echo.payloads(), [b"fine"])

    def test_datagrams_from_another_address_or_port_are_dropped(self):
        a = Association(self, self.p)
        other_port = bound_udp()
        other_addr = bound_udp(OTHER_HOST)
        for s in (other_port, other_addr):
            self.addCleanup(s.close)
        a.send(ECHO_HOST, self.echo.port, b"from another port", sock=other_port)
        a.send(ECHO_HOST, self.echo.port, b"from another address", sock=other_addr)
        self.assertEqual(a.echo(self.echo, b"client"), b"client")
        self.assertEqual(self.echo.payloads(), [b"client"])
        self.assertTrue(nothing_pending(other_port) and nothing_pending(other_addr))

    def test_port_zero_is_learnt_from_the_first_datagram(self):
        a = Association(self, self.p, declare=False)
        stranger = bound_udp(OTHER_HOST)
        self.addCleanup(stranger.close)
        a.send(ECHO_HOST, self.echo.port, b"another address first", sock=stranger)
        self.assertEqual(a.echo(self.echo, b"first"), b"first")
        later = bound_udp()
        self.addCleanup(later.close)
        a.send(ECHO_HOST, self.echo.port, b"same address, other port", sock=later)
        self.assertEqual(a.echo(self.echo, b"again"), b"again")
        self.assertEqual(self.echo.payloads(), [b"first", b"again"])
        self.assertTrue(nothing_pending(later) and nothing_pending(stranger))

    def test_replies_only_from_contacted_destinations(self):
        a = Association(self, self.p)
        self.assertEqual(a.echo(self.echo, b"hello"), b"hello")
        outbound = self.echo.wait(1)[0][1]  # the proxy's socket towards destinations
        stranger = bound_udp()  # same address as the echo peer, another port
        self.addCleanup(stranger.close)
        stranger.sendto(b"spoofed", outbound)
        self.echo.socks[0].sendto(b"unsolicited", outbound)  # a contacted destination may
        self.assertEqual(a.recv(), (ECHO_HOST, self.echo.port, b"unsolicited"))
        self.assertTrue(nothing_pending(a.udp))

    def test_many_destinations(self):
        many = self.peers(n=80)
        a = Association(self, self.p)
        for rnd in range(2):
            for i in range(len(many.ports)):
                self.assertEqual(a.echo(many, b"%d.%d" % (rnd, i), index=i), b"%d.%d" % (rnd, i))

    def test_association_ends_with_its_control_connection(self):
        a = Association(self, self.p)
        self.assertEqual(a.echo(self.echo, b"hello"), b"hello")
        outbound = self.echo.wait(1)[0][1]
        self.assertFalse(port_is_free(*a.relay))
        a.ctl.close()
        self.assertTrue(wait_until(lambda: port_is_free(*a.relay)), "relay socket still open")
        self.assertTrue(wait_until(lambda: port_is_free("0.0.0.0", outbound[1])),
                        "outbound socket still open")
        # the listener still makes associations
        self.assertEqual(Association(self, self.p).echo(self.echo, b"next"), b"next")

    def test_control_connection_carries_nothing_more(self):
        a = Association(self, self.p)
        a.ctl.send(b"\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50" * 100)
        self.assertEqual(a.echo(self.echo, b"still"), b"still")

    @unittest.skipUnless(t.has_ipv6_loopback(), "no ::1 on this machine")
    def test_ipv6_destination(self):
        echo6 = self.peers(host="::1")
        p = self.start_proxy(allow=["::1"], name="proxy6")
        a = Association(self, p)
        a.send("::1", echo6.port, b"six")
        self.assertEqual(a.recv(), ("::1", echo6.port, b"six"))


    @unittest.skipUnless(t.has_ipv6_loopback(), "no ::1 on this machine")
    def test_ipv6_client(self):
        """Control connection, relay and client all on ::1; both families of destination."""
        echo6 = self.peers(host="::1")
        p = self.start_proxy(allow=[ECHO_HOST, "::1"], socks="[::1]:0",
                             name="proxy6")
        self.assertTrue(p.socks.startswith("[::1]:"), p.socks)
        ctl = t.Client(p.socks_port, host="::1")
        self.addCleanup(ctl.close)
        self.assertEqual(ctl.greet(), 0)
        udp = bound_udp("::1")
        self.addCleanup(udp.close)
        rep, host, port = ctl.request(t.UDP_ASSOCIATE, "::", udp.getsockname()[1])
        self.assertEqual((rep, host), (t.SUCCEEDED, "::1"))
        for peers in (self.echo, echo6):
            udp.sendto(t.udp_header(peers.host, peers.port) + b"six", (host, port))
            data, src = udp.recvfrom(1000)
            self.assertEqual(src[:2], (host, port))
            self.assertEqual(data, t.udp_header(peers.host, peers.port) + b"six")


class ReloadTest(UdpCase):
    def test_reload_applies_to_the_next_datagram_of_a_running_association(self):
        """Each datagram is a request: a destination denied by a reload is refused even on an
        association opened before it (a tunnel cannot be re-judged, a datagram can)."""
        echo = self.peers()
        other = self.peers(host=OTHER_HOST)
        p = self.start_proxy(allow=[ECHO_HOST])
        a = Association(self, p)
        self.assertEqual(a.echo(echo, b"before"), b"before")
        outbound = echo.wait(1)[0][1]
        a.send(OTHER_HOST, other.port, b"blocked before")
        p.reload(t.config(allow=[ECHO_HOST, OTHER_HOST], deny=["%s:%d" % (ECHO_HOST, echo.port)]))
        self.assertTrue(wait_until(lambda: "configuration reloaded" in p.log()), p.log())
        self.assertEqual(a.echo(other, b"allowed now"), b"allowed now")
        a.send(ECHO_HOST, echo.port, b"denied now")
        # a destination contacted only before the reload may no longer answer
        echo.socks[0].sendto(b"stale", outbound)
        self.assertEqual(a.echo(other, b"again"), b"again")
        self.assertEqual(echo.payloads(), [b"before"])
        self.assertEqual([(r["host"], r["reason"]) for r in self.udp_audit(p, 2)],
                         [(OTHER_HOST, "not_allowed_local"), (ECHO_HOST, "denied")])


class IdleTest(UdpCase):
    def test_association_ends_after_udp_idle_timeout(self):
        echo = self.peers()
        p = self.start_proxy(allow=[ECHO_HOST], extra="udp_idle_timeout_s = 1\n")
        a = Association(self, p)
        self.assertEqual(a.echo(echo, b"hello"), b"hello")
        self.assertEqual(a.ctl.to_close(timeout=10), (b"", True))
        self.assertTrue(wait_until(lambda: port_is_free(*a.relay)), "relay socket still open")


class PendingLookupTest(UdpCase):
    """Associations that end, or a proxy that stops, while lookups for datagrams are under
    way: the policy's own (step 5) and the relay's (allow_local_binding)."""

    def test_lookups_under_way_when_the_association_or_the_proxy_ends(self):
        dns = self.dns(blackhole=["slow.test"])
        echo = self.peers()
        for extra in ("", "allow_local_binding = true\n"):
            p = self.start_proxy(allow=["slow.test", ECHO_HOST], dns=dns, extra=extra,
                                 name="proxy%d" % len(extra))
            ending, staying = Association(self, p), Association(self, p)
            for a in (ending, staying):
                a.send("slow.test", echo.port, b"waits")
                a.send("slow.test", echo.port, b"dropped while the first waits")
                self.assertEqual(a.echo(echo, b"not held up"), b"not held up")
            self.assertTrue(wait_until(lambda: "slow.test" in dns.queries()))
            ending.ctl.close()
            self.assertTrue(wait_until(lambda: port_is_free(*ending.relay)))
            self.stop_proxy(p)
        self.assertEqual(echo.payloads(), [b"not held up"] * 4)


class BlockTest(UdpCase):
    def setUp(self):
        super().setUp()
        self.echo = self.peers()
        self.sink = self.peers(host=OTHER_HOST, echo=False)
        self.dns_server = self.dns(records=[("echo.test", "A", "127.0.0.1"),
                                            ("denied.test", "A", "127.0.0.1")])

    def test_blocked_destination_never_receives_and_is_audited(self):
        p = self.start_proxy(allow=[ECHO_HOST])
        a = Association(self, p)
        a.send(OTHER_HOST, self.sink.port, b"blocked")
        self.assertEqual(a.echo(self.echo, b"allowed"), b"allowed")
        self.assertEqual(self.sink.payloads(), [])
        record = self.audit_one(p, host=OTHER_HOST, port=self.sink.port, protocol="socks5_udp",
                                reason="not_allowed_local", decision="deny",
                                source="baseline_policy", method=None, mode="full")
        self.assertTrue(record["client"].startswith("127.0.0.1:"), record)
        # a public address nobody allowed: refused without a packet leaving the machine
        a.send("93.184.216.34", 53, b"public")
        self.assertEqual(a.echo(self.echo, b"allowed"), b"allowed")
        self.assertEqual([r["reason"] for r in self.udp_audit(p, 2)],
                         ["not_allowed_local", "not_allowed"])

    def test_denied_and_unlisted_names_never_reach_dns(self):
        p = self.start_proxy(allow=[ECHO_HOST, "*.test"], deny=["denied.test"],
                             dns=self.dns_server, extra="allow_local_binding = true\n")
        a = Association(self, p)
        a.send("denied.test", self.sink.port, b"denied")
        a.send("unlisted.example", self.sink.port, b"unlisted")
        self.assertEqual(a.echo(self.echo, b"allowed"), b"allowed")
        self.assertEqual([(r["host"], r["reason"]) for r in self.udp_audit(p, 2)],
                         [("denied.test", "denied"), ("unlisted.example", "not_allowed")])
        self.assertEqual(self.dns_server.queries(), [])
        self.assertEqual(self.sink.payloads(), [])

    def test_name_resolved_and_checked(self):
        # with allow_local_binding a name may resolve to loopback: the relay resolves it
        p = self.start_proxy(allow=["echo.test"], dns=self.dns_server,
                             extra="allow_local_binding = true\n")
        a = Association(self, p)
        a.send("echo.test", self.echo.port, b"by name")
        self.assertEqual(a.recv(), (ECHO_HOST, self.echo.port, b"by name"))
        self.assertEqual(a.echo(self.echo, b"again", host="echo.test"), b"again")
        self.assertIn("echo.test", self.dns_server.queries())
        self.assertEqual(p.audit(), [])

    def test_denylist_bypass_via_address_spellings(self):
        p = self.start_proxy(allow=["*"], deny=["127.0.0.1", "denied.test"],
                             dns=self.dns_server, extra="allow_local_binding = true\n")
        a = Association(self, p)
        targets = ["127.0.0.1", "::ffff:127.0.0.1", "::7f00:1", "64:ff9b::7f00:1",
                   "2002:7f00:1::1", b"127.1", b"0x7f000001", b"localhost", b"echo.test"]
        for target in targets:
            a.send(target, self.echo.port, b"denied")
        a.send(OTHER_HOST, self.sink.port, b"last")
        got = self.sink.wait(1)
        self.assertEqual([d for _, _, d in got], [b"last"], p.audit())  # 127.0.0.2 is not denied
        self.assertEqual(self.echo.payloads(), [])
        self.assertEqual([r["reason"] for r in self.udp_audit(p, len(targets))],
                         ["denied"] * len(targets))

    def test_name_that_does_not_resolve_is_dropped_not_audited(self):
        p = self.start_proxy(allow=["*.test", ECHO_HOST], dns=self.dns_server,
                             extra="allow_local_binding = true\n")
        a = Association(self, p)

        def asked():
            return self.dns_server.queries().count("missing.test")

        a.send("missing.test", self.sink.port, b"nowhere")
        self.assertEqual(a.echo(self.echo, b"allowed"), b"allowed")
        self.assertTrue(wait_until(lambda: asked() >= 2))  # A and AAAA: one lookup
        first = asked()

        # a failed lookup is not remembered: a later datagram asks again
        def send_again():
            a.send("missing.test", self.sink.port, b"nowhere")
            return asked() > first

        self.assertTrue(wait_until(send_again))
        self.assertEqual(a.echo(self.echo, b"still allowed"), b"still allowed")
        self.assertEqual(p.audit(), [])
        self.assertEqual(self.sink.payloads(), [])

    def test_name_resolving_into_a_denied_block_is_denied(self):
        p = self.start_proxy(allow=["echo.test", ECHO_HOST],
                             deny=["127.0.0.0/8:%d" % self.sink.port], dns=self.dns_server,
                             extra="allow_local_binding = true\n")
        a = Association(self, p)
        a.send("echo.test", self.sink.port, b"denied by address")
        self.assertEqual(a.echo(self.echo, b"allowed"), b"allowed")
        self.assertEqual(self.sink.payloads(), [])
        self.audit_one(p, host="echo.test", port=self.sink.port, protocol="socks5_udp",
                       reason="denied")

    def test_name_to_loopback_without_allow_local_is_blocked(self):
        p = self.start_proxy(allow=["echo.test", ECHO_HOST], dns=self.dns_server)
        a = Association(self, p)
        a.send("echo.test", self.echo.port, b"by name")
        self.audit_one(p, host="echo.test", port=self.echo.port, protocol="socks5_udp",
                       reason="not_allowed_local")
        self.assertEqual(a.echo(self.echo, b"literal"), b"literal")
        self.assertEqual(self.echo.payloads(), [b"literal"])

    def test_flood_of_blocked_datagrams_is_audited_at_a_bounded_rate(self):
        p = self.start_proxy(allow=[ECHO_HOST])
        a = Association(self, p)
        start = time.monotonic()
        for i in range(1000):
            a.send(OTHER_HOST, self.sink.port, b"%d" % i)
            if i % 100 == 99:  # pace: keep the relay's receive buffer from overflowing
                self.assertEqual(a.echo(self.echo, b"sync"), b"sync")
        elapsed = time.monotonic() - start
        records = self.udp_audit(p)
        self.assertGreaterEqual(len(records), 1)
        # a burst of 10, then one a second
        self.assertLessEqual(len(records), 10 + int(elapsed) + 2, elapsed)
        self.assertEqual(self.sink.payloads(), [])

    def test_sustained_flood_is_still_recorded_once_a_second(self):
        p = self.start_proxy(allow=[ECHO_HOST])
        a = Association(self, p)
        def recorded():
            return len([r for r in p.audit() if r["protocol"] == "socks5_udp"])

        # never a pause of a second: the limiter must not need one to record again
        deadline = time.monotonic() + 10
        while recorded() <= 10 and time.monotonic() < deadline:
            for _ in range(5):
                a.send(OTHER_HOST, self.sink.port, b"flood")
            self.assertEqual(a.echo(self.echo, b"sync"), b"sync")
            time.sleep(0.01)
        self.assertGreater(recorded(), 10)
        self.assertEqual(self.sink.payloads(), [])


if __name__ == "__main__":
    harness.main()
