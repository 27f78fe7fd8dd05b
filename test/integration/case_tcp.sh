# TCP with unmodified programs against the Linux kernel on the clean lab
# (issue 3). Every transfer is checked byte for byte (SHA-256) and by exit
# status; every program is bounded by its own timeout below the runner's.
# shellcheck shell=bash

# Random payloads: a new one per run, compared by hash.
tcp_mkfile() { head -c "$2" /dev/urandom >"$1"; }

# Waits (bounded) until a kernel TCP socket listens on PORT in namespace $2
# (default: the peer), so a loaded machine cannot make a client too early.
tcp_wait_listen() {
	local i
	for i in $(seq 1 50); do
		[ -n "$(ip netns exec "${2:-$PEER}" ss -Htln "sport = :$1")" ] && return 0
		sleep 0.1
	done
	echo "nothing listens on TCP port $1 in ${2:-$PEER}" >&2
	return 1
}

# Fails unless iperf3's JSON report ($1) shows a finished test that moved
# bytes in the direction measured.
tcp_iperf_ok() {
	python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert "error" not in r, r.get("error")
s = r["end"]["sum_received"]
assert s["bytes"] > 0, s
print("iperf3: %d bytes, %.0f Mbit/s" % (s["bytes"], s["bits_per_second"] / 1e6))
PY
}

# curl under nstack downloads 100 MiB from a kernel python http.server.
case_tcp_curl_100mib_download() {
	mkdir -p srv
	tcp_mkfile srv/f 100M
	in_peer timeout 80 python3 -u -m http.server --bind "$PEER_ADDR" --directory srv 8080 \
		>http.log 2>&1 &
	wait_file http.log "Serving HTTP" || return 1
	on_nstack timeout 70 curl -sS --fail -o out "http://$PEER_ADDR:8080/f" || return 1
	[ "$(sha srv/f)" = "$(sha out)" ]
}

