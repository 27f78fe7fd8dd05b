#!/bin/bash
# The impaired lab: nstack and the kernel peer joined through a middle
# namespace where nstack-relay forwards frames between two veth pairs and
# drops, duplicates, delays, reorders and corrupts them (this kernel has no
# netem).
#
#   tcp_impaired_lab.sh up   PREFIX RELAY [relay options...]
#   tcp_impaired_lab.sh down PREFIX
#
#   PREFIX-ns    nstack0, link up, NO kernel IPv4 address (as in test/lab.sh)
#   PREFIX-mid   rly-a (peer of nstack0) and rly-b (peer of peer0), no
#                addresses; RELAY (build/nstack-relay) bridges them, its
#                report goes to PREFIX-relay.log in $TMPDIR or /tmp
#   PREFIX-peer  peer0 with 198.18.0.1/24
#
# Names follow test/lab.sh (PREFIX-ns, PREFIX-peer, nstack0, peer0), so
# nstack's defaults fit; callers pass a PREFIX containing their PID. Only
# 198.18.0.0/15 is used. TX checksum offload is off on every veth end, and
# segmentation/receive offloads too, so the relay sees and forwards real
# MTU-sized frames. "up" tears down whatever it built if it fails; "down"
# stops the relay and removes the namespaces (both idempotent).
set -euo pipefail

cmd=${1:-}
prefix=${2:-}
[ -n "$prefix" ] || {
	echo "usage: $0 up PREFIX RELAY [opts] | down PREFIX" >&2
	exit 2
}
ns="$prefix-ns" mid="$prefix-mid" peer="$prefix-peer"
log="${TMPDIR:-/tmp}/$prefix-relay.log"
pidf="${TMPDIR:-/tmp}/$prefix-relay.pid"

have_ns() { ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"; }

down() {
	local n p
	if [ -f "$pidf" ]; then
		p=$(cat "$pidf")
		kill "$p" 2>/dev/null || true
		# Let it write its report (it stops within 100 ms of SIGTERM).
		for _ in $(seq 1 30); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		rm -f "$pidf"
	fi
	for n in "$ns" "$mid" "$peer"; do
		have_ns "$n" || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill "$p" 2>/dev/null || true
		done
	done
	sleep 0.2
	for n in "$ns" "$mid" "$peer"; do
		have_ns "$n" || continue
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null || true
		done
		ip netns del "$n" 2>/dev/null || true
		rm -rf "/etc/netns/$n"
	done
}

quiet_dev() {
	local n=$1 dev=$2
	ip netns exec "$n" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1" || true
	ip netns exec "$n" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 ||
		ip netns exec "$n" ethtool -K "$dev" tx off >/dev/null 2>&1 || true
	ip -n "$n" link set "$dev" up
}

up() {
	local relay=${1:?relay binary}
	shift
	trap 'down' ERR
	for n in "$ns" "$mid" "$peer"; do
		have_ns "$n" || ip netns add "$n"
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
		ip netns exec "$n" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 || true
		ip -n "$n" link set lo up
	done
	# Create each pair inside the middle namespace and move the far end, so
	# no name ever appears in the caller's namespace.
	ip -n "$mid" link add rly-a type veth peer name nstack0
	ip -n "$mid" link set nstack0 netns "$ns"
	ip -n "$mid" link add rly-b type veth peer name peer0
	ip -n "$mid" link set peer0 netns "$peer"
	quiet_dev "$ns" nstack0
	quiet_dev "$mid" rly-a
	quiet_dev "$mid" rly-b
	quiet_dev "$peer" peer0
	ip -n "$peer" addr replace 198.18.0.1/24 dev peer0
	# Lookups stay in the lab, as in test/lab.sh (same namespace names).
	"$(dirname "$0")/../lab.sh" resolver "$prefix" >/dev/null
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=8 || true
	# The middle kernel must not answer or forward anything itself.
	ip netns exec "$mid" sysctl -qw net.ipv4.ip_forward=0 || true
	ip netns exec "$mid" sysctl -qw net.ipv4.conf.all.arp_ignore=8 || true
	ip netns exec "$mid" "$relay" -a rly-a -b rly-b "$@" >"$log" 2>&1 &
	echo $! >"$pidf"
	sleep 0.2
	kill -0 "$(cat "$pidf")" 2>/dev/null || {
		cat "$log" >&2
		down
		exit 1
	}
	trap - ERR
	echo "impaired lab up: $ns <-> $mid (nstack-relay $*) <-> $peer"
}

case "$cmd" in
up)
	shift 2
	up "$@"
	;;
down) down ;;
*)
	echo "usage: $0 up PREFIX RELAY [opts] | down PREFIX" >&2
	exit 2
	;;
esac
