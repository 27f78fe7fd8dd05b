#!/bin/bash
# Bulk TCP throughput: iperf3 under nstack against the kernel peer, and the
# kernel against the same kernel peer over the same veth in the same run,
# both directions, MTU 1500, TX checksum offload off on both ends (issue 3).
#
#   bench/run.sh [BUILD_DIR]        (make bench)
#
# Environment: BENCH_SECONDS (default 5) per measurement, BENCH_REPEAT
# (default 1; the best of N runs is reported for each row), BENCH_OFFLOADS=1
# to leave GSO/TSO/GRO on nstack0 as the lab sets them (see below), BENCH_CC
# (default cubic) the congestion control of every sender, set with iperf3 -C
# so both stacks run the same algorithm (Debian hosts may default to bbr,
# which nstack does not have).
#
# "send" is data leaving the nstack namespace (iperf3 -c there), "receive"
# is data entering it (iperf3 -c -R). For the kernel rows the veth end in
# the nstack namespace gets a kernel address (198.18.0.3) for the duration
# of those runs only, so both stacks use the very same link. Not a test:
# prints one table and exits 0 unless something could not run.
#
# nstack runs with its defaults: TCP super-frames segmented by the kernel
# (NSTACK_GSO) and sent by the backend's TX thread (NSTACK_TX_THREAD); pass
# either as 0 in the environment to measure without. nstack drops packets
# for its addresses at nstack0's ingress hook after its packet socket saw
# them (NSTACK_INGRESS_DROP; the lab's own rule for that is removed here),
# so the kernel does not route each one to discard it; the kernel rows use
# 198.18.0.3 (2001:2::3), which the rule does not touch, and each row runs
# nstack and then the kernel back to back.
# Receive offload (GRO) is on for nstack0, as nstack turns it on itself
# when it may (NSTACK_GRO) and as a NIC has it: both stacks get merged
# frames; BENCH_GRO=0 measures both without (nstack then runs with
# NSTACK_GRO=0). A last row gives the median round
# trip of 100-byte TCP exchanges (bench/rr.py, BENCH_RR_N of them, best of
# BENCH_REPEAT) through each stack, and nstack's again with NSTACK_BUSY_POLL
# (BENCH_BUSY_POLL us, default 50) against the kernel's default. The nginx
# row serves a 1 KiB file from nginx with its master and 2 worker processes (all sharing one nstack stack)
# to wrk in the peer namespace (2 threads, BENCH_WRK_CONNS connections,
# default 50), against the same nginx configuration on the kernel. The IPv6
# rows repeat send and receive over IPv6 (2001:2::/64 on the same veth; the
# ratio is to the kernel's IPv6).
#
# Issue 11's rows: every iperf3 row gives the best and the median of
# BENCH_REPEAT runs and the CPU seconds per GB moved (the whole machine's
# busy time from /proc/stat over the run, both ends and both kernels,
# divided by the bytes received; a busy machine inflates it); send and
# receive again at MTU 9000 (both veth ends, BENCH_JUMBO=0 skips them);
# nginx with 1 and with 2 worker processes; new connections per second
# (wrk with "Connection: close") with 1 and with 2 workers, so that what a
# second worker adds is seen for both stacks; BENCH_IDLE_CONNS (default
# 10000) idle connections held by a server (bench/idle.py) with the memory
# they cost: the growth of the kernel's Slab (/proc/meminfo; both ends'
# kernel sockets, so the client's share is in both columns) plus, for
# nstack, the growth of its arena in use (nstack stat); and a SYN flood
# (hping3 --flood at nginx's port for BENCH_FLOOD_SECONDS, default 8, from
# the peer's address with changing source ports) during which a kernel
# curl fetches the page every 0.1 s: fetches that succeed within 1 s.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
SECS=${BENCH_SECONDS:-5}
CC=${BENCH_CC:-cubic}
REPEAT=${BENCH_REPEAT:-1}
IDLE_N=${BENCH_IDLE_CONNS:-10000}
FLOOD_SECS=${BENCH_FLOOD_SECONDS:-8}
# Servers in the peer live for the whole bench (the cleanup kills them).
LIFE=3600

[ "$(id -u)" = 0 ] || { echo "bench: must run as root (network namespaces)" >&2; exit 1; }
for tool in ip ethtool iperf3 python3 timeout; do
	command -v "$tool" >/dev/null || { echo "bench: missing $tool (make deps)" >&2; exit 1; }
