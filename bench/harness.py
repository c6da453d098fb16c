#!/usr/bin/env python3
"""Measurements of bench/run.sh: portcullis next to tinyproxy, squid, microsocks, dante and the
direct path, on loopback, in the private network namespace run.sh sets up.

    harness.py --quick|--full|--smoke [--only a,b] [--scale] [--json FILE]
    harness.py --table FILE.json         print the tables of an earlier run again

Markdown tables on stdout, progress on stderr, every value in a JSON file. Exit status 1 when
a denied request got through any proxy, or (--smoke) when any scenario of portcullis or the
direct path did not complete.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(BENCH)
BUILD = os.environ.get("BENCH_BUILD", os.path.join(TOP, "build", "release"))
PORTCULLIS = os.path.join(BUILD, "portcullis")
LOADGEN = os.path.join(BUILD, "bench", "bench_loadgen")
TICK = os.sysconf("SC_CLK_TCK")

ORIGIN = "localhost"
HTTP_PORT, TLS_PORT = 28080, 28443
REFUSE_PORT = 28403  # nginx answering 403 itself, on the proxy's CPU: the denied-GET ceiling
DENIED = os.environ.get("BENCH_DENY_HOST", "blocked.example.com")
ALLOWED = ["localhost", "127.0.0.1"]
BIG = 64 << 20

# A proxy holds two descriptors per proxied connection; without CAP_SYS_RESOURCE the hard
# RLIMIT_NOFILE cannot be raised, so the scale rows use at most this many connections.
FD_LIMIT = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
FD_ROOM = 10 ** 6 if FD_LIMIT == resource.RLIM_INFINITY else (FD_LIMIT - 200) // 2

PIN = os.environ.get("BENCH_PIN", "1") != "0" and (os.cpu_count() or 1) >= 2
CLIENT_CPU = os.environ.get("BENCH_CLIENT_CPU", "0")
PROXY_CPU = os.environ.get("BENCH_PROXY_CPU", "1")

# secs: each timed run; count: cap on a bench_loadgen run's exchanges (smoke: a run ends at the
# cap, within 10 s, so that a stall of the shared machine is not a failure); reps: interleaved repetitions (median); bulk: 64 MiB fetches per run;
# tunnels: idle tunnels of the memory rows; ka: keep-alive concurrencies (wrk);
# scale_ka / scale_tunnels: the --scale table (smoke always runs a small one).
PROFILES = {
    "smoke": dict(secs=1, count=1000, count_secs=10, reps=1, bulk=1, tunnels=200, ka=[1, 64, 256],
                  scale_ka=[1000], scale_tunnels=1000),
    "quick": dict(secs=2, reps=1, bulk=4, tunnels=1000, ka=[1, 64, 256],
                  scale_ka=[256, 1000, 10000], scale_tunnels=10000),
    "full": dict(secs=5, reps=3, bulk=16, tunnels=1000, ka=[1, 16, 64, 256],
                 scale_ka=[256, 1000, 10000], scale_tunnels=10000),
}


def say(*words):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *words, file=sys.stderr, flush=True)


def pinned(cpu):
    return ["taskset", "-c", cpu] if PIN else []


def tool_env():
    """The environment of every tool and proxy: no *_proxy variable may redirect a client."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["LC_ALL"] = "C"
    return env


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def can_bind_v6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


# ---------------------------------------------------------------- /proc of a session ---

def session_members(sid):
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # fields after "(comm)": state ppid pgrp session ...
        if int(stat[stat.rfind(")") + 2:].split()[3]) == sid:
            pids.append(int(name))
    return pids


