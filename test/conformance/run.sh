#!/bin/bash
# nstack's TCP against Linux's own packetdrill scripts, in packetdrill WIRE MODE.
#
#   test/conformance/run.sh [BUILD] [SCRIPT|GLOB|DIR ...]
#   make conformance [CONF_SCRIPTS='gtests/net/tcp/mss/*']
#
# Every IPv4 script of the packetdrill tree's gtests/net/tcp/** (or the ones
# named; paths and globs are relative to the packetdrill tree, or to its
# gtests/net/tcp) runs twice, each time in fresh network namespaces:
#
#   kernel  the script's system calls are made by the kernel's TCP
#   nstack  the same calls made under LD_PRELOAD=BUILD/libnstack.so
#
# and the table shows both results, then both pass counts, the skipped
# scripts (IPv6) and the scripts that pass on the kernel but fail on nstack,
# each with the first error line packetdrill printed. Logs per script:
# BUILD/conformance/{kernel,nstack}/<dir>__<script>.log (the client's output,
# then the wire server's). Exit status: 0 when nothing passes on the kernel
# and fails on nstack, 1 otherwise, 2 when packetdrill is missing.
#
# Lab, per script and run (names carry this shell's PID; torn down on exit,
# also on failure or ^C):
#
#   PFX-c  wire client: runs the script's system calls and shell commands.
#          tun0 = test veth (the scripts' own commands name tun0),
#          ctl0 = 198.19.200.1/24, control connection to the server.
#   PFX-s  wire server: injects and sniffs the script's packets on srv0,
#          ctl1 = 198.19.200.2/24. An nftables ingress rule on srv0 drops
#          the client's test traffic after packetdrill's packet socket saw
#          it, so the server's kernel never answers it.
#
# Addresses only from 198.18.0.0/15: the scripts' 192.168.x.y (local) become
# 198.18.x.y, 192.0.2.y (remote) 198.19.2.y, 10.248.0.y 198.19.248.y, in a
# copy of the tree (BUILD/conformance/tree); a script in which any other IPv4
# literal remains is skipped. The TCP Fast Open cookies a server script
# expects are derived from the addresses (siphash with defaults.sh's
# tcp_fastopen_key), so the four literal cookies of the original address
# pairs are replaced by the ones Linux computes for the remapped pairs (and
# -D TFO_COOKIE likewise). Defaults (run_all.py's IPv4 ones, remapped):
# local 198.18.0.1, netmask 255.255.0.0, remote 198.19.2.1, gateway
# 198.18.0.2 (the server holds it; 198.18.0.1 when local is .2). They are
# always passed on the command line, which wins over the script's options.
#
# Kernel run: packetdrill's wire client puts the local address on tun0 and
# routes the remote network via the gateway itself ("ip addr add", "ip route
# add" through system()). nstack run: nstack owns the local address, so the
# kernel must not hold it: PATH starts with a shim "ip" that turns exactly
# that "ip addr add LOCAL/len" into a no-op (all else goes to the real ip),
# an nftables ingress rule drops IPv4 for LOCAL on tun0 after nstack's packet
# socket saw it, and arp_ignore=8 on tun0 (as test/lab.sh does). The client
# runs with NSTACK_IFACE=tun0 NSTACK_ADDR=LOCAL/len NSTACK_GW=gateway
# NSTACK_BYPASS=198.19.200.0/24 (its control connection goes to the kernel).
# nstack reads the tcp sysctls when it starts, at the client's first socket,
# which is the control connection, before the script's own first command
# (../common/defaults.sh and inline sysctls) ran: so for the nstack run that
# first command block is also run once in the client namespace before the
# client starts (CONF_PRESYSCTL=0 turns this off). TX checksum offload is off
# on every veth.
#
# Environment:
#   PACKETDRILL=/path/to/packetdrill        the binary
#   PACKETDRILL_SRC=/path/to/packetdrill    the source tree (git clone of
#       github.com/google/packetdrill); without PACKETDRILL it is built into
#       BUILD/packetdrill/. With neither, BUILD/packetdrill/ is used if built.
#   CONF_TIMEOUT=30    seconds per script and run (timeout(1))
#   CONF_JOBS=1        scripts run in parallel (each in its own namespaces;
#                      many scripts check timing, so keep this low)
#   CONF_MODES="kernel nstack"
#   CONF_PRESYSCTL=1
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
[ $# -gt 0 ] && shift
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="$BUILD/conformance"
TIMEOUT=${CONF_TIMEOUT:-30}
JOBS=${CONF_JOBS:-1}
MODES=${CONF_MODES:-kernel nstack}
PRESYSCTL=${CONF_PRESYSCTL:-1}
LIB="$BUILD/libnstack.so"
PFX="pdc$$"
CTL_NET=198.19.200.0/24
CTL_CLIENT=198.19.200.1
CTL_SERVER=198.19.200.2

die() {
	echo "conformance: $*" >&2
	exit 2
}

how_to_get() {
	cat >&2 <<-EOF
		conformance: packetdrill not found ($*).
		Give it one of these ways:
		  git clone https://github.com/google/packetdrill /some/dir
		  make conformance PACKETDRILL_SRC=/some/dir      # builds it into $BUILD/packetdrill/
		  make conformance PACKETDRILL=/some/dir/gtests/net/packetdrill/packetdrill
		(building needs bison and flex: apt-get install bison flex)
	EOF
	exit 2
}

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, packet sockets)"
for t in ip ethtool nft timeout ss perl; do
	command -v $t >/dev/null 2>&1 || die "needs $t"
