"""Start, use and stop the helper servers of tests/support from a test: Origin (origin.py),
GitServer (gitserver.py) and Sshd (sshd.py), plus certificates and the body pattern.

    sys.path.insert(0, "<source>/tests/support"); import servers
    with servers.Origin(tmpdir) as origin:
        ... curl origin.url + "/small" ...
        origin.requests()  # what the origin received, one dict per request

Each server is a subprocess started with --port 0 --ready-file F; construction returns once it
accepts (bounded wait) and raises if it exits first. stop() sends SIGTERM and waits (bounded).
Files (ready, log, stderr) go into the tmpdir given, named after the server.
"""
import itertools
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

SUPPORT = os.path.dirname(os.path.abspath(__file__))
if SUPPORT not in sys.path:
    sys.path.insert(0, SUPPORT)

import certs  # noqa: E402
import gitserver  # noqa: E402
import serverlib  # noqa: E402

make_certs = certs.make_certs
pattern = serverlib.pattern
pattern_sha256 = serverlib.pattern_sha256

_serial = itertools.count(1)


def wait_for_file(path, timeout=10.0, proc=None):
    """The content of path once it exists and is non-empty, within timeout seconds; raises if
    proc exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                text = f.read()
            if text:
                return text
        except FileNotFoundError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s: process exited with %s before writing %s"
                               % (os.path.basename(path), proc.returncode, path))
        if time.monotonic() >= deadline:
            raise TimeoutError("%s did not appear within %.1fs" % (path, timeout))
        time.sleep(0.02)


def read_json_lines(path):
    """The JSON objects of a log written one per line (a torn last line is left out)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in data.split(b"\n")[:-1] if line.strip()]


class Server:
    """A helper script run as a subprocess until stop()."""

    script = None
    start_timeout = 10.0

    def __init__(self, tmpdir, name, args):
        n = next(_serial)
        base = os.path.join(tmpdir, "%s-%d" % (name, n))
        self.ready_file = base + ".ready"
        self.log_file = base + ".log"
        self.stderr_file = base + ".stderr"
        for stale in (self.ready_file, self.log_file):
            if os.path.exists(stale):
                os.unlink(stale)  # a previous run's port must not be taken for ours
        with open(self.stderr_file, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, os.path.join(SUPPORT, self.script), "--ready-file",
                 self.ready_file, "--log", self.log_file] + list(args),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        try:
            self.ready = wait_for_file(self.ready_file, self.start_timeout, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError("%s did not start: %s" % (name, self.stderr()))

    def stderr(self):
        with open(self.stderr_file, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def log_text(self):
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


class HttpServer(Server):
    def __init__(self, tmpdir, name, args, tls, ipv6):
        super().__init__(tmpdir, name, list(args) + (["--ipv6"] if ipv6 else []))
        self.port = int(self.ready.strip())
        self.scheme = "https" if tls else "http"
        self.host = "127.0.0.1"
        self.authority = "127.0.0.1:%d" % self.port
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.url6 = "%s://[::1]:%d" % (self.scheme, self.port) if ipv6 else None

    def requests(self):
        """The log so far: one dict per request received."""
        return read_json_lines(self.log_file)

    def wait_requests(self, n, timeout=10.0):
        """The log once it holds at least n requests (bounded wait)."""
        deadline = time.monotonic() + timeout
        while True:
            entries = self.requests()
            if len(entries) >= n or time.monotonic() >= deadline:
                return entries
            time.sleep(0.02)


class Origin(HttpServer):
    """origin.py. tls: a make_certs() result or a (cert, key) pair. Log entries are dicts with conn,
    seq, peer, tls, sni, head (the raw head as latin-1 text), method, target, version, headers
    ([name, value] in order), chunked, body_length, body_sha256, trailers, error."""

    script = "origin.py"

    def __init__(self, tmpdir, tls=None, ipv6=False, bind=(), extra_args=(), name="origin"):
        args = list(extra_args)
        if tls:
            args += ["--tls"] + ([tls["cert"], tls["key"]] if isinstance(tls, dict) else list(tls))
        for addr in bind:
            args += ["--bind", addr]
        super().__init__(tmpdir, name, args, tls, ipv6)

    def heads(self):
        """The raw request heads received so far, as bytes."""
        return [e["head"].encode("latin-1") for e in self.requests()]


class GitServer(HttpServer):
    """gitserver.py serving root; by default a fresh fixed repository root/repo.git, whose main
    commit is .head. Log entries: conn, seq, peer, method, target, chunked, content_encoding,
    body_length, status (and error)."""

    script = "gitserver.py"

    def __init__(self, tmpdir, root=None, init_repo=True, ipv6=False, name="git"):
        root = root or os.path.join(tmpdir, name + "-root")
        self.root = root
        self.head = None
        if init_repo:
            self.repo_dir, self.head = gitserver.init_repo(root)
        args = ["--root", root, "--cgi-log", os.path.join(tmpdir, name + "-cgi.log")]
        super().__init__(tmpdir, name, args, False, ipv6)
        self.repo_url = self.url + "/" + gitserver.REPO_NAME


class Sshd(Server):
    """sshd.py: OpenSSH as the current user with throwaway keys. .port, .user, .key, .ssh_options
    (a list); ssh_args() builds a whole ssh command line; git_ssh_command is for GIT_SSH_COMMAND."""

    script = "sshd.py"
    start_timeout = 30.0

    def __init__(self, tmpdir, ipv6=False, name="sshd"):
        super().__init__(tmpdir, name, ["--dir", os.path.join(tmpdir, name + "-keys")]
                         + (["--ipv6"] if ipv6 else []))
        info = json.loads(self.ready)
        self.port = info["port"]
        self.user = info["user"]
        self.key = info["key"]
        self.ssh_options = info["ssh_options"]
        self.git_ssh_command = " ".join(shlex.quote(o) for o in ["ssh"] + self.ssh_options)

    def ssh_args(self, *command, host="127.0.0.1", options=()):
        return ["ssh"] + self.ssh_options + list(options) + ["%s@%s" % (self.user, host)] + list(command)

    def repo_url(self, path, host="127.0.0.1"):
        return "ssh://%s@%s:%d%s" % (self.user, host, self.port, os.path.abspath(path))


def raw_exchange(port, data, host="127.0.0.1", timeout=5.0, until=None, ssl_context=None,
                 server_hostname=None):
    """Sends data on a new connection and returns what comes back until the peer closes, until
    the bytes end with `until` (or until(received) is true), or until timeout seconds pass."""
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((host, port))
        if ssl_context is not None:
            sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname or host)
        sock.sendall(data)
        return recv_until(sock, deadline, until)
    finally:
        sock.close()


def recv_until(sock, deadline, until=None):
    """Bytes received until close, the `until` condition, or the monotonic deadline."""
    out = bytearray()
    while True:
        if until is not None and (until(out) if callable(until) else out.endswith(until)):
            return bytes(out)
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(out)
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (TimeoutError, socket.timeout):
            return bytes(out)
        except ConnectionResetError:
            return bytes(out)
        if not data:
            return bytes(out)
        out += data


def recv_exact(sock, n, deadline):
    """Exactly n bytes (never more), or AssertionError when the peer closes or time runs out."""
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %d of %d bytes" % (len(out), n))
        sock.settimeout(left)
        data = sock.recv(n - len(out))
        if not data:
            raise AssertionError("peer closed after %d of %d bytes" % (len(out), n))
        out += data
    return bytes(out)
