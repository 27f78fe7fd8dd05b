# ICMP and UDP with unmodified programs (issue 2).
# shellcheck shell=bash

# Kernel ping to nstack's address while a program under nstack holds a socket.
case_ping_kernel_to_nstack() {
	on_nstack python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7000))
print("bound", flush=True)
time.sleep(15)' >"$TMP/holder.log" 2>&1 &
	wait_file "$TMP/holder.log" bound || { cat "$TMP/holder.log"; return 1; }
	wait_nstack_up || return 1
	in_peer ping -c 3 -i 0.2 -W 2 "$ADDR" | tee "$TMP/ping.txt"
	grep -q '3 packets transmitted, 3 received' "$TMP/ping.txt"
}

# Debian's ping from nstack to the kernel (ICMP datagram socket, or raw).
case_ping_nstack_to_kernel() {
	on_nstack ping -c 3 -i 0.2 -W 2 "$PEER_ADDR" | tee "$TMP/ping.txt"
	grep -q '3 packets transmitted, 3 received' "$TMP/ping.txt"
}

# socat under nstack sends one datagram to a kernel receiver, closes and exits
# at once: the datagram still waits for ARP then, so this also proves the
# exit flush (the library keeps the process until the stack has sent it).
case_udp_socat_nstack_to_kernel() {
	head -c 1200 /dev/urandom >"$TMP/in"
	in_peer timeout 20 socat -T 2 -u UDP4-RECV:9000,bind="$PEER_ADDR" CREATE:"$TMP/out" &
	wait_peer_udp 9000 || return 1
	on_nstack socat -u OPEN:"$TMP/in" UDP4-SENDTO:"$PEER_ADDR":9000 || return 1
	wait
	ls -l "$TMP"
	[ "$(sha "$TMP/in")" = "$(sha "$TMP/out")" ]
}

# nc -u under nstack sends to a kernel receiver.
case_udp_nc_nstack_to_kernel() {
	head -c 1000 /dev/urandom >"$TMP/in"
	in_peer timeout 20 socat -T 2 -u UDP4-RECV:9001,bind="$PEER_ADDR" CREATE:"$TMP/out" &
	wait_peer_udp 9001 || return 1
	on_nstack nc -u -w 1 "$PEER_ADDR" 9001 <"$TMP/in" || return 1
	wait
	[ "$(sha "$TMP/in")" = "$(sha "$TMP/out")" ]
}

# socat under nstack receives from the kernel.
case_udp_socat_kernel_to_nstack() {
	head -c 1400 /dev/urandom >"$TMP/in"
	timeout 20 ip netns exec "$NS" "$NSTACK" -- socat -T 2 -u UDP4-RECV:9002 CREATE:"$TMP/out" &
	wait_nstack_up || return 1
	in_peer socat -u OPEN:"$TMP/in" UDP4-SENDTO:"$ADDR":9002 || return 1
	wait
	[ "$(sha "$TMP/in")" = "$(sha "$TMP/out")" ]
}

# nc -u -l under nstack receives from a kernel nc.
case_udp_nc_kernel_to_nstack() {
	head -c 800 /dev/urandom >"$TMP/in"
	on_nstack nc -u -l 9003 >"$TMP/out" &
	wait_nstack_up || return 1
	in_peer nc -u -w 1 "$ADDR" 9003 <"$TMP/in" || return 1
	for _ in $(seq 1 30); do
		[ "$(stat -c %s "$TMP/out")" -ge 800 ] && break
		sleep 0.1
	done
	[ "$(sha "$TMP/in")" = "$(sha "$TMP/out")" ]
}

# 1 MiB in 1000-byte datagrams, nstack client against a kernel echo.
case_udp_1mib_exchange_nstack_client() {
	in_peer python3 "$IT/udp_echo.py" 9004 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || return 1
	on_nstack python3 "$IT/udp_bulk.py" "$PEER_ADDR" 9004 1048576 1000
}

# The same 1 MiB with the echo server under nstack and a kernel client.
case_udp_1mib_exchange_nstack_server() {
	on_nstack python3 "$IT/udp_echo.py" 9005 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || { cat "$TMP/echo.log"; return 1; }
	in_peer python3 "$IT/udp_bulk.py" "$ADDR" 9005 1048576 1000
}

# 8000-byte datagrams at MTU 1500: nstack fragments its request and
# reassembles the kernel's fragmented echo.
case_udp_8000_fragmented_nstack_client() {
	in_peer python3 "$IT/udp_echo.py" 9006 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || return 1
	on_nstack python3 "$IT/udp_bulk.py" "$PEER_ADDR" 9006 80000 8000
}

case_udp_8000_fragmented_nstack_server() {
	on_nstack python3 "$IT/udp_echo.py" 9007 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || { cat "$TMP/echo.log"; return 1; }
	in_peer python3 "$IT/udp_bulk.py" "$ADDR" 9007 80000 8000
}

