#!/bin/bash
# Integration tests: unmodified Debian programs under nstack in the netns lab.
#
#   test/integration/run.sh BUILD_DIR [CASE...]
#
# Brings up a lab with a unique prefix (torn down on exit, also on failure),
# then runs every function named case_* defined in test/integration/case_*.sh
# (sorted by name), each in its own shell with a time limit ($CASE_TIMEOUT,
# default 90 s). Case files may define helper functions of any name.
# One line per case; the last line is "N passed, N failed". Exit 1 if any
# case failed. A failed case is run once more (NSTACK_IT_RETRY=0 disables
# that); one that then passes counts as passed and is listed as FLAKY with
# the log of its first attempt. Give case names (without "case_") to run
# only those.
#
# A case function gets these variables and helpers (all exported):
#   $NSTACK      the wrapper (absolute path)    $BUILD   the build dir (absolute)
#   $NS $PEER    the lab's namespaces           $TMP     a scratch dir for the case
#   $ADDR $PEER_ADDR  198.18.0.2 and 198.18.0.1 $IT      this directory
#   in_ns CMD...     runs CMD in the nstack namespace (kernel stack, no address)
#   in_peer CMD...   runs CMD in the kernel peer's namespace
#   on_nstack CMD... runs CMD under nstack in the nstack namespace
#   wait_nstack_up   waits (bounded) until nstack answers ARP/ping at $ADDR
#   wait_file F TEXT waits (bounded) until file F contains TEXT
#   wait_peer_udp PORT  waits (bounded) until a kernel UDP socket in $PEER has PORT
#   wait_stacks_gone waits (bounded) until no stack (keeper) of $NS is live
#   sha FILE         prints FILE's SHA-256
#   kill_ns_procs    ends the processes a case left in the lab's namespaces
# Return 0 for pass; anything else fails the case, and its output is shown.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BUILD=${1:-build}
shift || true
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
CASE_TIMEOUT=${CASE_TIMEOUT:-90}

if [ "$(id -u)" != 0 ]; then
	echo "integration: must run as root (network namespaces)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
for tool in ip ethtool socat nc ping tcpdump python3 timeout setpriv; do
	if ! command -v "$tool" >/dev/null; then
		echo "integration: missing $tool (make deps)" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
if [ ! -x "$BUILD/nstack" ] || [ ! -f "$BUILD/libnstack.so" ]; then
	echo "integration: $BUILD/nstack or $BUILD/libnstack.so missing (make BUILD=...)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

prefix="nsi$$"
export NS="$prefix-ns" PEER="$prefix-peer"
# NSTACK_WRAPPER: another command in place of $BUILD/nstack (asan_lab.sh).
export NSTACK="${NSTACK_WRAPPER:-$BUILD/nstack}" BUILD IT="$here" ROOT="$root"
export ADDR=198.18.0.2 PEER_ADDR=198.18.0.1
work=$(mktemp -d /tmp/nstack-it.XXXXXX)

kill_ns_procs() {
	local n p
	for n in "$NS" "$PEER"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill "$p" 2>/dev/null
		done
	done
	sleep 0.2
	for n in "$NS" "$PEER"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do
			kill -9 "$p" 2>/dev/null
		done
	done
	return 0
}

