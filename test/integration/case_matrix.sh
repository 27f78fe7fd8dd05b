# The program matrix of issue 4: unmodified Debian programs with nstack on
# one side and the Linux kernel on the other, nstack as client and as server.
# Every transfer is checked byte for byte (SHA-256) and by exit status; every
# program is bounded by its own timeout below the runner's. No throughput
# thresholds. Helper files: mx_upload.py (HTTP upload sink), mx_srv.py
# (kernel server for mx_fdops.c), mx_fdops.c (targeted fd/connect/signal
# checks), mx_epoll.py (epoll semantics), mx_nginx.conf (nginx template),
# mx_wrk.lua (wrk response checker).
#
# Only one nstack process may own the lab address at a time: a second one
# sees the first one's segments and answers them with resets. Cases that run
# two nstack programs end the first (kill_ns_procs) before starting the next.
# shellcheck shell=bash

mx_mkfile() { head -c "$2" /dev/urandom >"$1"; }

# Runs the HTTP upload sink: mx_upload WHERE ADDR PORT COUNT (WHERE is
# in_peer or on_nstack); files land in ./up. Waits until it listens.
mx_upload() {
	local where=$1 addr=$2 port=$3 count=$4
	mkdir -p up
	"$where" timeout 80 python3 -u "$IT/mx_upload.py" "$addr" "$port" up "$count" \
		>up.log 2>&1 &
	wait_file up.log ready || { cat up.log; return 1; }
}

# Checks a "SHA256 LENGTH" reply ($1) and the stored copy ($2) against $3.
mx_upload_ok() {
	local want
	want="$(sha "$3") $(stat -c %s "$3")"
	[ "$(cat "$1")" = "$want" ] || { echo "reply '$(cat "$1")', want '$want'"; return 1; }
	[ "$(sha "$2")" = "$(sha "$3")" ] || { echo "$2 differs from $3"; return 1; }
}

# nginx from the template: mx_nginx_conf LISTEN ROOT > conf
mx_nginx_conf() {
	mkdir -p "$TMP/nginx"
	sed -e "s|@DIR@|$TMP/nginx|g" -e "s|@LISTEN@|$1|" -e "s|@ROOT@|$2|" "$IT/mx_nginx.conf"
}

# Fails unless wrk's output ($1) shows at least $2 responses, all 200 with
# the right length, and no socket error. With $3 = slow, responses slower
# than wrk's 2 s timeout are tolerated (they are still checked).
mx_wrk_ok() {
	local slow=${3:-}
	cat "$1"
	! grep -q -e 'Non-2xx' "$1" || return 1
	[ -n "$slow" ] || ! grep -q 'Socket errors' "$1" || return 1
	grep -q '^mx: responses' "$1" || return 1
	set -- $(grep '^mx: responses' "$1") "$2"
	# mx: responses N bad N errors connect N read N write N status N timeout N
	[ "$3" -ge "${17}" ] && [ "$5" -eq 0 ] && [ "$8" -eq 0 ] && [ "${10}" -eq 0 ] &&
		[ "${12}" -eq 0 ] && [ "${14}" -eq 0 ] && { [ -n "$slow" ] || [ "${16}" -eq 0 ]; }
}

# Redis data: 10 000 SETs in the protocol for redis-cli --pipe, the GETs,
# and the values the GETs must print, one per line.
mx_redis_data() {
	python3 - <<'PY'
import os
with open("sets.resp", "wb") as s, open("gets.txt", "w") as g, open("want.txt", "w") as w:
    for i in range(10000):
        k = b"mx:key:%d" % i
        v = os.urandom(8 + i % 40).hex().encode()
        s.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        g.write("GET %s\n" % k.decode())
        w.write(v.decode() + "\n")
PY
}

