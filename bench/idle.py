#!/usr/bin/env python3
"""Many idle TCP connections, for bench/run.sh's memory row.

  idle.py server ADDR PORT          accept and hold every connection (epoll),
                                    print "ready" once listening
  idle.py client ADDR PORT N SECS   open N connections (non-blocking, 500 at a
                                    time in flight), print "held N", keep them
                                    SECS seconds, then close them all

Nothing is sent: the connections are idle, so what each costs is the
stack's per-connection state (socket, hash entries, file), not buffers.
Both sides raise RLIMIT_NOFILE to what N needs.
"""
import errno
import resource
import select
import socket
import sys
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n + 64), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def server(addr, port):
    raise_nofile(70000)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4096)
    s.setblocking(False)
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN)
    held = {}
    print("ready", flush=True)
    while True:
        for fd, ev in ep.poll(1.0):
            if fd == s.fileno():
                while True:
                    try:
                        c, _ = s.accept()
                    except OSError as e:
                        if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                            break
                        raise
                    c.setblocking(False)
                    held[c.fileno()] = c
                    ep.register(c.fileno(), select.EPOLLIN)
            else:
                c = held.pop(fd, None)
                if c is not None:
                    ep.unregister(fd)
                    c.close()


def client(addr, port, n, secs):
    raise_nofile(n)
    ep = select.epoll()
    pending, done = {}, []
    deadline = time.monotonic() + 120
    opened = 0
    while len(done) < n and time.monotonic() < deadline:
        while opened < n and len(pending) < 500:
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect((addr, port))
            except BlockingIOError:
                pass
            pending[c.fileno()] = c
            ep.register(c.fileno(), select.EPOLLOUT)
            opened += 1
        for fd, ev in ep.poll(1.0):
            c = pending.pop(fd)
            ep.unregister(fd)
            err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                sys.exit("connect: %s" % errno.errorcode.get(err, err))
            done.append(c)
    if len(done) < n:
        sys.exit("only %d of %d connections after 120 s" % (len(done), n))
    print("held %d" % n, flush=True)
    time.sleep(secs)
    for c in done:
        c.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
