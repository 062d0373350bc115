"""The same work as `mpviz pool --headless` in Python's multiprocessing,
written anew as mpviz's peer: a Pool of W workers, N tiny tasks (the
tutorial's calc, counting to 1000) submitted with apply_async, each with a
callback that runs in the main process; the first task also sleeps 70 ms
and the main process waits 10 ms for it (a wait that expires), as mpviz's
does; then close and join.

Usage: python3 benches/pool_peer.py [TASKS] [WORKERS]
"""

import multiprocessing
import sys
import time


def calc(count=1000):
    total = 0
    for _ in range(count):
        total += 1
    return total


def slow_calc(count=1000):
    time.sleep(0.07)
    return calc(count)


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    done = []
    start = time.perf_counter()
    pool = multiprocessing.Pool(workers)
    for task in range(tasks):
        work = slow_calc if task == 0 else calc
        result = pool.apply_async(work, args=(1000,), callback=lambda r: done.append(len(str(r))))
        if task == 0:
            result.wait(0.01)
    pool.close()
    pool.join()
    wall_ms = (time.perf_counter() - start) * 1000
    print(f"python peer: {tasks} tasks on {workers} workers, {len(done)} callbacks, {wall_ms:.0f} ms")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
