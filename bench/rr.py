#!/usr/bin/env python3
"""TCP request/response latency for bench/run.sh.

  rr.py server ADDR PORT          echo every byte back, one client at a time
  rr.py client ADDR PORT N SIZE [BIND]
                                  N exchanges of SIZE bytes; prints the
                                  median round trip in microseconds

Both ends set TCP_NODELAY; the client's socket is blocking. The client stops with an error if the server
closes early (a short read of zero bytes), so a dead server cannot spin it.
"""
import socket
import sys
import time


def server(addr, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    while True:
        c, _ = s.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
        c.close()


def client(addr, port, n, size, bind=None):
    c = socket.create_connection((addr, port), timeout=10,
                                 source_address=(bind, 0) if bind else None)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    # Blocking from here: Python waits for a socket with a timeout in
    # poll(), without one in recv() itself, the common client pattern.
    c.settimeout(None)
    msg = b"x" * size
    rtt = []
    for _ in range(n):
        t0 = time.perf_counter()
        c.sendall(msg)
        got = 0
        while got < size:
            d = c.recv(65536)
            if not d:
                sys.exit("rr: server closed the connection")
            got += len(d)
        rtt.append(time.perf_counter() - t0)
    rtt.sort()
    print("%.1f" % (rtt[len(rtt) // 2] * 1e6))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
               sys.argv[6] if len(sys.argv) > 6 else None)
