# Threads and signals on private sockets (issue 4): thr_probe.c under nstack
# against thr_peer.py on the kernel side. See thr_probe.c for the checks.
# shellcheck shell=bash

# The peer prints "ready" once listening (bounded: 15 s, a loaded machine).
thr_wait_peer() {
	local i
	for i in $(seq 1 150); do
		grep -q ready "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "thr_peer.py did not start"
	cat "$1"
	return 1
}

# Signals (EINTR or restart per SA_RESTART and SO_RCVTIMEO/SO_SNDTIMEO, as
# signal(7)), blocked calls woken from other threads, shared epoll sets,
# EPOLLEXCLUSIVE, EPOLLRDHUP, closed fds leaving epoll sets, poll + epoll
# on one socket in two threads, non-blocking connect completion.
case_threads_signals_probe() {
	cc -D_GNU_SOURCE -O2 -g -std=gnu11 -pthread -Wall -Wextra -Werror \
		-o "$TMP/thr_probe" "$IT/thr_probe.c" || return 1
	in_peer timeout 80 python3 -u "$IT/thr_peer.py" "$PEER_ADDR" "$ADDR" >"$TMP/peer.log" 2>&1 &
	thr_wait_peer "$TMP/peer.log" || return 1
	on_nstack timeout 70 "$TMP/thr_probe" "$PEER_ADDR" "$ADDR" >"$TMP/out" 2>&1
	local rc=$?
	cat "$TMP/out"
	kill_ns_procs
	[ $rc -eq 0 ] && grep -q '^PASS' "$TMP/out"
}

# The preload's machinery against the mock stack, built with ThreadSanitizer
# and then AddressSanitizer: pollers, epoll waiters, the readiness hook and
# close(epfd) during a wait race on purpose there.
case_threads_preload_mock_tsan_asan() {
	local san out rc=0 pids=()
	# Both builds at once (they were most of this case's time).
	for san in thread address; do
		# shellcheck disable=SC2046 # one word per file
		cc -fsanitize=$san -D_GNU_SOURCE -I"$ROOT/stack/include" -I"$ROOT/pcap_io" \
			-I"$ROOT/preload" -O1 -g -std=gnu11 -pthread -Wall -Wextra -Werror \
			-Wno-unused-parameter -o "$TMP/mock_$san" $(mock_sources) -lpcap -ldl &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || rc=1
	done
	[ $rc = 0 ] || return 1
	for san in thread address; do
		out="$TMP/out_$san"
		NSTACK_IFACE=lo TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
			ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 "$TMP/mock_$san" >"$out" 2>&1 || rc=1
		echo "== $san"
		tail -3 "$out"
		grep -A30 -E 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer' "$out" | head -60
		grep -q -E 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer' "$out" && rc=1
	done
	return $rc
}

# The same probe on the kernel's own stack (in the peer namespace, over its
# loopback): the expectations in thr_probe.c are Linux's, checked on Linux.
case_threads_signals_probe_kernel_reference() {
	cc -D_GNU_SOURCE -O2 -g -std=gnu11 -pthread -Wall -Wextra -Werror \
		-o "$TMP/thr_probe" "$IT/thr_probe.c" || return 1
	in_peer timeout 80 python3 -u "$IT/thr_peer.py" "$PEER_ADDR" "$PEER_ADDR" >"$TMP/peer.log" 2>&1 &
	thr_wait_peer "$TMP/peer.log" || return 1
	in_peer timeout 70 "$TMP/thr_probe" "$PEER_ADDR" "$PEER_ADDR" >"$TMP/out" 2>&1
	local rc=$?
	cat "$TMP/out"
	kill_ns_procs
	[ $rc -eq 0 ] && grep -q '^PASS' "$TMP/out"
}

# Signals go to the program's threads, never to nstack's: a main thread in
# sigsuspend() (as an nginx master waits for SIGCHLD) wakes for each of 15
# SIGUSR1 sent to the process, each while it has the signal blocked
# (thr_sigsuspend.c). Before the
# stack thread blocked all signals, some landed on it and the wait hung.
case_threads_signals_reach_program_threads_only() {
	cc -O1 -Wall -Wextra -Werror -o "$TMP/thr_sigsuspend" "$IT/thr_sigsuspend.c" || return 1
	on_nstack timeout 30 "$TMP/thr_sigsuspend" 15 >sig.log 2>&1 &
	local prog=$! pid i
	wait_file sig.log ready || { cat sig.log; return 1; }
	pid=$(pgrep -f -n "$TMP/thr_sigsuspend 15") || { echo "no process"; return 1; }
	for i in $(seq 1 15); do
		kill -USR1 "$pid" || return 1
		wait_file sig.log "woke $i" || { echo "signal $i did not wake sigsuspend()"; cat sig.log; return 1; }
	done
	wait $prog || { cat sig.log; return 1; }
	grep -q 'ok 15' sig.log
}
