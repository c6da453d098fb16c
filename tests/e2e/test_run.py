"""`portcullis run` end to end, without isolation: the child's environment and file limit, what
goes through the proxy, exit statuses, signals (from other processes and from a terminal), the
summary of blocks, the audit log and bad input. test_run_isolate.py builds on the helpers here.

Every child is a small script written into the test's scratch directory; every wait is bounded.
"""
import json
import os
import pty
import resource
import select
import signal
import socket
import subprocess
import sys
import threading
import time

import harness

BIN = harness.BIN
PY = sys.executable

# SPEC §7, in the order run sets them.
HTTP_VARS = ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "WS_PROXY", "WSS_PROXY",
             "ws_proxy", "wss_proxy", "YARN_HTTP_PROXY", "YARN_HTTPS_PROXY",
             "npm_config_http_proxy", "npm_config_https_proxy", "npm_config_proxy",
             "NPM_CONFIG_HTTP_PROXY", "NPM_CONFIG_HTTPS_PROXY", "NPM_CONFIG_PROXY",
             "BUNDLE_HTTP_PROXY", "BUNDLE_HTTPS_PROXY", "PIP_PROXY", "DOCKER_HTTP_PROXY",
             "DOCKER_HTTPS_PROXY"]
ALL_VARS = ["ALL_PROXY", "all_proxy", "FTP_PROXY", "ftp_proxy"]
NO_PROXY_VARS = ["NO_PROXY", "no_proxy", "npm_config_noproxy", "NPM_CONFIG_NOPROXY",
                 "BUNDLE_NO_PROXY"]
FIXED_VARS = {"NODE_USE_ENV_PROXY": "1", "ELECTRON_GET_USE_PROXY": "true",
              "PORTCULLIS_PROXY_ACTIVE": "1"}
LOCAL_NO_PROXY = "localhost,127.0.0.1,::1"
SANITIZER_MARKS = ("Sanitizer", "runtime error:", "LeakSanitizer")


def expected_env(http_url, socks_url=None, no_proxy=""):
    """Every SPEC §7 variable with its value, in run's order."""
    out = [(k, http_url) for k in HTTP_VARS]
    out += [(k, socks_url or http_url) for k in ALL_VARS]
    out += [(k, no_proxy) for k in NO_PROXY_VARS]
    out += list(FIXED_VARS.items())
    return out


