"""The same work as `mpviz queue --headless` in Python's multiprocessing,
written anew as mpviz's peer: P producers put N numbered items into a
Queue(maxsize), C consumers get them (asking qsize() before each get, as
mpviz's consumers do) until the parent puts one stop signal per consumer.

Usage: python3 benches/queue_peer.py [ITEMS] [PRODUCERS] [CONSUMERS] [MAXSIZE]
"""

import multiprocessing
import sys
import time


def produce(q, slot, producers, items):
    for item in range(slot, items, producers):
        q.put(item)


def consume(q, items, counts):
    got = 0
    while True:
        q.qsize()
        item = q.get()
        if item >= items:
            break
        got += 1
    counts.put(got)


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    producers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    consumers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    maxsize = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    start = time.perf_counter()
    q = multiprocessing.Queue(maxsize)
    counts = multiprocessing.Queue()
    ps = [multiprocessing.Process(target=produce, args=(q, i, producers, items)) for i in range(producers)]
    cs = [multiprocessing.Process(target=consume, args=(q, items, counts)) for _ in range(consumers)]
    for p in ps + cs:
        p.start()
    for p in ps:
        p.join()
    for c in range(consumers):
        q.put(items + c)
    consumed = sum(counts.get() for _ in cs)
    for c in cs:
        c.join()
    wall_ms = (time.perf_counter() - start) * 1000
    print(f"python peer: {items} items, consumed {consumed}, {wall_ms:.0f} ms")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
