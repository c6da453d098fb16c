"""`portcullis env` end to end: every SPEC §7 variable, one KEY=VALUE a line, for serve's
listeners (or the ones named), as `run` would set them."""
import os
import subprocess

import harness
from test_run import LOCAL_NO_PROXY, SANITIZER_MARKS, expected_env

DEFAULT_HTTP = "http://127.0.0.1:3128"
DEFAULT_SOCKS = "socks5h://127.0.0.1:8081"


class EnvTest(harness.TestCase):
    def env(self, *args, config=None, expect_rc=0):
        if config is not None:
            args = ("--config", self.config(config)) + args
        res = self.run_bin("env", *args)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, res.stderr)
        self.assertEqual(res.returncode, expect_rc, res.stderr)
        if expect_rc != 0:
            self.assertEqual(res.stdout, "")
            self.assertEqual(res.stderr.count("\n"), 1, res.stderr)
            self.assertTrue(res.stderr.startswith("portcullis: env: ") or
                            res.stderr.startswith("portcullis: "), res.stderr)
            return res.stderr
        self.assertEqual(res.stderr, "")
        self.assertTrue(res.stdout.endswith("\n"))
        return [tuple(line.split("=", 1)) for line in res.stdout.splitlines()]

    def test_defaults(self):
        self.assertEqual(self.env(), expected_env(DEFAULT_HTTP, DEFAULT_SOCKS, ""))

    def test_listeners_from_the_configuration(self):
        conf = ('[network]\nproxy_url = "http://127.0.0.1:9000"\n'
                'socks_url = "socks5h://127.0.0.1:9001"\n')
        self.assertEqual(self.env(config=conf),
                         expected_env("http://127.0.0.1:9000", "socks5h://127.0.0.1:9001", ""))

    def test_listeners_named_on_the_command_line(self):
        self.assertEqual(self.env("--http", "127.0.0.1:5555", "--socks", "127.0.0.1:6666"),
                         expected_env("http://127.0.0.1:5555", "socks5h://127.0.0.1:6666", ""))

    def test_without_socks_all_proxy_is_the_http_proxy(self):
        self.assertEqual(self.env("--no-socks"), expected_env(DEFAULT_HTTP, None, ""))
        self.assertEqual(self.env(config="[network]\nenable_socks5 = false\n"),
                         expected_env(DEFAULT_HTTP, None, ""))

    def test_no_proxy_with_allow_local_binding(self):
        want = expected_env(DEFAULT_HTTP, DEFAULT_SOCKS, LOCAL_NO_PROXY)
        self.assertEqual(self.env(config="[network]\nallow_local_binding = true\n"), want)
        self.assertEqual(self.env("--allow-local"), want)

    def test_isolate_names_the_inside_listeners_and_no_exceptions(self):
        want = expected_env(DEFAULT_HTTP, DEFAULT_SOCKS, "")
        self.assertEqual(self.env("--isolate", "--allow-local"), want)
        self.assertEqual(self.env("--isolate", "--http", "127.0.0.1:5555"), want)
        self.assertEqual(self.env("--isolate", "--no-socks"), expected_env(DEFAULT_HTTP, None, ""))

    def test_output_can_be_exported_by_a_shell(self):
        res = subprocess.run(["sh", "-c", 'eval "$("$0" env | sed "s/^/export /")"; env',
                              harness.BIN], capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        got = dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
        for key, value in expected_env(DEFAULT_HTTP, DEFAULT_SOCKS, ""):
            self.assertEqual(got.get(key), value, key)

    def test_help(self):
        res = self.run_bin("env", "--help")
        self.assertEqual(res.returncode, 0)
        self.assertIn("usage: portcullis env", res.stdout)

    def test_bad_input(self):
        self.assertIn("'--bogus'", self.env("--bogus", expect_rc=2))
        self.assertIn("'-x'", self.env("-xy", expect_rc=2))
        self.assertIn("'--http'", self.env("--http", expect_rc=2))
        self.assertIn("unexpected argument 'extra'", self.env("extra", expect_rc=2))
        self.assertIn("invalid listener address",
                      self.env("--http", "not an address", expect_rc=2))
        err = self.env(config="[network]\nenable_socks = true\n", expect_rc=2)
        self.assertIn("config.toml:2:", err)
        err = self.env("--config", os.path.join(self.tmp, "missing.toml"), expect_rc=2)
        self.assertIn("missing.toml", err)


if __name__ == "__main__":
    harness.main()