# The child side of most tests: each step is [name, args...]; it prints one JSON list with a
# result per step ("ok", a value, or the errno name of the failure).
PROBE = r'''
import errno, json, os, resource, shutil, socket, struct, subprocess, sys

def failure(e):
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return "%s: %s" % (type(e).__name__, e)

def family(v):
    return socket.AF_INET6 if v == 6 else socket.AF_INET

def host(v):
    return "::1" if v == 6 else "127.0.0.1"

def tcp(v, port, marker):
    s = socket.socket(family(v), socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((host(v), port))
        s.sendall(marker.encode())
    finally:
        s.close()

def udp(v, port, marker):
    s = socket.socket(family(v), socket.SOCK_DGRAM)
    try:
        s.sendto(marker.encode(), (host(v), port))
    finally:
        s.close()

def unix(path, marker):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(path)
        s.sendall(marker.encode())
    finally:
        s.close()

def write(path):
    if os.path.isdir(path):
        name = os.path.join(path, "probe-written")
        with open(name, "w") as f:
            f.write("x")
        os.unlink(name)
    else:
        with open(path, "a"):
            pass

def create(path):
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a"):
        pass

def cwd():
    return os.getcwd()

def replace_dir(d, target):
    """Moves directory d away and creates target (a file below d) anew; undoes it all."""
    moved = d + ".moved"
    os.rename(d, moved)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w") as f:
            f.write("hostile\n")
        return "escaped"
    finally:
        shutil.rmtree(d, ignore_errors=True)
        os.rename(moved, d)

def curl(*args):
    r = subprocess.run(["curl", "-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}"]
                       + list(args), capture_output=True, text=True, timeout=20)
    return "rc=%d code=%s" % (r.returncode, r.stdout)

def curl_direct(url):
    return curl("--noproxy", "*", url)

def socks_udp(port, payload):
    url = os.environ["ALL_PROXY"]
    sport = int(url.rsplit(":", 1)[1])
    t = socket.create_connection(("127.0.0.1", sport), timeout=5)
    try:
        t.sendall(b"\x05\x01\x00")
        if t.recv(2) != b"\x05\x00":
            return "no method"
        t.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        r = b""
        while len(r) < 10:
            more = t.recv(10 - len(r))
            if not more:
                break
            r += more
        if len(r) < 10 or r[1] != 0:
            return "associate reply %s" % r.hex()
        relay = (socket.inet_ntoa(r[4:8]), struct.unpack(">H", r[8:10])[0])
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        head = b"\x00\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack(">H", port)
        u.sendto(head + payload.encode(), relay)
        data, _ = u.recvfrom(65535)
        if not data.startswith(head):
            return "bad header %s" % data[:10].hex()
        return data[len(head):].decode()
    finally:
        t.close()

def net():
    with open("/proc/self/net/dev") as f:
        ifaces = sorted(l.split(":")[0].strip() for l in f.readlines()[2:])
    listening = []
    for name in ("tcp", "tcp6"):
        with open("/proc/self/net/" + name) as f:
            for l in f.readlines()[1:]:
                fields = l.split()
                if fields[3] == "0A":
                    listening.append([name, int(fields[1].rsplit(":", 1)[1], 16)])
    return {"interfaces": ifaces, "listening": sorted(listening)}

def env():
    return dict(os.environ)

def fds():
    """The descriptors beyond stdio this process was started with."""
    names = os.listdir("/proc/self/fd")
    out = []
    for name in names:
        try:
            out.append([int(name), os.readlink("/proc/self/fd/" + name)])
        except OSError:
            pass  # the directory listdir had open
    return sorted(f for f in out if f[0] > 2)

def nofile():
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]

def identity():
    return [os.getuid(), os.getgid()]

steps = json.loads(sys.argv[1])
results = []
for step in steps:
    try:
        r = globals()[step[0]](*step[1:])
        results.append("ok" if r is None else r)
    except Exception as e:
        results.append(failure(e))
print(json.dumps(results))
'''

# Records the signals it receives (one name a line), exits 0 on the stop signal. With
# "own-group" it leaves run's process group first, so a terminal's signals no longer reach it.
SIGREC = r'''
import os, signal, sys, time
out, ready, stop = sys.argv[1], sys.argv[2], sys.argv[3]
if sys.argv[4:] == ["own-group"]:
    os.setpgid(0, 0)
def handler(n, frame):
    name = signal.Signals(n).name[3:]
    with open(out, "a") as f:
        f.write(name + "\n")
    if name == stop:
        sys.exit(0)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, handler)
with open(ready + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready + ".tmp", ready)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(3)
'''


