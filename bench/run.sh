#!/bin/bash
# Bulk TCP throughput: iperf3 under nstack against the kernel peer, and the
# kernel against the same kernel peer over the same veth in the same run,
# both directions, MTU 1500, TX checksum offload off on both ends (issue 3).
#
#   bench/run.sh [BUILD_DIR]        (make bench)
#
# Environment: BENCH_SECONDS (default 5) per measurement, BENCH_REPEAT
# (default 1; each row runs nstack and the kernel in turn N times, and gives
# the best and the median of each and the median of the N per-pair ratios:
# this VM's rates drift by a quarter within minutes, so only runs made
# seconds apart are compared), BENCH_OFFLOADS=1
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
# nstack and the kernel in turn.
# Receive offload (GRO) is on for nstack0, as nstack turns it on itself
# when it may (NSTACK_GRO) and as a NIC has it: both stacks get merged
# frames; BENCH_GRO=0 measures both without (nstack then runs with
# NSTACK_GRO=0). A last row gives the median round
# trip of 100-byte TCP exchanges (bench/rr.py, BENCH_RR_N of them, per
# run) through each stack, and nstack's again with NSTACK_BUSY_POLL
# (BENCH_BUSY_POLL us, default 50) against the kernel's default. The nginx
# row serves a 1 KiB file from nginx with its master and 2 worker processes (all sharing one nstack stack)
# to wrk in the peer namespace (2 threads, BENCH_WRK_CONNS connections,
# default 50), against the same nginx configuration on the kernel. The IPv6
# rows repeat send and receive over IPv6 (2001:2::/64 on the same veth; the
# ratio is to the kernel's IPv6).
#
# Issue 11's rows: every iperf3 row gives the CPU seconds per GB moved
# (the whole machine's busy time from /proc/stat over the run, both ends and both kernels,
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
addr_errors() { "$root/test/lab.sh" discarded "$prefix"; }
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

# iperf_once NAME I CMD...: one iperf3 client run, its JSON in NAME.I.json and
# the machine's busy ticks over it in NAME.I.ticks.
iperf_once() {
	local name=$1 i=$2 b0 b1
	shift 2
	b0=$(busy_ticks)
	timeout $((SECS + 30)) "$@" -t "$SECS" -C "$CC" -J >"$work/$name.$i.json" 2>"$work/$name.$i.err"
	b1=$(busy_ticks)
	echo "$((b1 - b0))" >"$work/$name.$i.ticks"
	sleep 0.5
}

# run NAME NSTACK-CMD... ::: KERNEL-CMD...: REPEAT iperf3 client runs of each
# stack in turn (nstack, kernel, nstack, ...: this VM drifts by a quarter
# within minutes, so a ratio compares runs made seconds apart); prints
# "NBEST NMEDIAN NCPU KBEST KMEDIAN KCPU RATIO": receive rates in bit/s, the
# machine's CPU seconds per GB received (mean over the runs), and the median
# of the per-pair ratios nstack/kernel.
run() {
	local name=$1 i sep ncmd=() kcmd=()
	shift
	for sep in "$@"; do
		[ "$sep" = ::: ] && break
		ncmd+=("$sep")
	done
	kcmd=("${@:$((${#ncmd[@]} + 2))}")
	for i in $(seq 1 "$REPEAT"); do
		iperf_once "nstack-$name" "$i" "${ncmd[@]}"
		iperf_once "kernel-$name" "$i" "${kcmd[@]}"
	done
	python3 - "$work" "$name" "$REPEAT" "$(getconf CLK_TCK)" <<-'PY'
		import json, statistics, sys
		work, name, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
		def runs(side):
		    rates, cpu = [], []
		    for i in range(1, n + 1):
		        f = "%s/%s-%s.%d" % (work, side, name, i)
		        try:
		            r = json.load(open(f + ".json"))
		            if "error" in r:
		                raise ValueError(r["error"])
		            s = r["end"]["sum_received"]
		            rates.append(int(s["bits_per_second"]))
		            if s["bytes"] > 0:
		                cpu.append(int(open(f + ".ticks").read()) / hz / (s["bytes"] / 1e9))
		        except Exception as e:
		            rates.append(0)
		            print("bench: %s-%s run %d failed: %s %s" % (side, name, i, e, open(f + ".err").read()[-300:]),
		                  file=sys.stderr)
		    return rates, cpu
		(nr, nc), (kr, kc) = runs("nstack"), runs("kernel")
		pairs = [a / b for a, b in zip(nr, kr) if a > 0 and b > 0]
		out = []
		for rates, cpu in ((nr, nc), (kr, kc)):
		    out += [max(rates), int(statistics.median(rates)), "%.2f" % (statistics.mean(cpu) if cpu else 0)]
		print(*out, "%.2f" % statistics.median(pairs) if pairs else 0)
	PY
}

