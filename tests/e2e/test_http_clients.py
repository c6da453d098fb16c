"""Real clients through the HTTP proxy: curl (plain HTTP, HTTPS through CONNECT to a TLS origin
with a throwaway certificate, --proxytunnel), Python's urllib with HTTP_PROXY / HTTPS_PROXY in
its environment, and git over smart HTTP (clone and a chunked push). The tests run without proxy
variables, so each client gets them explicitly; a denied run proves the proxy was in the path."""
import hashlib
import json
import os
import subprocess
import sys

import harness
import test_http_common as common
from test_http_common import conf

servers = harness.servers

GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t.invalid", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t.invalid", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_TERMINAL_PROMPT": "0"}

URLLIB_SCRIPT = r"""
import hashlib, json, ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[1]) if sys.argv[1] else None
out = []
for url in sys.argv[2:]:
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=20) as r:
            body = r.read()
            out.append([r.status, hashlib.sha256(body).hexdigest(), len(body)])
    except urllib.error.HTTPError as e:
        out.append([e.code, e.headers.get("x-proxy-error"), None])
    except urllib.error.URLError as e:
        out.append([None, str(e.reason), None])
print(json.dumps(out))
"""


class ClientsTest(common.HttpCase):
    def setUp(self):
        super().setUp()
        self.certs = super().certs()
        self.o = self.origin()
        self.tls = self.origin(tls=self.certs, name="tls")
        self.p = self.proxy(conf())

    def proxy_env(self, p, **extra):
        env = dict(os.environ)
        env.update({"HTTP_PROXY": p.url, "HTTPS_PROXY": p.url, "http_proxy": p.url,
                    "https_proxy": p.url}, **extra)
        return env

    def test_curl_plain_http(self):
        res = self.curl("-x", self.p.url, self.o.url + "/big?bytes=300000",
                        self.o.url + "/chunked?n=5&size=1000")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, servers.pattern(300000) + servers.pattern(5000))

    def test_curl_https_through_connect(self):
        url = "https://localhost:%d" % self.tls.port
        res = self.curl("-x", self.p.url, "--cacert", self.certs["ca"], "-w", " %{http_code}",
                        url + "/small", url + "/echo")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.startswith(servers.pattern(1024) + b" 200"))
        entries = self.tls.requests()
        self.assertEqual([(e["sni"], e["target"]) for e in entries],
                         [("localhost", "/small"), ("localhost", "/echo")])
        self.assertEqual(len({e["conn"] for e in entries}), 1, "one tunnel for both")

    def test_curl_https_to_a_denied_host_fails(self):
        res = self.curl("-x", self.p.url, "--cacert", self.certs["ca"], "-v",
                        "https://denied.example/")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn(b"403", res.stderr)
        self.assertAudit(self.p.wait_audit(1)[0], "denied.example", 443, "not_allowed",
                         protocol="https_connect", method=None)

    def test_curl_proxytunnel_for_plain_http(self):
        res = self.curl("-x", self.p.url, "--proxytunnel", "-w", " %{http_code}",
                        self.o.url + "/echo")
        self.assertEqual(res.returncode, 0, res.stderr)
        body, code = res.stdout.rsplit(b" ", 1)
        self.assertEqual(code, b"200")
        # origin-form inside the tunnel: the request reached the origin as curl wrote it
        self.assertEqual(json.loads(body)["target"], "/echo")

    def test_curl_upload_and_download_both_ways(self):
        blob = os.urandom(4 << 20)
        path = os.path.join(self.tmp, "blob")
        with open(path, "wb") as f:
            f.write(blob)
        res = self.curl("-x", self.p.url, "-T", path, self.o.url + "/echo")
        echo = json.loads(res.stdout)
        self.assertEqual((echo["method"], echo["body_sha256"]),
                         ("PUT", hashlib.sha256(blob).hexdigest()))
        res = self.curl("-x", self.p.url, "--cacert", self.certs["ca"], "-T", path,
                        "https://localhost:%d/echo" % self.tls.port)
        self.assertEqual(json.loads(res.stdout)["body_sha256"], hashlib.sha256(blob).hexdigest())

    def urllib(self, env, *urls, cafile=""):
        res = subprocess.run([sys.executable, "-c", URLLIB_SCRIPT, cafile] + list(urls),
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(res.returncode, 0, res.stderr)
        return json.loads(res.stdout)

    def test_python_urllib_with_proxy_variables(self):
        env = self.proxy_env(self.p)
        out = self.urllib(env, "https://localhost:%d/small" % self.tls.port,
                          self.o.url + "/big?bytes=100000", "http://denied.example/",
                          "https://denied.example/", cafile=self.certs["ca"])
        self.assertEqual(out[0], [200, hashlib.sha256(servers.pattern(1024)).hexdigest(), 1024])
        self.assertEqual(out[1], [200, servers.pattern_sha256(100000), 100000])
        self.assertEqual(out[2], [403, "blocked-by-allowlist", None])
        # urllib reports a refused CONNECT as a tunnel error, not as an HTTPError
        self.assertIsNone(out[3][0])
        self.assertIn("403", out[3][1])
        self.assertEqual(self.tls.requests()[0]["sni"], "localhost")
        self.assertEqual(len(self.o.requests()), 1)
        self.assertEqual(len(self.p.wait_audit(2)), 2)

    def test_python_urllib_upload_to_a_denied_host_gets_the_403(self):
        # urllib writes its whole body before it reads: the proxy must not reset the connection
        # under the response while the body is still coming
        script = (
            "import sys, urllib.request, urllib.error\n"
            "req = urllib.request.Request('http://denied.example/up', data=b'x' * (4 << 20))\n"
            "try:\n"
            "    urllib.request.urlopen(req, timeout=20)\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code, e.headers.get('x-proxy-error'))\n")
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             timeout=60, env=self.proxy_env(self.p))
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout.split(), ["403", "blocked-by-allowlist"])
        self.assertEqual(len(self.p.wait_audit(1)), 1)

    def test_large_uploads_move_by_splice(self):
        """Content-Length bodies from curl (which waits for a 100 Continue first) and urllib
        (which does not) arrive whole, and all but their first buffer never pass through the
        proxy's user space: its read(2) calls account for under a tenth of them."""
        size = 8 << 20
        blob = os.urandom(size)
        path = os.path.join(self.tmp, "upload")
        with open(path, "wb") as f:
            f.write(blob)
        pid = self.p.proc.pid
        before = common.proc_io(pid)["rchar"]
        res = self.curl("-x", self.p.url, "-H", "Expect: 100-continue", "--expect100-timeout",
                        "10", "-T", path, self.o.url + "/echo")
        self.assertEqual(res.returncode, 0, res.stderr)
        echo = json.loads(res.stdout)
        self.assertEqual((echo["body_length"], echo["body_sha256"]),
                         (size, hashlib.sha256(blob).hexdigest()))
        self.assertEqual(dict(echo["headers"]).get("Expect"), "100-continue")
        after_curl = common.proc_io(pid)["rchar"]
        self.assertLess(after_curl - before, size // 10)
        script = (
            "import hashlib, json, sys, urllib.request\n"
            "blob = open(sys.argv[1], 'rb').read()\n"
            "req = urllib.request.Request(sys.argv[2], data=blob, method='POST')\n"
            "print(urllib.request.urlopen(req, timeout=30).read().decode())\n")
        res = subprocess.run([sys.executable, "-c", script, path, self.o.url + "/echo"],
                             capture_output=True, text=True, timeout=60,
                             env=self.proxy_env(self.p))
        self.assertEqual(res.returncode, 0, res.stderr)
        echo = json.loads(res.stdout)
        self.assertEqual((echo["body_length"], echo["body_sha256"]),
                         (size, hashlib.sha256(blob).hexdigest()))
        self.assertNotIn("Expect", dict(echo["headers"]))
        self.assertLess(common.proc_io(pid)["rchar"] - after_curl, size // 10)

    def git(self, env, *args, cwd=None, check=True):
        res = subprocess.run(["git"] + (["-C", cwd] if cwd else []) + list(args),
                             capture_output=True, text=True, timeout=60, env=env)
        if check:
            self.assertEqual(res.returncode, 0, res.stderr)
        return res

    def test_git_clone_and_push_over_smart_http(self):
        g = servers.GitServer(self.tmp)
        self.addCleanup(g.stop)
        env = self.proxy_env(self.p, **GIT_ENV)
        dest = os.path.join(self.tmp, "clone")
        self.git(env, "clone", "-q", g.repo_url, dest)
        self.assertEqual(self.git(env, "rev-parse", "HEAD", cwd=dest).stdout.strip(), g.head)
        self.assertEqual(len(self.git(env, "tag", cwd=dest).stdout.split()), 40)
        # a push larger than http.postBuffer goes as a chunked request body
        with open(os.path.join(dest, "blob.bin"), "wb") as f:
            f.write(os.urandom(300000))
        self.git(env, "add", "blob.bin", cwd=dest)
        self.git(env, "commit", "-qm", "blob", cwd=dest)
        self.git(env, "-c", "http.postBuffer=65536", "push", "-q", "origin", "main", cwd=dest)
        self.assertEqual(self.git(env, "rev-parse", "main", cwd=g.repo_dir).stdout,
                         self.git(env, "rev-parse", "HEAD", cwd=dest).stdout)
        self.assertTrue(any(e["chunked"] for e in g.requests()), g.requests())

    def test_git_through_a_proxy_that_denies(self):
        g = servers.GitServer(self.tmp)
        self.addCleanup(g.stop)
        p = self.proxy(conf(allow=["other.example"]), name="deny")
        env = self.proxy_env(p, **GIT_ENV)
        res = self.git(env, "-c", "http.proxy=" + p.url, "clone", "-q", g.repo_url,
                       os.path.join(self.tmp, "clone"), check=False)
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("403", res.stderr)
        self.assertEqual(g.requests(), [])
        self.assertAudit(p.wait_audit(1)[0], "127.0.0.1", g.port, "not_allowed_local")


if __name__ == "__main__":
    harness.main()
