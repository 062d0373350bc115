#!/usr/bin/env bash
# mpviz against the tutorial's ticket grab in Python, side by side, in one run.
#   bash benches/compare.sh [ROUNDS]
# Prints the median wall time of each, their ratio (goal: mpviz <= 0.25 of
# Python), the peak memory of mpviz's parent process, a 5000-buyer run, and
# the queue and pool scenarios against benches/queue_peer.py and pool_peer.py.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo build --release --quiet
exec python3 - "$rounds" <<'PY'
import statistics, subprocess, sys, time

rounds = int(sys.argv[1])
mpviz = ["target/release/mpviz", "ticket", "--headless", "--buyers", "1000", "--tickets", "100", "--delay-ms", "0"]
peer = ["python3", "benches/ticket_peer.py", "1000", "100", "0"]

def run(cmd):
    """Wall time in ms, and the peak RSS (VmHWM) of the process itself in KiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    wall = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        sys.exit(f"{cmd} failed with {proc.returncode}")
    return wall, peak

walls = {"mpviz": [], "python": []}
peaks = {"mpviz": [], "python": []}
for _ in range(rounds):  # interleaved, so both see the same machine
    for name, cmd in (("mpviz", mpviz), ("python", peer)):
        wall, peak = run(cmd)
        walls[name].append(wall)
        peaks[name].append(peak)

m, p = statistics.median(walls["mpviz"]), statistics.median(walls["python"])
print(f"1000 buyers, 100 tickets, no delay, {rounds} rounds each (median wall time):")
print(f"  mpviz  {m:8.0f} ms   parent peak RSS {max(peaks['mpviz']) / 1024:.1f} MiB")
print(f"  python {p:8.0f} ms   parent peak RSS {max(peaks['python']) / 1024:.1f} MiB")
print(f"  ratio mpviz/python = {m / p:.3f} (goal <= 0.25: {'met' if m / p <= 0.25 else 'NOT met'})")
wall, peak = run(mpviz[:4] + ["5000"] + mpviz[5:])
print(f"5000 buyers: mpviz {wall:.0f} ms, parent peak RSS {peak / 1024:.1f} MiB")

# The queue: 100,000 items, 2 producers, 2 consumers, maxsize 10 (the
# default limit of a POSIX message queue, /proc/sys/fs/mqueue/msg_max).
mq = ["target/release/mpviz", "queue", "--headless", "--items", "100000", "--producers", "2", "--consumers", "2", "--maxsize", "10"]
pq = ["python3", "benches/queue_peer.py", "100000", "2", "2", "10"]
qwalls = {"mpviz": [], "python": []}
for _ in range(rounds):
    for name, cmd in (("mpviz", mq), ("python", pq)):
        qwalls[name].append(run(cmd)[0])
m, p = statistics.median(qwalls["mpviz"]), statistics.median(qwalls["python"])
print(f"queue, 100000 items, 2+2 processes, maxsize 10 ({rounds} rounds each, median):")
print(f"  mpviz {m:.0f} ms, python {p:.0f} ms, ratio {m / p:.3f} (goal <= 0.25: {'met' if m / p <= 0.25 else 'NOT met'})")

# The pool: 4 workers, 10,000 tiny tasks with a callback each.
mp = ["target/release/mpviz", "pool", "--headless", "--workers", "4", "--tasks", "10000"]
pp = ["python3", "benches/pool_peer.py", "10000", "4"]
pwalls = {"mpviz": [], "python": []}
for _ in range(rounds):
    for name, cmd in (("mpviz", mp), ("python", pp)):
        pwalls[name].append(run(cmd)[0])
m, p = statistics.median(pwalls["mpviz"]), statistics.median(pwalls["python"])
print(f"pool, 4 workers, 10000 tasks ({rounds} rounds each, median):")
print(f"  mpviz {m:.0f} ms, python {p:.0f} ms, ratio {m / p:.3f} (goal <= 0.25: {'met' if m / p <= 0.25 else 'NOT met'})")
PY