# poll() and select() wait on a private socket and a pipe together.
case_poll_select_mixed_private_and_kernel_fds() {
	in_peer python3 "$IT/udp_echo.py" 9008 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || return 1
	on_nstack python3 - "$PEER_ADDR" <<'PY'
import os, select, socket, sys, threading, time
peer = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
r, w = os.pipe()
p = select.poll()
p.register(s, select.POLLIN)
p.register(r, select.POLLIN)
# Nothing ready: poll must time out, not return early.
t = time.monotonic()
assert p.poll(300) == [], "poll returned early"
assert time.monotonic() - t >= 0.25
# The pipe wakes a poll that also waits on the private socket.
threading.Timer(0.2, lambda: os.write(w, b"x")).start()
ev = p.poll(3000)
assert ev == [(r, select.POLLIN)], ev
os.read(r, 1)
# The private socket wakes a poll that also waits on the pipe.
s.sendto(b"ping", (peer, 9008))
ev = p.poll(3000)
assert ev == [(s.fileno(), select.POLLIN)], ev
assert s.recv(10) == b"ping"
# select(): writable at once, readable after an echo.
rl, wl, _ = select.select([s, r], [s], [], 1)
assert rl == [] and wl == [s], (rl, wl)
s.sendto(b"pong", (peer, 9008))
rl, wl, _ = select.select([s, r], [], [], 3)
assert rl == [s], rl
assert s.recv(10) == b"pong"
print("ok")
PY
}

# epoll: an asyncio UDP echo server under nstack (epoll, non-blocking
# recvfrom/sendto) answers a kernel client; 200 datagrams checked.
case_epoll_asyncio_udp_server_on_nstack() {
	on_nstack python3 - >"$TMP/srv.log" 2>&1 <<'PY' &
import asyncio
class Echo(asyncio.DatagramProtocol):
    def connection_made(self, t):
        self.t = t
    def datagram_received(self, data, addr):
        self.t.sendto(data, addr)
async def main():
    loop = asyncio.get_running_loop()
    assert type(loop._selector).__name__ == "EpollSelector", loop._selector
    await loop.create_datagram_endpoint(Echo, local_addr=("0.0.0.0", 9010))
    print("ready", flush=True)
    await asyncio.sleep(20)
asyncio.run(main())
PY
	wait_file "$TMP/srv.log" ready || { cat "$TMP/srv.log"; return 1; }
	in_peer python3 "$IT/udp_bulk.py" "$ADDR" 9010 200000 1000
}

# Handover: a private UDP socket that sends to 127.0.0.1 becomes a kernel
# socket under the same fd, with its options and epoll registration, and
# reaches a kernel echo on loopback; NSTACK_HANDOVER=0 keeps it private.
case_handover_loopback_udp() {
	in_ns python3 "$IT/udp_echo.py" 9020 5 >"$TMP/echo.log" 2>&1 &
	wait_file "$TMP/echo.log" ready || return 1
	NSTACK_LOG=info on_nstack python3 - <<'PY' 2>"$TMP/err" || { cat "$TMP/err"; return 1; }
import select, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fd = s.fileno()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100000)
s.setblocking(False)
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
s.sendto(b"over the kernel loopback", ("127.0.0.1", 9020))
assert s.fileno() == fd
ev = ep.poll(3)
assert ev == [(fd, select.EPOLLIN)], ev
assert s.recv(100) == b"over the kernel loopback"
# The kernel socket carries the option set before the handover (Linux doubles it).
assert s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 200000
print("ok")
PY
	cat "$TMP/err"
	grep -q "handed over to the kernel (127.0.0.1" "$TMP/err" || return 1
	NSTACK_HANDOVER=0 on_nstack python3 - <<'PY'
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
try:
    s.sendto(b"x", ("127.0.0.1", 9020))
    s.recv(10)
    raise SystemExit("answered: the socket went to the kernel")
except OSError:
    pass
PY
}

# SIGTERM with the default action right after a send: the datagram (still
# waiting for ARP) goes out first, then the process dies of SIGTERM as usual.
case_exit_flush_on_sigterm() {
	in_peer timeout 20 socat -T 2 -u UDP4-RECV:9012,bind="$PEER_ADDR" CREATE:"$TMP/out" &
	wait_peer_udp 9012 || return 1
	on_nstack python3 -c '
import os, signal, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"sent just before SIGTERM", ("'"$PEER_ADDR"'", 9012))
os.kill(os.getpid(), signal.SIGTERM)
import time; time.sleep(5)
print("still alive")'
	rc=$?
	wait
	echo "exit status $rc, received: $(cat "$TMP/out")"
	[ $rc -eq 143 ] && [ "$(cat "$TMP/out")" = "sent just before SIGTERM" ]
}
