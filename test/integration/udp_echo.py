#!/usr/bin/env python3
"""UDP echo server for the lab: echoes every datagram to its sender.

usage: udp_echo.py PORT [IDLE_SECONDS [ADDR]]
ADDR (default 0.0.0.0) may be IPv6 ("::" is dual-stack). Prints "ready" once bound; exits after IDLE_SECONDS without a datagram
(default 10) or 120 s in all, so it never outlives a test.
"""
import socket
import sys
import time

port = int(sys.argv[1])
idle = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
addr = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
s.bind((addr, port))
print("ready", flush=True)
s.settimeout(idle)
end = time.monotonic() + 120
n = 0
while time.monotonic() < end:
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        break
    s.sendto(data, peer)
    n += 1
print(f"echoed {n}", flush=True)
