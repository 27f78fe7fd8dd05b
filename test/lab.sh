#!/bin/bash
# The nstack lab: two network namespaces joined by a veth pair.
#
#   test/lab.sh up   [PREFIX]   create (idempotent)
#   test/lab.sh down [PREFIX]   remove everything (idempotent)
#   test/lab.sh env  [PREFIX]   print the names as shell variables
#   test/lab.sh resolver [PREFIX]  (re)write the lab's resolver files
#   test/lab.sh discarded [PREFIX] print how many packets the kernel of
#                PREFIX-ns routed only to discard them (see discarded below)
#
#   PREFIX-ns    the program under nstack runs here; its veth end is named
#                nstack0, link up, with NO kernel IPv4 address (so the kernel
#                neither answers ARP/ICMP for nstack's address nor sends RSTs)
#   PREFIX-peer  the kernel peer: veth end "peer0" with 198.18.0.1/24
#
# In PREFIX-ns an nftables ingress rule on nstack0 drops IPv4 packets for
# nstack's address (198.18.0.2, or $NSTACK_LAB_NSTACK_ADDR) after nstack's
# packet socket has seen them: the kernel has nothing to do with them.
#
# nstack's defaults (NSTACK_IFACE=nstack0, NSTACK_ADDR=198.18.0.2/24,
# NSTACK_GW=198.18.0.1) match this lab. Addresses come only from
# 198.18.0.0/15. TX checksum offload is off on both ends, or frames read
# from a packet socket carry unfinished checksums. IPv6 is off on both
# veths to keep captures quiet. Scripts pass a PREFIX containing their PID so
# parallel runs never clash (pass the same PREFIX to "down"); without one
# (make lab-up / lab-down) the prefix is "nstack", or $NSTACK_LAB_PREFIX.
set -euo pipefail

cmd=${1:-}
prefix=${2:-${NSTACK_LAB_PREFIX:-nstack}}
ns="$prefix-ns"
peer="$prefix-peer"
peer_addr=${NSTACK_LAB_PEER_ADDR:-198.18.0.1/24}
nstack_addr=${NSTACK_LAB_NSTACK_ADDR:-198.18.0.2}

usage() {
	echo "usage: $0 up|down|env|resolver|discarded [PREFIX]" >&2
	exit 2
}

# Name lookups in the lab never leave it: each namespace gets a resolv.conf
# (ip netns exec mounts /etc/netns/NS/* over /etc) naming only loopback,
# where nothing listens, so a lookup that reaches DNS fails at once instead
# of going out (through nstack's gateway, too) to the host's nameservers.
# Cases that need DNS write their own files and call "resolver" after.
lab_resolver() {
	local n
	for n in "$@"; do
		mkdir -p "/etc/netns/$n"
		rm -f "/etc/netns/$n/hosts" "/etc/netns/$n/nsswitch.conf"
		printf '# nstack lab: no DNS server unless a case starts one\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
			>"/etc/netns/$n/resolv.conf"
	done
}

have_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

up() {
	if [ "$(id -u)" != 0 ]; then
		echo "lab.sh: must run as root (network namespaces)" >&2
		exit 1
	fi
	have_ns "$ns" || ip netns add "$ns"
	have_ns "$peer" || ip netns add "$peer"
	if ! ip -n "$ns" link show nstack0 >/dev/null 2>&1; then
		# Create the pair inside the nstack namespace, then move one end:
		# no name ever appears in the caller's namespace.
		ip -n "$ns" link add nstack0 type veth peer name peer0
		ip -n "$ns" link set peer0 netns "$peer"
	fi
	for side in "$ns:nstack0" "$peer:peer0"; do
		n=${side%%:*} dev=${side#*:}
		ip netns exec "$n" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" || true
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
		ip netns exec "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
		ip netns exec "$n" ethtool -K "$dev" tx off >/dev/null 2>&1 || true
		ip -n "$n" link set lo up
		ip -n "$n" link set "$dev" up
	done
	ip -n "$peer" addr replace "$peer_addr" dev peer0
	# Packets for nstack's address are nstack's: the packet socket sees them
	# before the kernel's ingress hook, where this drops them, so the kernel
	# (which has no address there) does not look up a route for each one to
	# discard it. That wasted ~7% of a CPU per Gbit/s on the sending peer's
	# core, where veth runs the receive side (bench: receive 5.6 -> 9 Gbit/s).
	if command -v nft >/dev/null 2>&1; then
		ip netns exec "$ns" nft -f - <<-EOF || true
			table netdev nstack
			delete table netdev nstack
			table netdev nstack {
				chain ingress {
					type filter hook ingress device nstack0 priority 0;
					ip daddr ${nstack_addr%/*} drop
				}
			}
		EOF
	fi
	# The kernel in the nstack namespace has no address on nstack0; make sure
	# it also never answers ARP for addresses it holds on other interfaces.
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=8 || true
	# Let an unprivileged ping socket work for tests that drop privileges.
	ip netns exec "$peer" sysctl -qw net.ipv4.ping_group_range="0 2147483647" || true
	lab_resolver "$ns" "$peer"
	echo "lab up: $ns (nstack0, no address) <-> $peer (peer0, $peer_addr)"
	echo "try:    ip netns exec $ns nstack -- ping -c 3 ${peer_addr%/*}"
}

down() {
	# Per-namespace resolver files (ip netns exec bind-mounts them), if a test made them.
	rm -rf "/etc/netns/$ns" "/etc/netns/$peer"
	have_ns "$ns" && ip netns del "$ns" || true
	have_ns "$peer" && ip netns del "$peer" || true
	echo "lab down: $prefix"
}

# The packets the kernel of the nstack namespace took up only to discard
# them, for an address it does not hold: IpInAddrErrors while it has an
# address in the subnet (the bench's kernel rows add one), IpExtInNoRoutes
# while it has none. What an ingress drop (the lab's, or nstack's own
# NSTACK_INGRESS_DROP) keeps at zero.
discarded() {
	ip netns exec "$ns" nstat -az IpInAddrErrors IpExtInNoRoutes |
		awk '/^Ip/ { n += $2 } END { print n + 0 }'
}

case "$cmd" in
up) up ;;
discarded) discarded ;;
down) down ;;
resolver) lab_resolver "$ns" "$peer" ;;
env)
	echo "LAB_NS=$ns"
	echo "LAB_PEER=$peer"
	;;
*) usage ;;
esac