# Loads the 10 000 keys and reads them back: mx_redis_roundtrip WHERE HOST PORT
mx_redis_roundtrip() {
	local where=$1 host=$2 port=$3
	"$where" timeout 30 redis-cli -h "$host" -p "$port" --pipe <sets.resp >pipe.log 2>&1 ||
		{ cat pipe.log; return 1; }
	cat pipe.log
	grep -q 'errors: 0, replies: 10000' pipe.log || return 1
	"$where" timeout 30 redis-cli -h "$host" -p "$port" <gets.txt >got.txt || return 1
	cmp got.txt want.txt || return 1
	[ "$("$where" timeout 10 redis-cli -h "$host" -p "$port" DBSIZE)" = 10000 ]
}

mx_redis_benchmark() {
	local where=$1 host=$2 port=$3
	"$where" timeout 40 redis-benchmark -h "$host" -p "$port" -n 4000 -c 20 -q \
		-t set,get,incr,lpush,lrange_100 >bench.log 2>&1 || { cat bench.log; return 1; }
	tr '\r' '\n' <bench.log | grep 'requests per second' | tee bench.txt
	for t in SET GET INCR LPUSH LRANGE_100; do
		grep -q "^$t[ :].*requests per second" bench.txt || { echo "no $t result"; return 1; }
	done
	! grep -qi error bench.log
}

# --- HTTP: curl, wget, python --------------------------------------------

# wget under nstack downloads 100 MiB from a kernel python http.server.
case_matrix_wget_100mib_download_nstack_client() {
	mkdir -p srv
	mx_mkfile srv/f 100M
	in_peer timeout 80 python3 -u -m http.server --bind "$PEER_ADDR" --directory srv 9300 \
		>http.log 2>&1 &
	wait_file http.log "Serving HTTP" || return 1
	on_nstack timeout 70 wget -q -O out "http://$PEER_ADDR:9300/f" || return 1
	[ "$(sha srv/f)" = "$(sha out)" ]
}

# curl under nstack uploads 100 MiB (PUT, Content-Length) and 8 MiB from a
# pipe (PUT, chunked); wget under nstack POSTs 100 MiB; all to a kernel sink.
case_matrix_curl_wget_upload_nstack_client() {
	mx_mkfile big 100M
	mx_mkfile small 8M
	mx_upload in_peer "$PEER_ADDR" 9301 3 || return 1
	on_nstack timeout 60 curl -sS --fail -T big -o r1 "http://$PEER_ADDR:9301/big" || return 1
	mx_upload_ok r1 up/big big || return 1
	on_nstack timeout 30 curl -sS --fail -T - -o r2 "http://$PEER_ADDR:9301/chunked" <small ||
		return 1
	mx_upload_ok r2 up/chunked small || return 1
	on_nstack timeout 60 wget -q --post-file=big -O r3 "http://$PEER_ADDR:9301/wget" || return 1
	mx_upload_ok r3 up/wget big || return 1
	wait $! || { cat up.log; return 1; }
}