class HostListeners:
    """TCP and UDP listeners on the host's 127.0.0.1 and ::1 and a unix socket, recording
    what reaches them; UDP datagrams are echoed back prefixed with "echo:"."""

    def __init__(self, tmpdir):
        self.received = []
        self.ports = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listeners = {}
        self._conns = {}
        for kind, fam, typ, addr in (("tcp4", socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1"),
                                     ("tcp6", socket.AF_INET6, socket.SOCK_STREAM, "::1"),
                                     ("udp4", socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1"),
                                     ("udp6", socket.AF_INET6, socket.SOCK_DGRAM, "::1")):
            s = socket.socket(fam, typ)
            s.bind((addr, 0))
            if typ == socket.SOCK_STREAM:
                s.listen(16)
            s.setblocking(False)
            self._listeners[s] = kind
            self.ports[kind] = s.getsockname()[1]
        self.unix_path = os.path.join(tmpdir, "host.sock")
        u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        u.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)
        u.listen(16)
        u.setblocking(False)
        self._listeners[u] = "unix"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _record(self, kind, data):
        with self._lock:
            self.received.append((kind, data.decode("latin-1")))

    def _serve(self):
        while not self._stop.is_set():
            ready, _, _ = select.select(list(self._listeners) + list(self._conns), [], [], 0.05)
            for s in ready:
                if s in self._conns:
                    kind = self._conns.pop(s)
                    try:
                        data = s.recv(4096)
                    except OSError:
                        data = b""
                    s.close()
                    self._record(kind, data)
                    continue
                kind = self._listeners[s]
                try:
                    if s.type == socket.SOCK_DGRAM:
                        data, peer = s.recvfrom(65535)
                        self._record(kind, data)
                        s.sendto(b"echo:" + data, peer)
                    else:
                        c, _ = s.accept()
                        c.setblocking(False)
                        self._conns[c] = kind
                except OSError:
                    pass

    def got(self, kind, marker):
        with self._lock:
            return (kind, marker) in self.received

    def wait_for(self, kind, marker, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not self.got(kind, marker):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        for s in list(self._listeners) + list(self._conns):
            s.close()


class RunCase(harness.TestCase):
    """A scratch HOME with XDG directories of its own, and helpers to run `portcullis run`."""

    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)
        self.home = os.path.join(self.tmp, "home")
        self.config_home = os.path.join(self.home, ".config")
        self.state_home = os.path.join(self.home, ".local", "state")
        self.config_dir = os.path.join(self.config_home, "portcullis")
        self.state_dir = os.path.join(self.state_home, "portcullis")
        for d in (self.config_dir, self.state_home):
            os.makedirs(d)
        self.env = {k: v for k, v in os.environ.items() if k != "PORTCULLIS_CONFIG"}
        self.env.update(HOME=self.home, XDG_CONFIG_HOME=self.config_home,
                        XDG_STATE_HOME=self.state_home)
        self.python = PY
        self.probe_py = self.write("probe.py", PROBE)
        self.sigrec_py = self.write("sigrec.py", SIGREC)

    def user_config(self, text):
        """Writes the configuration run finds by default ($XDG_CONFIG_HOME/portcullis)."""
        path = os.path.join(self.config_dir, "config.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def assertClean(self, stderr):
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, stderr)

    def run_cmd(self, args, env=None, timeout=30, prefix=(), **kw):
        """`portcullis ARGS` to completion (in a session of its own: no terminal)."""
        res = subprocess.run(list(prefix) + [BIN] + list(args), capture_output=True, text=True,
                             timeout=timeout, env=env or self.env, start_new_session=True,
                             stdin=subprocess.DEVNULL, **kw)
        self.assertClean(res.stderr)
        return res

    def run_probe(self, steps, args=(), **kw):
        """Runs the probe under `portcullis run ARGS`; returns (results, stderr)."""
        res = self.run_cmd(["run"] + list(args) + ["--", self.python, self.probe_py,
                                                   json.dumps(steps)], **kw)
        self.assertEqual(res.returncode, 0, res.stderr)
        lines = res.stdout.splitlines()
        self.assertEqual(len(lines), 1, "only the probe writes to stdout: %r" % res.stdout)
        return json.loads(lines[0]), res.stderr

    def listeners(self):
        h = HostListeners(self.tmp)
        self.addCleanup(h.stop)
        return h

    def audit_records(self, path=None):
        path = path or os.path.join(self.state_dir, "audit.jsonl")
        try:
            with open(path) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def start_sigrec(self, stop, args=(), **popen_kw):
        """`portcullis run ARGS -- sigrec` until the recorder is ready: (proc, record file)."""
        out = os.path.join(self.tmp, "signals")
        ready = os.path.join(self.tmp, "sigrec.ready")
        proc = subprocess.Popen([BIN, "run"] + list(args) + ["--", PY, self.sigrec_py, out, ready,
                                                            stop],
                                env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, **popen_kw)
        self.addCleanup(self._reap, proc)
        harness.wait_for_file(ready, proc=proc)
        return proc, out

    def _reap(self, proc):
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)

    def signals(self, path):
        try:
            with open(path) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def wait_signals(self, path, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.signals(path)) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.signals(path)


