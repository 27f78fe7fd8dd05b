#!/usr/bin/env python3
"""HTTP upload sink for the program matrix (test/integration/case_matrix.sh).

    mx_upload.py ADDR PORT DIR COUNT

Serves with a ThreadingHTTPServer until COUNT uploads are stored, then
exits 0. A PUT or
POST to /NAME writes the body to DIR/NAME (Content-Length or chunked) and
answers "SHA256 LENGTH"; a GET of /NAME serves DIR/NAME. Prints "ready"
once listening.
"""
import hashlib
import http.server
import os
import shutil
import socket
import sys
import threading

addr, port, root, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
stored = 0
stored_lock = threading.Lock()
all_stored = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("upload: " + (fmt % args) + "\n")

    def target(self):
        return os.path.join(root, os.path.basename(self.path) or "upload")

    def chunks(self):
        """Yields the request body, whatever its framing."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    # Trailer section ends with an empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    b = self.rfile.read(min(left, 1 << 20))
                    if not b:
                        raise EOFError("body cut short")
                    left -= len(b)
                    yield b
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                b = self.rfile.read(min(left, 1 << 20))
                if not b:
                    raise EOFError("body cut short")
                left -= len(b)
                yield b

    def do_PUT(self):
        h = hashlib.sha256()
        n = 0
        with open(self.target(), "wb") as f:
            for b in self.chunks():
                h.update(b)
                f.write(b)
                n += len(b)
        reply = ("%s %d\n" % (h.hexdigest(), n)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
        self.wfile.flush()
        global stored
        with stored_lock:
            stored += 1
            if stored >= count:
                all_stored.set()

    do_POST = do_PUT

    def do_GET(self):
        try:
            f = open(self.target(), "rb")
        except OSError:
            self.send_error(404)
            return
        with f:
            self.send_response(200)
            self.send_header("Content-Length", str(os.fstat(f.fileno()).st_size))
            self.end_headers()
            shutil.copyfileobj(f, self.wfile, 1 << 20)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

    def verify_request(self, request, client_address):
        # Every connection is logged: an unexpected one points at a stack bug.
        sys.stderr.write("upload: connection from %s:%d\n" % client_address[:2])
        return True


srv = Server((addr, port), Handler)
print("ready", flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
all_stored.wait()
srv.shutdown()
srv.server_close()
print("done", flush=True)
