"""`portcullis serve` as a process: the ready file, the loopback clamp, the open-file limit,
SIGHUP reloads (good and bad files), SIGTERM/SIGINT draining, max_connections, timeouts, the
memory a slow peer can cost, and the policy answers that depend on the configuration (limited
mode, enabled = false, DNS)."""
import os
import resource
import signal
import socket
import subprocess
import time
import unittest

import harness
import test_http_common as common
from test_http_common import conf, get

servers = harness.servers


def wait_for(predicate, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


class ServeTest(common.HttpCase):
    def setUp(self):
        super().setUp()
        self.o = self.origin()

    def second_dns(self):
        """A DNS server that knows no name. (harness.DnsServer names its files after the
        directory only, so a second one needs a directory of its own.)"""
        tmp = os.path.join(self.tmp, "dns2")
        os.mkdir(tmp)
        server = harness.DnsServer(tmp)
        self.addCleanup(server.stop)
        return server

    def wait_log(self, p, text, timeout=5.0):
        wait_for(lambda: text in p.log(), timeout, repr(text))

    # ---- starting ----

    def test_ready_file(self):
        p = self.proxy(conf())
        with open(p.ready) as f:
            info = common.json.loads(f.read())
        self.assertEqual(sorted(info), ["http", "socks"])
        self.assertRegex(info["http"], r"^127\.0\.0\.1:\d+$")
        self.assertRegex(info["socks"], r"^127\.0\.0\.1:\d+$")
        # written to a temporary file and renamed: nothing else is left behind
        self.assertEqual(sorted(n for n in os.listdir(self.tmp) if n.startswith("proxy")),
                         ["proxy.log", "proxy.ready", "proxy.toml"])
        # it is written once the listener accepts
        self.assertEqual(self.client(p).request(get(self.o.url + "/")).status, 200)

    def test_signals_are_handled_once_ready(self):
        # a SIGHUP the moment the ready file appears reloads; it never kills (the handlers
        # are installed before the file is written: the race is narrow, so try a few times)
        cfg = self.config(conf())
        for i in range(5):
            ready = os.path.join(self.tmp, "race%d.ready" % i)
            proc = subprocess.Popen([harness.BIN, "serve", "--config", cfg, "--http",
                                     "127.0.0.1:0", "--socks", "127.0.0.1:0", "--ready-file",
                                     ready], stderr=subprocess.DEVNULL)
            self.addCleanup(stop_process, proc)
            deadline = time.monotonic() + 10
            while not os.path.exists(ready) and time.monotonic() < deadline \
                    and proc.poll() is None:
                pass
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)
            self.assertIsNone(proc.poll(), "killed by a SIGHUP right after the ready file")
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10), 0)

    def test_ready_file_without_socks(self):
        p = self.proxy(conf(extra="enable_socks5 = false\n"))
        with open(p.ready) as f:
            self.assertEqual(list(common.json.loads(f.read())), ["http"])

    def test_listeners_are_clamped_to_loopback(self):
        p = self.proxy(conf(), args=["--http", "0.0.0.0:0"])
        self.assertTrue(p.http.startswith("127.0.0.1:"), p.http)
        self.assertIn("not loopback", p.log())

    def test_open_file_limit_is_raised(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard <= 256:
            self.skipTest("needs a finite hard limit above 256")
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        try:
            p = self.proxy(conf())
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        with open("/proc/%d/limits" % p.proc.pid) as f:
            line = [x for x in f if x.startswith("Max open files")][0]
        self.assertEqual(line.split()[3:5], [str(hard), str(hard)])

    # ---- reload ----

    def test_sighup_with_a_good_file(self):
        p = self.proxy(conf(allow=["127.0.0.1", "localhost"]))
        kept = self.client(p)
        self.assertEqual(kept.request(get(self.o.url + "/")).status, 200)
        tunnel = self.client(p)
        self.assertEqual(tunnel.request(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n"
                                        % ((self.o.authority.encode(),) * 2),
                                        method="CONNECT").status, 200)
        slow = self.client(p)
        slow.send(get(self.o.url + "/slow?ms=700"))
        self.o.wait_requests(2)
        p.reload(conf(allow=["localhost"]))
        self.wait_log(p, "configuration reloaded")
        # the new policy decides every request from now on, on new and on open connections
        r = self.client(p).request(get(self.o.url + "/"))
        self.assertEqual(r.status, 403)
        self.assertEqual(kept.request(get(self.o.url + "/")).status, 403)
        local = "http://localhost:%d/" % self.o.port
        self.assertEqual(kept.request(get(local)).status, 200)
        # what was under way goes on
        self.assertEqual(slow.read_response().body, b"slow\n")
        r = tunnel.request(b"GET /small HTTP/1.1\r\nHost: %s\r\n\r\n" % self.o.authority.encode())
        self.assertEqual(r.body, servers.pattern(1024))

    def test_sighup_with_a_bad_file_keeps_the_old_policy(self):
        p = self.proxy(conf(allow=["127.0.0.1"]))
        kept = self.client(p)
        self.assertEqual(kept.request(get(self.o.url + "/")).status, 200)
        for bad, why in (("[network]\nallowed_domains = [\"*\"\n", "proxy.toml:"),
                         ("[network]\nallowed_domains = [\"*\"]\nunknown_key = 1\n", "unknown_key"),
                         ("[network]\ndenied_domains = [\"*\"]\n", "proxy.toml:")):
            with self.subTest(bad=bad):
                before = p.log().count("reload refused")
                p.reload(bad)
                wait_for(lambda: p.log().count("reload refused") > before, what="refusal")
                line = [x for x in p.log().splitlines() if "reload refused" in x][-1]
                self.assertIn(why, line)
                self.assertEqual(kept.request(get(self.o.url + "/")).status, 200)
                self.assertEqual(kept.request(get("http://other.example/")).status, 403)
        # a file that is gone
        os.unlink(p.config)
        before = p.log().count("reload refused")
        p.reload()
        wait_for(lambda: p.log().count("reload refused") > before, what="refusal")
        self.assertEqual(self.client(p).request(get(self.o.url + "/")).status, 200)
        self.assertEqual(kept.request(get("http://other.example/")).status, 403)

    def test_sighup_says_what_needs_a_restart(self):
        p = self.proxy(conf())
        path = os.path.join(self.tmp, "audit.jsonl")
        p.reload(conf(extra='audit_log = "%s"\nproxy_url = "127.0.0.1:1"\n' % path))
        self.wait_log(p, "configuration reloaded")
        self.assertIn("audit_log stays as it is until a restart", p.log())
        self.assertIn("listeners stay as they are until a restart", p.log())
        self.assertEqual(self.client(p).request(get("http://denied.example/")).status, 403)
        self.assertEqual(len(p.wait_audit(1)), 1)
        self.assertFalse(os.path.exists(path))

    def test_sighup_changes_the_resolver(self):
        d1 = self.dns(records=[("svc.example", "A", "127.0.0.1")])
        d2 = self.second_dns()
        extra = 'allow_local_binding = true\ndns_servers = ["%s"]\n'
        p = self.proxy(conf(allow=["svc.example"], extra=extra % d1.address))
        url = "http://svc.example:%d/" % self.o.port
        self.assertEqual(self.client(p).request(get(url)).status, 200)
        p.reload(conf(allow=["svc.example"], extra=extra % d2.address))
        self.wait_log(p, "configuration reloaded")
        r = self.client(p).request(get(url))
        self.assertFailure(r, 502, "dns_error")
        self.assertIn("svc.example", d2.queries())

    # ---- stopping ----

    def test_sigterm_lets_open_exchanges_finish(self):
        p = self.proxy(conf(), check_exit=False)
        idle = self.client(p)
        self.assertEqual(idle.request(get(self.o.url + "/")).status, 200)
        busy = self.client(p)
        busy.send(get(self.o.url + "/slow?ms=800"))
        self.o.wait_requests(2)
        p.proc.send_signal(signal.SIGTERM)
        # the idle connection is closed, no new connection is accepted
        self.assertTrue(idle.is_closed(3))
        wait_for(lambda: refused(p.http_port), 3, "the listener to close")
        # the exchange under way completes, and says the connection ends with it
        r = busy.read_response()
        self.assertEqual((r.status, r.body, r.get("Connection")), (200, b"slow\n", "close"))
        self.assertTrue(busy.is_closed(3))
        self.assertEqual(p.proc.wait(10), 0)
        self.assertCleanExit(p)

    def test_sigint_and_the_grace_period(self):
        p = self.proxy(conf(), args=["--grace", "1"], check_exit=False)
        c = self.client(p)
        c.send(get(self.o.url + "/hang"))
        self.o.wait_requests(1)
        p.proc.send_signal(signal.SIGINT)
        # the exchange never ends by itself: it is cut when the grace period is over
        self.assertEqual(c.wait_closed(6), b"")
        self.assertEqual(p.proc.wait(10), 0)
        self.assertIn("grace period", p.log())
        self.assertCleanExit(p)

    # ---- limits and timeouts ----

    def test_max_connections_pauses_and_resumes_accepting(self):
        p = self.proxy(conf(extra="max_connections = 2\n"))
        a, b = self.client(p), self.client(p)
        for c in (a, b):
            self.assertEqual(c.request(get(self.o.url + "/")).status, 200)
        waiting = self.client(p)
        waiting.send(get(self.o.url + "/"))
        with self.assertRaises(common.ProtocolError):
            waiting.read_response(timeout=0.7)
        a.close()
        self.assertEqual(waiting.read_response(timeout=5).status, 200)
        self.assertEqual(b.request(get(self.o.url + "/")).status, 200)

    def test_head_timeout_cuts_a_stalled_client(self):
        p = self.proxy(conf(extra="head_timeout_s = 1\n"))
        c = self.client(p)
        c.send(b"GET " + self.o.url.encode() + b"/ HTTP/1.1\r\nHost: ")
        data = c.wait_closed(5)
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data)
        # trickling bytes do not extend the deadline
        c = self.client(p)
        start = time.monotonic()
        head = get(self.o.url + "/")
        with self.assertRaises(OSError):
            for i in range(len(head)):
                c.send(head[i:i + 1])
                time.sleep(0.1)
                if time.monotonic() - start > 5:
                    break
        self.assertLess(time.monotonic() - start, 5)
        self.assertEqual(self.o.requests(), [])

    def test_a_client_that_never_speaks_is_cut(self):
        # The listener accepts a connection once its client has spoken (TCP_DEFER_ACCEPT);
        # one that stays silent is handed over by the kernel after a second anyway, and the
        # head timeout ends it. It is not kept half-open forever.
        p = self.proxy(conf(extra="head_timeout_s = 1\n"))
        c = self.client(p)
        data = c.wait_closed(10)
        self.assertTrue(data == b"" or data.startswith(b"HTTP/1.1 408 "), data)
        self.assertEqual(self.o.requests(), [])

    def test_idle_keep_alive_connections_are_closed(self):
        p = self.proxy(conf(extra="idle_timeout_s = 1\n"))
        c = self.client(p)
        self.assertEqual(c.request(get(self.o.url + "/")).status, 200)
        self.assertTrue(c.is_closed(5))

    def test_a_head_deadline_later_than_the_idle_one_is_kept(self):
        # The connection's timer is due at the keep-alive deadline (1 s) when a head starts
        # whose deadline is later (3 s): the timer must fire, find the head's deadline ahead
        # and wait for it, neither cutting the client at 1 s nor forgetting the head deadline.
        p = self.proxy(conf(extra="idle_timeout_s = 1\nhead_timeout_s = 3\n"))
        c = self.client(p)
        self.assertEqual(c.request(get(self.o.url + "/")).status, 200)
        time.sleep(0.5)
        started = time.monotonic()
        c.send(b"GET " + self.o.url.encode() + b"/ HTTP/1.1\r\nHost: ")
        self.assertFalse(c.is_closed(1.5))
        data = c.wait_closed(5)
        waited = time.monotonic() - started
        self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data)
        self.assertGreater(waited, 2.5)
        self.assertLess(waited, 4.5)

    def test_a_client_that_never_reads_costs_bounded_memory(self):
        p = self.proxy(conf())
        pid = p.proc.pid
        base = common.proc_rss_kib(pid)
        c = self.client(p)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(get(self.o.url + "/big?bytes=%d" % (1 << 30)))
        # the origin writes as fast as it can; nobody reads
        time.sleep(1.0)
        stalled = common.proc_rss_kib(pid)
        # then a slow reader takes 32 MiB
        got = 0
        peak = stalled
        deadline = time.monotonic() + 30
        while got < 32 << 20 and time.monotonic() < deadline:
            got += len(c.sock.recv(65536))
            if got % (1 << 20) < 65536:
                peak = max(peak, common.proc_rss_kib(pid))
                time.sleep(0.01)
        self.assertGreaterEqual(got, 32 << 20)
        self.assertLess(stalled - base, 20 << 10, "RSS grew %d KiB while stalled" % (stalled - base))
        self.assertLess(peak - base, 20 << 10, "RSS grew %d KiB while reading" % (peak - base))

    @unittest.skipIf(common.SANITIZED, "a sanitizer's allocator has its own overhead")
    def test_idle_connections_hold_almost_nothing(self):
        p = self.proxy(conf())
        clients = []

        def open_some(n):
            for _ in range(n):
                c = self.client(p)
                self.assertEqual(c.request(get(self.o.url + "/small")).status, 200)
                clients.append(c)

        open_some(20)  # the allocator's first arenas
        base = common.proc_rss_kib(p.proc.pid)
        open_some(200)
        per_conn = (common.proc_rss_kib(p.proc.pid) - base) * 1024 / 200
        # each is a client connection with its origin connection parked behind it: their
        # handles and state, no buffer, no request state (regression: 9 KiB each)
        self.assertLess(per_conn, 6 << 10, "%d bytes per idle connection" % per_conn)

    def test_a_tunnel_that_is_never_read_costs_bounded_memory(self):
        p = self.proxy(conf())
        base = common.proc_rss_kib(p.proc.pid)
        c = self.client(p)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        auth = self.o.authority.encode()
        self.assertEqual(c.request(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (auth, auth),
                                   method="CONNECT").status, 200)
        c.send(b"GET /big?bytes=%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (1 << 30, auth))
        time.sleep(1.0)
        grown = common.proc_rss_kib(p.proc.pid) - base
        self.assertLess(grown, 20 << 10, "RSS grew %d KiB" % grown)

    def test_an_origin_that_never_reads_costs_bounded_memory(self):
        sink = self.loopback(common.Sink)
        # the exchange never ends: the stop at the end cuts it after a short grace period
        p = self.proxy(conf(), args=["--grace", "1"])
        pid = p.proc.pid
        base = common.proc_rss_kib(pid)
        c = self.client(p)
        c.send(get("http://127.0.0.1:%d/" % sink.port, method="PUT",
                   extra=b"Content-Length: %d\r\n" % (1 << 30)))
        c.sock.setblocking(False)
        chunk = b"x" * 65536
        sent = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                sent += c.sock.send(chunk)
            except BlockingIOError:
                time.sleep(0.01)
        grown = common.proc_rss_kib(pid) - base
        self.assertLess(grown, 20 << 10, "RSS grew %d KiB; %d bytes sent" % (grown, sent))
        # the proxy stopped taking bytes long before the body's end
        self.assertLess(sent, 256 << 20)

    # ---- configuration-dependent answers ----

    def test_limited_mode(self):
        p = self.proxy(conf(extra='mode = "limited"\n'))
        c = self.client(p)
        for method in ("GET", "HEAD", "OPTIONS"):
            r = c.request(get(self.o.url + "/echo", method=method), method=method)
            self.assertEqual(r.status, 200, method)
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                r = c.request(get(self.o.url + "/echo", method=method))
                body = self.assertBlocked(r, "method_not_allowed", "blocked-by-method-policy",
                                          "http_request_denied", "127.0.0.1", self.o.port)
                self.assertEqual(body["source"], "mode_guard")
        audit = p.wait_audit(3)
        self.assertEqual([a["method"] for a in audit], ["POST", "PUT", "DELETE"])
        for a in audit:
            self.assertAudit(a, "127.0.0.1", self.o.port, "method_not_allowed", method=a["method"],
                             mode="limited")
        self.assertEqual([e["method"] for e in self.o.requests()], ["GET", "HEAD", "OPTIONS"])

    def test_disabled_proxy_answers_503(self):
        p = self.proxy(conf(extra="enabled = false\n"))
        c = self.client(p)
        r = c.request(get(self.o.url + "/"))
        self.assertBlocked(r, "proxy_disabled", "blocked-by-policy", "proxy_internal_response",
                           "127.0.0.1", self.o.port, status=503)
        r = c.request(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % ((self.o.authority.encode(),) * 2))
        self.assertEqual((r.status, r.get("x-proxy-error")), (503, "blocked-by-policy"))
        self.assertEqual([a["reason"] for a in p.wait_audit(2)], ["proxy_disabled"] * 2)
        self.assertEqual(self.o.requests(), [])

    def test_dns_answers(self):
        d = self.dns(records=[("internal.example", "A", "10.0.0.1"),
                              ("mixed.example", "A", "127.0.0.1")],
                     blackhole=["slow.example"], servfail=["broken.example"])
        p = self.proxy(conf(allow=["internal.example", "mixed.example", "slow.example",
                                   "broken.example"],
                            extra='dns_servers = ["%s"]\n' % d.address))
        c = self.client(p)
        for host, status in (("internal.example", "destination_ip_prohibited"),
                             ("mixed.example", "destination_ip_prohibited"),
                             ("broken.example", "dns_error"),
                             ("slow.example", "dns_timeout")):
            with self.subTest(host=host):
                r = c.request(get("http://%s/" % host), timeout=8)
                self.assertBlocked(r, "not_allowed_local", "blocked-by-allowlist", status, host, 80)
        self.assertEqual([a["host"] for a in p.wait_audit(4)],
                         ["internal.example", "mixed.example", "broken.example", "slow.example"])

    def test_names_nobody_allowed_are_never_looked_up(self):
        d = self.dns(records=[("secret.example", "A", "10.0.0.1")])
        p = self.proxy(conf(allow=["allowed.example"], extra='dns_servers = ["%s"]\n' % d.address))
        c = self.client(p)
        self.assertEqual(c.request(get("http://secret.example/")).status, 403)
        self.assertEqual(c.request(b"CONNECT secret.example:443 HTTP/1.1\r\n"
                                   b"Host: secret.example:443\r\n\r\n").status, 403)
        self.assertEqual(d.queries(), [])


def stop_process(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


if __name__ == "__main__":
    harness.main()