class RunTest(RunCase):
    def test_child_environment_is_spec_7_over_the_callers(self):
        env = dict(self.env, KEEP_ME="kept", HTTP_PROXY="http://evil.example:1",
                   no_proxy="*", ALL_PROXY="socks5://evil.example:2")
        (child_env,), err = self.run_probe([["env"]], env=env)
        http = child_env["HTTP_PROXY"]
        self.assertRegex(http, r"^http://127\.0\.0\.1:\d+$")
        socks = child_env["ALL_PROXY"]
        self.assertRegex(socks, r"^socks5h://127\.0\.0\.1:\d+$")
        self.assertNotEqual(http.rsplit(":", 1)[1], socks.rsplit(":", 1)[1])
        for key, value in expected_env(http, socks, ""):
            self.assertEqual(child_env.get(key), value, key)
        self.assertEqual(child_env["KEEP_ME"], "kept")
        self.assertEqual(child_env["HOME"], self.home)
        self.assertEqual(err, "")

    def test_nothing_of_runs_reaches_the_child(self):
        (fds,), err = self.run_probe([["fds"]])
        self.assertEqual(fds, [], err)

    def test_env_of_run_matches_portcullis_env(self):
        (child_env,), _ = self.run_probe([["env"]])
        http = child_env["HTTP_PROXY"].rsplit("/", 1)[1]
        socks = child_env["ALL_PROXY"].rsplit("/", 1)[1]
        res = self.run_cmd(["env", "--http", http, "--socks", socks])
        self.assertEqual(res.returncode, 0, res.stderr)
        printed = [line.split("=", 1) for line in res.stdout.splitlines()]
        self.assertEqual([(k, child_env[k]) for k, _ in printed], [tuple(p) for p in printed])
        self.assertEqual(len(printed), len(expected_env("x")))

    def test_no_socks_and_allow_local_environment(self):
        (child_env,), _ = self.run_probe([["env"]], args=["--no-socks", "--allow-local"])
        http = child_env["HTTP_PROXY"]
        for key, value in expected_env(http, None, LOCAL_NO_PROXY):
            self.assertEqual(child_env.get(key), value, key)
        self.user_config("[network]\nallow_local_binding = true\nenable_socks5 = false\n")
        (child_env,), _ = self.run_probe([["env"]])
        for key, value in expected_env(child_env["HTTP_PROXY"], None, LOCAL_NO_PROXY):
            self.assertEqual(child_env.get(key), value, key)

    def test_allowed_request_goes_through_the_proxy(self):
        origin = self.origin()
        url = origin.url + "/echo"
        (code,), err = self.run_probe(
            [["curl", "-H", "Connection: x-hop", "-H", "X-Hop: 1", "-H", "X-Kept: 2", url]],
            args=["--allow", "127.0.0.1"])
        self.assertEqual(code, "rc=0 code=200", err)
        (entry,) = origin.wait_requests(1)
        names = [n.lower() for n, _ in entry["headers"]]
        # the proxy regenerated the head: the hop-by-hop field and the one it named are gone
        self.assertIn("x-kept", names)
        self.assertNotIn("x-hop", names)
        self.assertNotIn("connection", names)
        self.assertIsNone(entry["error"])
        self.assertEqual(self.audit_records(), [])
        self.assertNotIn("blocked:", err)

    def test_denied_request_is_audited_and_summarised(self):
        origin = self.origin()
        steps = [["curl", "http://blocked.example/"], ["curl", "http://blocked.example/x"],
                 ["curl", "http://other.example:8080/"], ["curl", origin.url + "/"]]
        results, err = self.run_probe(steps)
        self.assertEqual(results, ["rc=0 code=403"] * 4)
        self.assertEqual(origin.requests(), [])
        lines = err.splitlines()
        self.assertIn("blocked: blocked.example:80 x2 (not in allowlist)", lines)
        self.assertIn("blocked: other.example:8080 x1 (not in allowlist)", lines)
        self.assertTrue(any(l.startswith("blocked: 127.0.0.1:%d x1 " % origin.port)
                            for l in lines), err)
        for line in lines:
            self.assertTrue(line.isascii(), line)
        records = self.audit_records()
        self.assertEqual([(r["host"], r["port"], r["reason"]) for r in records],
                         [("blocked.example", 80, "not_allowed"),
                          ("blocked.example", 80, "not_allowed"),
                          ("other.example", 8080, "not_allowed"),
                          ("127.0.0.1", origin.port, "not_allowed_local")])
        self.assertEqual(oct(os.stat(os.path.join(self.state_dir, "audit.jsonl")).st_mode & 0o777),
                         "0o600")

    def test_quiet_suppresses_the_summary(self):
        results, err = self.run_probe([["curl", "http://blocked.example/"]], args=["--quiet"])
        self.assertEqual(results, ["rc=0 code=403"])
        self.assertEqual(err, "")
        self.assertEqual(len(self.audit_records()), 1)

    def test_audit_log_from_configuration(self):
        path = os.path.join(self.tmp, "elsewhere", "audit.jsonl")
        self.user_config('[network]\naudit_log = "%s"\n' % path)
        self.run_probe([["curl", "http://blocked.example/"]], args=["--quiet"])
        self.assertEqual(len(self.audit_records(path)), 1)
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, "audit.jsonl")))

    def test_audit_default_without_xdg_state_home(self):
        env = dict(self.env)
        del env["XDG_STATE_HOME"]
        self.run_probe([["curl", "http://blocked.example/"]], args=["--quiet"], env=env)
        path = os.path.join(self.home, ".local", "state", "portcullis", "audit.jsonl")
        self.assertEqual(len(self.audit_records(path)), 1)

    def test_no_configuration_at_all_allows_nothing(self):
        if os.path.exists("/etc/portcullis/config.toml"):
            self.skipTest("/etc/portcullis/config.toml exists on this machine")
        os.rmdir(self.config_dir)
        results, err = self.run_probe([["curl", "http://example.com/"]])
        self.assertEqual(results, ["rc=0 code=403"])
        self.assertIn("blocked: example.com:80 x1 (not in allowlist)", err.splitlines())

    def test_stdout_is_the_childs_alone(self):
        res = self.run_cmd(["run", "--allow", "example.com", "--", "sh", "-c",
                            "echo out; echo err >&2; curl -sS -o /dev/null http://no.example/"])
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stdout, "out\n")
        self.assertIn("err\n", res.stderr)
        self.assertIn("blocked: no.example:80 x1 (not in allowlist)", res.stderr)

    def test_exit_statuses(self):
        for script, status in (("exit 0", 0), ("exit 7", 7), ("kill -KILL $$", 137),
                               ("kill -USR1 $$", 138), ("kill -TERM $$", 143)):
            with self.subTest(script=script):
                res = self.run_cmd(["run", "--quiet", "--", "sh", "-c", script])
                self.assertEqual(res.returncode, status, res.stderr)
                self.assertEqual(res.stderr, "")
                self.assertEqual(res.stdout, "")

    def test_nofile_soft_limit_is_the_one_run_started_with(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowered = min(soft, 200)

        def lower():
            resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))

        (limit,), _ = self.run_probe([["nofile"]], preexec_fn=lower)
        self.assertEqual(limit, lowered)

    def test_run_waits_for_its_own_child_only(self):
        gpid = os.path.join(self.tmp, "grandchild.pid")
        script = "sleep 60 </dev/null >/dev/null 2>&1 & echo $! > %s; exit 5" % gpid
        res = self.run_cmd(["run", "--quiet", "--", "sh", "-c", script], timeout=30)
        with open(gpid) as f:
            grandchild = int(f.read())
        self.addCleanup(self._kill_quietly, grandchild)
        self.assertEqual(res.returncode, 5, res.stderr)
        os.kill(grandchild, 0)  # still running: run did not wait for it

    def _kill_quietly(self, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def test_signals_from_another_process_reach_the_child_once(self):
        proc, out = self.start_sigrec("TERM")
        for n, sig in enumerate((signal.SIGINT, signal.SIGHUP, signal.SIGQUIT), 1):
            proc.send_signal(sig)
            self.assertEqual(len(self.wait_signals(out, n)), n)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
        self.assertEqual(self.signals(out), ["INT", "HUP", "QUIT", "TERM"])
        self.assertEqual(proc.returncode, 0, stderr)
        self.assertEqual(stdout, "")
        self.assertClean(stderr)

    def test_sigterm_reaches_the_child_once(self):
        proc, out = self.start_sigrec("HUP")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_signals(out, 1), ["TERM"])
        proc.send_signal(signal.SIGHUP)
        proc.communicate(timeout=20)
        self.assertEqual(self.signals(out), ["TERM", "HUP"])
        self.assertEqual(proc.returncode, 0)

    def test_terminal_ctrl_c_is_not_sent_twice(self):
        # The terminal signals the whole foreground group: the child sees Ctrl-C once...
        self.assertEqual(self.ctrl_c_under_pty(), ["INT", "TERM"])
        # ...and run adds nothing: a child outside that group never sees it (while SIGTERM
        # sent to run, signalled after it, still arrives).
        self.assertEqual(self.ctrl_c_under_pty("own-group"), ["TERM"])

    def ctrl_c_under_pty(self, *mode):
        """Runs sigrec under run as the session leader of a new pty, types Ctrl-C, then sends
        SIGTERM to run; returns the signals the child recorded."""
        out = os.path.join(self.tmp, "signals")
        ready = os.path.join(self.tmp, "sigrec.ready")
        for stale in (out, ready):
            if os.path.exists(stale):
                os.unlink(stale)
        pid, master = pty.fork()
        if pid == 0:  # the session leader, with the pty as its controlling terminal
            try:
                os.execve(BIN, [BIN, "run", "--quiet", "--", PY, self.sigrec_py, out, ready,
                                "TERM"] + list(mode), self.env)
            finally:
                os._exit(99)
        transcript = bytearray()
        status = None
        try:
            self._pty_wait(master, transcript, lambda: os.path.exists(ready))
            os.write(master, b"\x03")
            if not mode:
                self._pty_wait(master, transcript, lambda: self.signals(out))
            else:
                # run got the SIGINT (its only sign is the ^C echo); the child did not
                self._pty_wait(master, transcript, lambda: b"^C" in transcript)
            os.kill(pid, signal.SIGTERM)
            status = self._pty_waitpid(pid, master, transcript)
        finally:
            if status is None:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(master)
        self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, transcript)
        self.assertClean(transcript.decode("latin-1"))
        return self.signals(out)

    def _pty_wait(self, master, transcript, cond, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not cond():
            self.assertLess(time.monotonic(), deadline, transcript)
            self._pty_drain(master, transcript, 0.02)

    def _pty_drain(self, master, transcript, wait):
        r, _, _ = select.select([master], [], [], wait)
        if r:
            try:
                transcript += os.read(master, 4096)
            except OSError:  # EIO once the slave side is closed
                time.sleep(wait)

    def _pty_waitpid(self, pid, master, transcript, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return status
            self._pty_drain(master, transcript, 0.02)
        return None


class BadInputTest(RunCase):
    def assertRefused(self, args, message, command=True, status=2):
        marker = os.path.join(self.tmp, "started")
        res = self.run_cmd(["run"] + args + (["--", "touch", marker] if command else []))
        self.assertEqual(res.returncode, status, res.stderr)
        self.assertEqual(res.stdout, "")
        self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
        self.assertTrue(res.stderr.startswith("portcullis: "), res.stderr)
        self.assertIn(message, res.stderr)
        self.assertFalse(os.path.exists(marker), "the command must not run")
        self.assertFalse(os.path.exists(self.state_dir), "nothing may start")
        return res.stderr

    def test_missing_command(self):
        self.assertRefused([], "missing command", command=False)
        self.assertRefused(["--"], "missing command", command=False)
        self.assertRefused(["--quiet", "--"], "missing command", command=False)

    def test_unknown_flags(self):
        self.assertRefused(["--bogus"], "'--bogus'")
        self.assertRefused(["-x"], "'-x'")
        self.assertRefused(["-qz"], "'-q")
        self.assertRefused(["--allow"], "'--allow'", command=False)

    def test_bad_configuration(self):
        bad = self.config("[network]\nallowed_domains = [\"a[b\"]\n", name="bad.toml")
        self.assertRefused(["--config", bad], "bad.toml:2:")
        typo = self.config("[network]\nallow_domains = []\n", name="typo.toml")
        self.assertRefused(["--config", typo], "typo.toml:2:")
        self.assertRefused(["--config", os.path.join(self.tmp, "missing.toml")], "missing.toml")
        self.assertRefused(["--allow", "a[b"], "--allow")
        self.user_config("[network]\nmode = \"partial\"\n")
        self.assertRefused([], "config.toml:2:")

    def test_command_that_cannot_be_executed(self):
        plain = self.write("not-executable", "#!/bin/sh\n")
        for cmd, reason in ((["nonexistent-command-xyz"], "command not found"),
                            ([os.path.join(self.tmp, "missing")], "No such file or directory"),
                            ([plain], "Permission denied"),
                            ([self.tmp], "Permission denied")):
            with self.subTest(cmd=cmd):
                res = self.run_cmd(["run", "--"] + cmd)
                self.assertEqual(res.returncode, 127, res.stderr)
                self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
                self.assertIn(reason, res.stderr)
                self.assertEqual(res.stdout, "")


if __name__ == "__main__":
    harness.main()