# python3 -m http.server (a ThreadingHTTPServer) under nstack: kernel curl
# fetches 100 MiB, kernel wget too, then 8 parallel curl transfers of 8 MiB.
case_matrix_python_http_server_nstack_server() {
	mkdir -p srv
	mx_mkfile srv/f 100M
	mx_mkfile srv/s 8M
	# --bind 0.0.0.0: without it Python picks an IPv6 socket (the kernel's).
	on_nstack timeout 80 python3 -u -m http.server --bind 0.0.0.0 --directory srv 9302 \
		>http.log 2>&1 &
	wait_file http.log "Serving HTTP" || { cat http.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 60 curl -sS --fail -o out "http://$ADDR:9302/f" || return 1
	[ "$(sha srv/f)" = "$(sha out)" ] || return 1
	in_peer timeout 60 wget -q -O out2 "http://$ADDR:9302/f" || return 1
	[ "$(sha srv/f)" = "$(sha out2)" ] || return 1
	local i args=()
	for i in 1 2 3 4 5 6 7 8; do args+=(-o "p$i" "http://$ADDR:9302/s"); done
	in_peer timeout 30 curl -sS --fail -Z --parallel-max 8 "${args[@]}" || return 1
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(sha "p$i")" = "$(sha srv/s)" ] || { echo "parallel download $i differs"; return 1; }
	done
}

# The upload sink under nstack: kernel curl PUTs 100 MiB, kernel wget POSTs
# 100 MiB.
case_matrix_curl_wget_upload_nstack_server() {
	mx_mkfile big 100M
	mx_upload on_nstack 0.0.0.0 9303 2 || return 1
	local srv=$!
	wait_nstack_up || return 1
	in_peer timeout 60 curl -sS --fail -T big -o r1 "http://$ADDR:9303/big" || return 1
	mx_upload_ok r1 up/big big || return 1
	in_peer timeout 60 wget -q --post-file=big -O r2 "http://$ADDR:9303/wget" || return 1
	mx_upload_ok r2 up/wget big || return 1
	wait $srv || { cat up.log; return 1; }
}

# Python's urllib under nstack: a 20 MiB GET and an 8 MiB POST to a kernel
# server (the sink serves GETs too).
case_matrix_python_urllib_nstack_client() {
	mx_mkfile small 8M
	mkdir -p up
	mx_mkfile up/f 20M
	mx_upload in_peer "$PEER_ADDR" 9304 1 || return 1
	on_nstack timeout 40 python3 - "http://$PEER_ADDR:9304" "$(sha up/f)" "$(sha small)" <<'PY' ||
import hashlib, sys, urllib.request
base, want_get, want_post = sys.argv[1:4]
with urllib.request.urlopen(base + "/f", timeout=30) as r:
    got = hashlib.sha256(r.read()).hexdigest()
assert got == want_get, ("GET", got)
body = open("small", "rb").read()
req = urllib.request.Request(base + "/posted", data=body, method="POST")
with urllib.request.urlopen(req, timeout=30) as r:
    reply = r.read().decode().split()
assert reply == [want_post, str(len(body))], reply
print("urllib: GET and POST ok")
PY
		return 1
	[ "$(sha up/posted)" = "$(sha small)" ] || return 1
	wait $! || { cat up.log; return 1; }
}

# --- redis ------------------------------------------------------------------

# redis-server under nstack; kernel redis-cli loads 10 000 keys (--pipe),
# reads each back, redis-benchmark runs, BGSAVE forks a child that must not
# disturb the parent, and SHUTDOWN ends the server with 0.
case_matrix_redis_nstack_server() {
	mx_redis_data || return 1
	on_nstack timeout 80 redis-server --port 9310 --bind 0.0.0.0 --protected-mode no \
		--save "" --appendonly no --dir "$TMP" --daemonize no >redis.log 2>&1 &
	local srv=$!
	wait_file redis.log "Ready to accept connections" || { cat redis.log; return 1; }
	wait_nstack_up || return 1
	mx_redis_roundtrip in_peer "$ADDR" 9310 || return 1
	mx_redis_benchmark in_peer "$ADDR" 9310 || return 1
	# BGSAVE forks: the child writes the dump and exits; the parent's
	# connections and data must not notice.
	in_peer timeout 10 redis-cli -h "$ADDR" -p 9310 BGSAVE | grep -q 'Background saving started' ||
		return 1
	local i
	for i in $(seq 1 50); do
		in_peer timeout 10 redis-cli -h "$ADDR" -p 9310 INFO persistence >persist.txt || return 1
		grep -q 'rdb_bgsave_in_progress:0' persist.txt && break
		sleep 0.1
	done
	grep -q 'rdb_last_bgsave_status:ok' persist.txt && [ -s "$TMP/dump.rdb" ] ||
		{ cat persist.txt; return 1; }
	in_peer timeout 30 redis-cli -h "$ADDR" -p 9310 <gets.txt >got2.txt || return 1
	cmp got2.txt want.txt || return 1
	in_peer timeout 10 redis-cli -h "$ADDR" -p 9310 SHUTDOWN NOSAVE
	wait $srv || { tail redis.log; return 1; }
}

# redis-cli and redis-benchmark under nstack against a kernel redis-server.
case_matrix_redis_nstack_client() {
	mx_redis_data || return 1
	in_peer timeout 80 redis-server --port 9311 --bind "$PEER_ADDR" --protected-mode no \
		--save "" --appendonly no --dir "$TMP" --daemonize no >redis.log 2>&1 &
	wait_file redis.log "Ready to accept connections" || { cat redis.log; return 1; }
	mx_redis_roundtrip on_nstack "$PEER_ADDR" 9311 || return 1
	mx_redis_benchmark on_nstack "$PEER_ADDR" 9311
}

# --- nginx and wrk -----------------------------------------------------------

# nginx under nstack (no master, epoll edge-triggered, sendfile, keep-alive):
# kernel curl fetches 100 MiB and three files on one kept-alive connection,
# PUTs 100 MiB (WebDAV), kernel wrk makes 10 000 small requests, then opens 200 connections at once
# (no SYN may need a retransmission); SIGQUIT ends nginx with 0.
case_matrix_nginx_nstack_server() {
	mkdir -p www
	mx_mkfile www/big 100M
	mx_mkfile www/small 1024
	mx_nginx_conf 9320 "$TMP/www" >nginx.conf
	on_nstack timeout 80 nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx.conf" \
		>nginx.out 2>&1 &
	local srv=$!
	wait_nstack_up || { cat nginx.out "$TMP/nginx/error.log"; return 1; }
	in_peer timeout 60 curl -sS --fail -o out "http://$ADDR:9320/big" || return 1
	[ "$(sha out)" = "$(sha www/big)" ] || return 1
	in_peer timeout 20 curl -sS --fail -v -o k1 "http://$ADDR:9320/small" -o k2 \
		"http://$ADDR:9320/small" -o k3 "http://$ADDR:9320/big" 2>curl.err || return 1
	grep -c 'Re-using existing connection' curl.err | grep -qx 2 || { cat curl.err; return 1; }
	for f in k1 k2; do [ "$(sha $f)" = "$(sha www/small)" ] || return 1; done
	[ "$(sha k3)" = "$(sha www/big)" ] || return 1
	# Upload: kernel curl PUTs 100 MiB, nginx writes it under its root.
	mx_mkfile up 100M
	in_peer timeout 60 curl -sS --fail -T up -o /dev/null "http://$ADDR:9320/in/up" || return 1
	[ "$(sha www/in/up)" = "$(sha up)" ] || return 1
	in_peer timeout 20 wrk -t2 -c20 -d8s -s "$IT/mx_wrk.lua" "http://$ADDR:9320/small" \
		-- 5000 1024 >wrk.log 2>&1 || { cat wrk.log; return 1; }
	mx_wrk_ok wrk.log 10000 || return 1
	# 200 connections at once: every SYN answered the first time (a lost
	# one shows as a second SYN from the same port, 1 s later).
	in_peer timeout 20 tcpdump -i peer0 -n -l 'tcp[tcpflags] == tcp-syn and dst port 9320' \
		>syn.txt 2>/dev/null &
	local dump=$!
	sleep 0.5
	in_peer timeout 20 wrk -t2 -c200 -d2s "http://$ADDR:9320/small" >wrk200.log 2>&1 ||
		{ cat wrk200.log; return 1; }
	sleep 0.3
	kill $dump
	cat wrk200.log
	! grep -q -e 'Socket errors' -e 'Non-2xx' wrk200.log || return 1
	# 201: wrk tries the address once before its 200 connections.
	echo "SYNs: $(wc -l <syn.txt), retransmitted: $(awk '{print $3}' syn.txt | sort | uniq -d | wc -l)"
	[ "$(wc -l <syn.txt)" -ge 200 ] && [ -z "$(awk '{print $3}' syn.txt | sort | uniq -d)" ] ||
		return 1
	kill -QUIT "$(cat "$TMP/nginx/nginx.pid")" || return 1
	wait $srv || { cat nginx.out; tail "$TMP/nginx/error.log"; return 1; }
}

# wrk under nstack (epoll, non-blocking connects, two threads) against a
# kernel nginx: 10 000 requests, then 200 connections at once; every
# response checked.
case_matrix_wrk_nstack_client() {
	mkdir -p www
	mx_mkfile www/small 1024
	mx_nginx_conf "$PEER_ADDR:9321" "$TMP/www" >nginx.conf
	in_peer timeout 60 nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx.conf" \
		>nginx.out 2>&1 &
	wait_file "$TMP/nginx/nginx.pid" . || { cat nginx.out; return 1; }
	on_nstack timeout 20 wrk -t2 -c20 -d8s -s "$IT/mx_wrk.lua" "http://$PEER_ADDR:9321/small" \
		-- 5000 1024 >wrk.log 2>&1 || { cat wrk.log; return 1; }
	mx_wrk_ok wrk.log 10000 || return 1
	# 200 connections fetching 300 KiB each: the kernel senders burst into
	# nstack's capture ring at once; every response still checked.
	mx_mkfile www/mid 300K
	on_nstack timeout 20 wrk -t2 -c200 -d3s -s "$IT/mx_wrk.lua" "http://$PEER_ADDR:9321/mid" \
		-- 1000000 307200 >wrk200.log 2>&1 || { cat wrk200.log; return 1; }
	mx_wrk_ok wrk200.log 200 slow
}

# --- targeted ------------------------------------------------------------------

mx_fdops_build() {
	cc -O1 -Wall -Wextra -Werror -pthread -o "$TMP/mx_fdops" "$IT/mx_fdops.c"
}

mx_srv_peer() {
	in_peer timeout 60 python3 -u "$IT/mx_srv.py" "$PEER_ADDR" "$1" >srv.log 2>&1 &
	wait_file srv.log ready || { cat srv.log; return 1; }
}

# Non-blocking connect to a closed kernel port: EINPROGRESS, then POLLOUT|
# POLLERR and ECONNREFUSED through SO_ERROR (read once); blocking connect
# fails with ECONNREFUSED.
case_matrix_connect_refused_so_error() {
	mx_fdops_build || return 1
	on_nstack timeout 20 "$TMP/mx_fdops" refused "$PEER_ADDR" 9339
}

# dup2 of a private socket to a new number, of a file over a private socket,
# of a private socket over another; the far end sees each close when it
# should.
case_matrix_dup2_private_fd() {
	mx_fdops_build || return 1
	mx_srv_peer 9330 || return 1
	on_nstack timeout 30 "$TMP/mx_fdops" dup2 "$PEER_ADDR" 9330
}

# close_range over private fds: CLOSE_RANGE_CLOEXEC marks them, the plain
# call closes them all (the far end sees every FIN), numbers are reused.
case_matrix_close_range_private_fds() {
	mx_fdops_build || return 1
	mx_srv_peer 9331 || return 1
	on_nstack timeout 30 "$TMP/mx_fdops" closerange "$PEER_ADDR" 9331
}

# A client with 8 threads x 100 connections to a kernel echo server, every
# reply checked.
case_matrix_threads_8x100_connections() {
	mx_fdops_build || return 1
	mx_srv_peer 9332 || return 1
	on_nstack timeout 60 "$TMP/mx_fdops" threads "$PEER_ADDR" 9332
}

# Exit flush: nc under nstack sends 10 MiB and quits at end of input (-q 0)
# with most of it still queued; the kernel receiver gets every byte. Then the
# same with Python's os._exit right after sendall.
case_matrix_exit_flush_nc_10mib() {
	mx_mkfile in 10M
	in_peer timeout 40 nc -l "$PEER_ADDR" 9333 </dev/null >out &
	local rcv=$!
	sleep 0.3
	on_nstack timeout 30 nc -q 0 "$PEER_ADDR" 9333 <in || return 1
	wait $rcv || return 1
	[ "$(sha in)" = "$(sha out)" ] || { echo "nc: got $(stat -c %s out) bytes"; return 1; }
	in_peer timeout 40 nc -l "$PEER_ADDR" 9334 </dev/null >out2 &
	rcv=$!
	sleep 0.3
	on_nstack timeout 30 python3 -c '
import os, socket, sys
s = socket.create_connection((sys.argv[1], 9334))
s.sendall(open("in", "rb").read())
os._exit(0)' "$PEER_ADDR" || return 1
	wait $rcv || return 1
	[ "$(sha in)" = "$(sha out2)" ] || { echo "_exit: got $(stat -c %s out2) bytes"; return 1; }
}

# Handover: programs under nstack reach kernel TCP servers on 127.0.0.1 in
# their own namespace (curl from a python http.server, nc to nc).
case_matrix_handover_loopback_tcp() {
	mkdir -p srv
	mx_mkfile srv/f 4M
	in_ns timeout 40 python3 -u -m http.server --bind 127.0.0.1 --directory srv 9335 \
		>http.log 2>&1 &
	wait_file http.log "Serving HTTP" || return 1
	on_nstack timeout 20 curl -sS --fail -o out "http://127.0.0.1:9335/f" || return 1
	[ "$(sha srv/f)" = "$(sha out)" ] || return 1
	in_ns timeout 40 nc -l 127.0.0.1 9336 </dev/null >out2 &
	local rcv=$!
	sleep 0.3
	on_nstack timeout 20 nc -N 127.0.0.1 9336 <srv/f || return 1
	wait $rcv || return 1
	[ "$(sha srv/f)" = "$(sha out2)" ]
}

# Signals and threads around a blocked recv on a private socket: EINTR
# without SA_RESTART, restart with it (another thread sends meanwhile),
# SO_RCVTIMEO's EAGAIN and its EINTR despite SA_RESTART, shutdown from
# another thread waking the caller.
case_matrix_signals_blocked_recv() {
	mx_fdops_build || return 1
	mx_srv_peer 9337 || return 1
	on_nstack timeout 30 "$TMP/mx_fdops" signals "$PEER_ADDR" 9337
}

# epoll on private TCP sockets and a kernel pipe in one set: listener
# readable, EPOLLET, EPOLLRDHUP on half-close, EPOLLONESHOT, EPOLLEXCLUSIVE,
# a closed fd leaving the set, non-blocking connect completion, level
# triggering.
case_matrix_epoll_tcp_semantics() {
	mx_srv_peer 9338 || return 1
	on_nstack timeout 40 python3 -u "$IT/mx_epoll.py" 9339 "$PEER_ADDR" 9338 >ep.log 2>&1 &
	local prog=$!
	wait_file ep.log listening || { cat ep.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 20 python3 - "$ADDR" 9339 <<'PY' || { cat ep.log; return 1; }
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"hello")
buf = b""
while buf != b"bye":
    b = s.recv(10)
    assert b, buf
    buf += b
s.shutdown(socket.SHUT_WR)
while s.recv(100):
    pass
PY
	wait $prog || { cat ep.log; return 1; }
	cat ep.log
}

# socat's fork server under nstack: each forked child serves its connection
# on the socket it inherited (shared with the parent), and the parent keeps
# accepting.
case_matrix_socat_fork_children_serve() {
	on_nstack timeout 20 socat TCP4-LISTEN:9340,reuseaddr,fork SYSTEM:cat >socat.log 2>&1 &
	wait_nstack_up || return 1
	local i
	for i in 1 2; do
		echo hello$i | in_peer timeout 5 nc -N "$ADDR" 9340 >out$i || { cat socat.log; return 1; }
		grep -qx hello$i out$i || { cat out$i socat.log; return 1; }
	done
	! grep -q -e 'inherited through fork' -e 'Bad file descriptor' socat.log
}

# TLS over nstack: openssl s_server -WWW under nstack serves 8 MiB to kernel
# curl over HTTPS, then curl under nstack fetches it over HTTPS from a kernel
# s_server.
case_matrix_tls_openssl_curl_both_roles() {
	mx_mkfile f 8M
	openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 \
		-subj /CN=nstack >/dev/null 2>&1 || return 1
	# -4: s_server's default socket is IPv6, which nstack leaves to the kernel.
	on_nstack timeout 30 openssl s_server -4 -accept 9341 -cert cert.pem -key key.pem -WWW \
		-quiet >ssl.log 2>&1 &
	local srv=$!
	wait_nstack_up || { cat ssl.log; return 1; }
	in_peer timeout 20 curl -sS --fail -k -o out1 "https://$ADDR:9341/f" || { cat ssl.log; return 1; }
	[ "$(sha out1)" = "$(sha f)" ] || return 1
	# One nstack process per address: end the server before the next one
	# (kill_ns_procs reaches openssl itself, below timeout).
	kill_ns_procs
	wait $srv
	in_peer timeout 30 openssl s_server -4 -accept 9342 -cert cert.pem -key key.pem -WWW \
		-quiet >ssl2.log 2>&1 &
	sleep 0.5
	on_nstack timeout 20 curl -sS --fail -k -o out2 "https://$PEER_ADDR:9342/f" ||
		{ cat ssl2.log; return 1; }
	[ "$(sha out2)" = "$(sha f)" ]
}

# More clients under nstack against kernel servers: git clone over git://
# (a kernel git daemon), and a Perl IO::Socket::INET HTTP/1.0 fetch.
case_matrix_git_clone_and_perl_nstack_client() {
	mx_mkfile f 4M
	mkdir -p repo
	(cd repo && git init -q && cp ../f . && git add f &&
		git -c user.email=t@nstack -c user.name=t commit -qm data) || return 1
	in_peer timeout 30 git daemon --base-path="$TMP" --export-all --listen="$PEER_ADDR" \
		--port=9343 --reuseaddr >gd.log 2>&1 &
	in_peer timeout 30 python3 -u -m http.server --bind "$PEER_ADDR" 9344 >http.log 2>&1 &
	wait_file http.log "Serving HTTP" || return 1
	on_nstack timeout 20 git clone -q "git://$PEER_ADDR:9343/repo" clone || { cat gd.log; return 1; }
	[ "$(sha clone/f)" = "$(sha f)" ] || return 1
	on_nstack timeout 20 perl -MIO::Socket::INET -e '
		my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0]) or die "connect: $!";
		print $s "GET /f HTTP/1.0\r\n\r\n";
		local $/;
		my $d = <$s>;
		$d =~ s/^.*?\r\n\r\n//s or die "no header";
		print $d;' "$PEER_ADDR:9344" >out || return 1
	[ "$(sha out)" = "$(sha f)" ]
}

