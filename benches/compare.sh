#!/usr/bin/env bash
# mpviz against the tutorial's programs in Python's multiprocessing, side by
# side on the same machine in one run.
#
#   bash benches/compare.sh [ROUNDS]      (ROUNDS defaults to 5)
#   SKIP_PEERS=1 bash benches/compare.sh  (the ticket runs only)
#
# Ticket grab, 1000 buyers, 100 tickets, no delay: the median wall time of
# `mpviz ticket --headless` and of benches/ticket_peer.py over ROUNDS
# interleaved rounds, their ratio (goal: mpviz <= 0.25 of Python), and peak
# memory two ways:
#   - "parent VmHWM": the peak RSS of the mpviz (or python) process itself,
#     polled from /proc/PID/status until it exits, in runs of their own so
#     that polling does not slow the timed runs;
#   - "tree max RSS": GNU time's %M (/usr/bin/time, in the timed runs): the
#     largest RSS of the process or of any descendant it waited for (for
#     Python that is a forked child carrying the whole interpreter). Without
#     /usr/bin/time, ru_maxrss from wait4() stands in; it cannot be below
#     this script's own RSS, which the kernel counts for the spawned process
#     up to its exec.
# Then a 5000-buyer mpviz run with the default limits, and the queue and pool
# scenarios against benches/queue_peer.py and benches/pool_peer.py.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
case $rounds in
'' | *[!0-9]* | 0)
	echo "usage: bash benches/compare.sh [ROUNDS]  (ROUNDS: a positive number)" >&2
	exit 2
	;;
esac
cargo build --release
echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec python3 - "$rounds" "${SKIP_PEERS:-}" <<'PY'
import os, re, statistics, subprocess, sys, tempfile, time

rounds = int(sys.argv[1])
skip_peers = bool(sys.argv[2])
MPVIZ = "target/release/mpviz"


def ticket(buyers):
    return [MPVIZ, "ticket", "--headless", "--buyers", str(buyers), "--tickets", "100", "--delay-ms", "0"]


PEER = ["python3", "benches/ticket_peer.py", "1000", "100", "0"]


GNU_TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
TREE = "GNU time %M" if GNU_TIME else "wait4 ru_maxrss, an upper bound"


def run(cmd, poll_hwm=False):
    """Runs cmd to its end. Returns (wall ms, the tree's max RSS in KiB, the
    process's own VmHWM in KiB or None, its stdout). With poll_hwm, polls
    /proc/PID/status every millisecond until the process exits (the tree's
    max RSS is then not measured); otherwise just waits, under GNU time if
    present, so that nothing competes with the run for the CPU."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss:
        timed = GNU_TIME and not poll_hwm
        argv = [GNU_TIME, "-f", "%M", "-o", rss.name, *cmd] if timed else cmd
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out)
        hwm = None
        while True:
            if poll_hwm:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid == 0:
                    try:
                        with open(f"/proc/{proc.pid}/status") as f:
                            for line in f:
                                if line.startswith("VmHWM:"):
                                    hwm = int(line.split()[1])
                    except OSError:
                        pass
                    time.sleep(0.001)
                    continue
            else:
                pid, status, usage = os.wait4(proc.pid, 0)
            break
        wall = (time.perf_counter() - start) * 1000
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
        # GNU time writes %M last, after a line about a failed exit status.
        tree = int(rss.read().split()[-1]) if timed else usage.ru_maxrss
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed with {proc.returncode}:\n{text}")
    return wall, tree, hwm, text


def mib(kib):
    return f"{kib / 1024:.1f} MiB"


def verdict(ratio):
    return "met" if ratio <= 0.25 else "NOT met"


# The ticket grab, interleaved so that both see the same machine.
walls = {"mpviz": [], "python": []}
trees = {"mpviz": [], "python": []}
peer_own = []
for _ in range(rounds):
    for name, cmd in (("mpviz", ticket(1000)), ("python", PEER)):
        wall, tree, _, text = run(cmd)
        walls[name].append(wall)
        trees[name].append(tree)
        if name == "python":
            m = re.search(r"(\d+) ms", text)
            if m:
                peer_own.append(float(m.group(1)))
        elif "sold 100," not in text or "oversold 0" not in text:
            sys.exit(f"mpviz did not sell the 100 tickets:\n{text}")
hwm = {name: run(cmd, poll_hwm=True)[2] for name, cmd in (("mpviz", ticket(1000)), ("python", PEER))}

m, p = statistics.median(walls["mpviz"]), statistics.median(walls["python"])
fmt = lambda xs: ", ".join(f"{x:.0f}" for x in xs)
print(f"ticket, 1000 buyers, 100 tickets, no delay, {rounds} interleaved rounds:")
print(f"  mpviz  median {m:6.0f} ms  (runs: {fmt(walls['mpviz'])})")
print(f"  python median {p:6.0f} ms  (runs: {fmt(walls['python'])})", end="")
print(f"; as the peer times itself: median {statistics.median(peer_own):.0f} ms" if peer_own else "")
print(f"  ratio mpviz/python = {m / p:.3f}  (goal <= 0.25: {verdict(m / p)})")
print(f"  peak RSS, parent VmHWM: mpviz {mib(hwm['mpviz'] or 0)}, python {mib(hwm['python'] or 0)}")
print(f"  peak RSS, tree max ({TREE}): mpviz {mib(max(trees['mpviz']))}, python {mib(max(trees['python']))}")

wall, tree, _, text = run(ticket(5000))
own = run(ticket(5000), poll_hwm=True)[2]
print("ticket, 5000 buyers, 100 tickets, no delay, default limits:")
print(f"  mpviz {wall:.0f} ms, parent VmHWM {mib(own or 0)}, tree max ({TREE}) {mib(tree)}")
print(f"  {text.strip()}")

if skip_peers:
    sys.exit(0)

# The queue: 100,000 items, 2 producers, 2 consumers, maxsize 10.
mq = [MPVIZ, "queue", "--headless", "--items", "100000", "--producers", "2", "--consumers", "2", "--maxsize", "10"]
pq = ["python3", "benches/queue_peer.py", "100000", "2", "2", "10"]
# The pool: 4 workers, 10,000 tiny tasks with a callback each.
mp = [MPVIZ, "pool", "--headless", "--workers", "4", "--tasks", "10000"]
pp = ["python3", "benches/pool_peer.py", "10000", "4"]
for title, ours, theirs in (
    ("queue, 100000 items, 2+2 processes, maxsize 10", mq, pq),
    ("pool, 4 workers, 10000 tasks", mp, pp),
):
    w = {"mpviz": [], "python": []}
    for _ in range(rounds):
        for name, cmd in (("mpviz", ours), ("python", theirs)):
            w[name].append(run(cmd)[0])
    m, p = statistics.median(w["mpviz"]), statistics.median(w["python"])
    print(f"{title} ({rounds} rounds, median):")
    print(f"  mpviz {m:.0f} ms, python {p:.0f} ms, ratio {m / p:.3f} (goal <= 0.25: {verdict(m / p)})")
PY
