#!/usr/bin/env bash
# `mpviz run` against plain python3 on the same programs, on this machine.
#
#   bash benches/program.sh [ROUNDS]      (ROUNDS defaults to 5)
#
# 1. The ticket grab with 1000 buyer processes (benches/ticket_peer.py 1000
#    100 0): the median wall time of `python3 PROG` and of `mpviz run
#    --headless --speed max PROG` over ROUNDS interleaved rounds, and their
#    ratio (goal: at most 1.3).
# 2. Events a second from Python processes: benches/events_peer.py, 4
#    processes taking one Lock 50,000 times each (three events a take),
#    under `mpviz run --json --speed max`: the events written over the
#    stamp of the last one (goal: at least 200,000 a second).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
case $rounds in
'' | *[!0-9]* | 0)
	echo "usage: bash benches/program.sh [ROUNDS]  (ROUNDS: a positive number)" >&2
	exit 2
	;;
esac
cargo build --release
echo "machine: $(nproc) cores, $(uname -sr), $(python3 --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
exec python3 - "$rounds" <<'PY'
import json, statistics, subprocess, sys, tempfile, time

rounds = int(sys.argv[1])
MPVIZ = "target/release/mpviz"
TICKET = ["benches/ticket_peer.py", "1000", "100", "0"]


def wall(cmd):
    started = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.monotonic() - started) * 1000


plain, under = [], []
for _ in range(rounds):
    plain.append(wall(["python3"] + TICKET))
    under.append(wall([MPVIZ, "run", "--headless", "--speed", "max"] + TICKET))
p, m = statistics.median(plain), statistics.median(under)
print("ticket, 1000 buyer processes: python3 %.0f ms, mpviz run %.0f ms, ratio %.2f (goal <= 1.3)" % (p, m, m / p))

rates = []
for _ in range(rounds):
    with tempfile.TemporaryFile() as out:
        subprocess.run([MPVIZ, "run", "--json", "--speed", "max", "benches/events_peer.py", "4", "50000"],
                       check=True, stdout=out)
        out.seek(0)
        events = [json.loads(line) for line in out]
    stamped = [e["t_ns"] for e in events if e["kind"] in ("lock_wait", "lock_acquire", "lock_release")]
    span = (max(stamped) - min(stamped)) / 1e9
    rates.append(len(stamped) / span)
print("events from Python processes: %d lock events, median %.0f events/s (goal >= 200000)"
      % (len(stamped), statistics.median(rates)))
PY
