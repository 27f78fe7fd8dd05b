# Name resolution over nstack (preload/resolve.c, c-ares underneath): the
# nstack namespace's resolver files are its own (/etc/netns/$NS/..., which
# ip netns exec mounts over /etc), naming a dnsmasq in the kernel peer as
# the only DNS server; the kernel in $NS has no address to reach it, so a
# lookup that does not go through nstack fails.

# Resolver files for $NS and a dnsmasq in the peer answering lab.test
# (NXDOMAIN for other lab.test names: --local). Put back to the lab's
# (loopback only) when the case's shell exits.
rs_lab() {
	local d="/etc/netns/$NS"
	mkdir -p "$d" || return 1
	printf 'nameserver %s\nsearch lab.test\noptions ndots:1 timeout:2 attempts:2\n' \
		"$PEER_ADDR" >"$d/resolv.conf"
	printf '127.0.0.1 localhost\n%s filehost.lab.test filehost\n' "$PEER_ADDR" >"$d/hosts"
	printf 'hosts: files dns\n' >"$d/nsswitch.conf"
	trap '"$ROOT/test/lab.sh" resolver "${NS%-ns}" >/dev/null' EXIT
	in_peer timeout 60 dnsmasq --keep-in-foreground -C /dev/null --no-resolv --no-hosts \
		--listen-address="$PEER_ADDR" --bind-interfaces --local=/lab.test/ \
		--host-record="www.lab.test,$PEER_ADDR" --host-record="sshhost.lab.test,$PEER_ADDR" \
		--cname=alias.lab.test,www.lab.test --pid-file="$TMP/dnsmasq.pid" \
		--log-facility=- --log-queries >dnsmasq.log 2>&1 &
	wait_file dnsmasq.log 'started, version' || return 1
}

# curl, wget and python by host name (DNS, a CNAME, /etc/hosts, the search
# domain), byte for byte; an unknown name is EAI_NONAME; the kernel alone
# (no nstack) cannot resolve the same name.
case_resolve_curl_wget_python_by_name() {
	rs_lab || return 1
	mkdir -p www && head -c 3000000 /dev/urandom >www/f
	in_peer timeout 60 python3 -m http.server --bind "$PEER_ADDR" --directory www 9431 \
		>http.log 2>&1 &
	wait_file http.log 'Serving HTTP' || return 1
	on_nstack timeout 20 curl -sS --fail -o c1 "http://www.lab.test:9431/f" || return 1
	on_nstack timeout 20 curl -sS --fail -o c2 "http://alias.lab.test:9431/f" || return 1
	on_nstack timeout 20 curl -sS --fail -o c3 "http://filehost:9431/f" || return 1
	on_nstack timeout 20 wget -q -O w1 "http://www:9431/f" || return 1
	for f in c1 c2 c3 w1; do
		[ "$(sha www/f)" = "$(sha $f)" ] || { echo "$f differs"; return 1; }
	done
	on_nstack timeout 20 python3 - "$PEER_ADDR" >py.out 2>&1 <<-'PY' || { cat py.out; return 1; }
		import socket, sys
		peer = sys.argv[1]
		ai = socket.getaddrinfo("alias.lab.test", 9431, type=socket.SOCK_STREAM,
		                        flags=socket.AI_CANONNAME)
		assert ai[0][3] == "www.lab.test" and ai[0][4] == (peer, 9431), ai
		assert socket.gethostbyname("www") == peer
		assert socket.gethostbyname_ex("filehost.lab.test")[2] == [peer]
		assert socket.gethostbyaddr(peer)[0] in ("filehost.lab.test", "www.lab.test")
		for name in ("nope.lab.test", "nope.nope.lab.test"):
		    try:
		        socket.getaddrinfo(name, 80)
		        raise SystemExit("%s resolved" % name)
		    except socket.gaierror as e:
		        assert e.errno == socket.EAI_NONAME, (name, e)
		s = socket.create_connection(("www.lab.test", 9431), timeout=5)
		s.sendall(b"GET /f HTTP/1.0\r\n\r\n")
		assert s.recv(12).startswith(b"HTTP/1.0 200")
		print("python: ok")
	PY
	grep -q 'python: ok' py.out || { cat py.out; return 1; }
	# Without nstack the same lookup has no way to the server.
	if in_ns timeout 10 getent hosts www.lab.test >kernel.out 2>&1; then
		echo "the kernel resolved it without nstack: $(cat kernel.out)"
		return 1
	fi
	grep -q 'query\[A\] www.lab.test' dnsmasq.log || { cat dnsmasq.log; return 1; }
}

