#!/usr/bin/env python3
"""TCP echo with byte-exact checking, for the nstack lab (either side may run
under nstack).

  tcp_echo.py server PORT [TIMEOUT]          accept one connection, echo every
                                             byte until the peer half-closes,
                                             then half-close too; print "ready"
                                             once listening, "done N" at the end
  tcp_echo.py client HOST PORT SIZE [SEED]   send SIZE seeded pseudo-random bytes
                                             from a second thread while reading
                                             the echo (full duplex, so flow
                                             control is exercised both ways),
                                             shutdown(SHUT_WR) after the last
                                             byte, read to EOF and compare
                                             SHA-256 and length

Exit status 0 only when everything matched.
"""
import hashlib
import random
import socket
import sys
import threading


def server(port, timeout):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4)
    ls.settimeout(timeout)
    print("ready", flush=True)
    c, peer = ls.accept()
    c.settimeout(timeout)
    assert c.getsockname()[1] == port, c.getsockname()
    total = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        c.sendall(b)
        total += len(b)
    c.shutdown(socket.SHUT_WR)
    # The client closes after it read our FIN; wait for that so the last
    # bytes are not cut off by an early close.
    assert c.recv(1) == b""
    c.close()
    ls.close()
    print("done", total, flush=True)


def client(host, port, size, seed):
    data = random.Random(seed).randbytes(size)
    want = hashlib.sha256(data).hexdigest()
    s = socket.create_connection((host, port), timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    assert s.getpeername() == (host, port), s.getpeername()
    err = []

    def send():
        try:
            view = memoryview(data)
            off = 0
            # Uneven chunk sizes so segments do not line up with writes.
            step = 1
            while off < size:
                n = min(size - off, 1000 + step * 7919 % 60000)
                s.sendall(view[off:off + n])
                off += n
                step += 1
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    h = hashlib.sha256()
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        h.update(b)
        got += len(b)
    t.join()
    s.close()
    if err:
        raise err[0]
    if got != size or h.hexdigest() != want:
        print(f"mismatch: sent {size} bytes {want}, echoed {got} bytes {h.hexdigest()}")
        sys.exit(1)
    print("ok", size, want, flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else 30)
    else:
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
               int(sys.argv[5]) if len(sys.argv) > 5 else 1)