done
[ -x "$BUILD/nstack" ] && [ -f "$BUILD/libnstack.so" ] ||
	{ echo "bench: $BUILD/nstack or libnstack.so missing" >&2; exit 1; }

prefix="nsb$$"
NS="$prefix-ns" PEER="$prefix-peer"
PEER_ADDR=198.18.0.1 KADDR=198.18.0.3
work=$(mktemp -d /tmp/nstack-bench.XXXXXX)
srv=

cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null
	for n in "$NS" "$PEER"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	"$root/test/lab.sh" down "$prefix" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$root/test/lab.sh" up "$prefix" >"$work/lab.log" 2>&1 || { cat "$work/lab.log" >&2; exit 1; }
# GSO and TSO off on nstack0 for both stacks (BENCH_OFFLOADS=1 keeps the
# lab's defaults); GRO below. libpcap's ring has fixed slots sized for the
# largest frame the interface may deliver: MTU-sized without GRO (32 MiB,
# ~16000 slots), 64 KiB with it (nstack then takes 64 MiB, ~1000 slots).
# The lab's own ingress rule goes: nstack adds its own (NSTACK_INGRESS_DROP,
# CAP_NET_ADMIN here), so the rows measure what a user gets without the lab.
# The kernel's count of frames it routed only to discard them (for nstack's
# address, which it does not hold) says at the end whether that happened.
ip netns exec "$NS" nft delete table netdev nstack 2>/dev/null
# (IpInAddrErrors while the kernel has an address in the subnet, IpExtInNoRoutes while it has none.)
addr_errors() {
	ip netns exec "$NS" nstat -az IpInAddrErrors IpExtInNoRoutes | awk '/^Ip/ { n += $2 } END { print n + 0 }'
}
addr_errors0=$(addr_errors)
if [ "${BENCH_OFFLOADS:-0}" != 1 ]; then
	ip netns exec "$NS" ethtool -K nstack0 gso off tso off gro off >/dev/null 2>&1
fi
if [ "${BENCH_GRO:-1}" = 1 ]; then
	ip netns exec "$NS" ethtool -K nstack0 gro on >/dev/null 2>&1
else
	export NSTACK_GRO=0
fi
ip netns exec "$PEER" timeout $LIFE \
	iperf3 -s -B "$PEER_ADDR" -p 5201 >"$work/srv.log" 2>&1 &
srv=$!
disown "$srv" 2>/dev/null
# The round trips depend on where the two ends run: on one core ~16-21 us
# for either stack, on two ~55-75 us (a halted vCPU's wake-up on each side),
# and an unpinned run lands on either, run to run. Two hosts have a core
# each: the server is held on CPU 0, the clients on CPU 1.
RR_SRV_PIN= RR_CLI_PIN=
if [ "$(nproc)" -ge 2 ]; then
	RR_SRV_PIN="taskset -c 0" RR_CLI_PIN="taskset -c 1"
fi
ip netns exec "$PEER" timeout $LIFE \
	$RR_SRV_PIN python3 "$here/rr.py" server "$PEER_ADDR" 5202 >"$work/rr.log" 2>&1 &
disown $! 2>/dev/null
# IPv6 rows: the peer at 2001:2::1, nstack at 2001:2::2 (NSTACK_ADDR6), the
# kernel at 2001:2::3 on the same veth end during the IPv6 rows.
PEER6=2001:2::1 ADDR6=2001:2::2 KADDR6=2001:2::3
ip netns exec "$PEER" sysctl -qw net.ipv6.conf.peer0.disable_ipv6=0
# wrk closes first whenever its read of a "Connection: close" response beats
# the server's FIN, and keeps a TIME_WAIT per such connection: after a few
# 3-second runs its ports are all waiting and wrk's rate falls to ~1000/s,
# for the kernel server as for nstack (it hit the kernel with 1 worker, and
# nstack, whose FIN is later by microseconds, run after run). The client may
# reuse them (tcp_tw_reuse=1, as load generators are set up), so the row
# measures the server and not the client's port range.
ip netns exec "$PEER" sysctl -qw net.ipv4.tcp_tw_reuse=1
ip -n "$PEER" -6 addr add "$PEER6/64" dev peer0 nodad
ip netns exec "$PEER" timeout $LIFE \
	iperf3 -s -B "$PEER6" -p 5203 >"$work/srv6.log" 2>&1 &
disown $! 2>/dev/null
sleep 0.5

