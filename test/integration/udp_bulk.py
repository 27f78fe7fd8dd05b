#!/usr/bin/env python3
"""UDP bulk exchange against an echo server, stop-and-wait, checked by SHA-256.

usage: udp_bulk.py HOST PORT TOTAL_BYTES CHUNK_BYTES
Sends TOTAL_BYTES of random data in datagrams of CHUNK_BYTES, waits for each
echo (1 s timeout, 5 tries), compares every echo and the SHA-256 of all that
came back with what was sent. Exit 0 only when they match. Bounded: 60 s.
"""
import hashlib
import os
import socket
import sys
import time

host, port = sys.argv[1], int(sys.argv[2])
total, chunk = int(sys.argv[3]), int(sys.argv[4])
data = os.urandom(total)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
back = hashlib.sha256()
deadline = time.monotonic() + 60
retries = 0
for off in range(0, total, chunk):
    piece = data[off:off + chunk]
    for attempt in range(5):
        if time.monotonic() > deadline:
            sys.exit("udp_bulk: out of time")
        s.sendto(piece, (host, port))
        try:
            got, peer = s.recvfrom(65535)
        except socket.timeout:
            retries += 1
            continue
        if got != piece:
            sys.exit(f"udp_bulk: echo at offset {off} differs ({len(got)} bytes)")
        back.update(got)
        break
    else:
        sys.exit(f"udp_bulk: no echo at offset {off}")
sent = hashlib.sha256(data).hexdigest()
print(f"sent {total} bytes in {chunk}-byte datagrams, sha256 {sent}, "
      f"echoed sha256 {back.hexdigest()}, retries {retries}")
sys.exit(0 if sent == back.hexdigest() else 1)
