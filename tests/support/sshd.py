#!/usr/bin/env python3
"""An OpenSSH server of its own on loopback, for end-to-end tests of ssh (and git over ssh)
through the proxy. It runs as the current user (root included) with throwaway keys.

    sshd.py --ready-file F [--port 0] [--dir DIR] [--ipv6] [--log FILE]

Generates a host key and a client key (ed25519) into DIR (default: a temporary directory removed
on exit), writes an sshd_config there (no PAM, StrictModes no, AuthorizedKeysFile in DIR, PidFile in
DIR), runs `sshd -D -e` in the foreground, and once the server answers with its banner writes F
atomically as one JSON object:

    {"port": P, "user": U, "key": PATH, "dir": DIR,
     "ssh_options": ["-F", "/dev/null", "-i", PATH, "-o", "StrictHostKeyChecking=no", ...]}

and prints the ssh command line on stdout. SIGTERM stops sshd and removes the temporary directory.
"""
import argparse
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib  # noqa: E402

START_ATTEMPTS = 5
START_SECONDS = 10.0


def find_sshd():
    """sshd's absolute path (it refuses to re-exec itself otherwise)."""
    found = shutil.which("sshd") or shutil.which("sshd", path="/usr/sbin:/usr/local/sbin:/sbin")
    if not found:
        raise SystemExit("sshd.py: sshd not found (Debian package openssh-server)")
    return os.path.abspath(found)


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "portcullis-test",
                    "-f", path], check=True, timeout=30, stdin=subprocess.DEVNULL)


def free_port(addr):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def account_locked(user):
    """Whether sshd without PAM would refuse the account as locked ("!" in shadow)."""
    try:
        with open("/etc/shadow") as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == user:
                    return fields[1].startswith("!")
    except OSError:
        pass
    return False


def write_config(d, port, addrs, user):
    lines = ["Port %d" % port] + ["ListenAddress %s" % a for a in addrs] + [
        "HostKey %s" % os.path.join(d, "host_key"),
        "PidFile %s" % os.path.join(d, "sshd.pid"),
        "AuthorizedKeysFile %s" % os.path.join(d, "authorized_keys"),
        "StrictModes no",
        # PAM only where the account is locked: sshd then skips its own lock check
        "UsePAM %s" % ("yes" if account_locked(user) else "no"),
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PermitRootLogin prohibit-password",
        "AllowTcpForwarding yes",
        "X11Forwarding no",
        "PrintMotd no",
        "UseDNS no",
        "MaxStartups 100:30:200",
        "LoginGraceTime 30",
        "Subsystem sftp internal-sftp",
        "LogLevel VERBOSE",
    ]
    path = os.path.join(d, "sshd_config")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wait_banner(addr, port, proc, deadline):
    """True once a connection to addr:port gets an SSH banner; False if sshd exited."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((addr, port), timeout=1.0) as s:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                if s.recv(64).startswith(b"SSH-"):
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def ssh_options(key, port):
    return ["-F", "/dev/null", "-i", key, "-p", str(port), "-o", "IdentitiesOnly=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10"]


def main():
    p = argparse.ArgumentParser(description="OpenSSH sshd on loopback for tests")
    p.add_argument("--port", type=int, default=0, help="port (0: a free one)")
    p.add_argument("--ready-file", help="written (atomically) with a JSON description once up")
    p.add_argument("--dir", help="keys and config go here (default: a temporary directory)")
    p.add_argument("--ipv6", action="store_true", help="also listen on ::1")
    p.add_argument("--log", help="sshd's log (its stderr)")
    args = p.parse_args()
    serverlib.install_sigterm()

    user = pwd.getpwuid(os.getuid()).pw_name
    d = os.path.abspath(args.dir) if args.dir else tempfile.mkdtemp(prefix="pc-sshd-")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o700)
    proc = None
    try:
        key = os.path.join(d, "client_key")
        for path in (os.path.join(d, "host_key"), key):
            for stale in (path, path + ".pub"):
                if os.path.exists(stale):
                    os.unlink(stale)
            keygen(path)
        shutil.copyfile(key + ".pub", os.path.join(d, "authorized_keys"))
        if os.getuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation
        addrs = ["127.0.0.1"] + (["::1"] if args.ipv6 else [])
        log = open(args.log, "ab") if args.log else subprocess.DEVNULL
        for _ in range(START_ATTEMPTS):
            port = args.port or free_port(addrs[0])
            config = write_config(d, port, addrs, user)
            proc = subprocess.Popen([find_sshd(), "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log)
            if wait_banner(addrs[0], port, proc, time.monotonic() + START_SECONDS):
                break
            stop(proc)
            proc = None
            if args.port:
                break  # a fixed port that does not work will not start working
        if proc is None:
            raise SystemExit("sshd.py: sshd did not start (see its log)")
        opts = ssh_options(key, port)
        info = {"port": port, "user": user, "key": key, "dir": d, "ssh_options": opts}
        serverlib.write_ready(args.ready_file, json.dumps(info) + "\n")
        print("ssh %s %s@127.0.0.1" % (" ".join(shlex.quote(o) for o in opts), user), flush=True)
        while proc.poll() is None:
            time.sleep(0.5)
        raise SystemExit("sshd.py: sshd exited with %d" % proc.returncode)
    finally:
        if proc is not None:
            stop(proc)
        if not args.dir:
            shutil.rmtree(d, ignore_errors=True)


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    main()