# The machine's busy CPU time so far, in clock ticks (USER_HZ), from /proc/stat.
busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# run NAME CMD...: REPEAT iperf3 client runs; prints "BEST MEDIAN CPU" with
# the receive rates in bit/s and the machine's CPU seconds per GB received
# (the mean over the runs).
run() {
	local name=$1 i b0 b1
	shift
	for i in $(seq 1 "$REPEAT"); do
		b0=$(busy_ticks)
		timeout $((SECS + 30)) "$@" -t "$SECS" -C "$CC" -J >"$work/$name.$i.json" 2>"$work/$name.$i.err"
		b1=$(busy_ticks)
		echo "$((b1 - b0))" >"$work/$name.$i.ticks"
		sleep 0.5
	done
	python3 - "$work" "$name" "$REPEAT" "$(getconf CLK_TCK)" <<-'PY'
		import json, statistics, sys
		work, name, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		rates, cpu = [], []
		for i in range(1, n + 1):
		    try:
		        r = json.load(open("%s/%s.%d.json" % (work, name, i)))
		        if "error" in r:
		            raise ValueError(r["error"])
		        s = r["end"]["sum_received"]
		        rates.append(int(s["bits_per_second"]))
		        ticks = int(open("%s/%s.%d.ticks" % (work, name, i)).read())
		        if s["bytes"] > 0:
		            cpu.append(ticks / hz / (s["bytes"] / 1e9))
		    except Exception as e:
		        rates.append(0)
		        err = open("%s/%s.%d.err" % (work, name, i)).read()[-300:]
		        print("bench: %s run %d failed: %s %s" % (name, i, e, err), file=sys.stderr)
		print(max(rates), int(statistics.median(rates)), "%.2f" % (statistics.mean(cpu) if cpu else 0))
	PY
}

echo "bench: iperf3 ${SECS}s x $REPEAT per row, $CC, MTU $(ip netns exec "$NS" cat /sys/class/net/nstack0/mtu)," \
	"tx-checksumming $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^tx-checksumming/{print $2}')" \
	"(nstack0) / $(ip netns exec "$PEER" ethtool -k peer0 | awk '/^tx-checksumming/{print $2}') (peer0)," \
	"nstack0 gso $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^generic-segmentation-offload/{print $2}')" \
	"gro $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^generic-receive-offload/{print $2}'), peer tcp_tw_reuse" \
	"$(ip netns exec "$PEER" sysctl -n net.ipv4.tcp_tw_reuse)"

