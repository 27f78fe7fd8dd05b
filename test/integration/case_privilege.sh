# Programs with no capability at all on nstack: nstack-opener (built for the
# lab as $BUILD/test/nstack-opener-lab, given cap_net_raw here, its policy
# in $BUILD/test/opener-lab.conf) opens the packet socket for them and
# locks the capture filter onto it.

priv_opener() { echo "$BUILD/test/nstack-opener-lab"; }

# Gives the lab's opener cap_net_raw and a policy with the given lines.
priv_setup() {
	local opener conf
	opener=$(priv_opener)
	conf="$BUILD/test/opener-lab.conf"
	[ -x "$opener" ] || {
		echo "missing $opener (make integration-test builds it)"
		return 1
	}
	setcap cap_net_raw+ep "$opener" && getcap "$opener" | grep -q cap_net_raw || {
		echo "cannot give $opener cap_net_raw (is the build tree on a filesystem with xattrs?)"
		return 1
	}
	printf '%s\n' "# written by case_privilege.sh" "$@" >"$conf.new" &&
		chmod 0644 "$conf.new" && mv "$conf.new" "$conf"
	# The scratch directory must be reachable by the unprivileged user.
	chmod 0711 "$(dirname "$TMP")" && chmod 0755 "$TMP"
}

# Runs a program under nstack as uid/gid $1, with no capabilities.
priv_as() {
	local id=$1
	shift
	in_ns setpriv --reuid="$id" --regid="$id" --clear-groups --inh-caps=-all \
		env NSTACK_OPENER="$(priv_opener)" "$NSTACK" -- "$@"
}

# An unprivileged server and an unprivileged client, data checked byte for byte.
case_unprivileged_server_and_client_via_opener() {
	priv_setup "nobody nstack0 $ADDR/32" || return 1
	mkdir -p "$TMP/www" && chmod 0755 "$TMP/www"
	head -c $((8 << 20)) /dev/urandom >"$TMP/www/blob"
	chmod 0644 "$TMP/www/blob"
	priv_as 65534 python3 -m http.server 8081 --bind "$ADDR" -d "$TMP/www" \
		>"$TMP/srv.log" 2>&1 &
	wait_nstack_up || {
		cat "$TMP/srv.log"
		return 1
	}
	in_peer timeout 30 curl -sS --retry 3 --retry-connrefused -o "$TMP/got" \
		"http://$ADDR:8081/blob" || {
		cat "$TMP/srv.log"
		return 1
	}
	kill_ns_procs
	[ "$(sha "$TMP/got")" = "$(sha "$TMP/www/blob")" ] || {
		echo "server: download differs"
		head -c 300 "$TMP/got"
		cat "$TMP/srv.log"
		return 1
	}
	# The client: curl as nobody fetches from a kernel server on the peer.
	in_peer python3 -m http.server 8082 --bind "$PEER_ADDR" -d "$TMP/www" \
		>"$TMP/peer.log" 2>&1 &
	for _ in $(seq 1 50); do
		in_peer ss -ltn | grep -q ":8082 " && break
		sleep 0.1
	done
	priv_as 65534 timeout 30 curl -sS -o - "http://$PEER_ADDR:8082/blob" >"$TMP/got2" \
		2>"$TMP/cli.err" || {
		cat "$TMP/cli.err"
		return 1
	}
	cat "$TMP/cli.err"
	[ "$(sha "$TMP/got2")" = "$(sha "$TMP/www/blob")" ] || {
		echo "client: download differs"
		return 1
	}
	# Started by a capability-less user, so the opener's socket it is.
	! grep -q '^nstack:' "$TMP/cli.err"
}

