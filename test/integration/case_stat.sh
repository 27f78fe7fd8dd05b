# nstack stat (issue 8 item 8): the wrapper's dump of the stacks on this
# machine, read from the arenas without disturbing them. A forking socat
# server under nstack holds a connection from the kernel peer open while
# stat runs; the output must name the lab's stack, its processes (parent and
# forked child, one of them the driver, never stat itself), the listener
# and the connection as ss would, and the TCP counters. The connection must
# still work after stat read the stack. Then every process is SIGKILLed
# (nobody removes the file) and stat must call the stack stale.
# shellcheck shell=bash

# The section of stat's output ($1) about the stack file named $2.
st_section() {
	awk -v f="$2" '/^stack /{on = index($0, f) > 0} on' "$1"
}

case_stat_lists_processes_sockets_counters() {
	local ino file i
	ino=$(in_ns stat -L -c %i /proc/self/ns/net) || return 1
	file="/dev/shm/nstack.$ino.u$(id -u).nstack0.$ADDR"
	on_nstack timeout 40 socat -d -d TCP4-LISTEN:9350,fork,reuseaddr SYSTEM:cat \
		>socat.log 2>&1 &
	wait_file socat.log 'listening on' || { cat socat.log; return 1; }
	wait_nstack_up || return 1
	# A client that stays connected: says hello, reads the echo, then waits
	# for "bye" on its fifo (or 30 s) before it closes.
	mkfifo ctl
	in_peer timeout 35 python3 -u -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 9350), timeout=30)
s.sendall(b"hello\n")
print("echo", s.recv(64).decode().strip(), flush=True)
open(sys.argv[2]).read()
s.sendall(b"again\n")
print("echo", s.recv(64).decode().strip(), flush=True)
' "$ADDR" ctl >client.log 2>&1 &
	wait_file client.log 'echo hello' || { cat client.log socat.log; return 1; }

	# Everything, then each part alone.
	in_ns timeout 10 "$NSTACK" stat >stat.out 2>stat.err || { cat stat.out stat.err; return 1; }
	cat stat.out
	st_section stat.out "$file" >mine.out
	grep -q "^stack $file: live$" mine.out || { echo "no live stack $file"; return 1; }
	grep -q "interface nstack0, address $ADDR" mine.out || return 1
	# Process rows: SLOT PID ROLE COMMAND, at least the parent and the forked child.
	awk '/^  processes:/{on=1; next} /^  [a-z]/{on=0} on && $1 ~ /^[0-9]+$/' mine.out >procs.out
	[ "$(wc -l <procs.out)" -ge 2 ] || { echo "fewer than 2 processes"; return 1; }
	[ "$(grep -c ' driver ' procs.out)" -eq 1 ] || { echo "not exactly one driver"; return 1; }
	grep -q " socat$" procs.out || { echo "no socat"; return 1; }
	! grep -q 'nstack$' procs.out || { echo "stat took a process slot"; return 1; }
	grep -Eq '^    tcp +LISTEN .*0\.0\.0\.0:9350 .*users:\(\("socat",pid=[0-9]+\)' mine.out ||
		{ echo "no LISTEN socket on :9350"; return 1; }
	grep -Eq "^    tcp +ESTABLISHED .*$ADDR:9350 +$PEER_ADDR:[0-9]+ +users:" mine.out ||
		{ echo "no ESTABLISHED socket to $PEER_ADDR"; return 1; }
	grep -Eq 'rtt:[0-9.]+/[0-9.]+ .*cwnd:[0-9]+' mine.out || { echo "no TCP info line"; return 1; }
	grep -Eq '^    TcpPassiveOpens +[1-9]' mine.out || { echo "no TcpPassiveOpens"; return 1; }
	grep -Eq '^    EthInFrames +[1-9]' mine.out || return 1

	in_ns timeout 10 "$NSTACK" stat -p >p.out || return 1
	st_section p.out "$file" | grep -q '^  processes:' || return 1
	! grep -q -e '^  sockets:' -e '^  counters:' p.out || { echo "-p shows more"; return 1; }
	in_ns timeout 10 "$NSTACK" stat -s >s.out || return 1
	st_section s.out "$file" | grep -q 'LISTEN' || return 1
	! grep -q -e '^  processes:' -e '^  counters:' s.out || { echo "-s shows more"; return 1; }
	in_ns timeout 10 "$NSTACK" stat -c >c.out || return 1
	st_section c.out "$file" | grep -q 'TcpPassiveOpens' || return 1
	! grep -q -e '^  processes:' -e '^  sockets:' c.out || { echo "-c shows more"; return 1; }
	in_ns "$NSTACK" stat --help | grep -q 'usage: nstack stat' || return 1

	# The stack carries on as before.
	echo bye >ctl
	wait_file client.log 'echo again' || { cat client.log socat.log; return 1; }

	# Every process killed at once: the file stays, nobody uses it.
	for i in $(ip netns pids "$NS"); do kill -9 "$i" 2>/dev/null; done
	for i in $(seq 1 50); do
		[ -z "$(ip netns pids "$NS")" ] && break
		sleep 0.1
	done
	if [ -e "$file" ]; then
		# A killed process leaves the namespace before its last files are
		# closed: its lock on the stack goes a moment later.
		wait_stacks_gone
		in_ns timeout 10 "$NSTACK" stat -p >stale.out || return 1
		st_section stale.out "$file" | tee stale.mine
		grep -q "^stack $file: stale" stale.mine || { echo "not stale"; return 1; }
		grep -q '(gone)' stale.mine || { echo "dead pids not marked"; return 1; }
		rm -f "$file"
	fi
	kill_ns_procs
}
