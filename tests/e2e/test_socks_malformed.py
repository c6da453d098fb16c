"""Bad input on the SOCKS5 listener, each over a real socket (issue 4, SPEC §7): the reply RFC
1928/1929 give (or a close where they give none), one log line per refused client, and a
listener that keeps serving everybody else afterwards."""
import socket
import struct
import time

import harness
import test_socks as t

GREETING = b"\x05\x01\x00"
LOG_MARK = "SOCKS client "


def request(cmd=t.CONNECT, atyp_addr=b"\x01\x7f\x00\x00\x01", port=80, ver=5, rsv=0):
    return bytes([ver, cmd, rsv]) + atyp_addr + struct.pack("!H", port)


def domain(name):
    return b"\x03" + bytes([len(name)]) + name


# (name, bytes sent, expected answer, whether the client half-closes after sending): the
# answer is the exact bytes the proxy sends before it closes.
NEG = b"\x05\x00"  # method selection: no authentication
USERPASS = b"\x05\x02"


def rep(code):
    return bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0])


CASES = [
    # greetings: nothing can be answered in a protocol we do not share
    ("socks4", b"\x04\x01\x00\x50\x7f\x00\x00\x01user\x00", b"", False),
    ("socks4a", b"\x04\x01\x00\x50\x00\x00\x00\x01\x00example.com\x00", b"", False),
    ("socks4 first byte only", b"\x04", b"", False),
    ("greeting version 6", b"\x06\x01\x00", b"", False),
    ("greeting version 0", b"\x00\x01\x00", b"", False),
    ("http on the socks port", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"", False),
    ("nmethods 0", b"\x05\x00", b"", False),
    ("no acceptable method", b"\x05\x02\x01\x80", b"\x05\xff", False),
    ("truncated greeting", b"\x05\x03\x00", b"", True),
    # requests
    ("request version 4", GREETING + request(ver=4), NEG + rep(1), False),
    ("request rsv 1", GREETING + request(rsv=1), NEG + rep(1), False),
    ("bind", GREETING + request(cmd=t.BIND), NEG + rep(7), False),
    ("unknown command", GREETING + request(cmd=9), NEG + rep(7), False),
    ("command 0", GREETING + request(cmd=0), NEG + rep(7), False),
    ("atyp 5", GREETING + request(atyp_addr=b"\x05" + b"\x00" * 16), NEG + rep(8), False),
    ("atyp 0", GREETING + request(atyp_addr=b"\x00\x7f\x00\x00\x01"), NEG + rep(8), False),
    ("domain length 0", GREETING + request(atyp_addr=b"\x03\x00"), NEG + rep(1), False),
    ("domain with NUL", GREETING + request(atyp_addr=domain(b"exa\x00mple.com")), NEG + rep(1),
     False),
    ("domain 1.2.3.09", GREETING + request(atyp_addr=domain(b"1.2.3.09")), NEG + rep(1), False),
    ("domain 256.1.1.1", GREETING + request(atyp_addr=domain(b"256.1.1.1")), NEG + rep(1),
     False),
    ("domain bad utf-8", GREETING + request(atyp_addr=domain(b"\xff\xfe.example")),
     NEG + rep(1), False),
    ("oversized domain", GREETING + request(atyp_addr=domain(b"a." * 127 + b"a")),
     NEG + rep(1), False),
    ("connect to port 0", GREETING + request(port=0), NEG + rep(1), False),
    ("truncated request", GREETING + request()[:6], NEG + rep(1), True),
    ("truncated domain request", GREETING + b"\x05\x01\x00\x03\x0bexam", NEG + rep(1), True),
    # out of order
    ("request instead of greeting", request(), NEG + rep(1), False),
    ("auth when no-auth was chosen", GREETING + b"\x01\x01u\x01p", NEG + rep(1), False),
    ("request instead of auth", b"\x05\x01\x02" + request(), USERPASS + b"\x01\x01", False),
    ("second greeting read as a request", GREETING + b"\x05\x02\x00\x02", NEG + rep(7), False),
    # username/password
    ("auth ulen 0", b"\x05\x01\x02\x01\x00\x01p", USERPASS + b"\x01\x01", False),
    ("auth version 5", b"\x05\x01\x02\x05\x01u\x01p", USERPASS + b"\x01\x01", False),
    ("truncated auth", b"\x05\x01\x02\x01\x04us", USERPASS + b"\x01\x01", True),
    # a flood behind a greeting: the request parser answers from its first bytes
    ("oversized garbage", GREETING + b"\xee" * 100000, NEG + rep(1), False),
]