# Reconnecting from the same port while the kernel peer (which closed first)
# still holds the previous connection in TIME_WAIT: Linux accepts the new SYN
# when its timestamp (and ISN) move forward, which needs nstack's TS offset
# per host pair and RFC 6528 ISNs. 20 connections from port 40000, each SYN
# answered by a SYN-ACK the first time (no RST from nstack, no second SYN).
case_matrix_reconnect_same_port_peer_time_wait() {
	in_peer timeout 30 python3 -u -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9345)); s.listen(8); print("ready", flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"x"); c.close()' "$PEER_ADDR" >srv.log 2>&1 &
	wait_file srv.log ready || return 1
	in_peer timeout 30 tcpdump -i peer0 -n -l 'tcp port 40000' >dump.txt 2>/dev/null &
	local dump=$!
	sleep 0.5
	on_nstack timeout 20 python3 - "$PEER_ADDR" <<'PY' || return 1
import socket, sys, time
for i in range(20):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 40000))
    s.settimeout(5)
    s.connect((sys.argv[1], 9345))
    assert s.recv(10) == b"x"
    assert s.recv(10) == b""
    s.close()
    time.sleep(0.02)
print("20 connections from port 40000")
PY
	sleep 0.3
	kill $dump
	echo "SYNs: $(grep -c 'Flags \[S\],' dump.txt), resets: $(grep -c 'Flags \[R' dump.txt)"
	[ "$(grep -c '40000 > .*Flags \[S\],' dump.txt)" -eq 20 ] && ! grep -q 'Flags \[R' dump.txt
}

