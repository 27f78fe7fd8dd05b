# Link faults: the interface goes down and up, is deleted, or the peer
# vanishes. Cases that break their link use a veth pair of their own
# (lf0 in $NS, lf1 in $PEER, 198.18.1.0/24), not the lab's.

LF_ADDR=198.18.1.2
LF_PEER=198.18.1.1

lf_up() {
	ip -n "$NS" link del lf0 2>/dev/null
	ip -n "$NS" link add lf0 type veth peer name lf1 || return 1
	ip -n "$NS" link set lf1 netns "$PEER" || return 1
	in_ns ethtool -K lf0 tx off >/dev/null 2>&1
	in_peer ethtool -K lf1 tx off >/dev/null 2>&1
	in_ns sysctl -qw net.ipv4.conf.lf0.arp_ignore=8 2>/dev/null
	ip -n "$NS" link set lf0 up && ip -n "$PEER" link set lf1 up || return 1
	ip -n "$PEER" addr add "$LF_PEER/24" dev lf1
}

lf_down() { ip -n "$NS" link del lf0 2>/dev/null || true; }

# Runs a program under nstack on lf0.
lf_nstack() {
	in_ns env NSTACK_IFACE=lf0 NSTACK_ADDR="$LF_ADDR/24" NSTACK_GW=none "$NSTACK" -- "$@"
}

lf_wait_port() {
	for _ in $(seq 1 50); do
		in_peer ss -ltn | grep -q ":$1 " && return 0
		sleep 0.1
	done
	echo "nothing listens on $1 in $PEER"
	return 1
}

# The interface goes down for 2 s in the middle of a download and comes
# back: the transfer resumes (the sender retransmits, within its RTO
# backoff, as it would to the kernel) and completes byte for byte. The
# sender paces itself over ~5 s, so the outage is in the middle of it.
case_linkfault_down_up_during_download() {
	lf_up || return 1
	trap lf_down RETURN
	head -c $((12 << 20)) /dev/urandom >"$TMP/blob"
	in_peer timeout 60 python3 - "$LF_PEER" "$TMP/blob" >"$TMP/srv.log" 2>&1 <<'PY' &
import socket, sys, time
ls = socket.create_server((sys.argv[1], 8090))
data = open(sys.argv[2], "rb").read()
c, _ = ls.accept()
for off in range(0, len(data), 128 << 10):
    c.sendall(data[off:off + (128 << 10)])
    time.sleep(0.05)
c.close()
PY
	lf_wait_port 8090 || return 1
	local retrans0
	retrans0=$(in_peer nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}')
	lf_nstack timeout 60 socat -u "TCP:$LF_PEER:8090" "CREATE:$TMP/got" 2>"$TMP/cli.err" &
	local cli=$!
	sleep 1.5
	ip -n "$NS" link set lf0 down
	sleep 2
	ip -n "$NS" link set lf0 up
	wait $cli
	local rc=$?
	local retrans
	retrans=$(in_peer nstat -az TcpRetransSegs | awk '/TcpRetransSegs/ {print $2}')
	cat "$TMP/cli.err" "$TMP/srv.log"
	echo "sender retransmitted $((retrans - retrans0)) segments"
	[ $rc -eq 0 ] && [ "$(sha "$TMP/got")" = "$(sha "$TMP/blob")" ] &&
		[ $((retrans - retrans0)) -gt 0 ] # the outage did cost the sender segments
}

# The interface is deleted under a program with a connection open: its
# blocked recv() and later calls fail (no crash, no hang), one log line.
case_linkfault_interface_deleted() {
	lf_up || return 1
	trap lf_down RETURN
	in_peer timeout 30 socat -u TCP-LISTEN:8091,bind="$LF_PEER",reuseaddr OPEN:/dev/null &
	lf_wait_port 8091 || return 1
	lf_nstack timeout 30 python3 - "$LF_PEER" >"$TMP/out" 2>"$TMP/err" <<'PY' &
import errno, socket, sys, time
peer = sys.argv[1]
c = socket.create_connection((peer, 8091), timeout=5)
c.settimeout(20)
print("connected", flush=True)
t = time.monotonic()
try:
    c.recv(100)
    sys.exit("recv returned")
except OSError as e:
    print("recv:", errno.errorcode.get(e.errno, e.errno), round(time.monotonic() - t, 1), flush=True)
try:
    socket.create_connection((peer, 8091), timeout=5)
    sys.exit("second connect succeeded")
except OSError as e:
    print("connect:", errno.errorcode.get(e.errno, e.errno), flush=True)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", (peer, 9))
    print("udp: sent", flush=True)
except OSError as e:
    print("udp:", errno.errorcode.get(e.errno, e.errno), flush=True)
print("done")
PY
	local py=$!
	wait_file "$TMP/out" connected || { cat "$TMP/err"; return 1; }
	sleep 0.5
	ip -n "$NS" link del lf0
	wait $py
	local rc=$?
	cat "$TMP/out" "$TMP/err"
	[ $rc -eq 0 ] && grep -q '^recv: ENETDOWN' "$TMP/out" &&
		grep -q '^connect: ENETDOWN' "$TMP/out" && grep -q '^udp: ENETDOWN' "$TMP/out" &&
		[ "$(grep -c '^nstack:' "$TMP/err")" -eq 1 ] && grep -q 'lf0 is gone' "$TMP/err"
}

# The peer vanishes (every frame from us dropped at its door): keepalive
# ends an idle connection, TCP_USER_TIMEOUT one with data unacknowledged,
# both with ETIMEDOUT, as Linux.
case_linkfault_peer_vanishes_timeouts() {
	lf_up || return 1
	trap 'lf_down; in_peer nft delete table netdev lfhole 2>/dev/null' RETURN
	in_peer timeout 30 socat -u TCP-LISTEN:8092,bind="$LF_PEER",reuseaddr,fork OPEN:/dev/null &
	lf_wait_port 8092 || return 1
	lf_nstack timeout 30 python3 - "$LF_PEER" "$TMP/hole" >"$TMP/out" 2>"$TMP/err" <<'PY' &
import errno, os, socket, sys, time
peer = sys.argv[1]
ka = socket.create_connection((peer, 8092), timeout=5)
ka.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
ka.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
ka.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
ka.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
ut = socket.create_connection((peer, 8092), timeout=5)
ut.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 1500)
print("connected", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.05)
ut.sendall(b"x" * 20000)
for name, s in (("keepalive", ka), ("user_timeout", ut)):
    s.settimeout(20)
    t = time.monotonic()
    try:
        s.recv(10)
        print(name, "recv returned")
    except OSError as e:
        print(name + ":", errno.errorcode.get(e.errno, e.errno), round(time.monotonic() - t, 1), flush=True)
print("done")
PY
	local py=$!
	wait_file "$TMP/out" connected || { cat "$TMP/err"; return 1; }
	in_peer nft -f - <<-EOF || return 1
		table netdev lfhole {
			chain in {
				type filter hook ingress device lf1 priority 0; policy drop;
			}
		}
	EOF
	touch "$TMP/hole"
	wait $py
	local rc=$?
	cat "$TMP/out" "$TMP/err"
	[ $rc -eq 0 ] && grep -q '^keepalive: ETIMEDOUT' "$TMP/out" &&
		grep -q '^user_timeout: ETIMEDOUT' "$TMP/out"
}