cleanup() {
	kill_ns_procs
	"$root/test/lab.sh" down "$prefix" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { ip netns exec "$NS" "$@"; }
in_peer() { ip netns exec "$PEER" "$@"; }
on_nstack() { ip netns exec "$NS" "$NSTACK" -- "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
# "nstack stat ARGS" cut to the live stacks of the lab's namespace ("nstack
# stat" lists every stack of the machine, another lab's too). A stack's first
# line is printed once its netns line says it is ours: printed as it came,
# it made every live stack of another lab look like ours (wait_stacks_gone
# then waited its 5 s and failed while another lab ran).
stat_here() {
	in_ns timeout 10 "$BUILD/nstack" stat "$@" 2>&1 |
		awk '/^stack / { head = $0; live = /: live/; u = 0; next }
			/^  netns / { u = live && /this one/; if (u) print head } u'
}

# nstack answers ARP and echo requests once the program under it opened a socket.
wait_nstack_up() {
	local i
	for i in $(seq 1 40); do
		in_peer ping -c 1 -W 1 -i 0.2 "$ADDR" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nstack did not come up at $ADDR" >&2
	return 1
}

wait_file() {
	local i
	for i in $(seq 1 50); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1" >&2
	return 1
}
# Waits (bounded) until a kernel UDP socket is bound to PORT in the peer namespace.
wait_peer_udp() {
	local i
	for i in $(seq 1 50); do
		[ -n "$(ip netns exec "$PEER" ss -Hunl "sport = :$1")" ] && return 0
		sleep 0.1
	done
	echo "nothing bound to UDP port $1 in $PEER" >&2
	return 1
}
# Waits (bounded) until no stack of the lab's namespace is live: a program's
# keeper outlives it briefly, and a program started meanwhile joins that
# stack (its counters then include the last program's).
wait_stacks_gone() {
	local i
	for i in $(seq 1 50); do
		[ -z "$(stat_here)" ] && return 0
		sleep 0.1
	done
	echo "a stack of $NS is still live:" >&2
	stat_here >&2
	return 1
}
export -f in_ns in_peer on_nstack sha stat_here wait_nstack_up wait_file kill_ns_procs wait_peer_udp \
	wait_stacks_gone

if ! "$root/test/lab.sh" up "$prefix" >"$work/lab.log" 2>&1; then
	cat "$work/lab.log" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

for f in "$here"/case_*.sh; do
	[ -f "$f" ] || continue
	# shellcheck disable=SC1090
	source "$f"
done
cases=$(declare -F | awk '{print $3}' | grep '^case_' | sort)
if [ $# -gt 0 ]; then
	cases=$(for c in "$@"; do echo "case_$c"; done)
fi
passed=0
failed=0
flaky=0
RETRY=${NSTACK_IT_RETRY:-1}

# Runs one case in a fresh shell: it sources the case files again, so helpers
# they define (any name) are there too; the run.sh helpers come exported.
run_case() {
	local rc
	timeout -k 5 "$CASE_TIMEOUT" bash -c \
		'set -uo pipefail; for f in "$IT"/case_*.sh; do source "$f"; done; cd "$TMP"; "$0"' \
		"$1" >"$TMP/log" 2>&1
	rc=$?
	kill_ns_procs
	# The next case starts its own stack: killed processes hold the last one
	# a moment longer (their files close after they leave the namespace), and
	# a program started meanwhile would join it (see wait_stacks_gone).
	wait_stacks_gone >/dev/null 2>&1
	return $rc
}
for c in $cases; do
	export TMP="$work/$c"
	mkdir -p "$TMP"
	start=$(date +%s%N)
	run_case "$c"
	rc=$?
	if [ $rc -ne 0 ] && [ "$RETRY" -gt 0 ]; then
		# One retry, reported below: a case that fails twice is a failure;
		# one that passes the second time is listed as flaky with its first log.
		mv "$TMP" "$TMP.first"
		mkdir -p "$TMP"
		run_case "$c"
		if [ $? -eq 0 ]; then
			flaky=$((flaky + 1))
			printf 'FLAKY %-35s first attempt exit %s, passed on retry\n' "${c#case_}" "$rc"
			sed 's/^/    | /' "$TMP.first/log" 2>/dev/null | tail -n 15
			rc=0
		fi
	fi
	ms=$((($(date +%s%N) - start) / 1000000))
	secs="$((ms / 1000)).$((ms % 1000 / 100))"
	name=${c#case_}
	if [ $rc -eq 0 ]; then
		passed=$((passed + 1))
		printf 'PASS %-36s %5ss\n' "$name" "$secs"
	else
		failed=$((failed + 1))
		[ $rc -eq 124 ] && why=" (timed out after ${CASE_TIMEOUT}s)" || why=" (exit $rc)"
		printf 'FAIL %-36s %5ss%s\n' "$name" "$secs" "$why"
		sed 's/^/    | /' "$TMP/log" | tail -n ${NSTACK_IT_TAIL:-25}
	fi
done
[ "$flaky" -gt 0 ] && echo "flaky: $flaky case(s) passed only on retry (see FLAKY lines)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
