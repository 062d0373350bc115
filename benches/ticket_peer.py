"""The tutorial's ticket grab (section 2.4) in Python's multiprocessing, written
anew as the peer mpviz's headless run is measured against.

Usage: python3 benches/ticket_peer.py [BUYERS] [TICKETS] [DELAY_MS]
Prints one line: sold, remaining, wall time in ms.
"""

import json
import multiprocessing
import os
import random
import sys
import tempfile
import time


def buy(path, lock, delay_ms, seed):
    rng = random.Random(seed)
    with lock:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        if state["count"] > 0:
            state["count"] -= 1
            time.sleep(rng.uniform(0, delay_ms) / 1000.0)
            with open(path, "w", encoding="utf-8") as f:
                f.write(json.dumps(state))
            sys.exit(0)
    sys.exit(0)


def main():
    buyers = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    tickets = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    delay_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mpviz-peer-") as tmp:
        path = os.path.join(tmp, "tickets.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"count": tickets}, f)
        lock = multiprocessing.Lock()
        procs = [
            multiprocessing.Process(target=buy, args=(path, lock, delay_ms, i))
            for i in range(buyers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        with open(path, encoding="utf-8") as f:
            remaining = json.load(f)["count"]
    wall_ms = (time.perf_counter() - start) * 1000
    print(f"python peer: {buyers} buyers, sold {tickets - remaining}, remaining {remaining}, {wall_ms:.0f} ms")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
