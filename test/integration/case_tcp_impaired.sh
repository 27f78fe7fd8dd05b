# TCP against the Linux kernel through an impaired link (issue 3): every
# case builds its own three-namespace lab (tcp_impaired_lab.sh) where
# nstack-relay drops 2% of the frames in each direction, delays every frame
# by 10 ms each way (20 ms RTT), holds back 5% by 3 ms more (reordering),
# duplicates 1% and flips one bit in 0.5% — and the transfers must still be
# byte-exact. Sizes are smaller than on the clean lab (curl moves 20 MiB,
# not 100) to keep the cases within the time budget.
# shellcheck shell=bash

TCP_IMPAIR_OPTS="-l 0.02 -D 10 -r 0.05 -d 0.01 -c 0.005"

# Brings up an impaired lab for this case (tag $1, seed $2) and sets XNS,
# XPEER; torn down when the case's shell exits, the relay's report shown.
tcp_impaired_up() {
	tcp_impaired_sweep
	XPREFIX="${NS%-ns}x$1"
	XNS="$XPREFIX-ns"
	XPEER="$XPREFIX-peer"
	export TMPDIR="$TMP"
	trap 'tcp_impaired_down' EXIT
	trap 'exit 143' TERM INT
	# shellcheck disable=SC2086
	"$IT/tcp_impaired_lab.sh" up "$XPREFIX" "$BUILD/nstack-relay" $TCP_IMPAIR_OPTS \
		-s "$2" -t 80 || return 1
}

# Removes impaired labs left by runners that no longer exist (a case killed
# with SIGKILL cannot run its trap); names are nsi<runner pid>x<tag>-*.
tcp_impaired_sweep() {
	local n pid
	for n in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^nsi[0-9]+x[a-z]-(ns|mid|peer)$'); do
		pid=${n#nsi}
		pid=${pid%%x*}
		[ -d "/proc/$pid" ] && continue
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	return 0
}

tcp_impaired_down() {
	"$IT/tcp_impaired_lab.sh" down "$XPREFIX" >/dev/null 2>&1
	cat "$TMP/$XPREFIX-relay.log" 2>/dev/null
}

# Stops the relay and fails unless it really lost, duplicated, reordered and
# corrupted frames during the case (a transfer through a relay that did
# nothing would prove nothing).
tcp_impaired_check() {
	local log="$TMP/$XPREFIX-relay.log" k
	"$IT/tcp_impaired_lab.sh" down "$XPREFIX" >/dev/null 2>&1
	for k in lost dup reordered corrupted; do
		grep -Eq "$k [1-9]" "$log" || {
			echo "the relay did not impair ($k):"
			cat "$log"
			return 1
		}
	done
}

x_nstack() { ip netns exec "$XNS" "$NSTACK" -- "$@"; }
x_peer() { ip netns exec "$XPEER" "$@"; }

# As wait_nstack_up, through the lossy link.
x_wait_nstack_up() {
	local i
	for i in $(seq 1 40); do
		x_peer ping -c 1 -W 1 "$ADDR" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "nstack did not come up at $ADDR" >&2
	return 1
}

# curl under nstack downloads 20 MiB from a kernel http.server.
case_tcp_impaired_curl_20mib_download() {
	tcp_impaired_up c 11 || return 1
	mkdir -p srv
	tcp_mkfile srv/f 20M
	x_peer timeout 60 python3 -u -m http.server --bind "$PEER_ADDR" --directory srv 8080 \
		>http.log 2>&1 &
	wait_file http.log "Serving HTTP" || return 1
	x_nstack timeout 55 curl -sS --fail -o out "http://$PEER_ADDR:8080/f" || return 1
	[ "$(sha srv/f)" = "$(sha out)" ] && tcp_impaired_check
}

# nc under nstack uploads 2 MiB (nstack sends through the loss).
case_tcp_impaired_nc_upload_nstack_client() {
	tcp_impaired_up u 12 || return 1
	tcp_mkfile in 2M
	x_peer timeout 60 nc -l "$PEER_ADDR" 9100 </dev/null >out &
	tcp_wait_listen 9100 "$XPEER" || return 1
	x_nstack timeout 55 nc -N "$PEER_ADDR" 9100 <in || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ] && tcp_impaired_check
}

