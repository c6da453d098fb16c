"""`portcullis run --isolate` end to end (SPEC §8): every way around the proxy fails inside the
namespaces and works outside them (so the failures prove the isolation, not a broken setup);
what does go through the proxy arrives, SOCKS5 UDP included; portcullis's files stay
read-only; and when a step is unavailable run refuses with one line instead of running the
command unisolated.

The probe, the host listeners and the run helpers come from test_run.py. As root the tests
also run the command as an unprivileged user (setpriv) and as root of a nested user namespace
(unshare), the two other ways people start run.
"""
import json
import os
import shutil
import signal
import subprocess
import unittest

import harness
import test_run
from test_run import PY

NOBODY = 65534


def user_namespaces_work():
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "true"],
                              capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


USERNS = user_namespaces_work()


class IsolateCase(test_run.RunCase):
    def setUp(self):
        if not USERNS:
            self.skipTest("user namespaces are not available here")
        super().setUp()
        self.rules_dir = os.path.join(self.tmp, "rules")
        os.makedirs(self.rules_dir)
        self.rules = os.path.join(self.rules_dir, "extra.rules")
        with open(self.rules, "w") as f:
            f.write('network_rule(host="rules.example", protocol="https", decision="allow")\n')
        self.config_file = self.user_config(
            '[network]\nallowed_domains = ["127.0.0.1"]\nrules_files = ["%s"]\n' % self.rules)
        self.prefix = ()

    def as_nobody(self):
        """Runs portcullis as an unprivileged user from here on (root only)."""
        if os.getuid() != 0 or shutil.which("setpriv") is None:
            self.skipTest("needs root and setpriv to become an unprivileged user")
        if not os.access(harness.BIN, os.X_OK, effective_ids=False):
            self.skipTest("the binary is not executable")
        for root, dirs, files in os.walk(self.home):
            for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(name, NOBODY, NOBODY)
        for name in (self.rules_dir, self.rules):
            os.chown(name, NOBODY, NOBODY)
        self.prefix = ("setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                       "--clear-groups")
        res = self.run_cmd(["--help"], prefix=self.prefix)
        if res.returncode != 0:
            self.skipTest("nobody cannot run %s: %s" % (harness.BIN, res.stderr))
        for python in (PY, "/usr/bin/python3", "/usr/local/bin/python3"):
            # run looks the command up with stat(2) and access(2) as that user
            if subprocess.run(list(self.prefix) + ["test", "-x", python],
                              timeout=30).returncode == 0:
                self.python = python
                return
        self.skipTest("no python3 that nobody can run")

    def probe(self, steps, isolate=True, args=(), **kw):
        args = (["--isolate"] if isolate else []) + list(args)
        return self.run_probe(steps, args=args, prefix=self.prefix, **kw)


class EscapeTest(IsolateCase):
    def escape_steps(self, listeners, origin, marker):
        return [["curl_direct", origin.url + "/"],
                ["tcp", 4, listeners.ports["tcp4"], marker + "-tcp4"],
                ["tcp", 6, listeners.ports["tcp6"], marker + "-tcp6"],
                ["udp", 4, listeners.ports["udp4"], marker + "-udp4"],
                ["udp", 6, listeners.ports["udp6"], marker + "-udp6"],
                ["unix", listeners.unix_path, marker + "-unix"],
                ["write", self.config_file], ["write", self.rules],
                ["write", self.config_dir], ["write", self.state_dir]]

    def check_escapes(self):
        listeners = self.listeners()
        origin = self.origin()
        inside, err = self.probe(self.escape_steps(listeners, origin, "inside"))
        self.assertEqual(inside, ["rc=7 code=000", "ECONNREFUSED", "ECONNREFUSED", "ok", "ok",
                                  "EPERM", "EROFS", "EROFS", "EROFS", "EROFS"], err)
        outside, err = self.probe(self.escape_steps(listeners, origin, "outside"),
                                  isolate=False)
        self.assertEqual(outside, ["rc=0 code=200"] + ["ok"] * 9, err)
        for kind in ("tcp4", "tcp6", "udp4", "udp6", "unix"):
            self.assertTrue(listeners.wait_for(kind, "outside-" + kind), kind)
        # whatever the isolated run sent was sent before: it would have arrived first
        for kind in ("tcp4", "tcp6", "udp4", "udp6", "unix"):
            self.assertFalse(listeners.got(kind, "inside-" + kind), kind)
        self.assertEqual(len(origin.wait_requests(1)), 1)
        self.assertEqual(len(origin.requests()), 1)

    def test_every_way_around_the_proxy_fails_only_under_isolate(self):
        self.check_escapes()

    def test_every_way_around_the_proxy_fails_for_an_unprivileged_user(self):
        self.as_nobody()
        self.check_escapes()

    def test_the_proxy_still_works_from_inside(self):
        origin = self.origin()
        steps = [["curl", "-H", "Connection: x-hop", "-H", "X-Hop: 1", origin.url + "/echo"],
                 ["curl", "http://blocked.example/"]]
        results, err = self.probe(steps)
        self.assertEqual(results, ["rc=0 code=200", "rc=0 code=403"], err)
        (entry,) = origin.wait_requests(1)
        self.assertNotIn("x-hop", [n.lower() for n, _ in entry["headers"]])
        self.assertIn("blocked: blocked.example:80 x1 (not in allowlist)", err.splitlines())
        records = self.audit_records()
        self.assertEqual([(r["host"], r["reason"]) for r in records],
                         [("blocked.example", "not_allowed")])

    def check_socks_udp(self):
        listeners = self.listeners()
        (reply,), err = self.probe([["socks_udp", listeners.ports["udp4"], "through-relay"]])
        self.assertEqual(reply, "echo:through-relay", err)
        self.assertTrue(listeners.got("udp4", "through-relay"))

    def test_socks5_udp_round_trip_from_inside(self):
        self.check_socks_udp()

    def test_socks5_udp_round_trip_for_an_unprivileged_user(self):
        # run puts itself in a user namespace of its own, so its relay thread may enter the
        # command's network namespace (src/proxy/netns.c)
        self.as_nobody()
        self.check_socks_udp()

    def test_namespace_has_only_loopback_and_the_listeners(self):
        (net, ident), err = self.probe([["net"], ["identity"]])
        self.assertEqual(net, {"interfaces": ["lo"], "listening": [["tcp", 3128], ["tcp", 8081]]},
                         err)
        self.assertEqual(ident, [os.getuid(), os.getgid()])
        (net,), err = self.probe([["net"]], args=["--no-socks"])
        self.assertEqual(net["listening"], [["tcp", 3128]], err)

    def test_listeners_made_inside_are_not_the_commands(self):
        (fds,), err = self.probe([["fds"]])
        self.assertEqual(fds, [], err)

    def test_unprivileged_identity_is_kept(self):
        self.as_nobody()
        (net, ident), err = self.probe([["net"], ["identity"]])
        self.assertEqual(ident, [NOBODY, NOBODY], err)
        self.assertEqual(net["interfaces"], ["lo"])

    def test_environment_names_the_inside_listeners_and_no_exceptions(self):
        (env,), err = self.probe([["env"]], args=["--allow-local"])
        for key, value in test_run.expected_env("http://127.0.0.1:3128",
                                                "socks5h://127.0.0.1:8081", ""):
            self.assertEqual(env.get(key), value, key)
        (env,), err = self.probe([["env"]], args=["--no-socks"])
        for key, value in test_run.expected_env("http://127.0.0.1:3128", None, ""):
            self.assertEqual(env.get(key), value, key)


class ReadOnlyTest(IsolateCase):
    """Portcullis's configuration, rules and state cannot be changed from inside, not even by
    moving a directory above them away and creating the path anew."""

    def test_directories_above_cannot_be_replaced(self):
        target = os.path.join(self.config_dir, "config.toml")
        steps = [["replace_dir", self.config_home, target], ["replace_dir", self.home, target],
                 ["replace_dir", self.rules_dir, self.rules],
                 ["replace_dir", self.state_home, os.path.join(self.state_dir, "audit.jsonl")]]
        results, err = self.probe(steps)
        self.assertEqual(results, ["EBUSY"] * len(steps), err)
        with open(target) as f:
            self.assertNotIn("hostile", f.read())

    def test_relative_paths_from_the_working_directory(self):
        # the working directory run was started in is below the protected paths, or one of
        # them: the command starts there, and must not reach around the read-only views
        for cwd, steps in ((self.config_dir, [["create", "rules/default.rules"],
                                              ["create", "new.toml"]]),
                           (self.home, [["create", ".config/portcullis/config.toml"],
                                        ["create", ".local/state/portcullis/x"]]),
                           (self.tmp, [["create", "rules/extra.rules"]])):
            with self.subTest(cwd=cwd):
                results, err = self.probe([["cwd"]] + steps, cwd=cwd)
                self.assertEqual(results, [cwd] + ["EROFS"] * len(steps), err)

    def test_no_way_round_through_other_processes_roots(self):
        # /proc/PID/root and /proc/PID/cwd of a process outside (this test, same user) lead
        # into the mount namespace without the read-only views
        steps = [["write", "/proc/%d/root%s" % (os.getpid(), self.config_file)],
                 ["write", "/proc/%d/cwd/escaped" % os.getpid()]]
        results, err = self.probe(steps)
        self.assertEqual(results, ["EACCES", "EACCES"], err)
        self.assertFalse(os.path.exists(os.path.join(os.getcwd(), "escaped")))

    def test_missing_directories_cannot_be_created_inside(self):
        shutil.rmtree(self.config_dir)
        shutil.rmtree(os.path.join(self.home, ".local"))
        config = os.path.join(self.config_dir, "config.toml")
        steps = [["create", config], ["create", os.path.join(self.state_dir, "audit.jsonl")],
                 ["create", os.path.join(self.config_dir, "rules", "default.rules")]]
        results, err = self.probe(steps)
        self.assertEqual(results, ["EROFS"] * len(steps), err)
        self.assertFalse(os.path.exists(config))

    def test_config_named_on_the_command_line(self):
        other = os.path.join(self.tmp, "other")
        os.makedirs(other)
        path = os.path.join(other, "portcullis.toml")
        with open(path, "w") as f:
            f.write("[network]\n")
        steps = [["write", path], ["replace_dir", other, path]]
        results, err = self.probe(steps, args=["--config", path])
        self.assertEqual(results, ["EROFS", "EBUSY"], err)


class IsolateRunTest(IsolateCase):
    def test_exit_statuses(self):
        for script, status in (("exit 0", 0), ("exit 7", 7), ("kill -KILL $$", 137)):
            with self.subTest(script=script):
                res = self.run_cmd(["run", "--isolate", "--quiet", "--", "sh", "-c", script])
                self.assertEqual(res.returncode, status, res.stderr)
                self.assertEqual(res.stderr, "")

    def test_sigterm_reaches_the_child_once(self):
        proc, out = self.start_sigrec("HUP", args=["--isolate"])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_signals(out, 1), ["TERM"])
        proc.send_signal(signal.SIGHUP)
        _, stderr = proc.communicate(timeout=20)
        self.assertEqual(self.signals(out), ["TERM", "HUP"])
        self.assertEqual(proc.returncode, 0, stderr)

    def test_nofile_soft_limit(self):
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        lowered = min(soft, 300)
        (limit,), _ = self.probe(
            [["nofile"]], preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                                (lowered, hard)))
        self.assertEqual(limit, lowered)

    def test_command_that_cannot_be_executed(self):
        res = self.run_cmd(["run", "--isolate", "--", os.path.join(self.tmp, "missing")])
        self.assertEqual(res.returncode, 127, res.stderr)
        self.assertIn("No such file or directory", res.stderr)
        res = self.run_cmd(["run", "--isolate", "--", self.tmp])
        self.assertEqual(res.returncode, 127, res.stderr)
        self.assertIn("Permission denied", res.stderr)


