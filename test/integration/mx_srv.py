#!/usr/bin/env python3
"""Kernel-side TCP server for mx_fdops.c (test/integration/case_matrix.sh).

    mx_srv.py ADDR PORT

Each connection's first line decides what it is:
  "ctl"       the control channel: later reports are written to it
  "id N"      a data connection: counts the bytes after that line until end
              of file, then writes "eof N BYTES" to the control channel
  otherwise   an echo connection: the line and everything after it echoed
Threads per connection; prints "ready" once listening. Runs until killed
(the case bounds it with timeout).
"""
import socketserver
import sys
import threading

ctl = None
ctl_lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        global ctl
        first = self.rfile.readline()
        if first == b"ctl\n":
            with ctl_lock:
                ctl = self.connection
            # Keep the channel open until the client closes it.
            while self.rfile.read(4096):
                pass
            return
        if first.startswith(b"id "):
            ident = int(first[3:])
            n = 0
            while True:
                b = self.rfile.read1(65536)
                if not b:
                    break
                n += len(b)
            with ctl_lock:
                if ctl is not None:
                    ctl.sendall(b"eof %d %d\n" % (ident, n))
            return
        self.wfile.write(first)
        self.wfile.flush()
        while True:
            b = self.rfile.read1(65536)
            if not b:
                return
            self.wfile.write(b)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 128


srv = Server((sys.argv[1], int(sys.argv[2])), Handler)
print("ready", flush=True)
srv.serve_forever()