class MalformedTest(t.SocksCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()
        self.p = self.start_proxy(allow=["127.0.0.1"])

    def log_lines(self):
        return [line for line in self.p.log().splitlines() if LOG_MARK in line]

    def assertServes(self):
        c = self.client(self.p)
        self.assertEqual(c.connect("127.0.0.1", self.o.port)[0], t.SUCCEEDED)
        self.assertIn(b"origin", t.http_get(c.sock, "127.0.0.1"))
        c.close()

    def exchange(self, data, half_close):
        c = self.client(self.p)
        try:
            c.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: what it answered is still readable
        if half_close:
            c.sock.shutdown(socket.SHUT_WR)
        out = c.to_close()
        c.close()
        return out

    def test_every_case_answers_closes_and_logs_once(self):
        for name, data, answer, half_close in CASES:
            with self.subTest(name):
                before = len(self.log_lines())
                got, closed = self.exchange(data, half_close)
                self.assertTrue(closed, "still open after %r" % got)
                self.assertEqual(got, answer)
                # the line is written before the answer or the close
                self.assertEqual(len(self.log_lines()) - before, 1, self.log_lines()[before:])
        self.assertServes()
        self.assertEqual(self.p.audit(), [])  # malformed is not a policy block

    def test_every_split_of_a_bad_request_gives_the_same_answer(self):
        data = GREETING + request(atyp_addr=domain(b"1.2.3.09"))
        for cut in range(1, len(data)):
            with self.subTest(cut=cut):
                c = self.client(self.p)
                c.send(data[:cut])
                time.sleep(0.002)  # let the first piece arrive alone (not needed for the result)
                c.send(data[cut:])
                self.assertEqual(c.to_close(), (NEG + rep(1), True))
                c.close()
        self.assertServes()

    def test_clients_that_vanish_leave_nothing_behind(self):
        for data in (b"", b"\x05", GREETING, GREETING + b"\x05\x01", b"\x05\x01\x02\x01\x03"):
            c = self.client(self.p)
            if data:
                c.send(data)
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()  # a reset
        self.assertServes()

    def test_largest_messages_are_accepted(self):
        c = self.client(self.p)
        self.assertEqual(c.greet(bytes(range(255))), 2)  # every method: userpass wins
        self.assertEqual(c.auth(b"u" * 255, b"p" * 255), 0)
        name = (b"a" * 63 + b".") * 3 + b"a" * 61  # 253 bytes: the longest name
        self.assertEqual(len(name), 253)
        c.send(request(atyp_addr=domain(name), port=80))
        self.assertEqual(c.read_reply()[0], t.NOT_ALLOWED)  # well-formed, just not allowed


class HeadTimeoutTest(t.SocksCase):
    def test_stalled_negotiation_is_cut(self):
        o = self.origin()
        p = self.start_proxy(allow=["127.0.0.1"], extra="head_timeout_s = 1\n")
        stalled = []
        for prefix in (b"", b"\x05", GREETING, GREETING + b"\x05\x01\x00\x01\x7f",
                       b"\x05\x01\x02\x01\x01"):
            c = self.client(p)
            c.send(prefix)
            stalled.append((prefix, c))
        for prefix, c in stalled:
            got, closed = c.to_close(timeout=10)
            self.assertTrue(closed, prefix)
            self.assertIn(got, (b"", NEG, USERPASS), prefix)
        self.assertEqual(p.log().count("negotiation timed out"), len(stalled))
        # a client that finished its negotiation in time is not cut: its tunnel stays up
        c = self.client(p)
        self.assertEqual(c.connect("127.0.0.1", o.port)[0], t.SUCCEEDED)
        time.sleep(1.5)
        self.assertIn(b"origin", t.http_get(c.sock, "127.0.0.1"))


if __name__ == "__main__":
    harness.main()
