# Kernel-side echo client of case_mp_kill9_child_others_carry_on
# (case_multiproc.sh).
#
#   mp_stream.py ADDR PORT STOPFILE MAXSECS [noise]
#
# Streams random data to an echo server while it reads the echo back in a
# second thread, until STOPFILE exists (or MAXSECS, or 256 MiB), then shuts
# down its sending side and reads the rest until EOF. Prints
# "ok SENT" when the echo equals what was sent (SHA-256 and length) and
# exits 0; "FAIL ..." and 1 otherwise.
# With "noise" it does the same against a server that is killed under it,
# again and again (reconnecting each time, errors expected), without a pace,
# and prints "noise CONNECTIONS BYTES" at the end; exit 0.
import hashlib
import os
import socket
import sys
import threading
import time

addr, port, stop, maxsecs = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
noise = len(sys.argv) > 5 and sys.argv[5] == "noise"
end = time.monotonic() + maxsecs
buf = os.urandom(1 << 20)
CHUNK = 65536


def stopped():
    return os.path.exists(stop) or time.monotonic() > end


def one():
    """One connection; returns (sent, received, equal, errors)."""
    s = socket.create_connection((addr, port), timeout=10)
    hs, hr = hashlib.sha256(), hashlib.sha256()
    got = [0]
    errs = []

    def reader():
        try:
            while True:
                b = s.recv(CHUNK)
                if not b:
                    break
                hr.update(b)
                got[0] += len(b)
        except OSError as e:
            errs.append("recv: %s" % e)

    t = threading.Thread(target=reader)
    t.start()
    sent = i = 0
    try:
        while not stopped() and sent < (256 << 20):
            off = (i * 7919) % (len(buf) - CHUNK)
            chunk = buf[off:off + CHUNK]
            s.sendall(chunk)
            hs.update(chunk)
            sent += len(chunk)
            i += 1
            if not noise:
                time.sleep(0.001)
        s.shutdown(socket.SHUT_WR)
    except OSError as e:
        errs.append("send: %s" % e)
    t.join(20)
    s.close()
    return sent, got[0], sent == got[0] and hs.digest() == hr.digest(), errs


if noise:
    conns = total = 0
    while not stopped():
        try:
            sent, _, _, _ = one()
            conns += 1
            total += sent
        except OSError:
            time.sleep(0.02)
    print("noise", conns, total, flush=True)
    sys.exit(0)

sent, got, equal, errs = one()
if equal and not errs and sent > 0:
    print("ok", sent, flush=True)
    sys.exit(0)
print("FAIL sent", sent, "echoed", got, "equal", equal, errs, flush=True)
sys.exit(1)