done
REAL_IP=$(command -v ip)

# ---- packetdrill: binary and script tree ----
PD_BIN=${PACKETDRILL:-}
PD_TREE=${PACKETDRILL_SRC:-}
if [ -n "$PD_BIN" ]; then
	[ -x "$PD_BIN" ] || how_to_get "PACKETDRILL=$PD_BIN is not an executable"
	PD_BIN=$(readlink -f "$PD_BIN")
	if [ -z "$PD_TREE" ]; then
		t=$(cd "$(dirname "$PD_BIN")/../../.." 2>/dev/null && pwd)
		[ -d "$t/gtests/net/tcp" ] && PD_TREE=$t
		[ -z "$PD_TREE" ] && [ -d "$BUILD/packetdrill/gtests/net/tcp" ] && PD_TREE="$BUILD/packetdrill"
		[ -n "$PD_TREE" ] || how_to_get "no gtests/net/tcp next to $PD_BIN; set PACKETDRILL_SRC too"
	fi
elif [ -n "$PD_TREE" ]; then
	[ -d "$PD_TREE/gtests/net/packetdrill" ] || how_to_get "PACKETDRILL_SRC=$PD_TREE has no gtests/net/packetdrill"
	PD_TREE=$(cd "$PD_TREE" && pwd)
	dst="$BUILD/packetdrill"
	if [ "$PD_TREE" != "$dst" ]; then
		rm -rf "$dst"
		mkdir -p "$dst"
		cp -a "$PD_TREE/." "$dst/" || die "cannot copy $PD_TREE to $dst"
	fi
	PD_BIN="$dst/gtests/net/packetdrill/packetdrill"
	if [ ! -x "$PD_BIN" ]; then
		for t in bison flex; do
			command -v $t >/dev/null 2>&1 || die "building packetdrill needs $t (apt-get install bison flex)"
		done
		echo "conformance: building packetdrill in $dst/gtests/net/packetdrill"
		(cd "$dst/gtests/net/packetdrill" && ./configure >build.log 2>&1 &&
			nice make -j2 packetdrill >>build.log 2>&1) ||
			die "packetdrill build failed, see $dst/gtests/net/packetdrill/build.log"
	fi
else
	PD_BIN="$BUILD/packetdrill/gtests/net/packetdrill/packetdrill"
	PD_TREE="$BUILD/packetdrill"
	[ -x "$PD_BIN" ] || how_to_get "neither PACKETDRILL nor PACKETDRILL_SRC is set and $PD_BIN does not exist"
fi
[ -d "$PD_TREE/gtests/net/tcp" ] || how_to_get "$PD_TREE/gtests/net/tcp is missing"
case " $MODES " in *" nstack "*) [ -f "$LIB" ] || die "$LIB is missing: make all" ;; esac

