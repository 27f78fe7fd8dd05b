# AF_INET6 sockets under nstack (stack/af_inet6.c). nstack carries IPv4
# only so far: an AF_INET6 socket is dual-stack (IPV6_V6ONLY off, Linux's
# default) and serves IPv4 through v4-mapped addresses, so servers that
# listen on "::" by default are reached over IPv4 and name their clients
# ::ffff:198.18.0.1; a socket made IPv6-only goes to the kernel.

# Servers that listen on "::": node's listen(port) with no host, python's
# http.server --bind ::, nginx "listen [::]:PORT ipv6only=off"; kernel curl
# over IPv4, byte for byte, and node names the peer ::ffff:198.18.0.1.
case_ipv6_dual_stack_servers_over_ipv4() {
	mkdir -p www && head -c 5000000 /dev/urandom >www/f
	on_nstack timeout 40 node -e '
require("http").createServer((q, r) => {
  r.end("peer " + q.socket.remoteAddress + " local " + q.socket.localAddress +
        " family " + q.socket.remoteFamily + "\n");
}).listen(9601, () => console.log("listening", JSON.stringify(
  require("net").createServer().address())));' >node.log 2>&1 &
	on_nstack timeout 40 python3 -m http.server 9602 --bind :: --directory www >py.log 2>&1 &
	mx_nginx_conf "[::]:9603 ipv6only=off" "$TMP/www" >nginx.conf
	on_nstack timeout 40 nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx.conf" \
		>nginx.out 2>&1 &
	wait_file py.log 'Serving HTTP on ::' || { cat py.log; return 1; }
	wait_file "$TMP/nginx/nginx.pid" . || { cat nginx.out; return 1; }
	wait_nstack_up || return 1
	local i
	for i in $(seq 1 50); do
		in_peer curl -sS -m 5 "http://$ADDR:9601/" >node.out 2>&1 && break
		sleep 0.1
	done
	cat node.out
	grep -q "peer ::ffff:$PEER_ADDR local ::ffff:$ADDR family IPv6" node.out || return 1
	in_peer timeout 20 curl -sS --fail -o p.out "http://$ADDR:9602/f" || return 1
	in_peer timeout 20 curl -sS --fail -o n.out "http://$ADDR:9603/f" || return 1
	[ "$(sha www/f)" = "$(sha p.out)" ] || { echo "python: differs"; return 1; }
	[ "$(sha www/f)" = "$(sha n.out)" ] || { echo "nginx: differs"; return 1; }
	grep -q "::ffff:$PEER_ADDR" py.log || { cat py.log; return 1; }
	# The sockets are nstack's: the kernel in $NS listens on none of the ports.
	! in_ns ss -Hltn | grep -E ':(9601|9602|9603)\b'
}

# Clients on AF_INET6 sockets: curl to http://[::ffff:198.18.0.1]:PORT/, a
# python UDP client and a TCP client naming the peer v4-mapped; an
# IPV6_V6ONLY socket is handed to the kernel (nstack has no IPv6 yet).
case_ipv6_dual_stack_clients_and_v6only_handover() {
	mkdir -p www && head -c 3000000 /dev/urandom >www/f
	in_peer timeout 40 python3 -m http.server --bind "$PEER_ADDR" --directory www 9604 \
		>http.log 2>&1 &
	in_peer timeout 40 python3 "$IT/udp_echo.py" 9605 20 >udp.log 2>&1 &
	wait_file http.log 'Serving HTTP' || return 1
	wait_file udp.log ready || return 1
	on_nstack timeout 20 curl -sS --fail -o c.out "http://[::ffff:$PEER_ADDR]:9604/f" || return 1
	[ "$(sha www/f)" = "$(sha c.out)" ] || { echo "curl: differs"; return 1; }
	NSTACK_LOG=info on_nstack timeout 20 python3 - "$PEER_ADDR" >cli.log 2>&1 <<-'PY' || { cat cli.log; return 1; }
		import socket, sys
		peer = "::ffff:" + sys.argv[1]
		u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
		u.settimeout(5)
		for i in range(20):
		    u.sendto(b"x%d" % i * 500, (peer, 9605))
		    d, a = u.recvfrom(65536)
		    assert d == b"x%d" % i * 500 and a[0] == peer and a[1] == 9605, (d[:8], a)
		t = socket.create_connection((peer, 9604), timeout=5)
		assert t.family == socket.AF_INET6 and t.getpeername()[0] == peer, t.getpeername()
		assert t.getsockname()[0].startswith("::ffff:198.18."), t.getsockname()
		t.sendall(b"GET /f HTTP/1.0\r\n\r\n")
		assert t.recv(12).startswith(b"HTTP/1.0 200")
		v = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
		assert v.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
		v.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
		assert v.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
		v.bind(("::", 9606))
		v.listen()
		print("ok", flush=True)
	PY
	grep -q '^ok' cli.log || { cat cli.log; return 1; }
	grep -q 'IPV6_V6ONLY: handed over to the kernel' cli.log || { cat cli.log; return 1; }
	# ... and that IPv6-only listener earns one warning: nstack's clients cannot reach it.
	grep -q 'listens on \[::\]:9606 through the kernel, not nstack' cli.log || { cat cli.log; return 1; }
	# net.ipv6.bindv6only=1: AF_INET6 sockets are born IPv6-only, the kernel's.
	in_ns sysctl -qw net.ipv6.bindv6only=1 || return 1
	NSTACK_LOG=info on_nstack timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
assert s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
print("v6only ok")' >b.log 2>&1
	local rc=$?
	in_ns sysctl -qw net.ipv6.bindv6only=0
	[ $rc = 0 ] && grep -q 'v6only ok' b.log && grep -q 'bindv6only=1' b.log || { cat b.log; return 1; }
}