class NestedUserNamespaceTest(IsolateCase):
    """run started as root of a user namespace that maps only one identity (a rootless
    container), and --isolate failing where no further namespace may be created."""

    def unshare(self, script, args):
        """`portcullis run --isolate ARGS` as root of a new user namespace, after script."""
        if shutil.which("unshare") is None:
            self.skipTest("needs unshare(1)")
        res = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                              script + ' && exec "$@"', "sh", harness.BIN, "run", "--isolate"]
                             + list(args), capture_output=True, text=True, timeout=30,
                             env=self.env, stdin=subprocess.DEVNULL, start_new_session=True)
        self.assertClean(res.stderr)
        return res

    def test_isolate_as_root_of_a_nested_user_namespace(self):
        listeners = self.listeners()
        steps = [["identity"], ["net"], ["tcp", 4, listeners.ports["tcp4"], "nested"],
                 ["write", self.config_file]]
        res = self.unshare("true", ["--", PY, self.probe_py, json.dumps(steps)])
        self.assertEqual(res.returncode, 0, res.stderr)
        ident, net, tcp, write = json.loads(res.stdout)
        self.assertEqual(ident, [0, 0])
        self.assertEqual(net["interfaces"], ["lo"])
        self.assertEqual([tcp, write], ["ECONNREFUSED", "EROFS"])

    def test_socks5_udp_round_trip_from_a_nested_user_namespace(self):
        # root of this namespace owns the command's user namespace, so the relay thread may
        # enter the command's network namespace although run could never come back to its
        # own (which belongs to the initial user namespace)
        listeners = self.listeners()
        origin = self.origin()
        steps = [["socks_udp", listeners.ports["udp4"], "x"], ["curl", origin.url + "/"]]
        res = self.unshare("true", ["--", PY, self.probe_py, json.dumps(steps)])
        self.assertEqual(res.returncode, 0, res.stderr)
        udp, curl = json.loads(res.stdout)
        self.assertEqual(udp, "echo:x", res.stderr)
        self.assertEqual(curl, "rc=0 code=200", res.stderr)
        self.assertTrue(listeners.got("udp4", "x"))

    def test_unavailable_namespaces_refuse_with_one_line(self):
        marker = os.path.join(self.tmp, "started")
        res = self.unshare("echo 0 > /proc/sys/user/max_user_namespaces",
                           ["--", "touch", marker])
        self.assertEqual(res.returncode, 125, res.stderr)
        self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
        self.assertRegex(res.stderr, r"^portcullis: --isolate: cannot .*namespace.*\n$")
        self.assertFalse(os.path.exists(marker), "the command must not run unisolated")
        self.assertEqual(res.stdout, "")


if __name__ == "__main__":
    harness.main()
