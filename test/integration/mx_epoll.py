#!/usr/bin/env python3
"""epoll semantics on private TCP sockets mixed with a kernel pipe, run under
nstack (test/integration/case_matrix.sh, case_matrix_epoll_tcp_semantics).

    mx_epoll.py LISTEN_PORT PEER_ADDR ECHO_PORT

Prints "listening" once its listener is up; the case then starts a kernel
client that connects, sends "hello", waits for "bye", half-closes and reads
to end of file. ECHO_PORT is a kernel echo server (mx_srv.py) for the
non-blocking connect. Exits 0 when every check held.
"""
import errno
import os
import select
import socket
import sys
import time

port, peer, echo_port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
IN, OUT, ET, ONESHOT = select.EPOLLIN, select.EPOLLOUT, select.EPOLLET, select.EPOLLONESHOT
RDHUP, HUP = select.EPOLLRDHUP, select.EPOLLHUP


def events(ep, timeout):
    return sorted(ep.poll(timeout))


def check(cond, what):
    if not cond:
        sys.exit("mx_epoll: " + what)


ep = select.epoll()
r, w = os.pipe()
ep.register(r, IN)

lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lst.bind(("0.0.0.0", port))
lst.listen(8)
lst.setblocking(False)
ep.register(lst, IN)
# EPOLLEXCLUSIVE is accepted on a second set (Linux allows it only with ADD).
ep2 = select.epoll()
ep2.register(lst, IN | select.EPOLLEXCLUSIVE)

# Nothing ready: the wait times out instead of spinning or returning early
# (before "listening": the client connects only after that).
t = time.monotonic()
ev = events(ep, 0.3)
check(ev == [] and time.monotonic() - t >= 0.25, "idle set returned %r" % ev)
print("listening", flush=True)

# A queued connection makes the listener readable (in both sets).
ev = events(ep, 10)
check(ev == [(lst.fileno(), IN)], "listener: %r" % ev)
check(events(ep2, 1) == [(lst.fileno(), IN)], "EPOLLEXCLUSIVE set saw no connection")
c, _ = lst.accept()
c.setblocking(False)
ep.register(c, IN | ET | RDHUP)

# Edge-triggered: one event for the arrival, none while the data sits unread.
ev = events(ep, 5)
check(ev == [(c.fileno(), IN)], "ET data: %r" % ev)
ev = events(ep, 0.3)
check(ev == [], "ET fired again without new data: %r" % ev)
check(c.recv(100) == b"hello", "payload")
try:
    c.recv(100)
    sys.exit("mx_epoll: recv on an empty non-blocking socket succeeded")
except BlockingIOError:
    pass

# The kernel fd wakes a wait that also holds the private socket.
os.write(w, b"x")
check(events(ep, 5) == [(r, IN)], "pipe")
os.read(r, 1)

# The peer half-closes after "bye": EPOLLIN|EPOLLRDHUP, then end of file.
c.sendall(b"bye")
ev = events(ep, 5)
check(ev == [(c.fileno(), IN | RDHUP)], "half-close: %r" % ev)
check(c.recv(100) == b"", "EOF after half-close")

# EPOLLONESHOT: one event, then silence until re-armed with MOD.
ep.modify(c, OUT | ONESHOT)
check(events(ep, 5) == [(c.fileno(), OUT)], "oneshot first")
check(events(ep, 0.3) == [], "oneshot fired twice")
ep.modify(c, OUT | ONESHOT)
check(events(ep, 5) == [(c.fileno(), OUT)], "oneshot re-armed")

# Closing a registered private fd removes it from the set, as Linux does.
c.shutdown(socket.SHUT_WR)
c.close()
ev = events(ep, 0.3)
check(ev == [], "closed fd still reported: %r" % ev)

# Non-blocking connect: EINPROGRESS, writable once established, SO_ERROR 0.
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setblocking(False)
rc = s.connect_ex((peer, echo_port))
check(rc == errno.EINPROGRESS, "connect_ex %d" % rc)
ep.register(s, OUT | IN)
ev = events(ep, 5)
check(ev == [(s.fileno(), OUT)], "connect completion: %r" % ev)
check(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0, "SO_ERROR after connect")
s.sendall(b"echo me\n")
# Level-triggered: readable until read, reported on every wait.
deadline = time.monotonic() + 5
got = b""
while got != b"echo me\n" and time.monotonic() < deadline:
    ev = dict(ep.poll(1))
    if ev.get(s.fileno(), 0) & IN:
        check(dict(ep.poll(0)).get(s.fileno(), 0) & IN, "level-triggered IN reported once")
        got += s.recv(100)
check(got == b"echo me\n", "echo %r" % got)
ep.unregister(s)
s.close()
print("epoll: ok")
