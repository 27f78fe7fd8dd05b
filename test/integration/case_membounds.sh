# Memory bounds under hostile input (issue 12): a kernel peer floods a real
# connection to nstack with out-of-order 1-byte segments (raw socket, the
# connection's own sequence space learnt through TCP_REPAIR) and with
# out-of-window ones, while a legitimate upload on another connection
# completes byte for byte. The flooded socket's receive memory (SO_MEMINFO,
# in truesize) stays within tcp_rmem[2] and the stack counts what it pruned
# and dropped. Addresses from the lab (198.18.0.0/15); every loop is bounded
# in count and time.
# shellcheck shell=bash

# Under nstack: port 9400 accepts the flood target and never reads it,
# sampling its receive memory until ./stop exists; port 9401 takes the
# upload and prints its length and SHA-256.
mb_server() {
	cat >mb_server.py <<'PY'
import hashlib, os, socket, struct, threading, time

SO_MEMINFO = 55
def listener(port):
	s = socket.socket()
	s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
	s.bind(("0.0.0.0", port))
	s.listen(4)
	return s

l1, l2 = listener(9400), listener(9401)
print("ready", flush=True)

def flooded():
	c, _ = l1.accept()
	print("flood target accepted", flush=True)
	peak, end = 0, time.time() + 60
	while time.time() < end and not os.path.exists("stop"):
		rmem = struct.unpack("9I", c.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 36))[0]
		peak = max(peak, rmem)
		time.sleep(0.005)
	print("peak_rmem", peak, flush=True)

def legit():
	c, _ = l2.accept()
	h, n = hashlib.sha256(), 0
	while True:
		d = c.recv(1 << 16)
		if not d:
			break
		h.update(d)
		n += len(d)
	print("legit", n, h.hexdigest(), flush=True)

ts = [threading.Thread(target=flooded), threading.Thread(target=legit)]
for t in ts:
	t.start()
for t in ts:
	t.join(70)
PY
}

# In the peer: connects to $1:9400, reads its own snd_nxt/rcv_nxt with
# TCP_REPAIR, then sends up to $2 segments for at most $3 seconds through a
# raw socket: 1-byte segments 2000..62000 bytes ahead of snd_nxt, one byte in
# two (each carrying no data the stream will ever need), and every 16th one
# 10 MB ahead (out of the window).
mb_flooder() {
	cat >mb_flood.py <<'PY'
import socket, struct, sys, time

dst, count, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ = 19, 20, 21
s = socket.create_connection((dst, 9400), timeout=10)
src, sport = s.getsockname()
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 1)
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, 2)  # send queue
snd = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, 1)  # receive queue
rcv = struct.unpack("I", s.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
s.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, 0)

def csum(b):
	if len(b) % 2:
		b += b"\0"
	t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	while t >> 16:
		t = (t & 0xffff) + (t >> 16)
	return ~t & 0xffff

sa, da = socket.inet_aton(src), socket.inet_aton(dst)
def seg(seq, data):
	h = struct.pack("!HHIIBBHHH", sport, 9400, seq & 0xffffffff, rcv, 5 << 4, 0x10, 65535, 0, 0)
	ph = sa + da + struct.pack("!BBH", 0, 6, len(h) + len(data))
	c = csum(ph + h + data)
	return h[:16] + struct.pack("!H", c) + h[18:] + data

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
sent, end = 0, time.time() + secs
while sent < count and time.time() < end:
	for k in range(256):
		i = sent + k
		off = 10000000 + i if i % 16 == 15 else 2000 + (i * 2) % 60000
		raw.sendto(seg(snd + off, b"x"), (dst, 0))
	sent += 256
print("flood sent", sent, flush=True)
s.close()
PY
}

case_membounds_ofo_flood_with_legit_upload() {
	local srv cnt peak rmem2=1048576
	mb_server
	mb_flooder
	head -c 32M /dev/urandom >in
	# A 1 MiB tcp_rmem[2] in the nstack namespace: the bound to hold.
	NSTACK_TCP_RMEM="4096 131072 $rmem2" on_nstack timeout 80 python3 -u mb_server.py \
		>srv.log 2>&1 &
	srv=$!
	wait_file srv.log ready || { cat srv.log; return 1; }
	wait_nstack_up || return 1
	in_peer timeout 60 python3 -u mb_flood.py "$ADDR" 300000 25 >flood.log 2>&1 &
	local flood=$!
	wait_file srv.log "flood target accepted" || { cat srv.log flood.log; return 1; }
	in_peer timeout 60 nc -N "$ADDR" 9401 <in || { cat srv.log; return 1; }
	wait $flood || { cat flood.log; return 1; }
	cat flood.log
	# The counters, while the stack is still up.
	stat_here -c >c.out
	touch stop
	wait $srv || { cat srv.log; return 1; }
	cat srv.log
	grep -E 'TcpExt(PruneCalled|OfoPruned|RcvPruned|TCPOFODrop|TCPOFOQueue|TCPRcvCollapsed) ' c.out
	grep -q "^legit $(stat -c %s in) $(sha in)$" srv.log || { echo "upload not byte-exact"; return 1; }
	peak=$(awk '/^peak_rmem/{print $2}' srv.log)
	# tcp_rmem[2] plus a segment: what tcp_clamp_window lets the buffer grow to.
	[ -n "$peak" ] && [ "$peak" -le $((rmem2 + 65536)) ] ||
		{ echo "receive memory $peak over $rmem2"; return 1; }
	cnt=$(awk '$1 == "TcpExtPruneCalled" {print $2}' c.out)
	[ "${cnt:-0}" -gt 0 ] || { echo "nothing pruned: the flood did not reach the bound"; return 1; }
}