# ---- the scripts ----
shopt -s nullglob globstar
scripts=()
add_path() { # $1: a file or directory below PD_TREE
	if [ -d "$1" ]; then
		local f
		for f in "$1"/**/*.pkt; do scripts+=("${f#"$PD_TREE"/}"); done
	elif [ -f "$1" ]; then
		scripts+=("${1#"$PD_TREE"/}")
	fi
}
if [ $# -eq 0 ]; then
	add_path "$PD_TREE/gtests/net/tcp"
else
	for pat in "$@"; do
		n=${#scripts[@]}
		case "$pat" in
		/*) for f in $pat; do add_path "$(readlink -f "$f")"; done ;;
		*)
			for f in "$PD_TREE"/$pat; do add_path "$f"; done
			if [ ${#scripts[@]} -eq "$n" ]; then
				for f in "$PD_TREE"/gtests/net/tcp/$pat "$PD_TREE"/gtests/net/$pat; do add_path "$f"; done
			fi
			;;
		esac
		[ ${#scripts[@]} -gt "$n" ] || echo "conformance: no script matches $pat" >&2
	done
fi
mapfile -t scripts < <(printf '%s\n' "${scripts[@]}" | grep -v '^$' | grep '^gtests/net/tcp/' | sort -u)
[ ${#scripts[@]} -gt 0 ] || die "no scripts to run"

# A copy of gtests/net/tcp with the scripts' addresses moved into 198.18.0.0/15.
rm -rf "$OUT/tree" "$OUT/kernel" "$OUT/nstack" "$OUT/res"
mkdir -p "$OUT/tree/gtests/net" "$OUT/kernel" "$OUT/nstack" "$OUT/res" "$OUT/shim"
cp -a "$PD_TREE/gtests/net/tcp" "$OUT/tree/gtests/net/" || die "cannot copy the scripts"
[ -d "$PD_TREE/gtests/net/common" ] && cp -a "$PD_TREE/gtests/net/common" "$OUT/tree/gtests/net/"
find "$OUT/tree" -name '*.pkt' -print0 | xargs -0 perl -pi -e '
	s/\b192\.168\.(\d+)\.(\d+)\b/198.18.$1.$2/g;
	s/\b192\.0\.2\.(\d+)\b/198.19.2.$1/g;
	s/\b10\.248\.0\.(\d+)\b/198.19.248.$1/g;
	s/\b3021b9d889017eeb\b/a7802617229ef823/g;
	s/\b00abaaabe8e954c2\b/28c77108ebaf7974/g;
	s/\b1313a2da994a0951\b/5b9bd88767154758/g;
	s/\b76d2c1c530f51f79\b/a82a6d9f845e1140/g;'

# The "ip" the nstack run's client finds first: packetdrill's own
# "ip addr add LOCAL/len dev tun0" must not give the kernel nstack's address.
cat >"$OUT/shim/ip" <<EOF
#!/bin/sh
if [ "\$1" = addr ] && [ "\$2" = add ] && [ -n "\${CONF_NSTACK_LOCAL:-}" ] &&
	[ "\${3%/*}" = "\$CONF_NSTACK_LOCAL" ]; then
	echo "conformance shim: skipped: ip \$*" >&2
	exit 0
fi
exec $REAL_IP "\$@"
EOF
chmod +x "$OUT/shim/ip"
# The "nstat" the nstack run's client finds first: a script reading the
# TCP counters (nstat | grep TcpExt...) means those of the stack that made
# its calls, so it gets nstack's ("nstack stat -c") with nstat's default
# meaning: the increase since the previous call (history kept per script),
# non-zero ones only; -n only updates the history, -a prints absolute values.
cat >"$OUT/shim/nstat" <<EOF
#!/bin/sh
[ -n "\${CONF_NSTAT_HISTORY:-}" ] || exec nstat "\$@"
quiet=0 abs=0
for o in "\$@"; do
	case "\$o" in
	-n | --nooutput) quiet=1 ;;
	-a | --ignore) abs=1 ;;
	*) echo "conformance shim: nstat \$o not supported" >&2; exit 2 ;;
	esac
done
hist="\$CONF_NSTAT_HISTORY"
[ -f "\$hist" ] || : >"\$hist"
env -u LD_PRELOAD "$(realpath "$BUILD")/nstack" stat -c |
	awk '/^stack / { use = /: live/ } /^  netns / { use = use && /this one/ }
		use && \$1 ~ /^[A-Z][A-Za-z0-9]+\$/ && \$2 ~ /^[0-9]+\$/ { print \$1, \$2 }' >"\$hist.now"
if [ "\$quiet" = 0 ]; then
	echo "#kernel"
	awk -v abs="\$abs" 'NR == FNR { old[\$1] = \$2; next }
		{ d = abs ? \$2 : \$2 - old[\$1]; if (d) printf "%-32s%-17d0.0\\n", \$1, d }' \\
		"\$hist" "\$hist.now"
fi
mv "\$hist.now" "\$hist"
EOF
chmod +x "$OUT/shim/nstat"
# The wire server keeps its kernel out of the test traffic with iptables;
# here an nftables rule in lab_up does that, so its iptables calls are no-ops.
mkdir -p "$OUT/shim/server"
printf '#!/bin/sh\nexit 0\n' >"$OUT/shim/server/iptables"
chmod +x "$OUT/shim/server/iptables"

# ---- lab ----
cleanup_ns() { # $1: namespace; also the shared memory of an nstack in it
	local p i ino
	ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1" || return 0
	ino=$(ip netns exec "$1" stat -L -c %i /proc/self/ns/net 2>/dev/null)
	for i in 1 2 3 4 5; do
		p=$(ip netns pids "$1" 2>/dev/null)
		[ -z "$p" ] && break
		kill -9 $p 2>/dev/null
		sleep 0.1
	done
	ip netns del "$1" 2>/dev/null
	[ -n "$ino" ] && rm -f /dev/shm/nstack."$ino".* 2>/dev/null
	return 0
}

cleanup_all() {
	local j n
	for j in $(jobs -pr); do kill "$j" 2>/dev/null; done
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$PFX-"); do
		cleanup_ns "$n"
	done
}
trap cleanup_all EXIT
trap 'echo "conformance: interrupted" >&2; exit 130' INT TERM

lab_up() { # $1 client ns, $2 server ns, $3 mode, $4 local ip
	local c=$1 s=$2 mode=$3 local=$4 n d
	ip netns add "$c" && ip netns add "$s" || return 1
	ip -n "$c" link add tun0 type veth peer name srv0 || return 1
	ip -n "$c" link set srv0 netns "$s" || return 1
	ip -n "$c" link add ctl0 type veth peer name ctl1 || return 1
	ip -n "$c" link set ctl1 netns "$s" || return 1
	for x in "$c:tun0" "$c:ctl0" "$s:srv0" "$s:ctl1"; do
		n=${x%%:*} d=${x#*:}
		ip netns exec "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 "net.ipv6.conf.$d.disable_ipv6=1" >/dev/null 2>&1
		ip netns exec "$n" ethtool -K "$d" tx off >/dev/null 2>&1
		ip -n "$n" link set lo up
		ip -n "$n" link set "$d" up || return 1
	done
	ip -n "$c" addr add "$CTL_CLIENT/24" dev ctl0 || return 1
	ip -n "$s" addr add "$CTL_SERVER/24" dev ctl1 || return 1
	ip netns exec "$s" nft -f - <<-EOF || return 1
		table netdev conformance {
			chain ingress {
				type filter hook ingress device srv0 priority 0;
				ip saddr $local drop
			}
		}
	EOF
	if [ "$mode" = nstack ]; then
		ip netns exec "$c" nft -f - <<-EOF || return 1
			table netdev conformance {
				chain ingress {
					type filter hook ingress device tun0 priority 0;
					ip daddr $local drop
				}
			}
		EOF
		ip netns exec "$c" sysctl -qw net.ipv4.conf.tun0.arp_ignore=8 || return 1
	fi
}

# The script's first shell command block, if it comes before any system call.
first_command() {
	perl -0777 -ne '
		s{^\s*//.*$}{}mg;
		if (/^(.*?)`([^`]*)`/s) {
			my ($pre, $cmd) = ($1, $2);
			print $cmd unless $pre =~ /\w+\s*\(/;
		}' "$1"
}

opt_of() { # $1 script, $2 option name
	perl -ne "print \"\$1\\n\" if /^--$2=(\\S+)/" "$1" | head -1
}

# run_one MODE SCRIPT(rel) : writes $OUT/res/MODE.KEY = PASS|FAIL|TIMEOUT
run_one() {
	local mode=$1 rel=$2 idx=$3
	local key=${rel#gtests/net/tcp/}
	key=${key%.pkt}
	key=${key//\//__}
	local log="$OUT/$mode/$key.log" slog="$OUT/$mode/$key.server.log"
	local res="$OUT/res/$mode.$key"
	local script="$OUT/tree/$rel"
	local dir base c="$PFX-$idx-c" s="$PFX-$idx-s"
	dir=$(dirname "$script")
	base=$(basename "$script")

	local local_ip remote_ip netmask gw plen
	local_ip=$(opt_of "$script" local_ip)
	remote_ip=$(opt_of "$script" remote_ip)
	netmask=$(opt_of "$script" netmask_ip)
	gw=$(opt_of "$script" gateway_ip)
	: "${local_ip:=198.18.0.1}" "${remote_ip:=198.19.2.1}" "${netmask:=255.255.0.0}"
	if [ -z "$gw" ]; then
		gw=198.18.0.2
		[ "$local_ip" = "$gw" ] && gw=198.18.0.1
	fi
	plen=$(perl -e '$n=0; $n += unpack("%32b*", pack("C", $_)) for split /\./, $ARGV[0]; print $n' "$netmask")

	local args=(--ip_version=ipv4 "--local_ip=$local_ip" "--remote_ip=$remote_ip"
		"--gateway_ip=$gw" "--netmask_ip=$netmask"
		-D TFO_COOKIE=a7802617229ef823 -D CODE=host_unreachable
		-D CMSG_LEVEL_IP=SOL_IP -D CMSG_TYPE_RECVERR=IP_RECVERR)

	: >"$log"
	if ! lab_up "$c" "$s" "$mode" "$local_ip" >>"$log" 2>&1; then
		echo "conformance: lab setup failed" >>"$log"
		echo FAIL >"$res"
		cleanup_ns "$c"
		cleanup_ns "$s"
		return
	fi

	ip netns exec "$s" env PATH="$OUT/shim/server:$PATH" timeout -s KILL $((TIMEOUT + 15)) \
		"$PD_BIN" --wire_server --wire_server_dev=srv0 >"$slog" 2>&1 &
	local spid=$! i
	for i in $(seq 50); do
		ip netns exec "$s" ss -Hltn 'sport = :8081' 2>/dev/null | grep -q . && break
		sleep 0.1
	done

	local envs=()
	if [ "$mode" = nstack ]; then
		if [ "$PRESYSCTL" = 1 ]; then
			local cmd
			cmd=$(first_command "$script")
			if [ -n "$cmd" ]; then
				echo "conformance: before the client starts, in $dir: $cmd" >>"$log"
				# (set_sysctls.py writes /tmp/sysctl_restore_$PACKETDRILL_PID.sh)
				(cd "$dir" && ip netns exec "$c" env PACKETDRILL_PID="conformance$$-$idx" \
					timeout 10 sh -c "$cmd") >>"$log" 2>&1
				rm -f "/tmp/sysctl_restore_conformance$$-$idx.sh"
				# defaults.sh adds a root qdisc on tun0; its second run must not find one.
				ip netns exec "$c" tc qdisc del dev tun0 root >/dev/null 2>&1
			fi
		fi
		rm -f "$OUT/$mode/$key.nstat"
		envs=(PATH="$OUT/shim:$PATH" CONF_NSTACK_LOCAL="$local_ip"
			CONF_NSTAT_HISTORY="$OUT/$mode/$key.nstat"
			LD_PRELOAD="$LIB" NSTACK_IFACE=tun0 NSTACK_ADDR="$local_ip/$plen"
			NSTACK_GW="$gw" NSTACK_BYPASS="$CTL_NET")
	fi

	local rc
	(cd "$dir" && ip netns exec "$c" env "${envs[@]}" timeout -k 5 "$TIMEOUT" \
		"$PD_BIN" --wire_client --wire_client_dev=tun0 --wire_server_ip="$CTL_SERVER" \
		"${args[@]}" "$base") >>"$log" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ]; then
		echo PASS >"$res"
	elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		echo "conformance: timed out after ${TIMEOUT}s" >>"$log"
		echo TIMEOUT >"$res"
	else
		echo FAIL >"$res"
	fi

	kill "$spid" 2>/dev/null
	cleanup_ns "$c"
	cleanup_ns "$s"
	wait "$spid" 2>/dev/null
	{
		echo "---- wire server ----"
		cat "$slog"
	} >>"$log"
	rm -f "$slog"
}

first_error() { # $1 log: packetdrill's own first error ("x.pkt:LINE: ...")
	local l
	l=$(grep -m1 -E '^[^ ]+\.pkt(:[0-9]+)?: ' "$1")
	[ -n "$l" ] || l=$(grep -m1 -E '^conformance: timed out|error|assert' "$1")
	[ -n "$l" ] || l=$(grep -v '^conformance' "$1" | grep -m1 .)
	echo "${l:-(no output)}"
}

is_ipv6() {
	case "$1" in *v6.pkt | *ipv6*) return 0 ;; esac
	grep -qE '^--ip_version=ipv6|AF_INET6|^--local_ip=[0-9a-fA-F]*:' "$OUT/tree/$1"
}

unmapped() { # IPv4 literals left outside 198.18.0.0/15 (0.0.0.0 and 127/8 stay local)
	grep -oE '\b[0-9]{1,3}(\.[0-9]{1,3}){3}\b' "$OUT/tree/$1" |
		grep -vE '^(198\.1[89]\.|0\.0\.0\.0$|127\.)' | sort -u | tr '\n' ' '
}

# ---- run ----
# The scripts set net.ipv4.tcp_congestion_control=cubic; outside the initial
# namespace Linux only allows what the host's tcp_allowed_congestion_control
# lists, so otherwise the namespaces keep the host's default and the kernel
# fails the scripts that check cubic's cwnd. This runner does not change the host.
if ! grep -qw cubic /proc/sys/net/ipv4/tcp_allowed_congestion_control 2>/dev/null; then
	echo "conformance: note: cubic is not in the host's net.ipv4.tcp_allowed_congestion_control" \
		"($(cat /proc/sys/net/ipv4/tcp_allowed_congestion_control 2>/dev/null)): the namespaces run" \
		"$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null), scripts checking cubic's cwnd fail on the kernel too"
fi
echo "conformance: packetdrill $PD_BIN"
echo "conformance: scripts from $PD_TREE/gtests/net/tcp (${#scripts[@]} selected), modes: $MODES, timeout ${TIMEOUT}s, jobs $JOBS"
echo "conformance: logs in $OUT/{kernel,nstack}/"
run_list=()
skipped=()
for rel in "${scripts[@]}"; do
	if is_ipv6 "$rel"; then
		skipped+=("$rel (IPv6)")
		continue
	fi
	u=$(unmapped "$rel")
	if [ -n "$u" ]; then
		skipped+=("$rel (address not remapped: $u)")
		continue
	fi
	run_list+=("$rel")
done

idx=0
for rel in "${run_list[@]}"; do
	idx=$((idx + 1))
	while [ "$(jobs -pr | wc -l)" -ge "$JOBS" ]; do wait -n; done
	(
		trap - EXIT
		for m in $MODES; do run_one "$m" "$rel" "$idx"; done
		key=${rel#gtests/net/tcp/}
		key=${key%.pkt}
		key=${key//\//__}
		line=$(printf '%-68s' "${rel#gtests/net/tcp/}")
		for m in $MODES; do
			line+=" $m $(cat "$OUT/res/$m.$key" 2>/dev/null || echo '?')"
		done
		echo "$line"
	) &
done
wait

# ---- summary ----
declare -A npass
for m in $MODES; do npass[$m]=0; done
regress=()
for rel in "${run_list[@]}"; do
	key=${rel#gtests/net/tcp/}
	key=${key%.pkt}
	key=${key//\//__}
	for m in $MODES; do
		[ "$(cat "$OUT/res/$m.$key" 2>/dev/null)" = PASS ] && npass[$m]=$((npass[$m] + 1))
	done
	if [ "$(cat "$OUT/res/kernel.$key" 2>/dev/null)" = PASS ] &&
		[ -f "$OUT/res/nstack.$key" ] && [ "$(cat "$OUT/res/nstack.$key")" != PASS ]; then
		regress+=("${rel#gtests/net/tcp/}: $(first_error "$OUT/nstack/$key.log")")
	fi
done

{
	echo
	echo "==== conformance summary ===="
	echo "scripts run: ${#run_list[@]}, skipped: ${#skipped[@]}"
	for m in $MODES; do echo "$m passes: ${npass[$m]}/${#run_list[@]}"; done
	if [ ${#skipped[@]} -gt 0 ]; then
		echo "skipped:"
		printf '  %s\n' "${skipped[@]}"
	fi
	if [ ${#regress[@]} -gt 0 ]; then
		echo "pass on the kernel, fail on nstack (${#regress[@]}):"
		printf '  %s\n' "${regress[@]}"
	fi
} | tee "$OUT/summary.txt"
[ ${#regress[@]} -eq 0 ]