# rr NAME CMD...: median round trip (us) of 100-byte exchanges, best of REPEAT.
rr() {
	local name=$1 best= i us
	shift
	for i in $(seq 1 "$REPEAT"); do
		us=$(timeout 60 "$@" 2>"$work/$name.$i.err") || { echo "bench: $name failed:" >&2; tail -3 "$work/$name.$i.err" >&2; us=; }
		if [ -n "$us" ] && { [ -z "$best" ] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$us" "$best"; }; then
			best=$us
		fi
	done
	echo "${best:-0}"
}
RR_N=${BENCH_RR_N:-3000}

# nginx, a master and WORKERS worker processes, on ADDR:PORT.
mkdir -p "$work/www"
chmod 711 "$work"
head -c 1024 /dev/urandom >"$work/www/small"
chmod -R a+rX "$work/www"
nginx_conf() {
	mkdir -p "$work/ng$1/logs"
	cat >"$work/ng$1.conf" <<-EOF
		worker_processes $3;
		daemon off;
		pid $work/ng$1/nginx.pid;
		error_log $work/ng$1/error.log;
		events { worker_connections 4096; }
		http {
		    access_log off;
		    server { listen $2:$1 backlog=1024; root $work/www; }
		}
	EOF
}

# wrk_best NAME URL [WRK ARGS...]: requests/s, best of REPEAT.
wrk_best() {
	local name=$1 url=$2 best=0 i rps
	shift 2
	for i in $(seq 1 "$REPEAT"); do
		ip netns exec "$PEER" timeout $((SECS + 20)) wrk -t2 -c"${BENCH_WRK_CONNS:-50}" -d"${SECS}s" \
			"$@" "$url" >"$work/$name.$i.wrk" 2>&1
		rps=$(awk '/^Requests\/sec/ { printf "%d", $2 }' "$work/$name.$i.wrk")
		grep -q -e 'Non-2xx' "$work/$name.$i.wrk" &&
			{ echo "bench: $name run $i had errors:" >&2; grep -e 'Non-2xx' "$work/$name.$i.wrk" >&2; }
		[ "${rps:-0}" -gt "$best" ] && best=$rps
	done
	echo "$best"
}

# flood_fetches ADDR PORT: "OK TRIED" kernel curl fetches of the page every
# 0.1 s (1 s each at most) while hping3 floods ADDR:PORT with SYNs from the
# peer's address for FLOOD_SECS.
flood_fetches() {
	local addr=$1 port=$2 ok=0 tried=0 hp end
	command -v hping3 >/dev/null || { echo "0 0"; return; }
	ip netns exec "$PEER" timeout "$FLOOD_SECS" hping3 -q -S -p "$port" --flood "$addr" \
		>"$work/hping.$port.log" 2>&1 &
	hp=$!
	sleep 0.5
	end=$(($(date +%s%N) + (FLOOD_SECS - 1) * 1000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		tried=$((tried + 1))
		ip netns exec "$PEER" curl -s -o /dev/null --max-time 1 "http://$addr:$port/small" &&
			ok=$((ok + 1))
		sleep 0.1
	done
	wait "$hp" 2>/dev/null
	echo "$ok $tried"
}

# nginx_rows NAME PORT ADDR WORKERS CMD...: nginx runs under CMD with WORKERS
# workers; prints "RPS CPS" (keep-alive and Connection: close requests/s),
# then with 2 workers also "OK TRIED" (the SYN-flood fetches).
nginx_rows() {
	local name=$1 port=$2 addr=$3 workers=$4 pid i out
	shift 4
	nginx_conf "$port" "$addr" "$workers"
	timeout $LIFE "$@" nginx -p "$work/ng$port" -c "$work/ng$port.conf" >"$work/$name.out" 2>&1 &
	pid=$!
	for i in $(seq 1 50); do
		[ -s "$work/ng$port/nginx.pid" ] && ip netns exec "$PEER" timeout 2 \
			python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)' \
			"$addr" "$port" 2>/dev/null && break
		sleep 0.2
	done
	out=$(wrk_best "$name" "http://$addr:$port/small")
	out="$out $(wrk_best "$name-close" "http://$addr:$port/small" -H 'Connection: close')"
	[ "$workers" = 2 ] && out="$out $(flood_fetches "$addr" "$port")"
	kill -QUIT "$(cat "$work/ng$port/nginx.pid" 2>/dev/null)" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$work/ng$port/nginx.pid"
	echo "$out"
}

# Slab of /proc/meminfo in KiB.
slab_kib() {
	awk '/^Slab:/ { print $2 }' /proc/meminfo
}

# idle_mem NAME ADDR PORT NSTACK(0|1) CMD...: holds IDLE_N idle connections
# to a bench/idle.py server run under CMD; prints "SLAB_BYTES_PER_CONN
# ARENA_BYTES_PER_CONN" (arena 0 for the kernel).
idle_mem() {
	local name=$1 addr=$2 port=$3 nst=$4 pid s0 s1 a0=0 a1=0 cli
	shift 4
	timeout $LIFE "$@" python3 "$here/idle.py" server "$addr" "$port" >"$work/$name.srv" 2>&1 &
	pid=$!
	for i in $(seq 1 50); do grep -q ready "$work/$name.srv" 2>/dev/null && break; sleep 0.1; done
	arena_kib() {
		ip netns exec "$NS" "$BUILD/nstack" stat 2>/dev/null |
			awk '/^stack .*198.18.0.2/ { s = 1 } s && /arena .* KiB in use/ { print $4; exit }'
	}
	sleep 0.5
	s0=$(slab_kib)
	[ "$nst" = 1 ] && a0=$(arena_kib)
	ip netns exec "$PEER" timeout 200 python3 "$here/idle.py" client "$addr" "$port" "$IDLE_N" 6 \
		>"$work/$name.cli" 2>&1 &
	cli=$!
	for i in $(seq 1 1200); do grep -q held "$work/$name.cli" 2>/dev/null && break; sleep 0.1; done
	sleep 1
	s1=$(slab_kib)
	[ "$nst" = 1 ] && a1=$(arena_kib)
	if ! grep -q held "$work/$name.cli"; then
		echo "bench: $name: $(tail -2 "$work/$name.cli")" >&2
		s1=$s0 a1=$a0
	fi
	wait "$cli" 2>/dev/null
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "$(((s1 - s0) * 1024 / IDLE_N)) $(((${a1:-0} - ${a0:-0}) * 1024 / IDLE_N))"
}

# Until every nstack process in $NS (programs, keeper) has gone, so that
# the next one starts a fresh stack (an MTU change needs one), at most 10 s.
wait_stack_gone() {
	local i
	for i in $(seq 1 100); do
		[ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && return
		sleep 0.1
	done
}

set_mtu() {
	ip -n "$NS" link set nstack0 mtu "$1"
	ip -n "$PEER" link set peer0 mtu "$1"
}
JUMBO=${BENCH_JUMBO:-1}

# The kernel's address on the same veth end for the whole run, so that each
# row runs nstack and then the kernel back to back: in one block after the
# other they ran minutes apart, and this VM drifts by a quarter in minutes.
# nstack takes only frames for its own address (capture filter), and the
# kernel answers ARP only for its own.
ip netns exec "$NS" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=0
ip -n "$NS" addr add "$KADDR/24" dev nstack0
n_send=$(run nstack-send ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201)
k_send=$(run kernel-send ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR")
n_recv=$(run nstack-recv ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 -R)
k_recv=$(run kernel-recv ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR" -R)
n_rr=$(rr nstack-rr ip netns exec "$NS" $RR_CLI_PIN "$BUILD/nstack" -- python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100)
# Issue 11's latency goal with polling: the blocked receiver spins on the
# ring for up to BUSY_POLL us before it sleeps (the kernel row keeps its defaults).
BUSY_POLL=${BENCH_BUSY_POLL:-50}
n_rrbp=$(rr nstack-rr-bp ip netns exec "$NS" $RR_CLI_PIN env NSTACK_BUSY_POLL="$BUSY_POLL" "$BUILD/nstack" -- \
	python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100)
k_rr=$(rr kernel-rr ip netns exec "$NS" $RR_CLI_PIN python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100 "$KADDR")
n_ng1="0 0" n_ng2="0 0 0 0" k_ng1="0 0" k_ng2="0 0 0 0"
if command -v nginx >/dev/null && command -v wrk >/dev/null; then
	n_ng1=$(nginx_rows nstack-nginx1 8083 198.18.0.2 1 ip netns exec "$NS" "$BUILD/nstack" --)
	k_ng1=$(nginx_rows kernel-nginx1 8084 "$KADDR" 1 ip netns exec "$NS")
	n_ng2=$(nginx_rows nstack-nginx 8081 198.18.0.2 2 ip netns exec "$NS" "$BUILD/nstack" --)
	k_ng2=$(nginx_rows kernel-nginx 8082 "$KADDR" 2 ip netns exec "$NS")
fi
n_idle=$(idle_mem nstack-idle 198.18.0.2 9100 1 ip netns exec "$NS" "$BUILD/nstack" --)
k_idle=$(idle_mem kernel-idle "$KADDR" 9101 0 ip netns exec "$NS")
n_jsend="0 0 0" n_jrecv="0 0 0" k_jsend="0 0 0" k_jrecv="0 0 0"
if [ "$JUMBO" = 1 ]; then
	wait_stack_gone
	set_mtu 9000
	n_jsend=$(run nstack-jsend ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201)
	k_jsend=$(run kernel-jsend ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR")
	n_jrecv=$(run nstack-jrecv ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 -R)
	k_jrecv=$(run kernel-jrecv ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR" -R)
	wait_stack_gone
	set_mtu 1500
fi
ip -n "$NS" addr del "$KADDR/24" dev nstack0
ip netns exec "$NS" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=8
# IPv6 the same way: the kernel at KADDR6 (nstack drops what is for ADDR6 at
# ingress, NSTACK_INGRESS_DROP, before the kernel's IPv6 sees it).
ip netns exec "$NS" sysctl -qw net.ipv6.conf.nstack0.disable_ipv6=0
ip -n "$NS" -6 addr add "$KADDR6/64" dev nstack0 nodad
n6_send=$(run nstack6-send ip netns exec "$NS" env NSTACK_ADDR6=$ADDR6/64 "$BUILD/nstack" -- iperf3 -c "$PEER6" -p 5203)
k6_send=$(run kernel6-send ip netns exec "$NS" iperf3 -c "$PEER6" -p 5203 -B "$KADDR6")
n6_recv=$(run nstack6-recv ip netns exec "$NS" env NSTACK_ADDR6=$ADDR6/64 "$BUILD/nstack" -- iperf3 -c "$PEER6" -p 5203 -R)
k6_recv=$(run kernel6-recv ip netns exec "$NS" iperf3 -c "$PEER6" -p 5203 -B "$KADDR6" -R)
ip netns exec "$NS" sysctl -qw net.ipv6.conf.nstack0.disable_ipv6=1

python3 - "$REPEAT" "$IDLE_N" "$FLOOD_SECS" <<PY
import sys
repeat, idle_n, flood = sys.argv[1:4]
def tri(x):
    b, m, c = x.split()
    return int(b) / 1e9, int(m) / 1e9, float(c)
def ratio(a, b):
    return "%.2f" % (a / b) if b > 0 else "n/a"
rows = [("send, MTU 1500", "$n_send", "$k_send"), ("receive, MTU 1500", "$n_recv", "$k_recv"),
        ("send, MTU 9000", "$n_jsend", "$k_jsend"), ("receive, MTU 9000", "$n_jrecv", "$k_jrecv"),
        ("IPv6 send", "$n6_send", "$k6_send"), ("IPv6 receive", "$n6_recv", "$k6_recv")]
print("iperf3 Gbit/s, best (median) of %s; CPU s/GB: the machine's busy CPU per GB received" % repeat)
print("%-20s %17s %17s %6s %13s %13s" % ("", "nstack", "kernel", "ratio", "nstack CPU/GB", "kernel CPU/GB"))
for name, n, k in rows:
    nb, nm, nc = tri(n)
    kb, km, kc = tri(k)
    if nb == 0 and kb == 0:
        continue
    print("%-20s %8.2f (%6.2f) %8.2f (%6.2f) %6s %13.2f %13.2f" % (name, nb, nm, kb, km, ratio(nb, kb), nc, kc))
nrr, krr = float("$n_rr"), float("$k_rr")
print("%-20s %17.1f %17.1f %6s   (us; ratio kernel/nstack; server on CPU 0, client on 1)" % ("TCP 100 B RR median", nrr, krr,
      ratio(krr, nrr) if nrr > 0 else "n/a"))
nbp = float("$n_rrbp")
print("%-20s %17.1f %17.1f %6s   (NSTACK_BUSY_POLL=$BUSY_POLL; the goal: ratio >= 2)" % (
      "  with busy polling", nbp, krr, ratio(krr, nbp) if nbp > 0 else "n/a"))
n1, nc1 = (int(x) for x in "$n_ng1".split())
k1, kc1 = (int(x) for x in "$k_ng1".split())
n2, nc, nok, ntr = (int(x) for x in "$n_ng2".split())
k2, kc, kok, ktr = (int(x) for x in "$k_ng2".split())
print("%-20s %17d %17d %6s   (req/s, wrk 1 KiB keep-alive)" % ("nginx 1 worker", n1, k1, ratio(n1, k1)))
print("%-20s %17d %17d %6s" % ("nginx 2 workers", n2, k2, ratio(n2, k2)))
print("%-20s %17d %17d %6s   (Connection: close, 2 workers)" % ("new connections/s", nc, kc, ratio(nc, kc)))
print("%-20s %17d %17d %6s   (Connection: close, 1 worker)" % ("  with 1 worker", nc1, kc1, ratio(nc1, kc1)))
print("%-20s %11d of %3d %11d of %3d %6s   (fetches OK during %s s of hping3 --flood)" % (
      "SYN flood", nok, ntr, kok, ktr, ratio(nok / ntr if ntr else 0, kok / ktr if ktr else 0), flood))
ns_slab, ns_arena = (int(x) for x in "$n_idle".split())
k_slab, _ = (int(x) for x in "$k_idle".split())
print("%-20s %17d %17d %6s   (bytes/conn for %s idle: kernel Slab + nstack arena;" % (
      "idle connections", ns_slab + ns_arena, k_slab, ratio(ns_slab + ns_arena, k_slab), idle_n))
print("%-20s %17s %17s %6s    nstack: %d Slab + %d arena; Slab counts both ends)" % ("", "", "", "", ns_slab, ns_arena))
PY
echo "ingress drop: nstack's own (NSTACK_INGRESS_DROP=${NSTACK_INGRESS_DROP:-1});" \
	"frames the kernel routed only to discard them during the bench: $(($(addr_errors) - addr_errors0))" \
	"(late ones, after a run's last process had exited, count too)"
n_best=${n_send%% *} r_best=${n_recv%% *} ks_best=${k_send%% *} kr_best=${k_recv%% *}
[ "$n_best" -gt 0 ] && [ "$r_best" -gt 0 ] && [ "$ks_best" -gt 0 ] && [ "$kr_best" -gt 0 ]
