#!/usr/bin/env python3
"""Kernel-side peer for case_threads.sh (thr_probe.c under nstack).

Listens on ADDR with several behaviours, one port each:
  7001 echo            echoes every byte until EOF
  7002 silent          reads nothing, never writes; closes when the probe closes
  7003 fin-later       after 0.3 s sends b"bye" and a FIN, then reads until EOF
  7004 data-later      after 0.6 s sends b"late", then waits for EOF
  7005 connect-back    reads "PORT\\n", waits 0.6 s, connects to the probe's
                       address at PORT, sends b"hi", closes
Runs until killed (bounded by the case's timeout); threads are daemons.
"""
import socket
import sys
import threading
import time

ADDR = sys.argv[1]
PROBE = sys.argv[2]


def wait_eof(c):
    try:
        while c.recv(65536):
            pass
    except OSError:
        pass


def echo(c):
    try:
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
    except OSError:
        pass


def silent(c):
    # Never read: the probe's sends fill the window. Wait for the probe to go.
    while True:
        time.sleep(0.2)
        try:
            b = c.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if b == b"":
                return
        except BlockingIOError:
            pass
        except OSError:
            return


def fin_later(c):
    time.sleep(0.3)
    c.sendall(b"bye")
    c.shutdown(socket.SHUT_WR)
    wait_eof(c)


def data_later(c):
    time.sleep(0.6)
    try:
        c.sendall(b"late")
    except OSError:
        return
    wait_eof(c)


def connect_back(c):
    line = b""
    while not line.endswith(b"\n"):
        b = c.recv(16)
        if not b:
            return
        line += b
    time.sleep(0.6)
    s = socket.create_connection((PROBE, int(line)), timeout=5)
    s.sendall(b"hi")
    s.close()
    wait_eof(c)


def run(fn, c):
    try:
        fn(c)
    finally:
        c.close()


def serve(port, fn):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fn is silent:
        # A small window the probe fills at once (inherited by accepted sockets).
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind((ADDR, port))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        t = threading.Thread(target=run, args=(fn, c), daemon=True)
        t.start()


for port, fn in ((7001, echo), (7002, silent), (7003, fin_later), (7004, data_later),
                 (7005, connect_back)):
    threading.Thread(target=serve, args=(port, fn), daemon=True).start()
print("ready", flush=True)
time.sleep(110)
