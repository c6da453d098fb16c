#!/usr/bin/env python3
"""Git's smart HTTP protocol on loopback: `git http-backend` run as a CGI program behind a small
HTTP/1.1 server, for end-to-end tests of git through the proxy.

    gitserver.py --port 0 --ready-file F [--root DIR] [--init-repo DIR] [--log FILE]

--init-repo DIR creates DIR/repo.git (a bare repository with fixed commits and tags, so its hashes
never change) and serves DIR unless --root says otherwise. `git clone
http://127.0.0.1:PORT/repo.git` then works. Pushes are allowed (http.receivepack).

Request bodies may be chunked (git sends large POSTs that way) and gzip-encoded (git compresses
upload-pack requests); the chunked framing is decoded here, the gzip encoding is handed to
http-backend as HTTP_CONTENT_ENCODING, which inflates it itself.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from urllib.parse import unquote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverlib  # noqa: E402
from serverlib import BadMessage  # noqa: E402

MAX_BODY = 512 << 20
CGI_TIMEOUT = 120
CGI_HEAD_MAX = 64 * 1024
REPO_NAME = "repo.git"
TAGS = 40  # annotated tags: enough "want" lines that git gzips its upload-pack request

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Portcullis Test", "GIT_AUTHOR_EMAIL": "test@portcullis.invalid",
    "GIT_COMMITTER_NAME": "Portcullis Test", "GIT_COMMITTER_EMAIL": "test@portcullis.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
}


def _git(args, cwd=None, stdin=None):
    env = dict(os.environ, **GIT_ENV)
    env.pop("GIT_DIR", None)
    res = subprocess.run(["git"] + args, cwd=cwd, input=stdin, capture_output=True, env=env,
                         timeout=60)
    if res.returncode != 0:
        raise RuntimeError("git %s failed: %s" % (args[0], res.stderr.decode(errors="replace")))
    return res.stdout.decode().strip()


def _fast_import_stream():
    """Three commits on main and TAGS annotated tags, all with fixed dates."""
    out = []
    files = [("README", b"portcullis test repository\n"),
             ("hello.txt", b"hello\n"),
             ("data.bin", bytes(range(256)) * 16)]
    for i, (name, data) in enumerate(files):
        msg = b"commit %d: add %s\n" % (i + 1, name.encode())
        when = b"%d +0000" % (1700000000 + i * 60)
        out.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        out.append(b"author Portcullis Test <test@portcullis.invalid> %s\n" % when)
        out.append(b"committer Portcullis Test <test@portcullis.invalid> %s\n" % when)
        out.append(b"data %d\n%s" % (len(msg), msg))
        if i:
            out.append(b"from :%d\n" % i)
        out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
    for t in range(TAGS):
        msg = b"tag v0.%d\n" % t
        out.append(b"tag v0.%d\nfrom :%d\n" % (t, t % len(files) + 1))
        out.append(b"tagger Portcullis Test <test@portcullis.invalid> %d +0000\n" % (1700001000 + t))
        out.append(b"data %d\n%s" % (len(msg), msg))
    return b"".join(out)


def init_repo(directory, name=REPO_NAME):
    """Creates directory/name as a bare repository with fixed content; returns its path and the
    commit main points at, as (path, sha). Replaces an existing one."""
    path = os.path.join(os.path.abspath(directory), name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    _git(["init", "-q", "--bare", "-b", "main", path])
    _git(["fast-import", "--quiet"], cwd=path, stdin=_fast_import_stream())
    _git(["config", "http.receivepack", "true"], cwd=path)
    _git(["config", "receive.denyCurrentBranch", "ignore"], cwd=path)
    return path, _git(["rev-parse", "main"], cwd=path)


class GitServer:
    def __init__(self, args):
        self.root = os.path.abspath(args.root)
        self.log = serverlib.JsonLog(args.log)
        self.cgi_log = args.cgi_log
        self.stats = serverlib.Stats()

    def handle(self, sock, peer, conn_id):
        conn = serverlib.Conn(sock)
        conn.local_port = sock.getsockname()[1]
        seq = 0
        while True:
            try:
                raw = conn.read_head()
            except BadMessage as e:
                return self._fail(conn, e)
            if raw is None:
                return
            seq += 1
            self.stats.count_request()
            entry = {"conn": conn_id, "seq": seq, "peer": serverlib.peer_text(peer)}
            try:
                req = serverlib.Request(raw)
                entry.update(method=req.method, target=req.target, chunked=req.chunked,
                             content_encoding=req.get("content-encoding"))
                keep = self.exchange(conn, req, peer, entry)
            except BadMessage as e:
                entry["error"] = str(e)
                self.log.write(entry)
                return self._fail(conn, e)
            except (EOFError, OSError) as e:
                entry["error"] = "connection: %s" % (str(e) or type(e).__name__)
                self.log.write(entry)
                return
            self.log.write(entry)
            if not keep:
                return

    def _fail(self, conn, e):
        conn.sendall(b"HTTP/1.1 %d Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                     % e.status)

    def exchange(self, conn, req, peer, entry):
        with tempfile.TemporaryFile() as body:
            sink = serverlib.BodySink()

            def spool(data):
                sink(data)
                if sink.length > MAX_BODY:
                    raise BadMessage("body too large", 413)
                body.write(data)

            serverlib.read_body(conn, req, spool)
            entry["body_length"] = sink.length
            body.seek(0)
            proc = subprocess.Popen(["git", "http-backend"], stdin=body, stdout=subprocess.PIPE,
                                    stderr=self._stderr(),
                                    env=self.cgi_env(req, peer, conn.local_port, sink.length))
        timer = threading.Timer(CGI_TIMEOUT, proc.kill)
        timer.start()
        try:
            return self.relay(conn, req, proc, entry)
        finally:
            timer.cancel()
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def _stderr(self):
        if self.cgi_log:
            return open(self.cgi_log, "ab")
        return subprocess.DEVNULL

    def cgi_env(self, req, peer, local_port, length):
        path, query = req.path_and_query()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/"),
            "GIT_PROJECT_ROOT": self.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_SOFTWARE": "portcullis-test-gitserver",
            "SERVER_PROTOCOL": req.version,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(local_port),
            "REQUEST_METHOD": req.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "REMOTE_ADDR": peer[0],
            "REMOTE_PORT": str(peer[1]),
            "CONTENT_LENGTH": str(length),
        }
        ctype = req.get("content-type")
        if ctype is not None:
            env["CONTENT_TYPE"] = ctype
        for name, value in req.fields:
            key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH", "HTTP_TRANSFER_ENCODING",
                       "HTTP_PROXY"):
                continue  # framing is ours; HTTP_PROXY is the httpoxy trap
            value = value.decode("latin-1")
            env[key] = env[key] + ", " + value if key in env else value
        return env

    def relay(self, conn, req, proc, entry):
        """Turns the CGI output (header lines, blank line, body) into an HTTP/1.1 response:
        Content-Length when the CGI gave one, chunked otherwise."""
        out = proc.stdout
        status = "200 OK"
        headers = []
        size = 0
        while True:
            line = out.readline(CGI_HEAD_MAX)
            size += len(line)
            if not line or size > CGI_HEAD_MAX:
                raise BadMessage("CGI program gave no complete header", 502)
            line = line.rstrip(b"\r\n").decode("latin-1")
            if not line:
                break
            name, _, value = line.partition(":")
            if name.strip().lower() == "status":
                status = value.strip()
            else:
                headers.append((name.strip(), value.strip()))
        entry["status"] = int(status.split()[0])
        length = [v for n, v in headers if n.lower() == "content-length"]
        close = req.wants_close()
        head = ["HTTP/1.1 %s" % status] + ["%s: %s" % h for h in headers]
        if not length and req.method != "HEAD":
            head.append("Transfer-Encoding: chunked")
        if close:
            head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        if req.method == "HEAD":
            return not close
        while True:
            data = out.read1(serverlib.RECV_SIZE)
            if not data:
                break
            conn.sendall(data if length else b"%x\r\n%s\r\n" % (len(data), data))
        if proc.wait(CGI_TIMEOUT) != 0:
            entry["error"] = "http-backend exited with %d" % proc.returncode
            return False  # no last chunk: the client must see the response as cut short
        if not length:
            conn.sendall(b"0\r\n\r\n")
        return not close


def main():
    p = serverlib.arg_parser("git smart HTTP server (git http-backend as CGI) for tests")
    p.add_argument("--root", help="GIT_PROJECT_ROOT: the directory whose repositories are served")
    p.add_argument("--init-repo", metavar="DIR", help="create DIR/repo.git with fixed content")
    p.add_argument("--cgi-log", help="append http-backend's stderr to this file")
    args = p.parse_args()
    if args.init_repo:
        init_repo(args.init_repo)
    if not args.root:
        args.root = args.init_repo or os.getcwd()
    server = GitServer(args)
    serverlib.main_loop(args, server.handle, server.stats)


if __name__ == "__main__":
    main()