# nc under nstack downloads 4 MiB from a kernel nc.
case_tcp_impaired_nc_download_nstack_client() {
	tcp_impaired_up d 13 || return 1
	tcp_mkfile in 4M
	x_peer timeout 60 nc -N -l "$PEER_ADDR" 9101 <in &
	tcp_wait_listen 9101 "$XPEER" || return 1
	x_nstack timeout 55 nc "$PEER_ADDR" 9101 </dev/null >out || return 1
	wait $! || return 1
	[ "$(sha in)" = "$(sha out)" ] && tcp_impaired_check
}

# nc -l under nstack receives 4 MiB from a kernel nc.
case_tcp_impaired_nc_upload_nstack_server() {
	tcp_impaired_up s 14 || return 1
	tcp_mkfile in 4M
	x_nstack timeout 60 nc -l 9102 </dev/null >out &
	local srv=$!
	x_wait_nstack_up || return 1
	x_peer timeout 55 nc -N "$ADDR" 9102 <in || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ] && tcp_impaired_check
}

# nc -l -N under nstack serves 2 MiB to a kernel nc (nstack sends).
case_tcp_impaired_nc_download_nstack_server() {
	tcp_impaired_up t 15 || return 1
	tcp_mkfile in 2M
	x_nstack timeout 60 nc -N -l 9103 <in &
	local srv=$!
	x_wait_nstack_up || return 1
	x_peer timeout 55 nc "$ADDR" 9103 </dev/null >out || return 1
	wait $srv || return 1
	[ "$(sha in)" = "$(sha out)" ] && tcp_impaired_check
}

# Python echo, 2 MiB full duplex, nstack as client: both directions lossy at once.
case_tcp_impaired_python_echo_nstack_client() {
	tcp_impaired_up p 16 || return 1
	x_peer timeout 60 python3 "$IT/tcp_echo.py" server 9110 55 >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || return 1
	x_nstack timeout 55 python3 "$IT/tcp_echo.py" client "$PEER_ADDR" 9110 2097152 || return 1
	wait $srv || { cat srv.log; return 1; }
	grep -q 'done 2097152' srv.log && tcp_impaired_check
}

# Python echo server under nstack, 2 MiB full duplex from a kernel client.
case_tcp_impaired_python_echo_nstack_server() {
	tcp_impaired_up q 18 || return 1
	x_nstack timeout 60 python3 "$IT/tcp_echo.py" server 9111 55 >srv.log 2>&1 &
	local srv=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	x_wait_nstack_up || return 1
	x_peer timeout 55 python3 "$IT/tcp_echo.py" client "$ADDR" 9111 2097152 || return 1
	wait $srv || { cat srv.log; return 1; }
	grep -q 'done 2097152' srv.log && tcp_impaired_check
}

# Half-close through the impaired link: nc -N under nstack sends 2 MiB and
# shuts down; the kernel's answer (its SHA-256) must still come back.
case_tcp_impaired_half_close_nstack_client() {
	tcp_impaired_up h 19 || return 1
	tcp_mkfile in 2M
	x_peer timeout 60 socat TCP4-LISTEN:9104,bind="$PEER_ADDR",reuseaddr SYSTEM:sha256sum &
	tcp_wait_listen 9104 "$XPEER" || return 1
	x_nstack timeout 55 nc -N "$PEER_ADDR" 9104 <in >reply || return 1
	wait $! || return 1
	cat reply
	[ "$(cut -d' ' -f1 reply)" = "$(sha in)" ] && tcp_impaired_check
}

# iperf3 -c under nstack for 3 s through the impaired link, nstack sending.
case_tcp_impaired_iperf3_nstack_client() {
	tcp_impaired_up i 17 || return 1
	x_peer timeout 40 iperf3 -s -B "$PEER_ADDR" -p 5201 >srv.log 2>&1 &
	tcp_wait_listen 5201 "$XPEER" || return 1
	x_nstack timeout 30 iperf3 -c "$PEER_ADDR" -p 5201 -t 3 -J >up.json || { cat up.json; return 1; }
	tcp_iperf_ok up.json && tcp_impaired_check
}

export -f tcp_impaired_up tcp_impaired_sweep tcp_impaired_down tcp_impaired_check x_nstack x_peer x_wait_nstack_up
export TCP_IMPAIR_OPTS