# nc under nstack uploads to a kernel nc; -N half-closes at end of input.
case_tcp_nc_upload_nstack_client() {
	tcp_mkfile in 4M
	in_peer timeout 40 nc -l "$PEER_ADDR" 9100 </dev/null >out &
	tcp_wait_listen 9100 || return 1
	on_nstack timeout 30 nc -N "$PEER_ADDR" 9100 <in || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# nc under nstack downloads from a kernel nc that half-closes after its file.
case_tcp_nc_download_nstack_client() {
	tcp_mkfile in 4M
	in_peer timeout 40 nc -N -l "$PEER_ADDR" 9101 <in &
	tcp_wait_listen 9101 || return 1
	on_nstack timeout 30 nc "$PEER_ADDR" 9101 </dev/null >out || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# nc -l under nstack receives an upload from a kernel nc.
case_tcp_nc_upload_nstack_server() {
	tcp_mkfile in 4M
	on_nstack timeout 40 nc -l 9102 </dev/null >out &
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 30 nc -N "$ADDR" 9102 <in || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# nc -l -N under nstack serves a file to a kernel nc.
case_tcp_nc_download_nstack_server() {
	tcp_mkfile in 4M
	on_nstack timeout 40 nc -N -l 9103 <in &
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 30 nc "$ADDR" 9103 </dev/null >out || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# Half-close, nstack as client: nc -N sends a file and shuts down its write
# side; the kernel server (socat + sha256sum) answers after that EOF, and the
# answer must still arrive on the half-closed connection.
case_tcp_half_close_nstack_client() {
	tcp_mkfile in 3M
	in_peer timeout 40 socat TCP4-LISTEN:9104,bind="$PEER_ADDR",reuseaddr SYSTEM:sha256sum &
	tcp_wait_listen 9104 || return 1
	on_nstack timeout 30 nc -N "$PEER_ADDR" 9104 <in >reply || return 1
	wait $! || return 1
	cat reply
	[ "$(cut -d' ' -f1 reply)" = "$(sha in)" ]
}

# Half-close, nstack as server: socat under nstack answers after the kernel
# client's FIN.
case_tcp_half_close_nstack_server() {
	tcp_mkfile in 3M
	on_nstack timeout 40 socat TCP4-LISTEN:9105,reuseaddr SYSTEM:sha256sum &
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 30 nc -N "$ADDR" 9105 <in >reply || return 1
	wait $srv || return 1
	cat reply
	[ "$(cut -d' ' -f1 reply)" = "$(sha in)" ]
}

# socat under nstack uploads to a kernel socat (-u: shut down after EOF).
case_tcp_socat_upload_nstack_client() {
	tcp_mkfile in 4M
	in_peer timeout 40 socat -u TCP4-LISTEN:9106,bind="$PEER_ADDR",reuseaddr CREATE:out &
	tcp_wait_listen 9106 || return 1
	on_nstack timeout 30 socat -u OPEN:in TCP4:"$PEER_ADDR":9106 || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# socat under nstack downloads from a kernel socat.
case_tcp_socat_download_nstack_client() {
	tcp_mkfile in 4M
	in_peer timeout 40 socat -u OPEN:in TCP4-LISTEN:9107,bind="$PEER_ADDR",reuseaddr &
	tcp_wait_listen 9107 || return 1
	on_nstack timeout 30 socat -u TCP4:"$PEER_ADDR":9107 CREATE:out || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# socat listening under nstack receives an upload from a kernel socat.
case_tcp_socat_upload_nstack_server() {
	tcp_mkfile in 4M
	on_nstack timeout 40 socat -u TCP4-LISTEN:9108,reuseaddr CREATE:out &
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 30 socat -u OPEN:in TCP4:"$ADDR":9108 || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# socat listening under nstack serves a file to a kernel socat.
case_tcp_socat_download_nstack_server() {
	tcp_mkfile in 4M
	on_nstack timeout 40 socat -u OPEN:in TCP4-LISTEN:9109,reuseaddr &
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 30 socat -u TCP4:"$ADDR":9109 CREATE:out || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ]
}

# Python client under nstack: 8 MiB full-duplex echo through a kernel server.
case_tcp_python_echo_nstack_client() {
	in_peer timeout 40 python3 "$IT/tcp_echo.py" server 9110 30 >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || return 1
	on_nstack timeout 30 python3 "$IT/tcp_echo.py" client "$PEER_ADDR" 9110 8388608 || return 1
	wait $srv || { cat srv.log; return 1; }
	grep -q 'done 8388608' srv.log
}

# Python server under nstack echoes 8 MiB for a kernel client.
case_tcp_python_echo_nstack_server() {
	on_nstack timeout 40 python3 "$IT/tcp_echo.py" server 9111 30 >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 30 python3 "$IT/tcp_echo.py" client "$ADDR" 9111 8388608 || return 1
	wait $srv || { cat srv.log; return 1; }
	grep -q 'done 8388608' srv.log
}

# iperf3 -c under nstack against a kernel iperf3 -s, both data directions.
case_tcp_iperf3_nstack_client() {
	in_peer timeout 40 iperf3 -s -B "$PEER_ADDR" -p 5201 >srv.log 2>&1 &
	tcp_wait_listen 5201 || return 1
	on_nstack timeout 20 iperf3 -c "$PEER_ADDR" -p 5201 -t 3 -J >up.json || { cat up.json; return 1; }
	tcp_iperf_ok up.json || return 1
	on_nstack timeout 20 iperf3 -c "$PEER_ADDR" -p 5201 -t 3 -R -J >down.json ||
		{ cat down.json; return 1; }
	tcp_iperf_ok down.json
}

# iperf3 -s under nstack (-4: Debian's iperf3 listens on IPv6 otherwise,
# which nstack leaves to the kernel) against a kernel iperf3 -c, both ways.
case_tcp_iperf3_nstack_server() {
	on_nstack timeout 40 iperf3 -s -4 -p 5202 --forceflush >srv.log 2>&1 &
	wait_file srv.log "Server listening" || { cat srv.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 20 iperf3 -c "$ADDR" -p 5202 -t 3 -J >up.json || { cat up.json; return 1; }
	tcp_iperf_ok up.json || return 1
	in_peer timeout 20 iperf3 -c "$ADDR" -p 5202 -t 3 -R -J >down.json ||
		{ cat down.json; return 1; }
	tcp_iperf_ok down.json
}

# run.sh exports only the case_* functions; cases run in their own shells.
export -f tcp_mkfile tcp_iperf_ok tcp_wait_listen

# The offload path under CPU pressure: a python http.server under nstack
# serves 20 MiB ten times to a kernel curl while two busy loops compete for
# the two cores. Super-frames (GSO) and the TX thread carry the bulk; every
# download must be complete and exact, and at exit the stack must never
# have found a transmit plug still open when it released its lock (the
# batching reverted in session 1 held frames that way and stalled for 6 s).
case_tcp_offload_download_under_cpu_load() {
	local hogs="" i rc=0
	mkdir -p srv
	tcp_mkfile srv/f 20M
	NSTACK_STATS=1 on_nstack timeout 100 python3 -u -m http.server --bind "$ADDR" \
		--directory srv 8090 >http.log 2>&1 &
	local srv=$!
	wait_file http.log "Serving HTTP" || return 1
	for i in 1 2; do
		timeout 90 sh -c 'while :; do :; done' &
		hogs="$hogs $!"
	done
	for i in $(seq 1 10); do
		in_peer timeout 30 curl -sS --fail -o "out$i" "http://$ADDR:8090/f" &&
			[ "$(sha srv/f)" = "$(sha "out$i")" ] || { rc=1; break; }
	done
	# shellcheck disable=SC2086
	kill $hogs 2>/dev/null
	# SIGTERM at its default action: the exit flush prints the counters.
	# Only python: timeout(1) would pass a second TERM on, which ends the
	# process during its flush, before it prints them.
	for i in $(pgrep -f "http.server --bind $ADDR --directory srv 8090"); do
		[ "$(cat "/proc/$i/comm" 2>/dev/null)" = timeout ] || kill -TERM "$i" 2>/dev/null
	done
	wait "$srv" 2>/dev/null
	[ "$rc" = 0 ] || return 1
	grep -q "stat EthOutGsoFrames" http.log || {
		echo "no super-frame was sent; the server's log ends:" >&2
		tail -5 http.log >&2
		return 1
	}
	! grep "stat EthOutPlugLeaks" http.log
}

# gro_download SIZE SECS [VAR=VALUE...]: with GRO on nstack0, curl under
# nstack (with the given environment) downloads SIZE from the peer within
# SECS, byte-exact, and no segment was dropped as corrupt.
gro_download() {
	local size=$1 secs=$2 rc=0
	shift 2
	mkdir -p srv
	tcp_mkfile srv/f "$size"
	ip netns exec "$NS" ethtool -K nstack0 gro on >/dev/null || return 1
	in_peer timeout $((secs + 10)) python3 -u -m http.server --bind "$PEER_ADDR" \
		--directory srv 8083 >http.log 2>&1 &
	if wait_file http.log "Serving HTTP"; then
		env "$@" NSTACK_STATS=1 ip netns exec "$NS" "$NSTACK" -- timeout "$secs" \
			curl -sS --fail -o out "http://$PEER_ADDR:8083/f" 2>stats.log || rc=1
	else
		rc=1
	fi
	ip netns exec "$NS" ethtool -K nstack0 gro off >/dev/null
	cat stats.log
	[ "$rc" = 0 ] && [ "$(sha srv/f)" = "$(sha out)" ] || return 1
	! grep -E "stat (TcpInCsumErrors|IpInCsumErrors)" stats.log
}

# A link with receive offload (GRO on nstack0, as on most real NICs): the
# kernel hands the packet socket frames of up to 64 KiB holding many
# segments, whose TCP checksum field covers none of them; the virtio_net_hdr
# before each says the kernel verified them. 100 MiB.
case_tcp_gro_link_curl_download() {
	gro_download 100M 70
}

# The same link with NSTACK_GSO=0: frames come without the virtio_net_hdr
# that says the kernel verified them (an interface a previous nstack left
# with GRO on). A frame longer than the link carries can only be GRO's, made
# of verified segments: every merged frame was dropped as corrupt before
# and the download stalled. 20 MiB.
case_tcp_gro_link_without_vnet_header_download() {
	gro_download 20M 40 NSTACK_GSO=0
}

# A 9000-byte MTU with every offload off on nstack0 (as bench/run.sh
# measures): libpcap then sizes its ring slots for MTU + 18 bytes, and a
# full frame behind the kernel's virtio-net header does not fit them
# (9008 of 9014 bytes): nstack receives without that header then, and
# sends through a packet socket of its own that keeps it. curl under nstack
# downloads 20 MiB of full-size frames byte-exact, none cut, and nc
# uploads them in super-frames.
case_tcp_jumbo_mtu_without_offloads_download() {
	local rc=0
	mkdir -p srv
	tcp_mkfile srv/f 20M
	ip netns exec "$NS" ethtool -K nstack0 gso off tso off gro off >/dev/null || return 1
	ip -n "$NS" link set nstack0 mtu 9000 && ip -n "$PEER" link set peer0 mtu 9000 || rc=1
	in_peer timeout 40 python3 -u -m http.server --bind "$PEER_ADDR" --directory srv 8087 \
		>http.log 2>&1 &
	if [ "$rc" = 0 ] && wait_file http.log "Serving HTTP"; then
		NSTACK_STATS=1 on_nstack timeout 30 curl -sS --fail -o out \
			"http://$PEER_ADDR:8087/f" 2>stats.log || rc=1
		# And sending: still in super-frames, through a send socket of its own.
		in_peer timeout 30 nc -l "$PEER_ADDR" 8088 >up.out &
		local ncpid=$!
		tcp_wait_listen 8088 && NSTACK_STATS=1 on_nstack timeout 30 nc -N "$PEER_ADDR" 8088 \
			<srv/f 2>upstats.log || rc=1
		wait $ncpid || rc=1
	else
		rc=1
	fi
	ip -n "$NS" link set nstack0 mtu 1500
	ip -n "$PEER" link set peer0 mtu 1500
	ip netns exec "$NS" ethtool -K nstack0 gso on tso on >/dev/null 2>&1
	cat stats.log upstats.log
	[ "$rc" = 0 ] && [ "$(sha srv/f)" = "$(sha out)" ] && [ "$(sha srv/f)" = "$(sha up.out)" ] ||
		return 1
	grep -q "stat EthOutGsoFrames" upstats.log || return 1
	! grep -E "stat EthInTruncated|frames are cut" stats.log upstats.log
}

# Urgent data exchange: urg_receiver ADDR PORT (a python server that waits
# for POLLPRI, reads up to the mark, checks ioctl(SIOCATMARK), takes the
# byte with recv(MSG_OOB) and reads the rest) and urg_sender ADDR PORT
# ("hello", "!" as MSG_OOB, " world"), each run by the side given.
urg_receiver() {
	"$@" timeout 20 python3 -c '
import fcntl, select, socket, struct, sys, time
l = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
c, _ = l.accept()
deadline = time.time() + 10
p = select.poll()
p.register(c, select.POLLIN | select.POLLPRI)
while time.time() < deadline and not any(ev & select.POLLPRI for _, ev in p.poll(1000)):
    pass
head = c.recv(100)
mark = struct.unpack("i", fcntl.ioctl(c, 0x8905, b"\0\0\0\0"))[0]
oob = c.recv(1, socket.MSG_OOB)
rest = b""
while len(rest) < 6:
    d = c.recv(100)
    if not d:
        break
    rest += d
print("head=%r mark=%d oob=%r rest=%r" % (head, mark, oob, rest), flush=True)
' "$URG_ADDR" "$URG_PORT"
}

urg_sender() {
	"$@" timeout 10 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
s.sendall(b"hello")
s.send(b"!", socket.MSG_OOB)
time.sleep(0.3)
s.sendall(b" world")
time.sleep(0.5)
s.close()' "$URG_ADDR" "$URG_PORT"
}

# Urgent data from a kernel client to a python server under nstack: the
# read stops at the mark, ioctl(SIOCATMARK) says 1, poll() reports POLLPRI,
# recv(MSG_OOB) gives the byte, and the stream goes on without it.
case_tcp_urgent_data_msg_oob() {
	URG_ADDR=198.18.0.2 URG_PORT=9131 urg_receiver on_nstack >srv.log 2>&1 &
	wait_file srv.log ready || { cat srv.log; return 1; }
	URG_ADDR=198.18.0.2 URG_PORT=9131 urg_sender in_peer || return 1
	wait
	cat srv.log
	grep -q "head=b.hello. mark=1 oob=b.!. rest=b. world." srv.log
}

# The other way: urgent data from a python client under nstack to a kernel
# server, which must see the same (URG and the pointer as Linux sends them).
case_tcp_urgent_data_msg_oob_sent() {
	URG_ADDR=198.18.0.1 URG_PORT=9132 urg_receiver in_peer >srv.log 2>&1 &
	wait_file srv.log ready || { cat srv.log; return 1; }
	URG_ADDR=198.18.0.1 URG_PORT=9132 urg_sender on_nstack || return 1
	wait
	cat srv.log
	grep -q "head=b.hello. mark=1 oob=b.!. rest=b. world." srv.log
}

# epoll_ctl() making a registration ready (here MOD to EPOLLOUT on a
# writable socket) while another thread sleeps in epoll_wait() on that set
# wakes the sleeper at once, as Linux's: apache's event MPM hands a socket
# that hit EAGAIN to its listener thread this way, and stalled mid-file
# when space came back before the registration. (A set whose first
# private registration comes while a thread already sleeps in it is not
# covered: that wait is the kernel's own.)
case_tcp_epoll_ctl_ready_wakes_sleeping_waiter() {
	in_peer timeout 20 python3 -c '
import socket
l = socket.create_server(("198.18.0.1", 9133))
c, _ = l.accept()
c.recv(1)' &
	local srv=$!
	tcp_wait_listen 9133 || return 1
	on_nstack timeout 20 python3 -c '
import select, socket, threading, time
s = socket.create_connection(("198.18.0.1", 9133))
ep = select.epoll()
ep.register(s.fileno(), select.EPOLLIN)
got = []
def waiter():
    t = time.monotonic()
    ev = ep.poll(8)
    got.append((time.monotonic() - t, ev))
th = threading.Thread(target=waiter)
th.start()
time.sleep(0.5)
ep.modify(s.fileno(), select.EPOLLOUT)
th.join()
waited, ev = got[0]
print("waited %.2f events %r" % (waited, ev))
s.send(b"x")' >ep.log 2>&1
	wait $srv
	cat ep.log
	python3 -c '
import re, sys
m = re.search(r"waited ([0-9.]+) events \[\((\d+), 4\)\]", open("ep.log").read())
sys.exit(0 if m and float(m.group(1)) < 2 else 1)'
}

# Two threads, each alone in its own epoll set, one connection in each. The
# first sleeps on the link and receives every frame itself (direct receive),
# also those for the second set's connection: an event it does not take for
# its own set must still wake the other thread (epoll.c, ep_catch_end), and
# its own events must reach it without a signal through the kernel set.
case_tcp_epoll_events_for_another_sets_thread() {
	in_peer timeout 30 python3 -c '
import socket, time
l = socket.create_server(("198.18.0.1", 9134))
a, _ = l.accept()
b, _ = l.accept()
time.sleep(1)  # both waiters asleep before the first byte
for i in range(40):
    (a if i % 2 else b).send(b"x")
    time.sleep(0.05)
a.recv(1)
b.recv(1)' &
	local srv=$!
	tcp_wait_listen 9134 || return 1
	on_nstack timeout 30 python3 -c '
import select, socket, threading, time
a = socket.create_connection(("198.18.0.1", 9134))
time.sleep(0.2)
b = socket.create_connection(("198.18.0.1", 9134))
lat = {"a": [], "b": []}
def waiter(name, s):
    ep = select.epoll()
    ep.register(s.fileno(), select.EPOLLIN)
    for _ in range(20):
        t = time.monotonic()
        ev = ep.poll(5)
        if not ev:
            lat[name].append(99)
            return
        lat[name].append(time.monotonic() - t)
        s.recv(10)
ta = threading.Thread(target=waiter, args=("a", a))
ta.start()
time.sleep(0.1)
tb = threading.Thread(target=waiter, args=("b", b))
tb.start()
ta.join()
tb.join()
a.send(b"y")
b.send(b"y")
# The first wait includes the peer'"'"'s pause; each later byte comes 0.1 s after the last.
print("a %d max %.3f b %d max %.3f" % (len(lat["a"]), max(lat["a"][1:] or [99]), len(lat["b"]), max(lat["b"][1:] or [99])))' >ep2.log 2>&1
	wait $srv
	cat ep2.log
	python3 -c '
import re, sys
m = re.search(r"a 20 max ([0-9.]+) b 20 max ([0-9.]+)", open("ep2.log").read())
sys.exit(0 if m and float(m.group(1)) < 1 and float(m.group(2)) < 1 else 1)'
}

# Sysctls changed while a program runs under nstack apply to the sockets it
# creates afterwards, as Linux's: after tcp_timestamps=0 and tcp_sack=0 in
# the namespace, the next connection negotiates neither (TCP_INFO options).
case_tcp_sysctl_change_applies_to_new_sockets() {
	local p=/proc/sys/net/ipv4
	in_ns sh -c "echo 1 >$p/tcp_timestamps; echo 1 >$p/tcp_sack" || return 1
	in_peer timeout 30 python3 -c '
import socket, sys
l = socket.create_server((sys.argv[1], 9112))
print("ready", flush=True)
for _ in range(2):
    c, _ = l.accept(); c.recv(10); c.close()
' "$PEER_ADDR" >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	on_nstack timeout 20 python3 -c '
import socket, sys, time
def opts():
    s = socket.create_connection((sys.argv[1], 9112), timeout=5)
    o = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[5]
    s.send(b"x"); s.close()
    return o
a = opts()
with open("/proc/sys/net/ipv4/tcp_timestamps", "w") as f: f.write("0")
with open("/proc/sys/net/ipv4/tcp_sack", "w") as f: f.write("0")
time.sleep(0.05)
b = opts()
print("options", a, b)
assert a & 3 == 3 and b & 3 == 0, (a, b)
' "$PEER_ADDR" >cli.log 2>&1
	local rc=$?
	in_ns sh -c "echo 1 >$p/tcp_timestamps; echo 1 >$p/tcp_sack"
	[ $rc = 0 ] || { cat cli.log; return 1; }
}

# TCP_INQ through the preload: python's recvmsg gets TCP_CM_INQ with the
# bytes still queued (then 1 at EOF); MSG_EOR sends are accepted and arrive;
# SO_ZEROCOPY sends are completed on the error queue (one merged range).
case_tcp_inq_eor_zerocopy_python() {
	in_peer timeout 30 python3 -c '
import socket, sys
l = socket.create_server((sys.argv[1], 9113))
print("ready", flush=True)
c, _ = l.accept()
c.sendall(bytes(range(256)) + bytes(44))
got = b""
while True:
    d = c.recv(65536)
    if not d: break
    got += d
print("peer got", len(got), flush=True)
c.close()
' "$PEER_ADDR" >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || return 1
	on_nstack timeout 20 python3 -c '
import select, socket, struct, sys, time
s = socket.create_connection((sys.argv[1], 9113), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, 36, 1)
assert s.getsockopt(socket.IPPROTO_TCP, 36) == 1
time.sleep(0.3)
def rd(n):
    d, anc, fl, _ = s.recvmsg(n, socket.CMSG_SPACE(4))
    inq = [struct.unpack("i", a[2])[0] for a in anc if a[0] == socket.IPPROTO_TCP and a[1] == 36]
    return d, inq
d, inq = rd(100)
assert d == bytes(range(100)) and inq == [200], (len(d), inq)
d, inq = rd(1000)
assert len(d) == 200 and inq == [0], (len(d), inq)
s.send(b"a" * 100, socket.MSG_EOR)
s.send(b"b" * 100, socket.MSG_EOR)
SO_ZEROCOPY, MSG_ZEROCOPY = 60, 0x4000000
s.setsockopt(socket.SOL_SOCKET, SO_ZEROCOPY, 1)
s.send(b"z" * 5000, MSG_ZEROCOPY)
s.send(b"z" * 5000, MSG_ZEROCOPY)
p = select.poll(); p.register(s, select.POLLIN)
assert p.poll(3000)[0][1] & select.POLLERR
time.sleep(0.3)
_, anc, fl, _ = s.recvmsg(0, 256, socket.MSG_ERRQUEUE)
assert fl & socket.MSG_ERRQUEUE and len(anc) == 1 and anc[0][:2] == (socket.IPPROTO_IP, 11), anc
eerr, origin, typ, code, pad, info, data = struct.unpack("IBBBBII", anc[0][2][:16])
assert (eerr, origin, code, info, data) == (0, 5, 1, 0, 1), (eerr, origin, code, info, data)
s.shutdown(socket.SHUT_WR)
d, inq = rd(100)
assert d == b"" and inq == [1], (d, inq)
print("ok")
' "$PEER_ADDR" >cli.log 2>&1 || { cat cli.log srv.log; return 1; }
	wait $srv || { cat srv.log; return 1; }
	grep -q 'peer got 10200' srv.log || { cat srv.log; return 1; }
}

# TCP Fast Open, client under nstack: curl --tcp-fastopen (TCP_FASTOPEN_CONNECT)
# fetches three times from a kernel server with Fast Open on; the first
# connection asks for a cookie, the next two carry the request in the SYN
# (the kernel counts TcpExtTCPFastOpenPassive 2). Byte for byte.
case_tcp_fastopen_curl_client() {
	in_peer sysctl -qw net.ipv4.tcp_fastopen=0x403 || return 1
	trap 'in_peer sysctl -qw net.ipv4.tcp_fastopen=1' RETURN
	mkdir -p www && head -c 300000 /dev/urandom >www/f
	in_peer timeout 30 python3 -m http.server --bind "$PEER_ADDR" --directory www 9114 \
		>http.log 2>&1 &
	wait_file http.log 'Serving HTTP' || return 1
	local before after
	before=$(in_peer nstat -az TcpExtTCPFastOpenPassive | awk '/FastOpenPassive /{print $2}')
	on_nstack timeout 20 curl -sS --fail --tcp-fastopen -H 'Connection: close' \
		-o c1 -o c2 -o c3 "http://$PEER_ADDR:9114/f" "http://$PEER_ADDR:9114/f?2" \
		"http://$PEER_ADDR:9114/f?3" || return 1
	after=$(in_peer nstat -az TcpExtTCPFastOpenPassive | awk '/FastOpenPassive /{print $2}')
	for f in c1 c2 c3; do
		[ "$(sha www/f)" = "$(sha $f)" ] || { echo "$f differs"; return 1; }
	done
	echo "kernel TcpExtTCPFastOpenPassive: $before -> $after"
	[ $((after - before)) -eq 2 ]
}

# TCP Fast Open, server under nstack: nginx "listen ... fastopen=16" with
# net.ipv4.tcp_fastopen=3 in its namespace; kernel curl --tcp-fastopen
# fetches three times: a cookie request, then two requests carried in the
# SYN and answered (the kernel counts TcpExtTCPFastOpenActive 2). Byte for byte.
case_tcp_fastopen_nginx_server() {
	in_ns sysctl -qw net.ipv4.tcp_fastopen=3 || return 1
	trap 'in_ns sysctl -qw net.ipv4.tcp_fastopen=1' RETURN
	mkdir -p www && head -c 300000 /dev/urandom >www/f
	mx_nginx_conf "$ADDR:9115 fastopen=16" "$TMP/www" >nginx.conf
	on_nstack timeout 40 nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx.conf" \
		>nginx.out 2>&1 &
	wait_file "$TMP/nginx/nginx.pid" . || { cat nginx.out; return 1; }
	wait_nstack_up || return 1
	local before after
	before=$(in_peer nstat -az TcpExtTCPFastOpenActive | awk '/FastOpenActive /{print $2}')
	in_peer timeout 20 curl -sS --fail --tcp-fastopen -H 'Connection: close' \
		-o c1 -o c2 -o c3 "http://$ADDR:9115/f" "http://$ADDR:9115/f?2" \
		"http://$ADDR:9115/f?3" || return 1
	after=$(in_peer nstat -az TcpExtTCPFastOpenActive | awk '/FastOpenActive /{print $2}')
	for f in c1 c2 c3; do
		[ "$(sha www/f)" = "$(sha $f)" ] || { echo "$f differs"; return 1; }
	done
	echo "kernel TcpExtTCPFastOpenActive: $before -> $after"
	[ $((after - before)) -eq 2 ]
}

# ECN (RFC 3168) with the kernel: the kernel client asks (its tcp_ecn=1),
# nstack's server agrees (tcp_ecn=2, the default): its SYN-ACK carries ECE
# and its data goes ECT(0), as the peer's capture shows; 5 MiB byte for byte.
case_tcp_ecn_negotiated_with_kernel_client() {
	in_peer sysctl -qw net.ipv4.tcp_ecn=1 || return 1
	trap 'in_peer sysctl -qw net.ipv4.tcp_ecn=2' RETURN
	mkdir -p www && head -c 5000000 /dev/urandom >www/f
	on_nstack timeout 40 python3 -m http.server 9116 --bind "$ADDR" --directory www \
		>http.log 2>&1 &
	wait_file http.log 'Serving HTTP' || return 1
	wait_nstack_up || return 1
	in_peer timeout 20 tcpdump -i peer0 -nn -w cap.pcap "tcp port 9116 and src $ADDR" \
		>/dev/null 2>&1 &
	local cap=$!
	sleep 1
	in_peer timeout 20 curl -sS --fail -o c1 "http://$ADDR:9116/f" || return 1
	sleep 0.5
	kill $cap
	wait $cap
	[ "$(sha www/f)" = "$(sha c1)" ] || { echo "c1 differs"; return 1; }
	local synack_ece ect0
	synack_ece=$(tcpdump -nn -r cap.pcap 'tcp[13] & 0x52 == 0x52' 2>/dev/null | wc -l)
	ect0=$(tcpdump -nn -r cap.pcap 'ip[1] & 3 == 2 and greater 1000' 2>/dev/null | wc -l)
	echo "SYN-ACK with ECE: $synack_ece, data segments ECT(0): $ect0"
	[ "$synack_ece" -ge 1 ] && [ "$ect0" -ge 100 ]
}

# splice(2) between a private socket and a pipe, both ways (python's
# os.splice under nstack): 2 MiB from a kernel server through socket ->
# pipe, and 2 MiB back through pipe -> socket, byte for byte.
case_tcp_splice_socket_pipe_python() {
	head -c 2097152 /dev/urandom >in
	in_peer timeout 30 python3 -c '
import socket, sys, hashlib
l = socket.create_server((sys.argv[1], 9117))
print("ready", flush=True)
c, _ = l.accept()
c.sendall(open(sys.argv[2], "rb").read())
c.shutdown(socket.SHUT_WR)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
print("peer got", n, h.hexdigest(), flush=True)
' "$PEER_ADDR" "$TMP/in" >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || return 1
	on_nstack timeout 20 python3 -c '
import os, socket, sys, threading, hashlib
s = socket.create_connection((sys.argv[1], 9117), timeout=10)
s.setblocking(True)
r, w = os.pipe()
h = hashlib.sha256(); got = [0]
def drain():
    while True:
        d = os.read(r, 65536)
        if not d: break
        h.update(d); got[0] += len(d)
t = threading.Thread(target=drain); t.start()
while True:
    n = os.splice(s.fileno(), w, 65536)
    if n == 0: break
os.close(w); t.join(); os.close(r)
print("pulled", got[0], h.hexdigest(), flush=True)
data = open(sys.argv[2], "rb").read()
r, w = os.pipe()
def fill():
    os.write(w, data); os.close(w)
t = threading.Thread(target=fill); t.start()
sent = 0
while sent < len(data):
    n = os.splice(r, s.fileno(), 65536)
    if n == 0: break
    sent += n
t.join(); os.close(r)
s.shutdown(socket.SHUT_WR)
s.recv(1)
print("pushed", sent, flush=True)
' "$PEER_ADDR" "$TMP/in" >cli.log 2>&1 || { cat cli.log; return 1; }
	wait $srv || { cat srv.log; return 1; }
	local want
	want=$(sha in)
	grep -q "pulled 2097152 $want" cli.log || { cat cli.log; return 1; }
	grep -q "peer got 2097152 $want" srv.log || { cat srv.log cli.log; return 1; }
}

# Direct receive (NSTACK_RX_DIRECT, on by default): a thread blocked in
# recv() sleeps on the link and processes the frames itself. A python client
# with blocking sockets exchanges 3000 requests of 1..3000 bytes with a
# kernel echo server, byte for byte; SO_RCVTIMEO still times out (EAGAIN
# after about its time), a signal whose handler raises still interrupts a
# recv() asleep on the link, and the counter shows frames did wake the
# receiver. The same with NSTACK_RX_DIRECT=0 wakes it never.
case_tcp_direct_receive_blocking_client() {
	local d
	in_peer timeout 60 python3 -c '
import socket
l = socket.create_server(("198.18.0.1", 9135))
print("ready", flush=True)
while True:
    c, _ = l.accept()
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.close()' >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	for d in 1 0; do
		NSTACK_RX_DIRECT=$d on_nstack timeout 60 python3 -c '
import hashlib, os, random, signal, socket, sys, time
r = random.Random(7)
s = socket.create_connection(("198.18.0.1", 9135))
h1, h2 = hashlib.sha256(), hashlib.sha256()
for i in range(3000):
    msg = r.randbytes(r.randint(1, 3000))
    h1.update(msg)
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += s.recv(len(msg) - len(got))
    h2.update(got)
print("echo", "ok" if h1.digest() == h2.digest() else "MISMATCH", flush=True)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, b"\x00\x00\x00\x00\x00\x00\x00\x00\x40\x0d\x03\x00\x00\x00\x00\x00")
t = time.monotonic()
try:
    s.recv(1)
    print("timeout MISSING")
except (BlockingIOError, socket.timeout, TimeoutError):
    print("timeout after %.2f s" % (time.monotonic() - t), flush=True)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, bytes(16))
class Alarm(Exception):
    pass
def raise_alarm(sig, frame):
    raise Alarm()
signal.signal(signal.SIGALRM, raise_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.2)
try:
    s.recv(1)
    print("signal MISSING")
except Alarm:
    print("signal interrupted", flush=True)
os.system("env -u LD_PRELOAD %s stat -c > stat.log 2>&1" % sys.argv[1])
s.close()' "$BUILD/nstack" >cli$d.log 2>&1
		cat cli$d.log
		grep -q "^echo ok" cli$d.log || return 1
		grep -q "^timeout after 0\.[23]" cli$d.log || return 1
		grep -q "^signal interrupted" cli$d.log || return 1
		# This namespace's live stack only ("nstack stat" lists them all).
		awk '/^stack / { u = /: live/ } /^  netns / { u = u && /this one/ } u' stat.log |
			grep EthRxDirectWakes >wakes.log
		cat wakes.log
		if [ $d = 1 ]; then
			[ -s wakes.log ] || return 1
		else
			[ ! -s wakes.log ] || return 1
		fi
	done
}

# epoll_wait() writes only the events it returns: a private registration
# disarmed by EPOLLONESHOT that gets another event leaves the program's
# array as it was when the call returns 0 (ep_oneshot_probe.c).
case_tcp_epoll_oneshot_array_untouched() {
	cc -O1 -Wall -Wextra -Werror -o "$TMP/ep_oneshot_probe" "$IT/ep_oneshot_probe.c" || return 1
	in_peer timeout 20 python3 -c '
import socket, time
l = socket.create_server(("198.18.0.1", 9136))
print("ready", flush=True)
c, _ = l.accept()
c.sendall(b"a")
time.sleep(0.3)
c.sendall(b"b")
time.sleep(1)' >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	on_nstack timeout 20 "$TMP/ep_oneshot_probe" 198.18.0.1 9136
	local rc=$?
	wait
	return $rc
}

# NSTACK_GRO (on by default): nstack turns the interface's receive offload
# on, and the kernel then hands the packet socket a flow's segments merged
# into frames of up to 64 KiB, which the stack takes whole (their checksums
# vouched for by the virtio-net header). A kernel server sends 16 MiB to a
# client under nstack, byte for byte: with NSTACK_GRO=0 the interface stays
# as it was (off) and frames are MTU-sized; by default nstack says it turned
# GRO on, ethtool shows it on, and the frames average well over one MTU.
# nstack caps the interface's gro_max_size (pcap_live.c, PCAP_LIVE_GRO_MAX)
# so that a merged frame fits a 64 KiB ring slot: the largest merges still
# arrive whole (no frame cut, byte-exact download, merging still on), and
# the receive ring maps 128 MiB in 64 KiB blocks, not 127 in 128 KiB ones.
case_tcp_gro_capped_to_fit_ring_slot() {
	local frames maps
	head -c $((16 << 20)) /dev/urandom >big
	in_ns ethtool -K nstack0 gro on || return 1
	in_ns ip link set dev nstack0 gro_max_size 65536 || return 1
	in_peer timeout 60 python3 -c '
import socket, sys
data = open(sys.argv[1], "rb").read()
l = socket.create_server(("198.18.0.1", 9137))
print("ready", flush=True)
c, _ = l.accept()
c.sendall(data)
c.close()' "$TMP/big" >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	env NSTACK_LOG=info NSTACK_STATS=1 ip netns exec "$NS" "$NSTACK" -- timeout 60 python3 -c '
import hashlib, os, socket
s = socket.create_connection(("198.18.0.1", 9137))
for l in open("/proc/%d/maps" % os.getpid()):
    if "socket:" in l:
        a, b = (int(x, 16) for x in l.split()[0].split("-"))
        print("ring", (b - a) >> 20, flush=True)
h = hashlib.sha256(); n = 0
while True:
    d = s.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), flush=True)' >cli.log 2>&1 || { cat cli.log; return 1; }
	cat cli.log | grep -v "stat"
	grep -q "got $((16 << 20)) $(sha big)" cli.log || return 1
	grep -q "set gro_max_size of nstack0" cli.log || return 1
	in_ns ip -d link show nstack0 | grep -q "gro_max_size 65024 " || return 1
	grep -q "^ring 128$" cli.log || return 1
	[ "$(awk '$2 == "stat" && $3 == "EthInTruncated" { print $4 }' cli.log)" -gt 0 ] 2>/dev/null &&
		return 1
	frames=$(awk '$2 == "stat" && $3 == "EthInFrames" { print $4 }' cli.log)
	[ -n "$frames" ] && [ $(((16 << 20) / frames)) -gt 3000 ] || { cat cli.log; return 1; }
}

case_tcp_gro_turned_on_and_merged_frames_received() {
	local mode bytes=$((16 << 20)) frames
	head -c $((16 << 20)) /dev/urandom >big
	in_ns ethtool -K nstack0 gro off || return 1
	in_peer timeout 60 python3 -c '
import socket, sys
data = open(sys.argv[1], "rb").read()
l = socket.create_server(("198.18.0.1", 9136))
print("ready", flush=True)
for _ in range(2):
    c, _ = l.accept()
    c.sendall(data)
    c.close()' "$TMP/big" >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	for mode in off default; do
		env $([ $mode = off ] && echo NSTACK_GRO=0) NSTACK_LOG=info NSTACK_STATS=1 \
			ip netns exec "$NS" "$NSTACK" -- timeout 60 python3 -c '
import hashlib, socket
s = socket.create_connection(("198.18.0.1", 9136))
h = hashlib.sha256(); n = 0
while True:
    d = s.recv(1 << 20)
    if not d: break
    h.update(d); n += len(d)
print("got", n, h.hexdigest(), flush=True)' >cli.$mode.log 2>&1 || { cat cli.$mode.log; return 1; }
		grep -q "got $((16 << 20)) $(sha big)" cli.$mode.log || { cat cli.$mode.log; return 1; }
		frames=$(awk '$2 == "stat" && $3 == "EthInFrames" { print $4 }' cli.$mode.log)
		echo "$mode: $frames frames for $bytes bytes of data, gro $(in_ns ethtool -k nstack0 |
			awk '/^generic-receive-offload/ { print $2 }')"
		[ -n "$frames" ] && [ "$frames" -gt 0 ] || { cat cli.$mode.log; return 1; }
		if [ $mode = off ]; then
			in_ns ethtool -k nstack0 | grep -q '^generic-receive-offload: off' || return 1
			! grep -q 'receive offload on' cli.$mode.log || return 1
			[ $((bytes / frames)) -le 1500 ] || return 1
		else
			in_ns ethtool -k nstack0 | grep -q '^generic-receive-offload: on' || return 1
			grep -q 'turned generic receive offload on for nstack0' cli.$mode.log || return 1
			[ $((bytes / frames)) -gt 3000 ] || return 1
		fi
	done
}