def session_cpu(sid):
    """Seconds of user + system CPU of the session's processes and of their reaped children."""
    ticks = 0
    for pid in session_members(sid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        ticks += sum(int(v) for v in fields[11:15])
    return ticks / TICK


def session_rss_kib(sid):
    total = 0
    for pid in session_members(sid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# ------------------------------------------------------------------------ targets ---

class Target:
    """A proxy (or the direct path). http / socks: its listening ports, None when absent."""

    def __init__(self, name, http=None, socks=None, argv=None, setup=None, filters=True,
                 quiet=False):
        self.name, self.http, self.socks, self.argv = name, http, socks, argv
        self.setup, self.filters, self.quiet = setup, filters, quiet
        self.proc = None
        self.problem = None

    @property
    def direct(self):
        return self.argv is None

    def start(self, run):
        if self.direct:
            return True
        if self.setup:
            self.setup(run, self)
        out = subprocess.DEVNULL if self.quiet else open(os.path.join(run, self.name + ".log"), "wb")
        argv = pinned(PROXY_CPU) + self.argv
        say("starting", self.name)
        self.proc = subprocess.Popen(argv, cwd=run, stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=tool_env(),
                                     start_new_session=True)
        ports = [p for p in (self.http, self.socks) if p]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            if all(port_open(p) for p in ports):
                return True
            time.sleep(0.1)
        self.problem = "did not start (see %s/%s.log)" % (run, self.name)
        say(self.name, self.problem)
        self.stop()
        return False

    def alive(self):
        return self.direct or (self.proc is not None and self.proc.poll() is None)

    def cpu(self):
        return None if self.direct else session_cpu(self.proc.pid)

    def rss_kib(self):
        return None if self.direct else session_rss_kib(self.proc.pid)

    def stop(self):
        if self.proc is None:
            return
        sid = self.proc.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(sid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                continue
            for _ in range(50):            # forked workers may outlive the leader briefly
                if not session_members(sid):
                    break
                time.sleep(0.1)
            if not session_members(sid):
                break
        self.proc = None


def write(run, name, text):
    path = os.path.join(run, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def setup_portcullis(run, t):
    write(run, "portcullis.toml", """# bench/harness.py: allow the origin's names, refuse the rest.
[network]
allowed_domains = %s
approval_policy = "never"
audit_log = "off"
max_connections = 200000
""" % json.dumps(ALLOWED))


def setup_tinyproxy(run, t):
    write(run, "tinyproxy.filter", "".join("^%s$\n" % h.replace(".", r"\.") for h in ALLOWED))
    write(run, "tinyproxy.conf", """# bench/harness.py: the filter file lists what is allowed;
# FilterDefaultDeny refuses everything else.
Port %d
Listen 127.0.0.1
Allow 127.0.0.1
User nobody
Group nogroup
Timeout 600
MaxClients 20000
LogLevel Error
LogFile "%s/tinyproxy.log"
DisableViaHeader Yes
ConnectPort %d
ConnectPort %d
Filter "%s/tinyproxy.filter"
FilterType ere
FilterDefaultDeny Yes
""" % (t.http, run, HTTP_PORT, TLS_PORT, run))


def setup_squid(run, t):
    write(run, "squid.conf", """# bench/harness.py: no cache, no access log, allowlist as a dstdomain acl.
http_port 127.0.0.1:%d
pid_filename %s/squid.pid
cache_log %s/squid-cache.log
coredump_dir %s
access_log none
cache_store_log none
cache deny all
cache_mem 8 MB
max_filedescriptors 65536
dns_nameservers 127.0.0.1
pinger_enable off
shutdown_lifetime 0 seconds
via off
forwarded_for delete
acl from_here src 127.0.0.1/32
acl CONNECT method CONNECT
acl origin_ports port %d %d
acl allowed dstdomain -n %s
http_access deny CONNECT !origin_ports
http_access allow from_here allowed
http_access deny all
""" % (t.http, run, run, run, HTTP_PORT, TLS_PORT, " ".join(ALLOWED)))


def setup_dante(run, t):
    passes = "\n".join("socks pass { from: 127.0.0.0/8 to: %s command: connect }"
                       % (h + "/32" if h[0].isdigit() else h) for h in ALLOWED)
    write(run, "danted.conf", """# bench/harness.py: pass rules for the allowed names, block the rest.
logoutput: %s/danted.log
internal: 127.0.0.1 port = %d
external: lo
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }
%s
socks block { from: 0.0.0.0/0 to: 0.0.0.0/0 }
""" % (run, t.socks, passes))


PEERS = ["tinyproxy", "squid", "microsocks", "dante"]


def make_targets(names):
    all_targets = {
        "tinyproxy": Target("tinyproxy", http=23128, setup=setup_tinyproxy,
                            argv=["tinyproxy", "-d", "-c", "tinyproxy.conf"]),
        "squid": Target("squid", http=23129, setup=setup_squid,
                        argv=["squid", "-N", "-f", "squid.conf"]),
        # microsocks prints a line per connection; it cannot filter destinations
        "microsocks": Target("microsocks", socks=21080, filters=False, quiet=True,
                             argv=["microsocks", "-i", "127.0.0.1", "-p", "21080"]),
        "dante": Target("dante", socks=21081, setup=setup_dante,
                        argv=["danted", "-f", "danted.conf", "-p", "danted.pid"]),
        "portcullis": Target("portcullis", http=24128, socks=24080, setup=setup_portcullis,
                             argv=[PORTCULLIS, "serve", "--config", "portcullis.toml",
                                   "--http", "127.0.0.1:24128", "--socks", "127.0.0.1:24080"]),
        "direct": Target("direct"),
    }
    return [all_targets[n] for n in PEERS + ["portcullis", "direct"] if n in names]


# ------------------------------------------------------------------------- origin ---

def nginx_temps(run):
    """nginx's temporary directories, all in the run directory (nothing under /var)."""
    return "".join("    %s_temp_path %s/tmp;\n" % (k, run)
                   for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def start_nginx(run, name, conf, cpu, ports, what):
    """Starts nginx with conf pinned to cpu, logging to run/name.log, and waits (20 s at most)
    until every port accepts connections."""
    log = os.path.join(run, name + ".log")
    proc = subprocess.Popen(pinned(cpu) + ["nginx", "-p", run, "-c", conf],
                            stdin=subprocess.DEVNULL, stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        if all(port_open(p) for p in ports):
            return proc
        time.sleep(0.1)
    raise SystemExit("bench: %s (nginx) did not start; see %s" % (what, log))


def start_origin(run):
    www = os.path.join(run, "www")
    os.makedirs(os.path.join(run, "tmp"))
    os.makedirs(www)
    with open(os.path.join(www, "small"), "wb") as f:
        f.write(b"s" * 1023 + b"\n")
    with open(os.path.join(www, "big"), "wb") as f:
        f.write(os.urandom(BIG))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", os.path.join(run, "origin.key"),
                    "-out", os.path.join(run, "origin.crt")],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    v6 = can_bind_v6()
    listen = ["127.0.0.1:%d", "127.0.0.2:%d"] + (["[::1]:%d"] if v6 else [])
    plain = "".join("        listen %s backlog=65535;\n" % (a % HTTP_PORT) for a in listen)
    tls = "".join("        listen %s ssl backlog=65535;\n" % (a % TLS_PORT)
                  for a in listen if "127.0.0.2" not in a)
    conf = write(run, "nginx.conf", """# bench/harness.py origin: one worker, /small and /big.
# 127.0.0.2 is where the denied name resolves: a request a proxy lets through gets a 200.
worker_processes 1;
daemon off;
pid %(run)s/nginx.pid;
error_log %(run)s/nginx-error.log error;
worker_rlimit_nofile %(fds)d;
# multi_accept: take every pending connection at once, or 10,000 connections opened together
# wait for the one worker to accept them one per loop iteration
events { worker_connections 65536; multi_accept on; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_header_timeout 300s;
%(temps)s    root %(run)s/www;
    server {
%(plain)s    }
    server {
%(tls)s        ssl_certificate %(run)s/origin.crt;
        ssl_certificate_key %(run)s/origin.key;
    }
}
""" % dict(run=run, plain=plain, tls=tls, fds=min(FD_LIMIT, 200000), temps=nginx_temps(run)))
    return start_nginx(run, "nginx", conf, CLIENT_CPU, (HTTP_PORT, TLS_PORT), "the origin")


def start_refuser(run):
    """nginx on the proxy's CPU answering every request with a 403 and closing: what a server
    that refuses at no cost beyond TCP's own gets from the client, the direct figure of the
    denied-GET row."""
    conf = write(run, "refuser.conf", """# bench/harness.py refuser: 403 to everything.
worker_processes 1;
daemon off;
pid %(run)s/refuser.pid;
error_log %(run)s/refuser-error.log error;
events { worker_connections 65536; multi_accept on; }
http {
    access_log off;
%(temps)s    server {
        listen 127.0.0.1:%(port)d backlog=65535;
        location / { return 403 "blocked by policy\\n"; }
    }
}
""" % dict(run=run, port=REFUSE_PORT, temps=nginx_temps(run)))
    return start_nginx(run, "refuser", conf, PROXY_CPU, (REFUSE_PORT,), "the refuser")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# -------------------------------------------------------------------------- rows ---

# key -> (label, kind): kind "rate" shows (NN%) of direct, "lat" shows (N.N×) of direct,
# "plain" shows the value alone.
ROWS = {}
MAIN_ROWS, SCALE_ROWS = [], []


def row(table, key, label, kind="plain"):
    ROWS[key] = (label, kind)
    table.append(key)


for c in (1, 16, 64, 256):
    row(MAIN_ROWS, "ka%d" % c, "keep-alive GET 1 KiB, c=%d (req/s)" % c, "rate")
for c in (1, 16, 64, 256):
    row(MAIN_ROWS, "ka%d_p50" % c, "  latency p50 / p99, c=%d (ms)" % c, "lat")
    row(MAIN_ROWS, "ka%d_p99" % c, None, "lat")
row(MAIN_ROWS, "newconn", "new connection per GET, c=16 (req/s)", "rate")
row(MAIN_ROWS, "newconn_p99", "  p99 (ms)", "lat")
row(MAIN_ROWS, "bulk_connect", "CONNECT bulk, plain HTTP inside (MB/s)", "rate")
row(MAIN_ROWS, "bulk_tls", "CONNECT bulk, TLS inside (MB/s)", "rate")
row(MAIN_ROWS, "bulk_socks", "SOCKS5 bulk (MB/s)", "rate")
row(MAIN_ROWS, "bulk_forward", "forward GET 64 MiB, absolute-form (MB/s)", "rate")
row(MAIN_ROWS, "tun_connect", "new CONNECT tunnel + GET, c=16 (/s)", "rate")
row(MAIN_ROWS, "tun_connect_p99", "  p99 (ms)", "lat")
row(MAIN_ROWS, "tun_socks", "new SOCKS5 tunnel + GET, c=16 (/s)", "rate")
row(MAIN_ROWS, "tun_socks_p99", "  p99 (ms)", "lat")
row(MAIN_ROWS, "deny_connect", "denied CONNECT, new connection each, c=16 (/s)")
row(MAIN_ROWS, "deny_connect_p99", "  p99 (ms)")
row(MAIN_ROWS, "deny_get", "denied absolute-form GET, new connection each (/s; direct: nginx "
    "refusing on the proxy's CPU)", "rate")
row(MAIN_ROWS, "deny_get_p99", "  p99 (ms)")
row(MAIN_ROWS, "deny_socks", "denied SOCKS5 CONNECT, new connection each (/s)")
row(MAIN_ROWS, "deny_socks_p99", "  p99 (ms)")
row(MAIN_ROWS, "rss_idle", "idle RSS (MiB)")
row(MAIN_ROWS, "rss_tunnels", "RSS with the idle tunnels open (MiB)")
row(MAIN_ROWS, "kib_tunnel", "RSS per idle tunnel (KiB)")
row(MAIN_ROWS, "cpu_ka", "proxy CPU per keep-alive GET, c=64 (µs)")
row(MAIN_ROWS, "cpu_newconn", "proxy CPU per new-connection GET (µs)")
row(MAIN_ROWS, "cpu_tun_connect", "proxy CPU per new CONNECT tunnel + GET (µs)")
row(MAIN_ROWS, "cpu_tun_socks", "proxy CPU per new SOCKS5 tunnel + GET (µs)")
row(MAIN_ROWS, "cpu_deny_connect", "proxy CPU per denied CONNECT (µs)")
row(MAIN_ROWS, "cpu_deny_get", "proxy CPU per denied GET (µs)")
row(MAIN_ROWS, "cpu_gb_connect", "proxy CPU per GB, CONNECT plain (s)")
row(MAIN_ROWS, "cpu_gb_tls", "proxy CPU per GB, CONNECT TLS (s)")
row(MAIN_ROWS, "cpu_gb_socks", "proxy CPU per GB, SOCKS5 (s)")
row(MAIN_ROWS, "cpu_gb_forward", "proxy CPU per GB, forward GET (s)")
row(SCALE_ROWS, "stun_n", "idle tunnels established (of N)")
row(SCALE_ROWS, "stun_rss", "RSS with N idle tunnels (MiB)")
row(SCALE_ROWS, "stun_kib", "RSS per idle tunnel (KiB)")
row(SCALE_ROWS, "stun_base_p50", "GET c=1, no tunnels open: p50 / p99 (ms)", "lat")
row(SCALE_ROWS, "stun_base_p99", None, "lat")
row(SCALE_ROWS, "stun_probe_p50", "GET c=1, N tunnels open: p50 / p99 (ms)", "lat")
row(SCALE_ROWS, "stun_probe_p99", None, "lat")
row(SCALE_ROWS, "stun_setup_p99", "tunnel setup p99 while opening N (ms)", "lat")


def scale_rows(concurrencies):
    """The keep-alive rows of the scale table, for the concurrencies a run used."""
    keys = []
    for c in concurrencies:
        row(keys, "ska%d" % c, "keep-alive GET 1 KiB, c=%s (req/s)" % format(c, ","), "rate")
        row(keys, "ska%d_p50" % c, "  latency p50 / p99 (ms)", "lat")
        row(keys, "ska%d_p99" % c, None, "lat")
        row(keys, "ska%d_rss" % c, "  proxy RSS at the end (MiB)")
        row(keys, "ska%d_cpu" % c, "  proxy CPU per GET (µs)")
    return keys


class Bench:
    def __init__(self, profile, targets, run):
        self.name = profile
        self.p = dict(PROFILES[profile])
        self.capped = FD_ROOM < max(self.p["scale_ka"] + [self.p["scale_tunnels"]])
        self.p["scale_ka"] = sorted({min(c, FD_ROOM) for c in self.p["scale_ka"]})
        self.p["scale_tunnels"] = min(self.p["scale_tunnels"], FD_ROOM)
        self.targets = targets
        self.run = run
        self.values = {}    # key -> target -> [values]
        self.notes = {}     # key -> target -> text
        self.leaks = []
        self.failed = []    # "key / target: why" of scenarios that produced no value

    def put(self, key, t, value):
        if value is not None:
            self.values.setdefault(key, {}).setdefault(t.name, []).append(value)

    def note(self, key, t, text):
        self.notes.setdefault(key, {})[t.name] = text

    def fail(self, key, t, text):
        self.note(key, t, "failed: " + text)
        self.failed.append((t.name, "%s / %s: %s" % (key, t.name, text)))

    def tool(self, argv, timeout):
        """Runs a client tool on the client CPU; returns (stdout, error text)."""
        try:
            r = subprocess.run(pinned(CLIENT_CPU) + argv, capture_output=True, text=True,
                               timeout=timeout, env=tool_env())
        except subprocess.TimeoutExpired:
            return "", "timed out after %d s" % timeout
        return r.stdout, (r.stderr.strip()[-200:] or "exit %d" % r.returncode) if r.returncode else ""

    def measured(self, t, fn):
        c0 = t.cpu()
        out = fn()
        return out, (None if c0 is None else t.cpu() - c0)

    # keep-alive GETs (wrk) --------------------------------------------------------
    def keepalive_wrk(self, t, conc):
        key = "ka%d" % conc
        secs = self.p["secs"]
        if t.direct:
            url, target = "http://127.0.0.1:%d/" % HTTP_PORT, "/small"
        else:
            url, target = "http://127.0.0.1:%d/" % t.http, "http://%s:%d/small" % (ORIGIN, HTTP_PORT)
        secs = max(1, round(secs))       # wrk takes whole seconds
        argv = ["wrk", "-t1", "-c%d" % conc, "-d%ds" % secs, "--timeout", "5s",
                "-s", os.path.join(BENCH, "wrk.lua"), url, "--", target]
        (out, err), cpu = self.measured(t, lambda: self.tool(argv, secs + 30))
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if not lines:
            self.fail(key, t, err or "no output")
            return
        d = json.loads(lines[-1])
        good = d["requests"] - d["status"]
        if good <= 0:
            self.fail(key, t, "no successful response")
            return
        errors = d["connect"] + d["write"] + d["status"] + d["timeout"]
        if d["read"] > good // 2 and errors <= good // 100:
            self.note(key, t, "closes the client connection after each response "
                              "(wrk reconnects), so this is a new-connection figure")
        elif errors + d["read"] > good // 100:
            self.note(key, t, "%d errors (connect %d, read %d, write %d, status %d, timeout %d)"
                      % (errors + d["read"], d["connect"], d["read"], d["write"], d["status"],
                         d["timeout"]))
        self.put(key, t, good / (d["us"] / 1e6))
        self.put(key + "_p50", t, d["p50"] / 1000)
        self.put(key + "_p99", t, d["p99"] / 1000)
        if conc == 64 and cpu is not None:
            self.put("cpu_ka", t, cpu * 1e6 / good)

    # bench_loadgen runs -----------------------------------------------------------
    def loadgen(self, t, mode, kind, key, conc, secs=None, extra=(), cpu_key=None):
        """One bench_loadgen run; puts key (rate), key_p50/_p99 and CPU per success."""
        secs = secs or self.p["secs"]
        if "count" in self.p and mode == "rate":
            secs = self.p["count_secs"]
            extra = ["-n", str(self.p["count"])] + list(extra)
        if t.direct:
            to = "127.0.0.1:%d" % (REFUSE_PORT if kind == "deny-get" else HTTP_PORT)
        else:
            to = "127.0.0.1:%d" % (t.socks if "socks" in kind else t.http)
        host = DENIED if kind.startswith("deny") else ORIGIN
        argv = [LOADGEN, mode, "--kind", kind, "--to", to, "--target", "%s:%d" % (host, HTTP_PORT),
                "-c", str(conc), "-d", str(secs), "--timeout", "5000"] + list(extra)
        out, err, cpu = self.run_loadgen(t, argv, secs + 120)
        lines = [ln for ln in out if ln.startswith("{")]
        if not lines:
            self.fail(key, t, err or "no output")
            return None
        d = json.loads(lines[-1])
        if d["leaks"]:
            self.leaks.append("%s: %s let %d denied requests through" % (key, t.name, d["leaks"]))
            self.note(key, t, "LEAK: %d denied requests answered 2xx / SOCKS 0" % d["leaks"])
        total = d["ok"] + d["fail"]
        if d["ok"] == 0:
            self.fail(key, t, "none completed in %.1f s (%d in flight) %s"
                      % (d["seconds"], d["inflight"], json.dumps(d["errors"])))
            return None
        if d["fail"] > total // 100:
            self.note(key, t, "%d of %d failed %s" % (d["fail"], total, json.dumps(d["errors"])))
        elif mode == "keepalive" and d["closed"] > d["ok"] // 100:
            self.note(key, t, "closed %d connections (reopened by the client)" % d["closed"])
        self.put(key, t, d["rate"])
        self.put(key + "_p50", t, d["p50_ms"])
        self.put(key + "_p99", t, d["p99_ms"])
        if cpu is not None and cpu_key:
            self.put(cpu_key, t, cpu * 1e6 / d["ok"])
        return d

    def run_loadgen(self, t, argv, timeout):
        """Runs bench_loadgen on the client CPU; returns (stdout lines, error text, proxy CPU
        seconds). The CPU is counted from the line `{"measuring": ...}` when the client prints
        one (keepalive: after its connection phase and warm-up), else over the whole run."""
        p = subprocess.Popen(pinned(CLIENT_CPU) + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=tool_env())
        lines, c0 = [], t.cpu()
        watchdog = threading.Timer(timeout, p.kill)   # the client ends by itself; in case not
        watchdog.start()
        try:
            for line in p.stdout:
                if line.startswith('{"measuring"'):
                    c0 = t.cpu()
                else:
                    lines.append(line)
            p.wait()
        finally:
            watchdog.cancel()
        if p.returncode == -signal.SIGKILL:
            return lines, "timed out after %d s" % timeout, None
        err = p.stderr.read().strip()[-200:] if p.returncode else ""
        return lines, err or ("exit %d" % p.returncode if p.returncode else ""), (
            None if c0 is None else t.cpu() - c0)

    # bulk transfers (curl) -------------------------------------------------------
    def bulk(self, t, how):
        key = "bulk_" + how
        n = self.p["bulk"]
        url = ("https://%s:%d/big" if how == "tls" else "http://%s:%d/big") % (
            ORIGIN, TLS_PORT if how == "tls" else HTTP_PORT)
        argv = ["curl", "-s", "-k", "--max-time", "120", "-w", "%{size_download} %{time_total} %{http_code}\\n"]
        if t.direct:
            argv += ["--noproxy", "*"]
        elif how == "socks":
            argv += ["-x", "socks5h://127.0.0.1:%d" % t.socks]
        else:
            argv += ["-x", "http://127.0.0.1:%d" % t.http]
            if how != "forward":
                argv.append("-p")
        for _ in range(n):
            argv += ["-o", "/dev/null", url]
        (out, err), cpu = self.measured(t, lambda: self.tool(argv, 150))
        got = [ln.split() for ln in out.splitlines() if ln.strip()]
        if len(got) != n or any(g[2] != "200" or int(g[0]) != BIG for g in got):
            self.fail(key, t, err or out.strip()[-120:] or "no output")
            return
        size = sum(int(g[0]) for g in got)
        secs = sum(float(g[1]) for g in got)
        self.put(key, t, size / secs / 1e6)
        if cpu is not None:
            self.put("cpu_gb_" + how, t, cpu / (size / 1e9))

    # idle tunnels -----------------------------------------------------------------
    def tunnels(self, t, n, key, probe=None):
        """Opens n idle tunnels through t (plain connections for direct), samples the proxy's
        RSS while they are open and runs probe() meanwhile. Returns (loadgen's first JSON line,
        RSS before, peak RSS) in KiB."""
        if t.direct:
            kind, to = "direct", HTTP_PORT
        elif t.http:
            kind, to = "connect", t.http
        else:
            kind, to = "socks", t.socks
        before = t.rss_kib()
        argv = pinned(CLIENT_CPU) + [
            LOADGEN, "tunnels", "--kind", kind, "--to", "127.0.0.1:%d" % to,
            "--target", "%s:%d" % (ORIGIN, HTTP_PORT), "-n", str(n),
            "--setup", "60", "--hold", "120", "--timeout", "20000"]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                             env=tool_env())
        watchdog = threading.Timer(60 + 120 + 60, p.kill)   # --setup + --hold + the probes
        watchdog.start()
        try:
            first = p.stdout.readline()
            d = json.loads(first) if first.startswith("{") else {"established": 0, "errors": {}}
            peak = 0
            for _ in range(5):
                time.sleep(0.2)
                peak = max(peak, t.rss_kib() or 0)
            if probe:
                probe()
            peak = max(peak, t.rss_kib() or 0)
            p.stdin.write("done\n")
            p.stdin.flush()
            last = p.stdout.readline()
            alive = json.loads(last)["alive"] if last.startswith("{") else 0
        finally:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            watchdog.cancel()
        est = d["established"]
        if est == 0:
            self.fail(key, t, "no tunnel established %s" % json.dumps(d["errors"]))
        elif est < n:
            self.note(key, t, "%d of %d established %s" % (est, n, json.dumps(d["errors"])))
        elif alive < est:
            self.note(key, t, "%d closed while idle" % (est - alive))
        return d, before, peak

    def memory(self, t):
        if t.direct:
            return
        time.sleep(0.3)
        self.put("rss_idle", t, t.rss_kib() / 1024)
        d, before, peak = self.tunnels(t, self.p["tunnels"], "rss_tunnels")
        if d["established"]:
            self.put("rss_tunnels", t, peak / 1024)
            self.put("kib_tunnel", t, max(0.0, (peak - before) / d["established"]))

    # the --scale table ---------------------------------------------------------------
    def scale_keepalive(self, t, conc):
        key = "ska%d" % conc
        kind = "direct" if t.direct else "get"
        if not t.direct and not t.http:
            return
        # two warm-up seconds: at 10,000 connections the first request of each also makes
        # the proxy open its connection to the origin
        self.loadgen(t, "keepalive", kind, key, conc, secs=2 * self.p["secs"],
                     extra=["--setup", "60", "--warmup", "2"], cpu_key=key + "_cpu")
        if not t.direct:
            self.put(key + "_rss", t, t.rss_kib() / 1024)

    def scale_tunnels(self, t):
        n = self.p["scale_tunnels"]
        if t.name == "dante" and n > 2000:
            self.note("stun_n", t, "skipped: a process per few tunnels, ~0.5 MiB per tunnel")
            return
        if not t.direct:
            # A fresh process: what earlier rows allocated (and the allocator kept) would
            # otherwise hide the cost of the tunnels.
            t.stop()
            if not t.start(self.run):
                self.fail("stun_n", t, "did not restart")
                return
            time.sleep(0.3)
        probe_kind = "direct" if t.direct else ("get" if t.http else None)
        probe_secs = max(self.p["secs"], 1)

        def probe(key):
            if probe_kind:
                self.loadgen(t, "keepalive", probe_kind, key, 1, secs=probe_secs)
        probe("stun_base")
        before = t.rss_kib()
        d, _, peak = self.tunnels(t, n, "stun_n", probe=lambda: probe("stun_probe"))
        self.put("stun_n", t, d["established"])
        if d.get("setup_p99_ms", -1) >= 0:
            self.put("stun_setup_p99", t, d["setup_p99_ms"])
        if not t.direct and d["established"]:
            self.put("stun_rss", t, peak / 1024)
            self.put("stun_kib", t, max(0.0, (peak - before) / d["established"]))

    # driver -----------------------------------------------------------------------
    def steps(self, scale):
        http = lambda t: t.direct or t.http                       # noqa: E731
        socks = lambda t: t.direct or t.socks                     # noqa: E731
        denies = lambda proto: lambda t: not t.direct and t.filters and getattr(t, proto)  # noqa
        s = []
        for c in self.p["ka"]:
            s.append(("keep-alive c=%d" % c, lambda t, c=c: self.keepalive_wrk(t, c), http))
        s.append(("new connection per GET", lambda t: self.loadgen(
            t, "rate", "direct" if t.direct else "get", "newconn", 16, cpu_key="cpu_newconn"), http))
        for how, applies in (("connect", http), ("tls", http), ("socks", socks), ("forward", http)):
            s.append(("bulk " + how, lambda t, how=how: self.bulk(t, how), applies))
        s.append(("new CONNECT tunnel + GET", lambda t: self.loadgen(
            t, "rate", "direct" if t.direct else "connect", "tun_connect", 16,
            cpu_key="cpu_tun_connect"), http))
        s.append(("new SOCKS5 tunnel + GET", lambda t: self.loadgen(
            t, "rate", "direct" if t.direct else "socks", "tun_socks", 16,
            cpu_key="cpu_tun_socks"), socks))
        s.append(("denied CONNECT", lambda t: self.loadgen(
            t, "rate", "deny-connect", "deny_connect", 16, cpu_key="cpu_deny_connect"),
            denies("http")))
        s.append(("denied GET", lambda t: self.loadgen(
            t, "rate", "deny-get", "deny_get", 16, cpu_key="cpu_deny_get"),
            lambda t: t.direct or denies("http")(t)))
        s.append(("denied SOCKS5", lambda t: self.loadgen(t, "rate", "deny-socks", "deny_socks", 16),
                  denies("socks")))
        if scale:
            for c in self.p["scale_ka"]:
                s.append(("scale keep-alive c=%d" % c,
                          lambda t, c=c: self.scale_keepalive(t, c), http))
            s.append(("scale idle tunnels (fresh proxy)", self.scale_tunnels, lambda t: True))
        return s

    def run_all(self, scale):
        live = [t for t in self.targets if t.problem is None]
        for t in live:                     # first, while every proxy is fresh
            if not t.direct:
                say("memory:", t.name)
                self.memory(t)
        for label, fn, applies in self.steps(scale):
            for rep in range(self.p["reps"]):
                k = rep % len(live)
                for t in live[k:] + live[:k]:     # rotate so drift hits every column alike
                    if not applies(t):
                        continue
                    if not t.alive():
                        t.problem = "exited during the run"
                        say(t.name, t.problem)
                        continue
                    say("%s%s: %s" % (label, " rep %d" % (rep + 1) if self.p["reps"] > 1 else "",
                                      t.name))
                    fn(t)


# ------------------------------------------------------------------------- tables ---

def fmt(v):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 10000:
        return "%.1fk" % (v / 1000)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    return "%.2f" % v


def median(vals):
    return statistics.median(vals) if vals else None


def render(data, keys, title_cols=None):
    names = [n for n in data["targets"] if any(
        data["values"].get(k, {}).get(n) or data["notes"].get(k, {}).get(n) for k in keys)]
    if not names:
        return ""
    vals, notes = data["values"], data["notes"]
    lines = ["| scenario | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    foot = []
    i = 0
    while i < len(keys):
        key = keys[i]
        label, kind = ROWS[key]
        pair = i + 1 < len(keys) and ROWS[keys[i + 1]][0] is None
        group = keys[i:i + 2] if pair else [key]
        i += len(group)
        if not any(vals.get(k) or notes.get(k) for k in group):
            continue
        cells = []
        for n in names:
            parts = []
            for k in group:
                m = median(vals.get(k, {}).get(n, []))
                d = median(vals.get(k, {}).get("direct", []))
                cell = fmt(m)
                if m is not None and d and n != "direct":
                    if kind == "rate":
                        cell += " (%d%%)" % round(100 * m / d)
                    elif kind == "lat" and k == group[-1]:
                        cell += " (%.1f×)" % (m / d)
                parts.append(cell)
            cell = " / ".join(parts)
            for k in group + [k[:-4] for k in group if k.endswith("_p50") and k[:-4] not in ROWS]:
                text = notes.get(k, {}).get(n)
                if text:
                    foot.append("%s, %s: %s" % (label.strip(), n, text))
                    cell += " [%d]" % len(foot)
            cells.append(cell)
        lines.append("| %s | %s |" % (label, " | ".join(cells)))
    if foot:
        lines.append("")
        lines += ["[%d] %s  " % (j + 1, f) for j, f in enumerate(foot)]
    return "\n".join(lines)


def print_tables(data):
    print("## %s run, %s\n" % (data["profile"], data["started"]))
    print(data["machine"] + "\n")
    print(render(data, MAIN_ROWS))
    if data.get("scale"):
        print("\n### Scale (bench_loadgen keep-alive; N = %d idle tunnels)\n" % data["scale_tunnels"])
        if data.get("capped"):
            print("Connections capped at %d by the hard RLIMIT_NOFILE of %d (two descriptors "
                  "per proxied connection).\n" % (data["scale_tunnels"], data["fd_limit"]))
        print(render(data, scale_rows(data["scale_ka"]) + SCALE_ROWS))
    for t, why in data.get("problems", {}).items():
        print("\n%s: %s" % (t, why))
    if data.get("leaks"):
        print("\nLEAKS: " + "; ".join(data["leaks"]))


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    rev = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or "?"
    return ("Machine: %d CPU (%s), %.0f GiB, kernel %s; portcullis %s; pinning %s."
            % (os.cpu_count() or 0, model, mem, platform.release(), rev,
               "proxy on CPU %s, clients and origin on CPU %s" % (PROXY_CPU, CLIENT_CPU)
               if PIN else "off"))


def smoke_failures(bench):
    """Why a smoke run fails: a leak, a scenario of portcullis or direct without a value, or
    any remark on one of theirs (more than 1% of exchanges failed, tunnels not established or
    closed while idle, a proxy that exited)."""
    bad = list(bench.leaks) + [why for name, why in bench.failed]
    for key, by_target in bench.notes.items():
        for name in ("portcullis", "direct"):
            if name in by_target and not by_target[name].startswith("failed: "):
                bad.append("%s / %s: %s" % (key, name, by_target[name]))
    bad += ["%s: %s" % (t.name, t.problem) for t in bench.targets if t.problem]
    return bad


def main():
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", action="store_true")
    g.add_argument("--full", action="store_true")
    g.add_argument("--smoke", action="store_true")
    ap.add_argument("--only", help="comma-separated peers (portcullis and direct are always run)")
    ap.add_argument("--scale", action="store_true", help="also the 1,000 / 10,000 table")
    ap.add_argument("--json", help="where to write every value (default: /tmp/portcullis-bench-*.json)")
    ap.add_argument("--table", help="print the tables of an earlier JSON file and exit")
    a = ap.parse_args()
    if a.table:
        with open(a.table) as f:
            print_tables(json.load(f))
        return 0
    profile = "smoke" if a.smoke else "full" if a.full else "quick"
    names = ["portcullis", "direct"]
    if not a.smoke:
        names += [n for n in PEERS if not a.only or n in a.only.split(",")]
    scale = a.scale or a.smoke
    for exe in (PORTCULLIS, LOADGEN):
        if not os.access(exe, os.X_OK):
            raise SystemExit("bench: %s is missing (make release)" % exe)

    run = tempfile.mkdtemp(prefix="portcullis-bench.")
    os.chmod(run, 0o755)                   # tinyproxy, squid and dante drop to other users
    targets = make_targets(names)
    bench = Bench(profile, targets, run)
    origin = start_origin(run)
    refuser = start_refuser(run)
    started = time.strftime("%Y-%m-%d %H:%M")
    try:
        for t in targets:
            t.start(run)
        ours = next(t for t in targets if t.name == "portcullis")
        if ours.problem:
            raise SystemExit("bench: portcullis " + ours.problem)
        bench.run_all(scale)
    finally:
        for t in targets:
            t.stop()
        stop(refuser)
        stop(origin)
        shutil.rmtree(os.path.join(run, "www"), ignore_errors=True)   # 64 MiB; keep the logs
    data = dict(profile=profile, started=started, machine=machine(), scale=scale,
                scale_tunnels=bench.p["scale_tunnels"], ka=bench.p["ka"],
                scale_ka=bench.p["scale_ka"], fd_limit=FD_LIMIT, capped=bench.capped, targets=[t.name for t in targets],
                values=bench.values, notes=bench.notes, leaks=bench.leaks,
                problems={t.name: t.problem for t in targets if t.problem}, run_dir=run)
    out = a.json or "/tmp/portcullis-bench-%s-%s.json" % (profile, time.strftime("%Y%m%d-%H%M%S"))
    with open(out, "w") as f:
        json.dump(data, f, indent=1)
    print_tables(data)
    say("values in", out, "; configs and logs in", run)
    if bench.leaks:
        return 1
    if a.smoke:
        bad = smoke_failures(bench)
        if bad:
            print("\nSMOKE FAILED:\n- " + "\n- ".join(bad))
            return 1
        print("\nsmoke: every scenario completed, no denied request got through")
    return 0


if __name__ == "__main__":
    sys.exit(main())
