"""Many multiprocessing operations, fast: PROCS processes each take and let
go of one Lock N times. Under `mpviz run` every take is three events
(lock_wait, lock_acquire, lock_release): the benchmark of how many events a
second mpviz takes from Python processes.

Usage: python3 benches/events_peer.py [PROCS] [N]
Prints one line: the operations done and the wall time in ms.
"""

import multiprocessing
import sys
import time


def work(lock, n):
    for _ in range(n):
        lock.acquire()
        lock.release()


if __name__ == "__main__":
    procs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
    lock = multiprocessing.Lock()
    started = time.monotonic()
    workers = [multiprocessing.Process(target=work, args=(lock, n)) for _ in range(procs)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ms = (time.monotonic() - started) * 1000
    print("events peer: %d processes x %d lock takes, %.0f ms" % (procs, n, ms))
