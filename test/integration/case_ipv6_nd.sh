# IPv6 on nstack's own stack against a kernel peer: DAD, neighbour
# discovery both ways and echo. The kernel in $NS keeps IPv6 off on nstack0
# (it must not answer ND for the same MAC); the peer turns it on for peer0.
#
# The program is ip6_node.c, which embeds the stack with a capture of its
# own: the preload does not parse NSTACK_ADDR6 yet and its capture filter
# takes IPv4 and ARP only.

ip6_peer_up() {
	in_peer sysctl -qw net.ipv6.conf.peer0.disable_ipv6=0 || return 1
	in_peer ip -6 addr replace 2001:2::1/64 dev peer0 nodad || return 1
}

# Back as lab.sh left it (IPv6 off, which also drops the addresses and neighbours).
ip6_peer_down() {
	in_peer sysctl -qw net.ipv6.conf.peer0.disable_ipv6=1
}

ip6_node_build() {
	local san=()
	# The sanitizer lab's objects (asan_lab.sh) need their runtimes.
	nm "$BUILD/obj/stack/udp.o" 2>/dev/null | grep -q __asan_ &&
		san=(-fsanitize=address,undefined)
	cc -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/stack/include" -I"$ROOT/pcap_io" \
		"${san[@]}" -o ip6_node "$IT/ip6_node.c" "$BUILD"/obj/stack/*.o -lpcap -lbsd -lpthread
}

# ping -6 from the kernel peer: 3 echo requests, 3 replies; the stack
# resolved the peer (our NS), answered the peer's NS, and passed DAD first.
case_ipv6_nd_ping_from_peer() {
	ip6_nd_ping_from_peer
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_nd_ping_from_peer() {
	ip6_node_build || return 1
	ip6_peer_up || return 1
	in_ns timeout 30 ./ip6_node nstack0 2001:2::2/64 12 >node.log 2>&1 &
	wait_file node.log ready || { cat node.log; return 1; }
	sleep 2.5 # DAD: a random delay under 1 s, then RetransTimer (1 s)
	in_peer ping -6 -c 3 -i 0.3 -W 2 2001:2::2 >ping.log 2>&1
	local rc=$?
	cat ping.log
	in_peer ip -6 neigh show dev peer0
	wait
	cat node.log
	[ $rc = 0 ] || return 1
	grep -q '3 received' ping.log || return 1
	grep -q '^Icmp6OutEchoReplies 3$' node.log || return 1
	grep -q '^Icmp6OutNeighborSolicits' node.log || return 1
	grep -q '^Icmp6InNeighborAdvertisements' node.log || return 1
	! grep -q 'duplicate address' node.log
}

# The peer already uses 2001:2::2: our DAD sees its answer, says so once,
# and the stack never answers for that address.
case_ipv6_nd_dad_conflict() {
	ip6_nd_dad_conflict
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_nd_dad_conflict() {
	ip6_node_build || return 1
	ip6_peer_up || return 1
	in_peer ip -6 addr replace 2001:2::2/64 dev peer0 nodad || return 1
	in_ns timeout 30 ./ip6_node nstack0 2001:2::2/64 4 >node.log 2>&1 &
	wait
	cat node.log
	grep -q 'duplicate address detected: 2001:2::2' node.log || return 1
	[ "$(grep -c 'duplicate address' node.log)" = 1 ] || return 1
	! grep -q '^Icmp6OutEchoReplies' node.log
}

# The same through the preload: a program under nstack with
# NSTACK_ADDR6=2001:2::2/64 (the capture filter lets IPv6 for it in);
# ping -6 from the kernel peer is answered 3/3 after DAD.
case_ipv6_preload_ping6_from_peer() {
	ip6_preload_ping6
	local rc=$?
	ip6_peer_down
	return $rc
}

ip6_preload_ping6() {
	ip6_peer_up || return 1
	in_ns env NSTACK_ADDR6=2001:2::2/64 NSTACK_STATS=1 timeout 20 "$NSTACK" -- python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # starts the stack
s.sendto(b"x", ("198.18.0.1", 9))
print("ready", flush=True)
time.sleep(float(sys.argv[1]))' 5 >node.log 2>&1 &
	local node=$!
	wait_file node.log ready || { cat node.log; return 1; }
	sleep 2.5 # DAD: a random delay under 1 s, then RetransTimer (1 s)
	in_peer ping -6 -c 3 -i 0.3 -W 2 2001:2::2 >ping.log 2>&1
	local rc=$?
	cat ping.log
	wait $node
	cat node.log
	[ $rc = 0 ] && grep -q '3 received' ping.log && grep -q 'Icmp6OutEchoReplies' node.log
}
