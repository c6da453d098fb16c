"""Shared pieces of the end-to-end tests: the binary under test, scratch directories,
configuration files, and the helper servers the tests start on loopback.

Every test runs under tests/clean-env (no proxy variables, XDG_* and PORTCULLIS_CONFIG pointing
into a fresh directory), and every wait here is bounded.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

BIN = os.environ.get("PORTCULLIS_BIN", "")
SOURCE_DIR = os.environ.get("PC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
SUPPORT = os.path.join(SOURCE_DIR, "tests", "support")
# What a sanitizer build prints when it finds something; no proxy may ever print it.
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                     "runtime error:")
sys.path.insert(0, SUPPORT)

import servers  # noqa: E402  (tests/support, shared with the support self-test)
from servers import wait_for_file  # noqa: E402,F401


class DnsServer:
    """tests/support/dnsserver.py on 127.0.0.1 with a port of its own.

    records: list of (name, type, value); blackhole/servfail: names it never answers / fails.
    """

    def __init__(self, tmpdir, records=(), blackhole=(), servfail=()):
        self.ready = os.path.join(tmpdir, "dns.ready")
        self.log = os.path.join(tmpdir, "dns.log")
        args = [sys.executable, os.path.join(SUPPORT, "dnsserver.py"), "--port", "0",
                "--ready-file", self.ready, "--log", self.log]
        for name, rtype, value in records:
            args += ["--record", name, rtype, value]
        for name in blackhole:
            args += ["--blackhole", name]
        for name in servfail:
            args += ["--servfail", name]
        self.proc = subprocess.Popen(args)
        self.port = int(wait_for_file(self.ready, proc=self.proc).strip())
        self.address = "127.0.0.1:%d" % self.port

    def queries(self):
        """The names asked so far, lowercased, in order."""
        try:
            with open(self.log) as f:
                return [line.split()[0].lower().rstrip(".") for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Proxy:
    """`portcullis serve` on loopback ports of its own (both listeners on 127.0.0.1:0).

    Its stderr (log lines and, by default, the audit log) goes to a file; audit() returns the
    audit records written so far.
    """

    def __init__(self, tmpdir, config_text, args=(), name="proxy", env=None,
                 http="127.0.0.1:0", socks="127.0.0.1:0"):
        self.config = os.path.join(tmpdir, name + ".toml")
        with open(self.config, "w") as f:
            f.write(config_text)
        self.ready = os.path.join(tmpdir, name + ".ready")
        self.log_path = os.path.join(tmpdir, name + ".log")
        self._log = open(self.log_path, "wb")
        cmd = [BIN, "serve", "--config", self.config, "--http", http, "--socks", socks,
               "--ready-file", self.ready] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=self._log,
                                     env=env)
        info = json.loads(wait_for_file(self.ready, proc=self.proc))
        self.http = info["http"]
        self.socks = info.get("socks")
        self.http_port = int(self.http.rsplit(":", 1)[1])
        self.socks_port = int(self.socks.rsplit(":", 1)[1]) if self.socks else None
        self.url = "http://" + self.http

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def audit(self):
        """The JSON audit records on stderr, in order."""
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def wait_audit(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            records = self.audit()
            if len(records) >= n:
                return records
            time.sleep(0.02)
        return self.audit()

    def reload(self, config_text=None):
        if config_text is not None:
            with open(self.config, "w") as f:
                f.write(config_text)
        self.proc.send_signal(signal.SIGHUP)

    def stop(self, timeout=15.0):
        """SIGTERM, then the exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self._log.close()
                return None
        self._log.close()
        return self.proc.returncode


class TestCase(unittest.TestCase):
    """A test with a scratch directory and helpers to run portcullis."""

    def setUp(self):
        if not BIN or not os.access(BIN, os.X_OK):
            self.fail("PORTCULLIS_BIN does not name the built binary")
        self._tmp = tempfile.TemporaryDirectory(prefix="pc-e2e-")
        self.tmp = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def config(self, text, name="config.toml"):
        return self.write(name, text)

    def dns(self, **kw):
        server = DnsServer(self.tmp, **kw)
        self.addCleanup(server.stop)
        return server

    def proxy(self, config_text, args=(), name="proxy", env=None, check_exit=True, **kw):
        """A running `portcullis serve`, stopped when the test ends: it must then exit 0
        (unless check_exit is false) without any sanitizer report on stderr."""
        p = Proxy(self.tmp, config_text, args=args, name=name, env=env, **kw)
        self.addCleanup(self.stop_proxy, p, check_exit)
        return p

    def stop_proxy(self, p, check_exit=True):
        rc = p.stop()
        log = p.log()
        for marker in SANITIZER_MARKERS:
            self.assertNotIn(marker, log)
        if check_exit:
            self.assertEqual(rc, 0, log[-2000:])

    def origin(self, **kw):
        """tests/support/origin.py on loopback (see servers.Origin), stopped at the end."""
        o = servers.Origin(self.tmp, **kw)
        self.addCleanup(o.stop)
        return o

    def certs(self, names=(), ips=()):
        return servers.make_certs(os.path.join(self.tmp, "certs"), names=names, ips=ips)

    def run_bin(self, *args, timeout=30, env=None):
        return subprocess.run([BIN] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=env)

    def check(self, config_text, target, *extra, expect_rc=None):
        """Runs `portcullis check` and returns (exit status, parsed JSON or None, stderr)."""
        cfg = self.config(config_text)
        res = self.run_bin("check", "--config", cfg, *extra, target)
        out = None
        if res.stdout.strip():
            out = json.loads(res.stdout)
            self.assertEqual(res.stdout.count("\n"), 1, "exactly one JSON line on stdout")
        if expect_rc is not None:
            self.assertEqual(res.returncode, expect_rc, res.stderr)
        return res.returncode, out, res.stderr


def main():
    unittest.main(verbosity=2)
