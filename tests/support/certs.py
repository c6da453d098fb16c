#!/usr/bin/env python3
"""A throwaway certificate authority and a server certificate signed by it, made with the
`openssl` command line, for TLS origins in end-to-end tests.

    certs.py DIR [--name DNS]... [--ip ADDR]...     prints the paths as one JSON object

The leaf always covers localhost, 127.0.0.1 and ::1; --name and --ip add more. Keys are P-256;
everything is valid for 30 days. Pass ca.pem to clients (curl --cacert, ssl cafile).
"""
import argparse
import json
import os
import subprocess
import sys

DAYS = "30"


def _openssl(*args, cwd):
    res = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True,
                         timeout=30)
    if res.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], res.stderr.strip()))


def make_certs(directory, names=(), ips=(), cn="localhost"):
    """Creates DIR/ca.pem, ca.key, server.pem, server.key (and helper files) and returns
    {"ca": ..., "ca_key": ..., "cert": ..., "key": ...} as absolute paths."""
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    key_args = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *key_args, "-keyout", "ca.key", "-out", "ca.pem", "-days", DAYS,
             "-subj", "/CN=portcullis test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", *key_args, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=" + cn,
             cwd=directory)
    san = ["DNS:localhost"] + ["DNS:" + n for n in names if n != "localhost"]
    san += ["IP:" + a for a in ["127.0.0.1", "::1"] + [a for a in ips if a not in ("127.0.0.1", "::1")]]
    with open(os.path.join(directory, "server.ext"), "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectKeyIdentifier=hash\n"
                "authorityKeyIdentifier=keyid,issuer\n"
                "subjectAltName=%s\n" % ",".join(san))
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", DAYS, "-extfile", "server.ext", "-out", "server.pem",
             cwd=directory)
    return {k: os.path.join(directory, v) for k, v in
            (("ca", "ca.pem"), ("ca_key", "ca.key"), ("cert", "server.pem"), ("key", "server.key"))}


def main():
    p = argparse.ArgumentParser(description="make a throwaway CA and a server certificate")
    p.add_argument("dir")
    p.add_argument("--name", action="append", default=[], help="extra DNS name (repeatable)")
    p.add_argument("--ip", action="append", default=[], help="extra IP address (repeatable)")
    args = p.parse_args()
    json.dump(make_certs(args.dir, args.name, args.ip), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
