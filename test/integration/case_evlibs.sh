# Programs built on event libraries (libevent, GLib/GIO, Boost.Asio) under
# nstack, in both roles against the kernel peer: a TCP echo of 2 MiB checked
# by SHA-256, and UDP datagrams echoed and compared. The sources are in
# evlibs/; each case builds its program (-O1) into $TMP. Ports 9650-9679.
# shellcheck shell=bash

EVL_SIZE=2097152

# evl_build NAME: compiles evlibs/NAME.{c,cc} into $TMP/NAME.
evl_build() {
	case "$1" in
	ev_libevent)
		cc -O1 -Wall -Wextra -Werror -o "$TMP/$1" "$IT/evlibs/$1.c" -levent ;;
	ev_gio)
		# shellcheck disable=SC2046
		cc -O1 -Wall -Wextra -Werror -o "$TMP/$1" "$IT/evlibs/$1.c" \
			$(pkg-config --cflags --libs gio-2.0) ;;
	ev_asio)
		c++ -O1 -Wall -Wextra -Werror -std=c++17 -pthread -o "$TMP/$1" "$IT/evlibs/$1.cc" ;;
	esac
}

# evl_wait_listen PORT NSNAME [tcp|udp]: waits (bounded) until a kernel socket
# in NSNAME is bound to PORT (for the kernel side only: nstack's sockets are
# not in the kernel's tables).
evl_wait_listen() {
	local flag=-Htln
	[ "${3:-tcp}" = udp ] && flag=-Hunl
	for _ in $(seq 1 50); do
		[ -n "$(ip netns exec "$2" ss "$flag" "sport = :$1")" ] && return 0
		sleep 0.1
	done
	echo "nothing bound to ${3:-tcp} port $1 in $2" >&2
	return 1
}

# evl_tcp_client PROG PORT: PROG under nstack sends $EVL_SIZE random bytes to
# a kernel tcp_echo.py server and must get them back unchanged.
evl_tcp_client() {
	head -c "$EVL_SIZE" /dev/urandom >in.bin
	in_peer timeout 40 python3 -u "$IT/tcp_echo.py" server "$2" 30 >srv.log 2>&1 &
	local pid=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	on_nstack timeout 30 "$TMP/$1" tcp-client "$PEER_ADDR" "$2" in.bin out.bin >cli.log 2>&1 ||
		{ echo "client failed"; cat cli.log srv.log; return 1; }
	wait "$pid" || { echo "kernel server failed"; cat srv.log; return 1; }
	[ "$(sha in.bin)" = "$(sha out.bin)" ] ||
		{ echo "echo differs: sent $(stat -c %s in.bin), got $(stat -c %s out.bin)"; return 1; }
	grep -q "^done $EVL_SIZE\$" srv.log || { cat srv.log; return 1; }
}

# evl_tcp_server PROG PORT: PROG under nstack echoes for a kernel tcp_echo.py
# client (full duplex, $EVL_SIZE bytes, checked by SHA-256 on the client).
evl_tcp_server() {
	on_nstack timeout 40 "$TMP/$1" tcp-server "$2" >srv.log 2>&1 &
	local pid=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 30 python3 "$IT/tcp_echo.py" client "$ADDR" "$2" "$EVL_SIZE" >cli.log 2>&1 ||
		{ echo "kernel client failed"; cat cli.log srv.log; return 1; }
	grep -q "^ok $EVL_SIZE " cli.log || { cat cli.log; return 1; }
	wait "$pid" || { echo "server under nstack failed"; cat srv.log; return 1; }
}