echo "bench: iperf3 ${SECS}s x $REPEAT per row, $CC, MTU $(ip netns exec "$NS" cat /sys/class/net/nstack0/mtu)," \
	"tx-checksumming $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^tx-checksumming/{print $2}')" \
	"(nstack0) / $(ip netns exec "$PEER" ethtool -k peer0 | awk '/^tx-checksumming/{print $2}') (peer0)," \
	"nstack0 gso $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^generic-segmentation-offload/{print $2}')" \
	"gro $(ip netns exec "$NS" ethtool -k nstack0 | awk '/^generic-receive-offload/{print $2}'), peer tcp_tw_reuse" \
	"$(ip netns exec "$PEER" sysctl -n net.ipv4.tcp_tw_reuse)"

# rr_once NAME CMD...: the median round trip (us) of one bench/rr.py client
# run, or nothing when it failed.
rr_once() {
	local name=$1
	shift
	timeout 60 "$@" 2>"$work/$name.err" || { echo "bench: $name failed:" >&2; tail -3 "$work/$name.err" >&2; }
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

# wrk_once NAME URL [WRK ARGS...]: requests/s of one wrk run.
wrk_once() {
	local name=$1 url=$2
	shift 2
	ip netns exec "$PEER" timeout $((SECS + 20)) wrk -t2 -c"${BENCH_WRK_CONNS:-50}" -d"${SECS}s" \
		"$@" "$url" >"$work/$name.wrk" 2>&1
	grep -q -e 'Non-2xx' "$work/$name.wrk" &&
		{ echo "bench: $name had errors:" >&2; grep -e 'Non-2xx' "$work/$name.wrk" >&2; }
	awk '/^Requests\/sec/ { printf "%d", $2; f = 1 } END { if (!f) printf "0" }' "$work/$name.wrk"
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

# wrk_pairs NAME NSTACK-URL KERNEL-URL [WRK ARGS...]: REPEAT wrk runs against
# each in turn; prints "N1,N2,... K1,K2,..." (requests/s).
wrk_pairs() {
	local name=$1 nurl=$2 kurl=$3 i n= k=
	shift 3
	for i in $(seq 1 "$REPEAT"); do
		n="$n,$(wrk_once "nstack-$name.$i" "$nurl" "$@")"
		k="$k,$(wrk_once "kernel-$name.$i" "$kurl" "$@")"
	done
	echo "${n#,} ${k#,}"
}

# nginx_start NAME PORT ADDR WORKERS CMD...: nginx under CMD with WORKERS
# workers on ADDR:PORT, in the background, until it accepts connections.
nginx_start() {
	local name=$1 port=$2 addr=$3 workers=$4 i
	shift 4
	nginx_conf "$port" "$addr" "$workers"
	timeout $LIFE "$@" nginx -p "$work/ng$port" -c "$work/ng$port.conf" >"$work/$name.out" 2>&1 &
	for i in $(seq 1 50); do
		[ -s "$work/ng$port/nginx.pid" ] && ip netns exec "$PEER" timeout 2 \
			python3 -c 'import socket,sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 1)' \
			"$addr" "$port" 2>/dev/null && break
		sleep 0.2
	done
}

# nginx_rows NAME WORKERS: nginx with WORKERS workers under nstack (port
# 8081/8083) and on the kernel (8082/8084) at once, wrk runs against each in
# turn; prints "NKA KKA NCL KCL" (comma-separated requests/s of each run:
# keep-alive, then Connection: close), with 2 workers also "NOK NTRIED KOK
# KTRIED" (the SYN-flood fetches, nstack's then the kernel's).
nginx_rows() {
	local name=$1 workers=$2 np=8081 kp=8082 i nurl kurl out
	[ "$workers" = 1 ] && np=8083 kp=8084
	nginx_start "nstack-$name" "$np" 198.18.0.2 "$workers" ip netns exec "$NS" "$BUILD/nstack" --
	nginx_start "kernel-$name" "$kp" "$KADDR" "$workers" ip netns exec "$NS"
	nurl="http://198.18.0.2:$np/small" kurl="http://$KADDR:$kp/small"
	out="$(wrk_pairs "$name" "$nurl" "$kurl") $(wrk_pairs "$name-close" "$nurl" "$kurl" -H 'Connection: close')"
	[ "$workers" = 2 ] && out="$out $(flood_fetches 198.18.0.2 "$np") $(flood_fetches "$KADDR" "$kp")"
	for i in "$np" "$kp"; do
		kill -QUIT "$(cat "$work/ng$i/nginx.pid" 2>/dev/null)" 2>/dev/null
	done
	wait
	rm -f "$work/ng$np/nginx.pid" "$work/ng$kp/nginx.pid"
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
# row's runs alternate between nstack and the kernel (nginx runs on both at
# once; wrk alternates between them).
# nstack takes only frames for its own address (capture filter), and the
# kernel answers ARP only for its own.
ip netns exec "$NS" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=0
ip -n "$NS" addr add "$KADDR/24" dev nstack0
n_send=$(run send ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 \
	::: ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR")
n_recv=$(run recv ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 -R \
	::: ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR" -R)
# Round trips: nstack, nstack busy-polling (issue 11's latency goal with
# polling: the blocked receiver spins on the ring for up to BUSY_POLL us
# before it sleeps), then the kernel with its defaults, REPEAT times in turn.
BUSY_POLL=${BENCH_BUSY_POLL:-50}
n_rr= n_rrbp= k_rr=
for i in $(seq 1 "$REPEAT"); do
	n_rr="$n_rr,$(rr_once "nstack-rr.$i" ip netns exec "$NS" $RR_CLI_PIN "$BUILD/nstack" -- \
		python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100)"
	n_rrbp="$n_rrbp,$(rr_once "nstack-rr-bp.$i" ip netns exec "$NS" $RR_CLI_PIN env NSTACK_BUSY_POLL="$BUSY_POLL" \
		"$BUILD/nstack" -- python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100)"
	k_rr="$k_rr,$(rr_once "kernel-rr.$i" ip netns exec "$NS" $RR_CLI_PIN \
		python3 "$here/rr.py" client "$PEER_ADDR" 5202 "$RR_N" 100 "$KADDR")"
done
ng1="0 0 0 0" ng2="0 0 0 0 0 0 0 0"
if command -v nginx >/dev/null && command -v wrk >/dev/null; then
	ng1=$(nginx_rows nginx1 1)
	ng2=$(nginx_rows nginx 2)
fi
n_idle=$(idle_mem nstack-idle 198.18.0.2 9100 1 ip netns exec "$NS" "$BUILD/nstack" --)
k_idle=$(idle_mem kernel-idle "$KADDR" 9101 0 ip netns exec "$NS")
n_jsend="0 0 0 0 0 0 0" n_jrecv="0 0 0 0 0 0 0"
if [ "$JUMBO" = 1 ]; then
	wait_stack_gone
	set_mtu 9000
	n_jsend=$(run jsend ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 \
		::: ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR")
	n_jrecv=$(run jrecv ip netns exec "$NS" "$BUILD/nstack" -- iperf3 -c "$PEER_ADDR" -p 5201 -R \
		::: ip netns exec "$NS" iperf3 -c "$PEER_ADDR" -p 5201 -B "$KADDR" -R)
	wait_stack_gone
	set_mtu 1500
fi
ip -n "$NS" addr del "$KADDR/24" dev nstack0
ip netns exec "$NS" sysctl -qw net.ipv4.conf.nstack0.arp_ignore=8
# IPv6 the same way: the kernel at KADDR6 (nstack drops what is for ADDR6 at
# ingress, NSTACK_INGRESS_DROP, before the kernel's IPv6 sees it).
ip netns exec "$NS" sysctl -qw net.ipv6.conf.nstack0.disable_ipv6=0
ip -n "$NS" -6 addr add "$KADDR6/64" dev nstack0 nodad
n6_send=$(run send6 ip netns exec "$NS" env NSTACK_ADDR6=$ADDR6/64 "$BUILD/nstack" -- iperf3 -c "$PEER6" -p 5203 \
	::: ip netns exec "$NS" iperf3 -c "$PEER6" -p 5203 -B "$KADDR6")
n6_recv=$(run recv6 ip netns exec "$NS" env NSTACK_ADDR6=$ADDR6/64 "$BUILD/nstack" -- iperf3 -c "$PEER6" -p 5203 -R \
	::: ip netns exec "$NS" iperf3 -c "$PEER6" -p 5203 -B "$KADDR6" -R)
ip netns exec "$NS" sysctl -qw net.ipv6.conf.nstack0.disable_ipv6=1

python3 - "$REPEAT" "$IDLE_N" "$FLOOD_SECS" <<PY
import statistics, sys
repeat, idle_n, flood = sys.argv[1:4]
def ratio(a, b):
    return "%.2f" % (a / b) if b > 0 else "n/a"
def pair_ratio(num, den):
    """The median of num[i] / den[i] over the pairs that both ran."""
    r = [a / b for a, b in zip(num, den) if a > 0 and b > 0]
    return "%.2f" % statistics.median(r) if r else "n/a"
def nums(csv):
    return [float(x) if x else 0.0 for x in csv.split(",")]
print("Each row runs nstack and the kernel in turn, %s times (n, k, n, k, ...); columns give the best"
      " (median) of each, and the ratio is the median of the %s per-pair ratios." % (repeat, repeat))
rows = [("send, MTU 1500", "$n_send"), ("receive, MTU 1500", "$n_recv"),
        ("send, MTU 9000", "$n_jsend"), ("receive, MTU 9000", "$n_jrecv"),
        ("IPv6 send", "$n6_send"), ("IPv6 receive", "$n6_recv")]
print("iperf3 Gbit/s; CPU s/GB: the machine's busy CPU per GB received (mean)")
print("%-20s %17s %17s %6s %13s %13s" % ("", "nstack", "kernel", "ratio", "nstack CPU/GB", "kernel CPU/GB"))
for name, row in rows:
    nb, nm, nc, kb, km, kc, r = row.split()
    nb, nm, kb, km = (int(x) / 1e9 for x in (nb, nm, kb, km))
    if nb == 0 and kb == 0:
        continue
    print("%-20s %8.2f (%6.2f) %8.2f (%6.2f) %6s %13.2f %13.2f" % (name, nb, nm, kb, km, r, float(nc), float(kc)))
def row(name, n, k, note="", lower_better=False):
    best = min if lower_better else max
    nv, kv = [x for x in n if x > 0] or [0], [x for x in k if x > 0] or [0]
    fmt = "%-20s %8.1f (%6.1f) %8.1f (%6.1f) %6s%s" if lower_better else "%-20s %8d (%6d) %8d (%6d) %6s%s"
    print(fmt % (name, best(nv), statistics.median(nv), best(kv), statistics.median(kv),
                 pair_ratio(k, n) if lower_better else pair_ratio(n, k), note))
nrr, nbp, krr = nums("${n_rr#,}"), nums("${n_rrbp#,}"), nums("${k_rr#,}")
row("TCP 100 B RR median", nrr, krr, "   (us; ratio kernel/nstack; server on CPU 0, client on 1)", True)
row("  with busy polling", nbp, krr, "   (NSTACK_BUSY_POLL=$BUSY_POLL; the goal: ratio >= 2)", True)
g1, g2 = "$ng1".split(), "$ng2".split()
row("nginx 1 worker", nums(g1[0]), nums(g1[1]), "   (req/s, wrk 1 KiB keep-alive)")
row("nginx 2 workers", nums(g2[0]), nums(g2[1]))
row("new connections/s", nums(g2[2]), nums(g2[3]), "   (Connection: close, 2 workers)")
row("  with 1 worker", nums(g1[2]), nums(g1[3]), "   (Connection: close, 1 worker)")
nok, ntr, kok, ktr = (int(x) for x in g2[4:8]) if len(g2) >= 8 else (0, 0, 0, 0)
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
# Exit status: every MTU 1500 iperf3 row ran for both stacks.
set -- $n_send $n_recv
[ "$1" -gt 0 ] && [ "$4" -gt 0 ] && [ "$8" -gt 0 ] && [ "${11}" -gt 0 ]
