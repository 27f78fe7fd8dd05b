#!/bin/bash
# make demo: unmodified programs on nstack's private TCP/IP stack.
#
#   test/demo.sh BUILD_DIR
#
# Brings up the two-namespace lab, shows the kernel pinging nstack while a
# program runs under nstack, nstack's ping to the kernel, and a UDP exchange
# between socat under nstack and a kernel-side UDP echo, and curl under
# nstack downloading from a kernel web server; then tears the lab down (also
# when interrupted or when a step fails).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$root/$BUILD" ;; esac
NSTACK="$BUILD/nstack"
prefix="nsdemo$$"
NS="$prefix-ns"
PEER="$prefix-peer"
ADDR=198.18.0.2
PEER_ADDR=198.18.0.1
work=$(mktemp -d /tmp/nstack-demo.XXXXXX)
failed=0

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
	printf '$ %s\n' "$*"
	"$@"
}

cleanup() {
	for n in "$NS" "$PEER"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	"$here/lab.sh" down "$prefix" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then
	echo "demo: run as root (it creates network namespaces)" >&2
	exit 1
fi
[ -x "$NSTACK" ] || { echo "demo: $NSTACK missing: run make first" >&2; exit 1; }

say "The lab: namespace $NS runs programs under nstack on veth nstack0 (no kernel address);"
echo "   namespace $PEER is an ordinary kernel host at $PEER_ADDR."
"$here/lab.sh" up "$prefix" || exit 1
run ip -n "$NS" -brief addr show nstack0
run ip -n "$PEER" -brief addr show peer0

say "1. A program under nstack holds a UDP socket; the kernel peer pings nstack's $ADDR."
echo "   The kernel in $NS has no address there: only nstack can answer."
ip netns exec "$NS" "$NSTACK" -v -- python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7))
time.sleep(8)' &
holder=$!
for _ in $(seq 1 30); do
	ip netns exec "$PEER" ping -c 1 -W 1 "$ADDR" >/dev/null 2>&1 && break
	sleep 0.2
done
run ip netns exec "$PEER" ping -c 3 -i 0.3 "$ADDR" || failed=1
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

say "2. Debian's unmodified ping, run under nstack, pings the kernel peer."
run ip netns exec "$NS" "$NSTACK" -w "$work/ping.pcap" -- ping -c 3 -i 0.3 "$PEER_ADDR" || failed=1
echo "   Every frame nstack sent and received, from its .pcap dump (nstack -w):"
tcpdump -nn -r "$work/ping.pcap" 2>/dev/null | sed 's/^/   /'

say "3. UDP: socat under nstack talks to a kernel-side UDP echo server on $PEER_ADDR:7777."
ip netns exec "$PEER" socat -T 5 UDP4-RECVFROM:7777,bind="$PEER_ADDR",fork PIPE &
sleep 0.5
msg="hello from an unmodified socat on nstack, $(date +%T)"
printf '$ echo "%s" | nstack -- socat - UDP4:%s:7777\n' "$msg" "$PEER_ADDR"
reply=$(echo "$msg" | ip netns exec "$NS" "$NSTACK" -- socat -T 2 - UDP4:"$PEER_ADDR":7777)
echo "   reply: $reply"
[ "$reply" = "$msg" ] || failed=1

say "4. And the other way: a kernel nc sends to nc -u -l running under nstack."
ip netns exec "$NS" "$NSTACK" -- nc -u -l 7778 >"$work/got" &
listener=$!
for _ in $(seq 1 30); do
	ip netns exec "$PEER" ping -c 1 -W 1 "$ADDR" >/dev/null 2>&1 && break
	sleep 0.2
done
sleep 0.3
run sh -c "echo 'hello nstack, from the kernel' | ip netns exec $PEER nc -u -w 1 $ADDR 7778"
sleep 0.3
echo "   nc under nstack received: $(cat "$work/got")"
grep -q 'hello nstack' "$work/got" || failed=1
# Each process runs its own stack on 198.18.0.2; two at once would answer
# each other's segments with resets, so the listener goes before TCP starts.
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

say "5. TCP: an unmodified curl under nstack downloads a page and a 20 MiB file from a kernel web server."
mkdir -p "$work/www"
printf '<html><body><h1>Served by the kernel, fetched over nstack</h1></body></html>\n' >"$work/www/index.html"
head -c $((20 << 20)) /dev/urandom >"$work/www/big.bin"
ip netns exec "$PEER" timeout 60 python3 -u -m http.server --bind "$PEER_ADDR" --directory "$work/www" 8080 \
	>"$work/http.log" 2>&1 &
for _ in $(seq 1 50); do
	grep -q "Serving HTTP" "$work/http.log" 2>/dev/null && break
	sleep 0.1
done
run ip netns exec "$NS" "$NSTACK" -- curl -sS "http://$PEER_ADDR:8080/" || failed=1
printf '$ nstack -- curl -o big.bin http://%s:8080/big.bin\n' "$PEER_ADDR"
summary=$(ip netns exec "$NS" "$NSTACK" -- curl -sS -o "$work/big.bin" \
	-w '%{size_download} bytes in %{time_total} s (%{speed_download} bytes/s)' \
	"http://$PEER_ADDR:8080/big.bin") || failed=1
echo "   curl: $summary"
if cmp -s "$work/www/big.bin" "$work/big.bin"; then
	echo "   sha256 matches: $(sha256sum <"$work/big.bin" | cut -c1-16)..."
else
	echo "   the downloaded file differs!"
	failed=1
fi

if [ $failed -eq 0 ]; then
	say "Demo complete: ping, UDP and TCP (curl) ran on nstack's private stack. Tearing the lab down."
else
	say "Demo finished with a failure (see above). Tearing the lab down."
fi
exit $failed
