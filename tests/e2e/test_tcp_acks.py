"""When the proxy acknowledges a client's bytes.

The listeners start every connection in delayed-ACK mode (TCP_QUICKACK off, inherited by the
accepted sockets), so the ACK of a request rides on its answer instead of costing the client a
segment of its own. That must never make a client wait: one whose request comes in pieces, with
Nagle's algorithm holding each next piece until the last one is acknowledged, would wait out the
delayed-ACK timer (40 ms or more) for every piece. So the front ends go back to quick ACKs as
soon as they have to wait for more of a client's bytes (src/net/stream.h, pc_stream_ack_now).

The first is seen in the segments a client receives (TCP_INFO tcpi_segs_in). The second is seen
in the kernel's count of ACKs its delayed-ACK timer sent (TcpExt DelayedACKs in
/proc/net/netstat), which is kept per network namespace: those tests run in one of their own
(unshare -n, so root), where no other traffic counts. A control server with the same listener
setting and no such care shows that the count does catch the wait.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile

import harness
from test_http_common import conf

TCP_INFO_SEGS_IN = 140  # offset of tcpi_segs_in in struct tcp_info (linux/tcp.h)
ROUNDS = 3  # a round may be slowed past the timer by a loaded machine; all of them will not
DENIED = "203.0.113.7"  # TEST-NET-3: never dialled, the policy denies it first


def segs_in(sock):
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return struct.unpack_from("I", info, TCP_INFO_SEGS_IN)[0]


def receive(sock, limit=1 << 16):
    """Bytes until limit of them or EOF, whichever comes first."""
    data = b""
    while len(data) < limit:
        chunk = sock.recv(limit - len(data))
        if not chunk:
            break
        data += chunk
    return data


def nagle_client(port):
    """A client that leaves Nagle's algorithm on, as some do."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
    return s


def denied_get(host=DENIED):
    return ("GET http://%s/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
            % (host, host)).encode()


SOCKS_GREETING = b"\x05\x01\x00"
SOCKS_DENIED = b"\x05\x01\x00\x01" + socket.inet_aton(DENIED) + struct.pack(">H", 80)


class AnswerCarriesTheAck(harness.TestCase):
    """A request in one piece is acknowledged by its answer: no ACK segment of its own."""

    def fewest_segments(self, exchange):
        return min(exchange() for _ in range(ROUNDS))

    def test_http_answer_carries_the_ack(self):
        p = self.proxy(conf())

        def exchange():
            with socket.create_connection(("127.0.0.1", p.http_port), timeout=10) as s:
                s.sendall(denied_get())
                answer = receive(s)
                self.assertTrue(answer.startswith(b"HTTP/1.1 403 "), answer[:80])
                return segs_in(s)

        # the SYN-ACK, the 403 with the ACK of the request, the FIN
        self.assertEqual(self.fewest_segments(exchange), 3)

    def test_socks_reply_carries_the_ack(self):
        p = self.proxy(conf())

        def exchange():
            with socket.create_connection(("127.0.0.1", p.socks_port), timeout=10) as s:
                s.sendall(SOCKS_GREETING)
                self.assertEqual(receive(s, 2), b"\x05\x00")
                return segs_in(s)

        # the SYN-ACK, the method reply with the ACK of the greeting
        self.assertEqual(self.fewest_segments(exchange), 2)


# ---- inside a network namespace of the test's own ----

def delayed_acks():
    with open("/proc/net/netstat") as f:
        lines = f.read().splitlines()
    for names, values in zip(lines[0::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:])))["DelayedACKs"]
    raise RuntimeError("no TcpExt line in /proc/net/netstat")


def counted(exchange):
    """The delayed ACKs the kernel sent during exchange()."""
    before = delayed_acks()
    exchange()
    return delayed_acks() - before


def control_exchange():
    """A server set up as the proxy's listeners are, which reads a request in pieces without
    going back to quick ACKs: the client's second piece waits for the delayed-ACK timer."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
    with lsock, nagle_client(lsock.getsockname()[1]) as c:
        c.sendall(b"first piece ")
        conn, _ = lsock.accept()
        with conn:
            c.sendall(b"second piece")
            got = receive(conn, 24)
            assert got == b"first piece second piece", got
            conn.sendall(b"ok")
            assert receive(c, 2) == b"ok"


def run_inside():
    """Runs the exchanges in this (fresh) namespace; prints their delayed-ACK counts."""
    out = {"control": [], "http_head": [], "http_body": [], "socks": []}
    with tempfile.TemporaryDirectory(prefix="pc-e2e-acks-") as tmp:
        origin = harness.servers.Origin(tmp)
        p = harness.Proxy(tmp, conf())
        try:
            def http_head():
                with nagle_client(p.http_port) as s:
                    head = denied_get()
                    s.sendall(head[:20])
                    s.sendall(head[20:])
                    assert receive(s).startswith(b"HTTP/1.1 403 ")

            def http_body():
                body = b"x" * 100
                head = ("POST %s/echo HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                        "Connection: close\r\n\r\n"
                        % (origin.url, origin.authority, len(body))).encode()
                with nagle_client(p.http_port) as s:
                    s.sendall(head)
                    s.sendall(body)
                    answer = receive(s)
                    assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
                    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["body_length"] == 100

            def socks():
                with nagle_client(p.socks_port) as s:
                    s.sendall(SOCKS_GREETING[:1])
                    s.sendall(SOCKS_GREETING[1:])
                    assert receive(s, 2) == b"\x05\x00"
                    s.sendall(SOCKS_DENIED)
                    reply = receive(s, 10)
                    assert reply[:2] == b"\x05\x02", reply

            for _ in range(ROUNDS):
                out["control"].append(counted(control_exchange))
                out["http_head"].append(counted(http_head))
                out["http_body"].append(counted(http_body))
                out["socks"].append(counted(socks))
        finally:
            p.stop()
            origin.stop()
    print(json.dumps(out))


class PiecesAreAckedAtOnce(harness.TestCase):
    """A client whose request comes in pieces never waits for the delayed-ACK timer."""

    def test_pieces_are_acked_at_once(self):
        if os.geteuid() != 0:
            self.skipTest("needs root for a network namespace of its own")
        res = subprocess.run(
            ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
             sys.executable, os.path.abspath(__file__), "--inside"],
            capture_output=True, text=True, timeout=120)
        if res.returncode != 0 and "unshare failed" in res.stderr:
            self.skipTest("no network namespace here: " + res.stderr.strip())
        self.assertEqual(res.returncode, 0, res.stderr[-3000:])
        counts = json.loads(res.stdout.strip().splitlines()[-1])
        # the count catches the wait: every round of the control waits out the timer
        self.assertTrue(all(n >= 1 for n in counts["control"]), counts)
        # the proxy never makes a client wait for it (a round may be slowed past the timer by
        # a loaded machine, so one clean round of each is the proof)
        for case in ("http_head", "http_body", "socks"):
            self.assertIn(0, counts[case], "%s: %s" % (case, counts))


if __name__ == "__main__":
    if sys.argv[1:] == ["--inside"]:
        run_inside()
    else:
        harness.main()