# Such a program cannot open a packet socket of its own, nor change or
# remove the filter locked on the one it was given.
case_unprivileged_program_cannot_widen_capture() {
	priv_setup "nobody * $ADDR/32" || return 1
	priv_as 65534 python3 - >"$TMP/out" 2>&1 <<'PY'
import ctypes, errno, os, socket, struct, sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # starts the stack
s.sendto(b"x", ("198.18.0.1", 9))
try:
    socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sys.exit("a packet socket of our own")
except PermissionError:
    print("own packet socket: EPERM")

inodes = set()
with open("/proc/net/packet") as f:
    next(f)
    for line in f:
        inodes.add(line.split()[8])
fds = []
for name in os.listdir("/proc/self/fd"):
    try:
        link = os.readlink("/proc/self/fd/" + name)
    except OSError:
        continue
    if link.startswith("socket:[") and link[8:-1] in inodes:
        fds.append(int(name))
if not fds:
    sys.exit("no packet socket found in this process")

libc = ctypes.CDLL(None, use_errno=True)
SOL_SOCKET, SO_ATTACH_FILTER, SO_DETACH_FILTER, SO_LOCK_FILTER = 1, 26, 27, 44
accept_all = struct.pack("HBBI", 0x06, 0, 0, 0xFFFFFFFF)  # BPF_RET|BPF_K, everything
insns = ctypes.create_string_buffer(accept_all)
class Prog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
prog = Prog(1, ctypes.addressof(insns))
zero = ctypes.c_int(0)
for fd in fds:
    for what, opt, arg, size in (
        ("attach", SO_ATTACH_FILTER, ctypes.byref(prog), ctypes.sizeof(prog)),
        ("detach", SO_DETACH_FILTER, ctypes.byref(zero), 4),
        ("unlock", SO_LOCK_FILTER, ctypes.byref(zero), 4),
    ):
        rc = libc.setsockopt(fd, SOL_SOCKET, opt, arg, size)
        err = ctypes.get_errno()
        if rc == 0 or err != errno.EPERM:
            sys.exit(f"fd {fd}: {what} gave rc {rc} errno {err}")
        print(f"fd {fd}: {what}: EPERM")
print("ok")
PY
	local rc=$?
	cat "$TMP/out"
	[ $rc -eq 0 ] && grep -q '^ok$' "$TMP/out"
}

# A user the policy does not name gets one clear line and EPERM, no stack.
case_unprivileged_user_not_in_policy_refused() {
	priv_setup "nobody nstack0 $ADDR/32" || return 1
	priv_as 65533 python3 - 2>"$TMP/err" <<'PY'
import errno, socket, sys
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sys.exit("socket() succeeded")
except OSError as e:
    assert e.errno == errno.EPERM, e
PY
	local rc=$?
	cat "$TMP/err"
	[ $rc -eq 0 ] && [ "$(grep -c '^nstack:' "$TMP/err")" -eq 1 ] &&
		grep -q 'uid 65533) may not use 198.18.0.2 on nstack0' "$TMP/err"
}

# postgres, which refuses to run as root, as user postgres with no capability
# at all: the postmaster and its backends (forked) share the stack the opener
# gave the postmaster its socket for; kernel pgbench, 4 clients x 100
# transactions, every one committed.
priv_on() { in_ns env NSTACK_OPENER="$(priv_opener)" "$NSTACK" -- "$@"; }
case_unprivileged_postgres_pgbench_via_opener() {
	priv_setup "postgres nstack0 $ADDR/32" || return 1
	local bin mp_pg_caps="--inh-caps=-all"
	bin=$(mp_pg_bin)
	mp_pg_init "$TMP/pg" || return 1
	mp_pg_start priv_on "$TMP/pg" '*' 9405 || { cat "$TMP/pg.log"; return 1; }
	mp_up "$mp_pg_pid" || return 1
	local pg=(-h "$ADDR" -p 9405 -U postgres)
	in_peer timeout 30 "$bin/pgbench" "${pg[@]}" -i -s 1 postgres >"$TMP/init.log" 2>&1 ||
		{ cat "$TMP/init.log"; tail "$TMP/pg.log"; return 1; }
	in_peer timeout 30 "$bin/pgbench" "${pg[@]}" -c 4 -j 2 -t 100 postgres >"$TMP/bench.log" 2>&1 ||
		{ cat "$TMP/bench.log"; tail "$TMP/pg.log"; return 1; }
	grep -q 'number of transactions actually processed: 400/400' "$TMP/bench.log" &&
		grep -q 'number of failed transactions: 0 ' "$TMP/bench.log" || { cat "$TMP/bench.log"; return 1; }
	# No capability: postgres's own packet socket attempt would have failed.
	grep -q 'CapEff:.0000000000000000' "/proc/$(head -n 1 "$TMP/pg/postmaster.pid")/status" ||
		{ grep Cap "/proc/$(head -n 1 "$TMP/pg/postmaster.pid")/status"; return 1; }
	mp_pg_stop "$TMP/pg"
}