# evl_udp PROG PORT N: PROG under nstack as UDP client of the same program
# on the kernel, then the other way round; N datagrams each way.
evl_udp() {
	in_peer timeout 30 "$TMP/$1" udp-server "$2" >usrv1.log 2>&1 &
	local pid=$!
	wait_file usrv1.log ready || { cat usrv1.log; return 1; }
	evl_wait_listen "$2" "$PEER" udp || return 1
	on_nstack timeout 30 "$TMP/$1" udp-client "$PEER_ADDR" "$2" "$3" >ucli1.log 2>&1 ||
		{ echo "client under nstack failed"; cat ucli1.log usrv1.log; return 1; }
	grep -q "^udp ok $3\$" ucli1.log || { cat ucli1.log; return 1; }
	wait "$pid" || { echo "kernel server failed"; cat usrv1.log; return 1; }

	on_nstack timeout 30 "$TMP/$1" udp-server "$(($2 + 1))" >usrv2.log 2>&1 &
	pid=$!
	wait_file usrv2.log ready || { cat usrv2.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 30 "$TMP/$1" udp-client "$ADDR" "$(($2 + 1))" "$3" >ucli2.log 2>&1 ||
		{ echo "kernel client failed"; cat ucli2.log usrv2.log; return 1; }
	grep -q "^udp ok $3\$" ucli2.log || { cat ucli2.log; return 1; }
	wait "$pid" || { echo "server under nstack failed"; cat usrv2.log; return 1; }
}

# libevent (epoll backend): bufferevent client to a kernel echo server.
case_evlibs_libevent_tcp_client() {
	evl_build ev_libevent || return 1
	evl_tcp_client ev_libevent 9650
}

# libevent: evconnlistener + bufferevent echo server for a kernel client.
case_evlibs_libevent_tcp_server() {
	evl_build ev_libevent || return 1
	evl_tcp_server ev_libevent 9651
}

# libevent with its poll() backend (EVENT_NOEPOLL): the bufferevent client
# again (the select() backend: case_evlibs_libevent_tcp_client_select).
case_evlibs_libevent_tcp_client_poll() {
	evl_build ev_libevent || return 1
	EVENT_NOEPOLL=1 evl_tcp_client ev_libevent 9654 || return 1
	grep -q 'backend poll' cli.log || { cat cli.log; return 1; }
}

# libevent: event + recvfrom/sendto, 300 datagrams each way.
case_evlibs_libevent_udp() {
	evl_build ev_libevent || return 1
	evl_udp ev_libevent 9652 300
}

# GIO: GSocketClient (connect_to_host_async) with write_all_async and
# read_async on a GMainLoop, to a kernel echo server.
case_evlibs_gio_tcp_client() {
	evl_build ev_gio || return 1
	evl_tcp_client ev_gio 9660
}

# GIO: GSocketService (g_socket_listener_add_inet_port: a dual-stack IPv6
# listener where there is one) echoing for a kernel client.
case_evlibs_gio_tcp_server() {
	evl_build ev_gio || return 1
	evl_tcp_server ev_gio 9661
	grep -q "^connection from .*$PEER_ADDR:" srv.log || { cat srv.log; return 1; }
}

# GIO: GSocket with g_socket_create_source, 300 datagrams each way.
case_evlibs_gio_udp() {
	evl_build ev_gio || return 1
	evl_udp ev_gio 9662 300
}

# Boost.Asio: async_connect, async_write and async_read_some on an
# io_context, to a kernel echo server.
case_evlibs_asio_tcp_client() {
	evl_build ev_asio || return 1
	evl_tcp_client ev_asio 9665 || return 1
	grep -q "^connected $ADDR:[0-9]* -> $PEER_ADDR:9665\$" cli.log || { cat cli.log; return 1; }
}

# Boost.Asio: async_accept and an async_read_some/async_write echo session
# for a kernel client.
case_evlibs_asio_tcp_server() {
	evl_build ev_asio || return 1
	evl_tcp_server ev_asio 9666 || return 1
	grep -q "^connection from $PEER_ADDR:" srv.log || { cat srv.log; return 1; }
}

# Boost.Asio: async_receive_from/async_send_to, 300 datagrams each way.
case_evlibs_asio_udp() {
	evl_build ev_asio || return 1
	evl_udp ev_asio 9667 300
}

# select() writes only the longs of each fd_set that cover nfds, as Linux
# (preload/poll.c once zeroed a whole 128-byte fd_set: libevent's select
# backend, which allocates 8 bytes for fds below 64, then aborted in free()).
# libevent's select backend (EVENT_NOEPOLL + EVENT_NOPOLL): the bufferevent
# client of case_evlibs_libevent_tcp_client.
case_evlibs_libevent_tcp_client_select() {
	evl_build ev_libevent || return 1
	EVENT_NOEPOLL=1 EVENT_NOPOLL=1 evl_tcp_client ev_libevent 9656 || return 1
	grep -q 'backend select' cli.log || { cat cli.log; return 1; }
}

# The bug alone: select() for writability on a set of 8 bytes (the long that
# covers the fd) followed by a guard area, on a private TCP socket connected
# to a kernel socat echo; the guard area must be untouched (evlibs/select_small_set.c).
case_evlibs_select_small_fd_set() {
	cc -O1 -Wall -Wextra -Werror -o "$TMP/select_small_set" "$IT/evlibs/select_small_set.c" ||
		return 1
	in_peer timeout 20 socat "TCP-LISTEN:9657,bind=$PEER_ADDR,reuseaddr" PIPE &
	evl_wait_listen 9657 "$PEER" || return 1
	on_nstack timeout 10 "$TMP/select_small_set" "$PEER_ADDR" 9657
}
