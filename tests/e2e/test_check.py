"""`portcullis check` end to end: the policy engine through the command line, with a DNS server
the test starts on loopback and names through dns_servers."""
import time

import harness

KEYS = ["decision", "reason", "source", "host", "port", "protocol", "addresses"]

PUBLIC_A = "93.184.216.34"
PUBLIC_AAAA = "2606:2800:220:1:248:1893:25c8:1946"


def toml_list(items):
    return "[" + ", ".join('"%s"' % i for i in items) + "]"


class CheckTest(harness.TestCase):
    def setUp(self):
        super().setUp()
        self.server = self.dns(
            records=[
                ("example.com", "A", PUBLIC_A),
                ("api.example.com", "A", PUBLIC_A),
                ("api.example.com", "AAAA", PUBLIC_AAAA),
                ("deep.api.example.com", "A", PUBLIC_A),
                ("region1.example.net", "A", PUBLIC_A),
                ("xn--bcher-kva.example", "A", PUBLIC_A),
                ("internal.example.com", "A", "10.0.0.1"),
                ("mixed.example.com", "A", PUBLIC_A),
                ("mixed.example.com", "AAAA", "fd00::1"),
                ("unlisted.example.org", "A", PUBLIC_A),
            ],
            blackhole=["slow.example.com"],
            servfail=["broken.example.com"],
        )

    def conf(self, allow=(), deny=(), extra=""):
        return ("[network]\ndns_servers = [\"%s\"]\nallowed_domains = %s\ndenied_domains = %s\n"
                "approval_policy = \"never\"\n%s" % (self.server.address, toml_list(allow),
                                                    toml_list(deny), extra))

    def decide(self, target, allow=(), deny=(), extra="", args=()):
        rc, out, err = self.check(self.conf(allow, deny, extra), target, *args)
        self.assertIsNotNone(out, err)
        self.assertEqual(list(out.keys()), KEYS)
        self.assertEqual(rc, 0 if out["decision"] == "allow" else 1, err)
        return out

    def assertDecision(self, out, decision, reason=None):
        self.assertEqual(out["decision"], decision, out)
        self.assertEqual(out["reason"], reason, out)

    def test_allow_output_shape(self):
        out = self.decide("https://api.example.com/path?q=1", allow=["api.example.com"])
        addresses = out.pop("addresses")
        self.assertEqual(out, {"decision": "allow", "reason": None, "source": None,
                               "host": "api.example.com", "port": 443,
                               "protocol": "https_connect"})
        self.assertCountEqual(addresses, [PUBLIC_AAAA, PUBLIC_A])

    def test_human_line_on_stderr(self):
        rc, out, err = self.check(self.conf(deny=["evil.example"]), "evil.example:8080")
        self.assertEqual(rc, 1)
        self.assertIn("deny: evil.example:8080 (http): in denylist", err)
        self.assertEqual(out["source"], "baseline_policy")
        self.assertEqual(out["port"], 8080)
        self.assertEqual(out["protocol"], "http")

    def test_subdomain_star_excludes_apex(self):
        allow = ["*.example.com"]
        self.assertDecision(self.decide("http://api.example.com", allow), "allow")
        self.assertDecision(self.decide("http://deep.api.example.com", allow), "allow")
        self.assertDecision(self.decide("http://example.com", allow), "deny", "not_allowed")

    def test_double_star_includes_apex(self):
        allow = ["**.example.com"]
        self.assertDecision(self.decide("http://example.com", allow), "allow")
        self.assertDecision(self.decide("http://api.example.com", allow), "allow")

    def test_deny_wins_over_star(self):
        out = self.decide("http://api.example.com", allow=["*"], deny=["**.example.com"])
        self.assertDecision(out, "deny", "denied")
        self.assertEqual(out["source"], "baseline_policy")

    def test_in_label_glob(self):
        self.assertDecision(self.decide("http://region1.example.net", ["region*.example.net"]),
                            "allow")
        self.assertDecision(self.decide("http://example.com", ["region*.example.net"]), "deny",
                            "not_allowed")

    def test_case_and_trailing_dots(self):
        out = self.decide("http://API.Example.COM.", allow=["api.example.com"])
        self.assertDecision(out, "allow")
        self.assertEqual(out["host"], "api.example.com")
        self.assertDecision(self.decide("http://api.example.com", allow=["API.EXAMPLE.COM."]),
                            "allow")

    def test_every_ipv4_spelling_of_loopback(self):
        for spelling in ["127.0.0.1", "127.1", "0x7f.1", "0177.0.0.1", "2130706433",
                         "0x7f000001", "127.0.0.1."]:
            with self.subTest(spelling=spelling):
                out = self.decide("http://%s:8080" % spelling, allow=["*"])
                self.assertDecision(out, "deny", "not_allowed_local")
                self.assertEqual(out["host"], "127.0.0.1")
                out = self.decide("http://%s:8080" % spelling, allow=["127.0.0.1"])
                self.assertDecision(out, "allow")
                self.assertEqual(out["addresses"], ["127.0.0.1"])
        out = self.decide("http://127.0.0.010", allow=["*"])
        self.assertEqual(out["host"], "127.0.0.8")

    def test_invalid_ipv4_refused(self):
        for target in ["1.2.3.09", "256.1.1.1", "1.2.3.4.5"]:
            with self.subTest(target=target):
                out = self.decide("http://%s/" % target, allow=["*"])
                self.assertDecision(out, "deny", "not_allowed")
                self.assertEqual(out["addresses"], [])
        self.assertEqual(self.server.queries(), [])

    def test_ipv6_forms_of_local_addresses(self):
        for target, host in [("[::1]", "::1"), ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
                             ("[::ffff:7f00:1]", "::ffff:127.0.0.1"),
                             ("[64:ff9b::a00:1]", "64:ff9b::a00:1"),
                             ("[2002:a00:1::]", "2002:a00:1::"),
                             ("[fe80::1%25eth0]", "fe80::1%eth0")]:
            with self.subTest(target=target):
                out = self.decide("http://%s:80/" % target, allow=["*"])
                self.assertDecision(out, "deny", "not_allowed_local")
                self.assertEqual(out["host"], host)

    def test_explicit_loopback_literal_passes_star_does_not(self):
        self.assertDecision(self.decide("http://127.0.0.1:3000", allow=["127.0.0.1"]), "allow")
        self.assertDecision(self.decide("http://127.0.0.1:3000", allow=["*"]), "deny",
                            "not_allowed_local")
        self.assertDecision(self.decide("http://[::1]:3000", allow=["[::1]"]), "allow")

    def test_allowlisted_localhost_never_queries_dns(self):
        out = self.decide("http://localhost:8080", allow=["localhost"])
        self.assertDecision(out, "allow")
        self.assertEqual(out["addresses"], ["127.0.0.1", "::1"])
        out = self.decide("http://localhost:8080", allow=["*"])
        self.assertDecision(out, "deny", "not_allowed_local")
        self.assertEqual(self.server.queries(), [])

    def test_name_resolving_to_private_address(self):
        out = self.decide("http://internal.example.com", allow=["internal.example.com"])
        self.assertDecision(out, "deny", "not_allowed_local")
        self.assertEqual(out["addresses"], [])
        out = self.decide("http://mixed.example.com", allow=["*.example.com"])
        self.assertDecision(out, "deny", "not_allowed_local")

    def test_dns_timeout_fails_closed_in_time(self):
        start = time.monotonic()
        rc, out, err = self.check(self.conf(allow=["*.example.com"]), "http://slow.example.com")
        elapsed = time.monotonic() - start
        self.assertEqual(rc, 1)
        self.assertDecision(out, "deny", "not_allowed_local")
        self.assertIn("timed out", err)
        self.assertLess(elapsed, 2.5)
        self.assertIn("slow.example.com", self.server.queries())

    def test_dns_failure_fails_closed(self):
        rc, out, err = self.check(self.conf(allow=["*.example.com"]),
                                  "http://broken.example.com")
        self.assertDecision(out, "deny", "not_allowed_local")
        self.assertIn("resolution failed", err)
        rc, out, err = self.check(self.conf(allow=["*.example.com"]),
                                  "http://nonexistent.example.com")
        self.assertDecision(out, "deny", "not_allowed_local")

    def test_unlisted_name_never_reaches_dns(self):
        out = self.decide("http://unlisted.example.org", allow=["*.example.com"])
        self.assertDecision(out, "deny", "not_allowed")
        self.assertEqual(self.server.queries(), [])

    def test_cidr_and_port_patterns(self):
        allow = ["93.184.216.0/24:443", "example.com:8443"]
        self.assertDecision(self.decide("https://93.184.216.34", allow), "allow")
        self.assertDecision(self.decide("http://93.184.216.34", allow), "deny", "not_allowed")
        self.assertDecision(self.decide("https://example.com:8443", allow), "allow")
        self.assertDecision(self.decide("https://example.com", allow), "deny", "not_allowed")
        self.assertDecision(self.decide("http://8.8.8.8", allow=["*"],
                                        deny=["8.8.0.0/16"]), "deny", "denied")

    def test_idn_host_against_punycode_pattern(self):
        out = self.decide("http://bücher.example/", allow=["xn--bcher-kva.example"])
        self.assertDecision(out, "allow")
        self.assertEqual(out["host"], "xn--bcher-kva.example")
        out = self.decide("http://xn--bcher-kva.example/", allow=["BÜCHER.example"])
        self.assertDecision(out, "allow")

    def test_ask_when_approvals_are_possible(self):
        cfg = "[network]\ndns_servers = [\"%s\"]\n" % self.server.address
        rc, out, err = self.check(cfg, "http://example.com")
        self.assertEqual(rc, 1)
        self.assertDecision(out, "ask", "not_allowed")

    def test_limited_mode(self):
        out = self.decide("http://93.184.216.34", allow=["93.184.216.34"],
                          args=["--limited", "--method", "POST"])
        self.assertDecision(out, "deny", "method_not_allowed")
        self.assertEqual(out["source"], "mode_guard")
        out = self.decide("https://93.184.216.34", allow=["93.184.216.34"], args=["--limited"])
        self.assertDecision(out, "deny", "mitm_required")

    def test_protocol_flag(self):
        out = self.decide("93.184.216.34:22", allow=["93.184.216.34"],
                          args=["--protocol", "socks5_tcp"])
        self.assertDecision(out, "allow")
        self.assertEqual(out["protocol"], "socks5_tcp")

    def test_flags_layer_over_file(self):
        out = self.decide("http://example.com", args=["--allow", "example.com"])
        self.assertDecision(out, "allow")
        out = self.decide("http://example.com", allow=["*"], args=["--deny", "example.com"])
        self.assertDecision(out, "deny", "denied")
        out = self.decide("http://10.0.0.1", allow=["*"], args=["--allow-local"])
        self.assertDecision(out, "allow")

    def test_disabled(self):
        out = self.decide("http://example.com", allow=["*"], extra="enabled = false\n")
        self.assertDecision(out, "deny", "proxy_disabled")
        self.assertEqual(out["source"], "proxy_state")

    def test_config_errors_have_line_and_column(self):
        cfg = self.config("[network]\nallowed_domains = [\n  \"ok.example\",\n  \"bad..example\",\n]\n")
        res = self.run_bin("check", "--config", cfg, "example.com")
        self.assertEqual(res.returncode, 2)
        self.assertEqual(res.stdout, "")
        self.assertEqual(res.stderr.strip(),
                         "portcullis: %s:4:3: invalid pattern 'bad..example': not a host name, "
                         "IP address or CIDR block (globs are '*.', '**.', and '*' or '?' inside "
                         "a label)" % cfg)
        cfg = self.config("[network]\nmode = \"fast\"\n")
        res = self.run_bin("check", "--config", cfg, "example.com")
        self.assertEqual(res.returncode, 2)
        self.assertIn("%s:2:8: 'mode' must be" % cfg, res.stderr)
        cfg = self.config("[network]\nunknown_key = 1\n")
        res = self.run_bin("check", "--config", cfg, "example.com")
        self.assertIn("%s:2:1: unknown key 'unknown_key'" % cfg, res.stderr)

    def test_usage_errors(self):
        for args in [["check"], ["check", "a", "b"], ["check", "--bogus", "x"],
                     ["check", "--protocol", "gopher", "x"], ["check", "ftp://x"],
                     ["check", "--allow", "bad pattern", "x"]]:
            with self.subTest(args=args):
                res = self.run_bin(*args)
                self.assertEqual(res.returncode, 2)
                self.assertEqual(res.stdout, "")
                self.assertEqual(len(res.stderr.strip().splitlines()), 1, res.stderr)
        res = self.run_bin("check", "--help")
        self.assertEqual(res.returncode, 0)
        self.assertIn("usage: portcullis check", res.stdout)

    def test_environment_config_is_used(self):
        path = self.config("[network]\nallowed_domains = [\"8.8.8.8\"]\n", name="env.toml")
        import os
        env = dict(os.environ, PORTCULLIS_CONFIG=path)
        res = self.run_bin("check", "http://8.8.8.8", env=env)
        self.assertEqual(res.returncode, 0, res.stderr)


if __name__ == "__main__":
    harness.main()
