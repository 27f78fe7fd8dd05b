# The program under test of case_mp_kill9_child_others_carry_on
# (case_multiproc.sh): a parent that forks echo servers sharing its stack.
#
#   mp_lockkill.py WORK_PORT VICTIM_PORT WORKERS
#
# The parent opens two listeners, forks WORKERS children that each accept
# one connection on WORK_PORT and echo it until EOF, and keeps one "victim"
# child alive: it accepts on VICTIM_PORT and echoes in a tight loop until the
# case SIGKILLs it, then the parent forks the next one (at most 40). Lines:
# "parent PID", "victim PID" (each new victim), "worker PID exit CODE".
# Exit 0 once every worker ended with 0; 1 otherwise; bounded to 50 s.
import os
import signal
import socket
import sys
import time

work_port, victim_port, nworkers = (int(a) for a in sys.argv[1:4])


def listener(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    return s


lw, lv = listener(work_port), listener(victim_port)


def echo(lst, other):
    """Child: one connection from lst, echoed until EOF; never returns."""
    code = 0
    try:
        other.close()
        c, _ = lst.accept()
        lst.close()
        while True:
            b = c.recv(65536)
            if not b:
                break
            c.sendall(b)
        c.close()
    except OSError as e:
        print("child", os.getpid(), "error", e, flush=True)
        code = 3
    os._exit(code)


print("parent", os.getpid(), flush=True)
workers = set()
for _ in range(nworkers):
    pid = os.fork()
    if pid == 0:
        echo(lw, lv)
    workers.add(pid)
bad = 0
victim = None
spawned = 0
deadline = time.monotonic() + 50
while workers and time.monotonic() < deadline:
    if victim is None and spawned < 40:
        victim = os.fork()
        if victim == 0:
            echo(lv, lw)
        spawned += 1
        print("victim", victim, flush=True)
    pid, status = os.waitpid(-1, 0)
    code = os.waitstatus_to_exitcode(status)
    if pid in workers:
        workers.discard(pid)
        print("worker", pid, "exit", code, flush=True)
        bad += code != 0
    elif pid == victim:
        print("victim", pid, "ended", code, flush=True)
        victim = None
if victim:
    os.kill(victim, signal.SIGKILL)
    os.waitpid(victim, 0)
print("parent done, workers left", len(workers), "failed", bad, flush=True)
sys.exit(1 if bad or workers else 0)
