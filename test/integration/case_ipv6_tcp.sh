# TCP over IPv6 through the preload: programs under nstack with
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
# node's listen(port), nc -6 -l): kernel curl reaches each
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
	unset NSTACK_ADDR6
	wait_file py.log 'Serving HTTP on ::' || { cat py.log; return 1; }
	wait_file node.log listening || { cat node.log; return 1; }
	wait_nstack_up6 || return 1
	in_peer timeout 20 curl -sS --fail -o p6.out "http://[$ADDR6]:9611/f" || return 1
	in_peer timeout 20 curl -sS --fail -o p4.out "http://$ADDR:9611/f" || return 1
	[ "$(sha www/f)" = "$(sha p6.out)" ] || { echo "python over IPv6: differs"; return 1; }
	[ "$(sha www/f)" = "$(sha p4.out)" ] || { echo "python over IPv4: differs"; return 1; }
	grep -q "\"GET /f HTTP/1.1\" 200" py.log || { cat py.log; return 1; }
	grep -q "^$PEER6 " py.log || { cat py.log; return 1; }
	in_peer timeout 10 curl -sS --fail "http://[$ADDR6]:9612/" >n6.out || return 1
	in_peer timeout 10 curl -sS --fail "http://$ADDR:9612/" >n4.out || return 1
	cat n6.out n4.out
	grep -q "^peer $PEER6 family IPv6" n6.out || return 1
	grep -q "^peer ::ffff:$PEER_ADDR family IPv6" n4.out || return 1
	in_peer timeout 20 nc -6 -N "$ADDR6" 9613 <up || return 1
	wait $ncpid || return 1
	[ "$(sha up)" = "$(sha nc.out)" ] || { echo "nc upload: differs"; return 1; }
	# Served by nstack, not the kernel in $NS (which has IPv6 off on nstack0).
	! in_ns ss -Hltn | grep -E ':(9611|9612|9613)\b'
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
	in_peer timeout 60 python3 "$IT/mx_upload.py" "$PEER6" 9622 up 1 >upl.log 2>&1 &
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
	on_nstack timeout 20 nc -6 -N "$PEER6" 9623 <small || return 1
	on_nstack timeout 20 socat -u "TCP6:[$PEER6]:9624" CREATE:s.out || return 1
	unset NSTACK_ADDR6
	wait $ncpid $socatpid || return 1
	[ "$(sha srv/f)" = "$(sha d.out)" ] || { echo "curl download: differs"; return 1; }
	cat put.out
	grep -q "^$(sha srv/f) 104857600" put.out || { echo "curl upload: differs"; return 1; }
	[ "$(sha srv/f)" = "$(sha up/f)" ] || { echo "curl upload: stored file differs"; return 1; }
	[ "$(sha small)" = "$(sha nc.out)" ] || { echo "nc upload: differs"; return 1; }
	[ "$(sha small)" = "$(sha s.out)" ] || { echo "socat download: differs"; return 1; }
	# From nstack's address (the kernel in $NS has IPv6 off on nstack0).
	grep -q "connection from $ADDR6:" upl.log || { cat upl.log; return 1; }
}