# Socket calls made through syscall(2) on private fds, as libuv makes them
# (sendmmsg/recvmmsg, ppoll with its raw sigset size) and plain ones (connect,
# read, write, fcntl, close), against kernel UDP and TCP echoes.
case_matrix_raw_syscall_socket_calls() {
	mx_fdops_build || return 1
	in_peer timeout 30 socat "UDP-RECVFROM:9341,bind=$PEER_ADDR,fork" PIPE &
	in_peer timeout 30 socat "TCP-LISTEN:9341,bind=$PEER_ADDR,reuseaddr,fork" PIPE &
	wait_peer_udp 9341 || return 1
	on_nstack timeout 20 "$TMP/mx_fdops" rawsys "$PEER_ADDR" 9341
}

# bind9's dig (libuv underneath, jemalloc as its allocator) under nstack
# asks a kernel dnsmasq over UDP and over TCP; each answer is checked.
case_matrix_dig_libuv_udp_tcp() {
	in_peer timeout 40 dnsmasq --keep-in-foreground -C /dev/null --no-resolv --no-hosts \
		--address=/lab.test/198.18.0.77 --port=9053 --listen-address="$PEER_ADDR" \
		--bind-interfaces --pid-file="$TMP/dnsmasq.pid" --log-facility=- \
		>dnsmasq.log 2>&1 &
	wait_file dnsmasq.log 'started, version' || return 1
	local d=(@"$PEER_ADDR" -p 9053 +time=2 +tries=2 +short) q
	on_nstack timeout 10 dig "${d[@]}" udp.lab.test A >udp.out 2>&1 || { cat udp.out; return 1; }
	[ "$(cat udp.out)" = 198.18.0.77 ] || { echo "UDP answer: $(cat udp.out)"; return 1; }
	for q in a b; do
		on_nstack timeout 10 dig "${d[@]}" +tcp "$q.lab.test" A >"tcp_$q.out" 2>&1 ||
			{ cat "tcp_$q.out"; return 1; }
		[ "$(cat "tcp_$q.out")" = 198.18.0.77 ] ||
			{ echo "TCP answer for $q: $(cat "tcp_$q.out")"; return 1; }
	done
	kill -TERM "$(cat dnsmasq.pid)"
}

