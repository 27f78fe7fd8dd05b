#!/usr/bin/env python3
"""Numbered UDP datagrams across a move of the link (stack.c, "Moving the driver").

  mp_move_udp.py server ADDR PORT   (under nstack)
      Binds the socket (the stack starts: this process drives), forks a
      child that drops to nobody and receives on the inherited socket while
      the parent only sleeps, so the link moves to the child. The child
      prints "child PID ready", then after "END" one line:
      "got N dup D missing M" (sequence numbers 0..N-1 of the sender).
  mp_move_udp.py exit ADDR PORT FILE   (under nstack)
      The link leaves with its driver: the process that bound (and drives)
      receives the first 8000 datagrams itself, writes their numbers to
      FILE, lets the child it forked go on reading the same socket and
      exits; the child prints the "got" line for both.
  mp_move_udp.py client ADDR PORT COUNT SECONDS   (kernel peer)
      Sends COUNT numbered datagrams evenly over SECONDS, then END.

UDP shows what TCP would repair: a frame lost or processed twice in the
hand-over is a missing or duplicate number here.
"""
import os
import socket
import sys
import time


def server(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    pid = os.fork()
    if pid:
        s.close()
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    os.setgid(65534)
    os.setuid(65534)
    print("child %d ready" % os.getpid(), flush=True)
    s.settimeout(20)
    seen = set()
    dup = 0
    n = None
    while True:
        data = s.recv(2048)
        if data.startswith(b"END "):
            n = int(data.split()[1])
            break
        seq = int(data.split(b" ", 1)[0])
        if seq in seen:
            dup += 1
        seen.add(seq)
    missing = sum(1 for i in range(n) if i not in seen)
    print("got %d dup %d missing %d" % (len(seen), dup, missing), flush=True)


def exit_server(addr, port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    r, w = os.pipe()
    pid = os.fork()
    if pid:
        os.close(r)
        print("parent %d ready" % os.getpid(), flush=True)
        s.settimeout(20)
        mine = []
        while len(mine) < 8000:
            mine.append(int(s.recv(2048).split(b" ", 1)[0]))
        with open(path, "w") as f:
            f.write(" ".join(map(str, mine)))
        os.write(w, b"x")
        sys.exit(0)
    os.close(w)
    os.read(r, 1)
    with open(path) as f:
        seen = [int(x) for x in f.read().split()]
    s.settimeout(20)
    while True:
        data = s.recv(2048)
        if data.startswith(b"END "):
            n = int(data.split()[1])
            break
        seen.append(int(data.split(b" ", 1)[0]))
    unique = set(seen)
    missing = sum(1 for i in range(n) if i not in unique)
    print("got %d dup %d missing %d" % (len(unique), len(seen) - len(unique), missing), flush=True)


def client(addr, port, count, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pad = b"x" * 200
    start = time.monotonic()
    for i in range(count):
        due = start + seconds * i / count
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendto(b"%d " % i + pad, (addr, port))
    for _ in range(5):
        time.sleep(0.2)
        s.sendto(b"END %d" % count, (addr, port))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "exit":
        exit_server(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
