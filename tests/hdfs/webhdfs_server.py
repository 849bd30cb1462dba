#!/usr/bin/env python3
"""A WebHDFS endpoint written for sluice's tests -- NOT Hadoop.

It follows the published WebHDFS REST protocol (Hadoop's "WebHDFS REST API"
page) closely enough to test a client: /webhdfs/v1/<path>?op=...&user.name=
on one port that plays both NameNode and DataNode.  CREATE and APPEND are
two-step (307 to a "DataNode" URL on the same port; a body sent to the
NameNode step is refused, as a real NameNode would ignore it), OPEN
redirects too, errors are RemoteException JSON, RENAME does not replace an
existing target, DELETE of a non-empty directory needs recursive=true.
Files live under a local directory.

usage: webhdfs_server.py ROOT PORTFILE [USER]
Writes the chosen port to PORTFILE when ready.  If USER is given, requests
with another user.name are refused with 403.
"""
import json
import os
import shutil
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

ROOT = os.path.abspath(sys.argv[1])
USER = sys.argv[3] if len(sys.argv) > 3 else None
PREFIX = "/webhdfs/v1"
LOCK = threading.Lock()


def local(path):
    p = os.path.normpath("/" + path).lstrip("/")
    return os.path.join(ROOT, p)


def status(path, name=""):
    st = os.stat(path)
    is_dir = os.path.isdir(path)
    return {"pathSuffix": name, "type": "DIRECTORY" if is_dir else "FILE",
            "length": 0 if is_dir else st.st_size,
            "modificationTime": int(st.st_mtime * 1000),
            "permission": "755", "owner": USER or "sluice",
            "group": "supergroup", "replication": 0 if is_dir else 1,
            "blockSize": 0 if is_dir else 134217728}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("webhdfs: " + (fmt % args) + "\n")

    def reply(self, code, obj=None, body=b"", ctype="application/json",
              location=None):
        if obj is not None:
            body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, exc, msg):
        self.reply(code, {"RemoteException": {
            "exception": exc, "javaClassName": "org.apache.hadoop." + exc,
            "message": msg}})

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        data = self.body()
        if not url.path.startswith(PREFIX):
            return self.error(404, "IllegalArgumentException", "not WebHDFS")
        hpath = unquote(url.path[len(PREFIX):]) or "/"
        op = q.get("op", "").upper()
        if USER is not None and q.get("user.name") != USER:
            return self.error(403, "AccessControlException",
                              "Permission denied: user=%s" % q.get("user.name"))
        path = local(hpath)
        datanode = q.get("datanode") == "true"
        with LOCK:
            return self.dispatch(method, op, hpath, path, q, data, datanode)

    def redirect(self, hpath, q):
        q = dict(q)
        q["datanode"] = "true"
        qs = "&".join("%s=%s" % (k, quote(v, safe="")) for k, v in q.items())
        loc = "http://127.0.0.1:%d%s%s?%s" % (
            self.server.server_port, PREFIX, quote(hpath), qs)
        self.reply(307, body=b"", location=loc)

    def dispatch(self, method, op, hpath, path, q, data, datanode):
        if method == "GET" and op == "GETFILESTATUS":
            if not os.path.exists(path):
                return self.error(404, "FileNotFoundException",
                                  "File does not exist: " + hpath)
            return self.reply(200, {"FileStatus": status(path)})
        if method == "GET" and op == "LISTSTATUS":
            if not os.path.exists(path):
                return self.error(404, "FileNotFoundException",
                                  "File " + hpath + " does not exist.")
            if os.path.isdir(path):
                items = [status(os.path.join(path, n), n)
                         for n in sorted(os.listdir(path))]
            else:
                items = [status(path)]
            return self.reply(200, {"FileStatuses": {"FileStatus": items}})
        if method == "GET" and op == "OPEN":
            if not os.path.isfile(path):
                return self.error(404, "FileNotFoundException",
                                  "File does not exist: " + hpath)
            if not datanode:
                return self.redirect(hpath, q)
            off = int(q.get("offset", "0"))
            size = os.path.getsize(path)
            if off > size:
                return self.error(400, "IOException",
                                  "Offset=%d out of the range [0, %d)" % (off, size))
            with open(path, "rb") as f:
                f.seek(off)
                n = int(q["length"]) if "length" in q else -1
                chunk = f.read(n)
            return self.reply(200, body=chunk, ctype="application/octet-stream")
        if method == "PUT" and op == "CREATE":
            if not datanode:
                if data:
                    return self.error(400, "IllegalArgumentException",
                                      "data sent to the NameNode step")
                return self.redirect(hpath, q)
            if os.path.exists(path) and q.get("overwrite") != "true":
                return self.error(403, "FileAlreadyExistsException",
                                  hpath + " already exists")
            if os.path.isdir(path):
                return self.error(403, "FileAlreadyExistsException",
                                  hpath + " is a directory")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            return self.reply(201, body=b"", location="hdfs://" + hpath)
        if method == "POST" and op == "APPEND":
            if not os.path.isfile(path):
                return self.error(404, "FileNotFoundException",
                                  "File does not exist: " + hpath)
            if not datanode:
                if data:
                    return self.error(400, "IllegalArgumentException",
                                      "data sent to the NameNode step")
                return self.redirect(hpath, q)
            with open(path, "ab") as f:
                f.write(data)
            return self.reply(200, body=b"")
        if method == "PUT" and op == "MKDIRS":
            if os.path.isfile(path):
                return self.error(403, "FileAlreadyExistsException",
                                  hpath + " is a file")
            os.makedirs(path, exist_ok=True)
            return self.reply(200, {"boolean": True})
        if method == "PUT" and op == "RENAME":
            dest = local(unquote(q.get("destination", "")))
            ok = os.path.exists(path) and not os.path.exists(dest) \
                and os.path.isdir(os.path.dirname(dest))
            if ok:
                os.rename(path, dest)
            return self.reply(200, {"boolean": ok})
        if method == "DELETE" and op == "DELETE":
            if not os.path.exists(path):
                return self.reply(200, {"boolean": False})
            if os.path.isdir(path):
                if os.listdir(path) and q.get("recursive") != "true":
                    return self.error(403, "PathIsNotEmptyDirectoryException",
                                      hpath + " is non empty")
                shutil.rmtree(path)
            else:
                os.remove(path)
            return self.reply(200, {"boolean": True})
        return self.error(400, "UnsupportedOperationException",
                          "%s %s is not supported" % (method, op))

    def do_GET(self):
        self.handle_any("GET")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    os.makedirs(ROOT, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = sys.argv[2] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_port))
    os.rename(tmp, sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