# stdio on private sockets (libc's stdio writes through calls no preload
# sees): fdopen streams, and stdout dup2()ed onto a socket and back.
case_matrix_stdio_on_private_sockets() {
	mx_fdops_build || return 1
	in_peer timeout 30 socat "TCP-LISTEN:9342,bind=$PEER_ADDR,reuseaddr,fork" PIPE &
	local i
	for i in $(seq 1 50); do
		[ -n "$(in_peer ss -Htln "sport = :9342")" ] && break
		sleep 0.1
	done
	on_nstack timeout 20 "$TMP/mx_fdops" stdio "$PEER_ADDR" 9342 >out.txt 2>&1 ||
		{ cat out.txt; return 1; }
	grep -q '^stdio: ok' out.txt || { cat out.txt; return 1; }
}

# bash's /dev/tcp with its printf and echo builtins (stdio underneath) and
# its read builtin, against a kernel server that answers what it received.
case_matrix_bash_dev_tcp_printf() {
	in_peer timeout 30 socat "TCP-LISTEN:9343,bind=$PEER_ADDR,reuseaddr" \
		SYSTEM:'head -n 3 >got.txt; echo "answer $(sha256sum <got.txt | cut -c1-16)"' &
	local i
	for i in $(seq 1 50); do
		[ -n "$(in_peer ss -Htln "sport = :9343")" ] && break
		sleep 0.1
	done
	on_nstack timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/9343" || exit 1
		printf "GET / HTTP/1.0\r\n" >&3 || exit 2
		echo "second line" >&3 || exit 3
		printf "%s %d\n" third 3 >&3 || exit 4
		read -r reply <&3
		echo "$reply"' "$PEER_ADDR" >reply.txt 2>&1 || { cat reply.txt; return 1; }
	local want
	want="answer $(printf 'GET / HTTP/1.0\r\nsecond line\nthird 3\n' | sha256sum | cut -c1-16)"
	[ "$(cat reply.txt)" = "$want" ] || { echo "got '$(cat reply.txt)', want '$want'"; return 1; }
}
