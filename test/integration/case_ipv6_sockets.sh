# TCP and UDP over IPv6 through the preload: programs under nstack with
# NSTACK_ADDR6=2001:2::2/64 against kernel programs at 2001:2::1 on the
# peer (ip6_peer_up/ip6_peer_down in case_ipv6_nd.sh), data checked by
# SHA-256.

ADDR6=2001:2::2
PEER6=2001:2::1

# Waits (bounded) until nstack answers ping -6 at $ADDR6 (its DAD is over).
wait_nstack_up6() {
	local i
	for i in $(seq 1 60); do
		in_peer ping -6 -c 1 -W 1 -i 0.2 "$ADDR6" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nstack did not come up at $ADDR6" >&2
	return 1
}

# Servers that listen on "::" under nstack (python3 -m http.server --bind ::,
# node's listen(port), nc -6 -l, nginx "listen [::]:PORT ipv6only=off"): kernel curl reaches each
# over IPv6 and over IPv4, nc takes an upload over IPv6, byte for byte.
case_ipv6_tcp_servers_on_any_both_families() {
	ip6_tcp_servers
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_tcp_servers() {
	ip6_peer_up || return 1
	mkdir -p www && head -c 20000000 /dev/urandom >www/f && head -c 4000000 /dev/urandom >up
	export NSTACK_ADDR6=$ADDR6/64
	# --bind ::: with no --bind, python takes getaddrinfo(NULL)'s first answer,
	# which glibc orders by the kernel's own addresses in $NS (IPv4 there).
	on_nstack timeout 50 python3 -m http.server 9611 --bind :: --directory www >py.log 2>&1 &
	on_nstack timeout 50 node -e '
require("http").createServer((q, r) => {
  r.end("peer " + q.socket.remoteAddress + " family " + q.socket.remoteFamily + "\n");
}).listen(9612, () => console.log("listening"));' >node.log 2>&1 &
	on_nstack timeout 50 nc -6 -l 9613 </dev/null >nc.out &
	local ncpid=$!
	on_nstack timeout 50 socat -u TCP6-LISTEN:9615 CREATE:so.out &
	local sopid=$!
	mx_nginx_conf "[::]:9614 ipv6only=off" "$TMP/www" >nginx.conf
	on_nstack timeout 50 nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx.conf" \
		>nginx.out 2>&1 &
	unset NSTACK_ADDR6
	wait_file "$TMP/nginx/nginx.pid" . || { cat nginx.out; return 1; }
	wait_file py.log 'Serving HTTP on ::' || { cat py.log; return 1; }
	wait_file node.log listening || { cat node.log; return 1; }
	wait_nstack_up6 || return 1
	in_peer timeout 20 curl -sS --fail -o p6.out "http://[$ADDR6]:9611/f" || return 1
	in_peer timeout 20 curl -sS --fail -o p4.out "http://$ADDR:9611/f" || return 1
	[ "$(sha www/f)" = "$(sha p6.out)" ] || { echo "python over IPv6: differs"; return 1; }
	[ "$(sha www/f)" = "$(sha p4.out)" ] || { echo "python over IPv4: differs"; return 1; }
	grep -q "\"GET /f HTTP/1.1\" 200" py.log || { cat py.log; return 1; }
	grep -q "^$PEER6 " py.log || { cat py.log; return 1; }
	in_peer timeout 20 curl -sS --fail -o g6.out "http://[$ADDR6]:9614/f" || return 1
	in_peer timeout 20 curl -sS --fail -o g4.out "http://$ADDR:9614/f" || return 1
	[ "$(sha www/f)" = "$(sha g6.out)" ] && [ "$(sha www/f)" = "$(sha g4.out)" ] ||
		{ echo "nginx: differs"; return 1; }
	in_peer timeout 10 curl -sS --fail "http://[$ADDR6]:9612/" >n6.out || return 1
	in_peer timeout 10 curl -sS --fail "http://$ADDR:9612/" >n4.out || return 1
	cat n6.out n4.out
	grep -q "^peer $PEER6 family IPv6" n6.out || return 1
	grep -q "^peer ::ffff:$PEER_ADDR family IPv6" n4.out || return 1
	# nstack stat names the IPv6 listeners and address as ss would.
	in_ns timeout 10 "$NSTACK" stat >stat.out 2>&1 || { cat stat.out; return 1; }
	grep -Eq '^    tcp +LISTEN .*\[::\]:9611 ' stat.out || { cat stat.out; return 1; }
	grep -q ", $ADDR6/64" stat.out || { cat stat.out; return 1; }
	in_peer timeout 20 nc -6 -N "$ADDR6" 9613 <up || return 1
	wait $ncpid || return 1
	[ "$(sha up)" = "$(sha nc.out)" ] || { echo "nc upload: differs"; return 1; }
	in_peer timeout 20 socat -u FILE:up "TCP6:[$ADDR6]:9615" || return 1
	wait $sopid || return 1
	[ "$(sha up)" = "$(sha so.out)" ] || { echo "socat server upload: differs"; return 1; }
	# Served by nstack, not the kernel in $NS (which has IPv6 off on nstack0).
	! in_ns ss -Hltn | grep -E ':(9611|9612|9613|9614|9615)\b'
}

# Clients under nstack to kernel servers at [2001:2::1], each the first
# program on the stack (its address optimistic while DAD runs): curl -6
# downloads 100 MiB and uploads 100 MiB (PUT), nc -6 uploads, socat
# downloads; byte for byte.
case_ipv6_tcp_clients_curl_nc_socat() {
	ip6_tcp_clients
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_tcp_clients() {
	ip6_peer_up || return 1
	mkdir -p srv up
	head -c 100M /dev/urandom >srv/f
	head -c 4M /dev/urandom >small
	in_peer timeout 60 python3 -u -m http.server --bind "$PEER6" --directory srv 9621 \
		>http.log 2>&1 &
	in_peer timeout 60 python3 "$IT/mx_upload.py" "$PEER6" 9622 up 2 >upl.log 2>&1 &
	in_peer timeout 60 nc -6 -l "$PEER6" 9623 </dev/null >nc.out &
	local ncpid=$!
	in_peer timeout 60 socat -u FILE:small "TCP6-LISTEN:9624,bind=[$PEER6]" &
	local socatpid=$!
	wait_file http.log "Serving HTTP" || return 1
	wait_file upl.log ready || { cat upl.log; return 1; }
	tcp_wait_listen 9623 && tcp_wait_listen 9624 || return 1
	export NSTACK_ADDR6=$ADDR6/64
	on_nstack timeout 40 curl -6 -sS --fail -o d.out "http://[$PEER6]:9621/f" || return 1
	on_nstack timeout 40 curl -6 -sS --fail -T srv/f "http://[$PEER6]:9622/f" >put.out ||
		return 1
	on_nstack timeout 40 wget -6 -q -O w.out "http://[$PEER6]:9621/f" || return 1
	on_nstack timeout 40 wget -6 -q -O wput.out --method=PUT --body-file=small \
		"http://[$PEER6]:9622/w" || return 1
	on_nstack timeout 20 nc -6 -N "$PEER6" 9623 <small || return 1
	on_nstack timeout 20 socat -u "TCP6:[$PEER6]:9624" CREATE:s.out || return 1
	unset NSTACK_ADDR6
	wait $ncpid $socatpid || return 1
	[ "$(sha srv/f)" = "$(sha d.out)" ] || { echo "curl download: differs"; return 1; }
	cat put.out
	grep -q "^$(sha srv/f) 104857600" put.out || { echo "curl upload: differs"; return 1; }
	[ "$(sha srv/f)" = "$(sha up/f)" ] || { echo "curl upload: stored file differs"; return 1; }
	[ "$(sha srv/f)" = "$(sha w.out)" ] || { echo "wget download: differs"; return 1; }
	[ "$(sha small)" = "$(sha up/w)" ] || { echo "wget upload: stored file differs"; return 1; }
	[ "$(sha small)" = "$(sha nc.out)" ] || { echo "nc upload: differs"; return 1; }
	[ "$(sha small)" = "$(sha s.out)" ] || { echo "socat download: differs"; return 1; }
	# From nstack's address (the kernel in $NS has IPv6 off on nstack0).
	grep -q "connection from $ADDR6:" upl.log || { cat upl.log; return 1; }
	# NSTACK_BYPASS with an IPv6 prefix: the socket is the kernel's, which
	# has no IPv6 route in $NS, so the connect fails there.
	NSTACK_ADDR6=$ADDR6/64 NSTACK_BYPASS=2001:2::/120 NSTACK_LOG=info on_nstack timeout 10 \
		python3 -c '
import socket
try:
    socket.create_connection(("2001:2::1", 9621), timeout=3)
    print("connected")
except OSError as e:
    print("kernel said", e.errno)' >bypass.log 2>&1
	cat bypass.log
	grep -q "handed over to the kernel (2001:2::1 is the kernel's)" bypass.log &&
		grep -q "^kernel said" bypass.log
}

# iperf3 over IPv6 both roles: a client under nstack against a kernel
# iperf3 -s, then iperf3 -s under nstack (Debian's iperf3 listens on "::")
# against a kernel client; both directions each.
case_ipv6_tcp_iperf3_both_roles() {
	ip6_iperf3
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_iperf3() {
	ip6_peer_up || return 1
	export NSTACK_ADDR6=$ADDR6/64
	in_peer timeout 40 iperf3 -s -B "$PEER6" -p 5211 >srv.log 2>&1 &
	tcp_wait_listen 5211 || return 1
	on_nstack timeout 20 iperf3 -6 -c "$PEER6" -p 5211 -t 1 -J >c_up.json ||
		{ cat c_up.json; return 1; }
	tcp_iperf_ok c_up.json || return 1
	on_nstack timeout 20 iperf3 -6 -c "$PEER6" -p 5211 -t 1 -R -J >c_down.json ||
		{ cat c_down.json; return 1; }
	tcp_iperf_ok c_down.json || return 1
	on_nstack timeout 40 iperf3 -s -p 5212 --forceflush >nsrv.log 2>&1 &
	unset NSTACK_ADDR6
	wait_file nsrv.log "Server listening" || { cat nsrv.log; return 1; }
	wait_nstack_up6 || return 1
	in_peer timeout 20 iperf3 -c "$ADDR6" -p 5212 -t 1 -J >s_up.json || { cat s_up.json; return 1; }
	tcp_iperf_ok s_up.json || return 1
	in_peer timeout 20 iperf3 -c "$ADDR6" -p 5212 -t 1 -R -J >s_down.json ||
		{ cat s_down.json; return 1; }
	tcp_iperf_ok s_down.json || return 1
	grep -q '"remote_host":[[:space:]]*"2001:2::1"' s_up.json || grep -q "$ADDR6" s_up.json ||
		{ grep -m3 host s_up.json; return 1; }
	# Served by nstack, not the kernel in $NS.
	! in_ns ss -Hltn | grep -E ':5212\b'
}

# sshd under nstack listening on "::" (AddressFamily any, its default):
# from the kernel peer ssh -6 runs a command, scp -6 copies 20 MiB up and
# down; ssh over IPv4 to the same listener works too.
case_ipv6_tcp_sshd_ssh6_scp() {
	ip6_sshd
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_sshd() {
	ip6_peer_up || return 1
	mp_open_tmp || return 1
	ssh_lab_setup 9631 "Subsystem sftp /usr/lib/openssh/sftp-server" "LogLevel VERBOSE" ||
		return 1
	NSTACK_ADDR6=$ADDR6/64 on_nstack timeout 50 /usr/sbin/sshd -D -e -f "$TMP/sshd_config" \
		>sshd.log 2>&1 &
	local srv=$!
	mp_wait sshd.log 'Server listening on :: port 9631' || return 1
	wait_nstack_up6 || return 1
	local o=(-F /dev/null -i ssh/user_key -o StrictHostKeyChecking=no
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR)
	# shellcheck disable=SC2016
	in_peer timeout 15 ssh -6 "${o[@]}" -p 9631 "root@$ADDR6" 'echo v6-$((6 * 7)) $SSH_CONNECTION' \
		>cmd.out || { tail sshd.log; return 1; }
	cat cmd.out
	grep -q "^v6-42 $PEER6 [0-9]* $ADDR6 9631$" cmd.out || return 1
	head -c 20M /dev/urandom >up
	head -c 20M /dev/urandom >down
	in_peer timeout 25 scp -6 -q "${o[@]}" -P 9631 up "root@[$ADDR6]:$TMP/got_up" ||
		{ tail sshd.log; return 1; }
	mp_same up got_up || return 1
	in_peer timeout 25 scp -6 -q "${o[@]}" -P 9631 "root@[$ADDR6]:$TMP/down" got_down ||
		{ tail sshd.log; return 1; }
	mp_same down got_down || return 1
	in_peer timeout 15 ssh -4 "${o[@]}" -p 9631 "root@$ADDR" 'echo v4-ok' >cmd4.out ||
		{ tail sshd.log; return 1; }
	grep -q '^v4-ok$' cmd4.out || return 1
	kill -TERM "$(cat ssh/sshd.pid)"
	wait $srv
	return 0
}

# apache2 with "Listen PORT" (no address: it binds "::", dual-stack) under
# nstack, master and children: kernel curl fetches 20 MiB over IPv6 and IPv4.
case_ipv6_tcp_apache2_listen_port() {
	ip6_apache
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_apache() {
	ip6_peer_up || return 1
	mp_open_tmp || return 1
	mkdir -p www apache/run
	head -c 20M /dev/urandom >www/big
	mp_apache_conf event 9641 9641 >apache.conf
	NSTACK_ADDR6=$ADDR6/64 on_nstack timeout 50 apache2 -f "$TMP/apache.conf" -DFOREGROUND \
		>apache.out 2>&1 &
	local srv=$!
	mp_wait apache/error.log 'resuming normal operations' || { cat apache.out; return 1; }
	wait_nstack_up6 || return 1
	in_peer timeout 20 curl -sS --fail -o o6 "http://[$ADDR6]:9641/big" ||
		{ tail apache/error.log; return 1; }
	in_peer timeout 20 curl -sS --fail -o o4 "http://$ADDR:9641/big" ||
		{ tail apache/error.log; return 1; }
	mp_same www/big o6 o4 || return 1
	! in_ns ss -Hltn | grep -E ':9641\b' || return 1
	kill -TERM $srv 2>/dev/null
	wait $srv
	return 0
}

# SLAAC from a kernel router: radvd in the peer namespace advertises
# 2001:2:0:5::/64; nstack with NSTACK_IPV6=1 (no static address) forms
# 2001:2:0:5:<EUI-64 of its MAC>, serves python's http.server on it, and a
# second program joining the stack connects from it to the peer.
case_ipv6_tcp_slaac_from_radvd() {
	ip6_slaac
	local rc=$?
	[ -f radvd.pid ] && kill "$(cat radvd.pid)" 2>/dev/null
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=0
	ip6_peer_down
	return $rc
}

ip6_slaac() {
	ip6_peer_up || return 1
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	in_peer ip -6 addr replace 2001:2:0:5::1/64 dev peer0 nodad || return 1
	cat >radvd.conf <<-EOF
		interface peer0 {
			AdvSendAdvert on;
			MinRtrAdvInterval 3;
			MaxRtrAdvInterval 4;
			prefix 2001:2:0:5::/64 { AdvOnLink on; AdvAutonomous on; };
		};
	EOF
	in_peer timeout 60 radvd -n -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -m stderr \
		>radvd.log 2>&1 &
	# nstack's address: the prefix and the modified EUI-64 of nstack0's MAC.
	local mac a
	mac=$(in_ns cat /sys/class/net/nstack0/address) || return 1
	a=$(python3 -c '
import ipaddress, sys
m = bytes.fromhex(sys.argv[1].replace(":", ""))
iid = bytes([m[0] ^ 2]) + m[1:3] + b"\xff\xfe" + m[3:]
print(ipaddress.IPv6Address(bytes.fromhex("20010002000000050000000000000000")[:8] + iid))' "$mac")
	echo "expecting $a"
	mkdir -p www && head -c 5M /dev/urandom >www/f
	NSTACK_IPV6=1 on_nstack timeout 40 python3 -m http.server 9651 --bind :: --directory www \
		>py.log 2>&1 &
	wait_file py.log 'Serving HTTP' || { cat py.log; return 1; }
	local i
	for i in $(seq 1 100); do
		in_peer ping -6 -c 1 -W 1 "$a" >/dev/null 2>&1 && break
		sleep 0.1
	done
	in_peer timeout 10 curl -sS --fail -o o6 "http://[$a]:9651/f" || { cat radvd.log; return 1; }
	[ "$(sha www/f)" = "$(sha o6)" ] || return 1
	in_peer timeout 40 nc -6 -l 2001:2:0:5::1 9652 </dev/null >nc.out &
	local nc=$!
	tcp_wait_listen 9652 || return 1
	NSTACK_IPV6=1 on_nstack timeout 10 python3 -c '
import socket, sys
c = socket.create_connection(("2001:2:0:5::1", 9652), timeout=5)
c.sendall(c.getsockname()[0].encode())
c.close()' || return 1
	wait $nc
	cat nc.out; echo
	[ "$(cat nc.out)" = "$a" ]
}


# UDP over IPv6: an echo server on "::" under nstack (python, dual-stack)
# echoes datagrams from a kernel client over IPv6 and over IPv4, then a
# client under nstack echoes them off a kernel server at [2001:2::1]; byte
# for byte. ip6_udp_echo SIZE: the datagram size.
ip6_udp_echo() {
	local size=$1
	ip6_peer_up || return 1
	NSTACK_ADDR6=$ADDR6/64 NSTACK_STATS=1 on_nstack timeout 30 python3 "$IT/udp_echo.py" 9661 3 :: \
		>srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	wait_nstack_up6 || return 1
	local client='
import os, socket, sys
peer, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in peer else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(20):
    d = os.urandom(size)
    s.sendto(d, (peer, port))
    r, a = s.recvfrom(65535)
    assert r == d and a[0] == peer, (i, len(r), a)
print("echo ok", flush=True)'
	in_peer timeout 20 python3 -c "$client" "$ADDR6" 9661 "$size" || return 1
	in_peer timeout 20 python3 -c "$client" "$ADDR" 9661 "$size" || return 1
	wait $srv
	cat srv.log
	grep -q '^echoed 40' srv.log || return 1
	grep -Eq 'stat Udp6InDatagrams 20$' srv.log || return 1
	# The client's counters below are its own stack's, not the server's.
	wait_stacks_gone || return 1
	in_peer timeout 30 python3 "$IT/udp_echo.py" 9662 3 "$PEER6" >ksrv.log 2>&1 &
	wait_file ksrv.log ready || return 1
	NSTACK_ADDR6=$ADDR6/64 NSTACK_STATS=1 on_nstack timeout 20 python3 -c "$client" "$PEER6" 9662 \
		"$size" >cli.log 2>&1 || { cat cli.log; return 1; }
	grep -q 'stat Udp6OutDatagrams 20$' cli.log || { cat cli.log; return 1; }
}

case_ipv6_udp_echo_1200_byte_datagrams() {
	ip6_udp_echo 1200
	local rc=$?
	ip6_peer_down
	return $rc
}

# ping -6 under nstack (an ICMPv6 datagram socket, pingv6_prot) to the
# kernel peer: 3 requests, 3 replies. The peer's ping -6 to nstack is
# case_ipv6_preload_ping6_from_peer.
case_ipv6_ping6_nstack_to_peer() {
	ip6_peer_up || return 1
	# The peer routes (for the "no route" error below): set well before.
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=1
	NSTACK_ADDR6=$ADDR6/64 NSTACK_GW6=$PEER6 NSTACK_STATS=1 on_nstack timeout 15 ping -6 -c 3 -i 0.2 -W 4 "$PEER6" \
		>ping.log 2>&1
	local rc=$?
	# 3000-byte echoes: fragmented both ways.
	NSTACK_ADDR6=$ADDR6/64 NSTACK_GW6=$PEER6 NSTACK_STATS=1 on_nstack timeout 15 ping -6 -c 2 -i 0.2 -W 4 -s 3000 \
		"$PEER6" >big.log 2>&1
	local rc2=$?
	# Through the peer as a router to a prefix it has no route for: its
	# "no route" error reaches ping's socket (IPV6_RECVERR), as on Linux.
	# (Every run names the router: a run may join the stack the previous
	# one left, whose settings it keeps.)
	NSTACK_ADDR6=$ADDR6/64 NSTACK_GW6=$PEER6 NSTACK_STATS=1 on_nstack timeout 15 ping -6 -c 2 -i 0.5 \
		-W 3 2001:2:0:99::1 >unreach.log 2>&1
	# -M do: no fragments from the socket; the refusal is a local error
	# that ping reads from its error queue (and so does the kernel's ping).
	NSTACK_ADDR6=$ADDR6/64 NSTACK_GW6=$PEER6 on_nstack timeout 15 ping -6 -c 1 -W 2 -M do \
		-s 2000 "$PEER6" >mdo.log 2>&1
	in_peer timeout 15 ping -6 -c 1 -W 2 -M do -s 2000 "$ADDR6" >kmdo.log 2>&1
	# To all nodes: the peer answers, and so does nstack itself through
	# IPV6_MULTICAST_LOOP (Linux's ping shows its own host as well).
	NSTACK_ADDR6=$ADDR6/64 NSTACK_GW6=$PEER6 on_nstack timeout 15 ping -6 -c 2 -i 0.3 -W 2 \
		ff02::1%nstack0 >allnodes.log 2>&1
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=0
	ip6_peer_down
	cat ping.log big.log unreach.log mdo.log kmdo.log allnodes.log
	[ $rc = 0 ] && grep -q '3 received' ping.log && grep -q 'stat Icmp6OutEchos 3$' ping.log &&
		[ $rc2 = 0 ] && grep -q '2 received' big.log && grep -Eq 'stat Ip6ReasmOKs 2$' big.log &&
		grep -Eq "From $PEER6 icmp_seq=[12] Destination unreachable: No route" unreach.log &&
		grep -q "local error: message too long, mtu: 1500" mdo.log &&
		[ "$(grep -o 'from fe80::[0-9a-f:]*' allnodes.log | sort -u | wc -l)" = 2 ]
}

# The same with 8000-byte datagrams: fragmented on the 1500-byte link, so
# nstack reassembles what the kernel sends and fragments what it sends.
case_ipv6_udp_echo_8000_byte_datagrams() {
	ip6_udp_echo 8000
	local rc=$?
	ip6_peer_down
	[ $rc = 0 ] || return $rc
	grep -Eq 'stat Ip6ReasmOKs [1-9]' srv.log && grep -Eq 'stat Ip6FragCreates [1-9]' srv.log
}