# ssh under nstack to a kernel sshd in the peer, by host name.
case_resolve_ssh_by_name() {
	rs_lab || return 1
	chmod 711 "$(dirname "$TMP")" && chmod 755 "$TMP"
	ssh_lab_setup 9432 "ListenAddress $PEER_ADDR" || return 1
	in_peer timeout 40 /usr/sbin/sshd -D -e -f "$TMP/sshd_config" >sshd.log 2>&1 &
	wait_file sshd.log 'Server listening' || return 1
	# shellcheck disable=SC2016
	on_nstack timeout 20 ssh -F /dev/null -i ssh/user_key -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=5 \
		-o LogLevel=ERROR -p 9432 root@sshhost.lab.test 'echo rs-$((6 * 7))' >cmd.out 2>&1 ||
		{ cat cmd.out; tail sshd.log; return 1; }
	[ "$(cat cmd.out)" = rs-42 ] || { cat cmd.out; return 1; }
}

# res_query/res_search/res_send, the gethostbyname*_r/gethostbyaddr_r forms
# and getnameinfo's NI_NAMEREQD (rs_probe.c) under nstack.
case_resolve_res_query_and_hostent_calls() {
	rs_lab || return 1
	cc -O1 -Wall -Wextra -Werror -o rs_probe "$IT/rs_probe.c" -lresolv || return 1
	on_nstack timeout 20 ./rs_probe "$PEER_ADDR" >probe.out 2>&1 || { cat probe.out; return 1; }
	grep -q 'rs_probe: ok' probe.out || { cat probe.out; return 1; }
}

# A resolver the kernel reaches (a local stub on loopback, as
# systemd-resolved's 127.0.0.53): c-ares's sockets to it are handed to the
# kernel, the HTTP connection to the address it gives goes through nstack.
case_resolve_via_kernel_loopback_server() {
	local d="/etc/netns/$NS"
	printf 'nameserver 127.0.0.53\noptions timeout:2 attempts:2\n' >"$d/resolv.conf"
	trap '"$ROOT/test/lab.sh" resolver "${NS%-ns}" >/dev/null' EXIT
	in_ns ip addr add 127.0.0.53/8 dev lo 2>/dev/null
	in_ns timeout 60 dnsmasq --keep-in-foreground -C /dev/null --no-resolv --no-hosts \
		--listen-address=127.0.0.53 --bind-interfaces --local=/lab.test/ \
		--host-record="stub.lab.test,$PEER_ADDR" --pid-file="$TMP/dnsmasq.pid" \
		--log-facility=- --log-queries >dnsmasq.log 2>&1 &
	wait_file dnsmasq.log 'started, version' || return 1
	mkdir -p www && head -c 1000000 /dev/urandom >www/f
	in_peer timeout 60 python3 -m http.server --bind "$PEER_ADDR" --directory www 9432 \
		>http.log 2>&1 &
	wait_file http.log 'Serving HTTP' || return 1
	on_nstack timeout 20 curl -sS --fail -o c1 "http://stub.lab.test:9432/f" || return 1
	[ "$(sha www/f)" = "$(sha c1)" ] || { echo "c1 differs"; return 1; }
	grep -q 'query\[A\] stub.lab.test' dnsmasq.log || { cat dnsmasq.log; return 1; }
}
