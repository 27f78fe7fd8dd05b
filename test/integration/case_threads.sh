# Threads and signals on private sockets (issue 4): thr_probe.c under nstack
# against thr_peer.py on the kernel side. See thr_probe.c for the checks.
# shellcheck shell=bash

# Signals (EINTR or restart per SA_RESTART and SO_RCVTIMEO/SO_SNDTIMEO, as
# signal(7)), blocked calls woken from other threads, shared epoll sets,
# EPOLLEXCLUSIVE, EPOLLRDHUP, closed fds leaving epoll sets, poll + epoll
# on one socket in two threads, non-blocking connect completion.
case_threads_signals_probe() {
	cc -D_GNU_SOURCE -O2 -g -std=gnu11 -pthread -Wall -Wextra -Werror \
		-o "$TMP/thr_probe" "$IT/thr_probe.c" || return 1
	in_peer timeout 80 python3 -u "$IT/thr_peer.py" "$PEER_ADDR" "$ADDR" >"$TMP/peer.log" 2>&1 &
	wait_file "$TMP/peer.log" ready || return 1
	on_nstack timeout 70 "$TMP/thr_probe" "$PEER_ADDR" "$ADDR" >"$TMP/out" 2>&1
	local rc=$?
	cat "$TMP/out"
	kill_ns_procs
	[ $rc -eq 0 ] && grep -q '^PASS' "$TMP/out"
}
