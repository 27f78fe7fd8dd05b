# Raw IPv6 sockets (raw_ipv6.c) through the preload, against the kernel
# peer at 2001:2::1 (ip6_peer_up/ip6_peer_down in case_ipv6_nd.sh; ADDR6
# and PEER6 from case_ipv6_sockets.sh).

# python3 under nstack: socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6) with an
# ICMP6_FILTER passing echo replies only sends echo requests (checksum
# left 0: the stack's) to the kernel peer, which answers only checksummed
# ones; each reply's payload is checked byte for byte, with its hop limit
# from IPV6_RECVHOPLIMIT. The last is 3000 bytes, fragmented both ways.
# While the socket is open, nstack stat lists it as ss -w would.
case_ipv6_raw_icmp6_echo_python() {
	ip6_raw_echo
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_raw_echo() {
	ip6_peer_up || return 1
	cat >raw6.py <<-'EOF'
		import os, socket, struct, sys, time
		s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
		filt = [0xFFFFFFFF] * 8
		filt[129 >> 5] &= ~(1 << (129 & 31))
		s.setsockopt(socket.IPPROTO_ICMPV6, 1, struct.pack("8I", *filt))
		s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
		s.settimeout(4)
		ident = os.getpid() & 0xFFFF
		for seq, size in enumerate((56, 1000, 3000)):
		    payload = os.urandom(size)
		    s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, seq) + payload, (sys.argv[1], 0))
		    while True:
		        data, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(4))
		        if data[0] != 129:
		            sys.exit("filter let type %d through" % data[0])
		        if struct.unpack("!HH", data[4:8]) == (ident, seq):
		            break
		    hops = [struct.unpack("i", d)[0] for l, t, d in anc
		            if l == socket.IPPROTO_IPV6 and t == socket.IPV6_HOPLIMIT]
		    assert addr[0] == sys.argv[1], addr
		    assert data[8:] == payload, "payload differs"
		    assert hops == [64], hops
		    print("reply", seq, len(data), "from", addr[0], "hlim", hops[0], flush=True)
		print("done", flush=True)
		for _ in range(100):
		    if os.path.exists("stat.done"):
		        break
		    time.sleep(0.1)
	EOF
	NSTACK_ADDR6=$ADDR6/64 NSTACK_STATS=1 on_nstack timeout 20 python3 raw6.py "$PEER6" \
		>py.log 2>&1 &
	local pid=$! i
	# Up to 15 s: python under the ASan lab (asan_lab.sh) starts slowly.
	for i in $(seq 1 150); do
		grep -q '^done' py.log 2>/dev/null || ! kill -0 $pid 2>/dev/null && break
		sleep 0.1
	done
	grep -q '^done' py.log || { cat py.log; return 1; }
	in_ns timeout 10 "$NSTACK" stat >stat.out 2>&1
	touch stat.done
	wait $pid
	local rc=$?
	cat py.log
	[ $rc = 0 ] || return 1
	[ "$(grep -c '^reply' py.log)" = 3 ] || return 1
	grep -q 'stat Icmp6OutEchos 3$' py.log && grep -Eq 'stat Ip6ReasmOKs [1-9]' py.log ||
		return 1
	grep -Eq '^    raw +UNCONN .*\[::\]:58 ' stat.out || { cat stat.out; return 1; }
}

# rdisc6 (ndisc6) under nstack solicits the peer's radvd: a Router
# Solicitation from a raw ICMPv6 socket to ff02::2%nstack0 with hop limit
# 255, and the Router Advertisement read back through the same socket
# (ICMP6_FILTER, IPV6_RECVHOPLIMIT) with the advertised prefix and MTU.
case_ipv6_raw_rdisc6_solicits_radvd() {
	ip6_raw_rdisc6
	local rc=$?
	[ -f radvd.pid ] && kill "$(cat radvd.pid)" 2>/dev/null
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=0
	ip6_peer_down
	return $rc
}

ip6_raw_rdisc6() {
	command -v rdisc6 >/dev/null || { echo "rdisc6 missing (make deps: ndisc6)"; return 1; }
	ip6_peer_up || return 1
	in_peer sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	# Unsolicited advertisements rarely (every 200 s or more): the one rdisc6
	# prints answers its solicitation.
	cat >radvd.conf <<-EOF
		interface peer0 {
			AdvSendAdvert on;
			MinRtrAdvInterval 200;
			MaxRtrAdvInterval 600;
			AdvLinkMTU 1480;
			prefix 2001:2:0:7::/64 { AdvOnLink on; AdvAutonomous off; };
		};
	EOF
	in_peer timeout 30 radvd -n -C "$TMP/radvd.conf" -p "$TMP/radvd.pid" -m stderr \
		>radvd.log 2>&1 &
	wait_file radvd.pid . || { cat radvd.log; return 1; }
	NSTACK_ADDR6=$ADDR6/64 NSTACK_STATS=1 on_nstack timeout 15 rdisc6 -1 -r 3 -w 2000 nstack0 \
		>rdisc6.log 2>&1
	local rc=$?
	cat rdisc6.log
	[ $rc = 0 ] || { cat radvd.log; return 1; }
	grep -Eq '^ *Prefix +: 2001:2:0:7::/64' rdisc6.log && grep -Eq '^ *MTU +: +1480' rdisc6.log &&
		grep -q 'from fe80::' rdisc6.log && grep -Eq 'stat Icmp6OutRouterSolicits [1-9]' rdisc6.log
}
