# A bounded queue between processes (tutorial section 2.6.1): producers put
# numbered items, consumers get them, and the queue holds at most MAXSIZE.
# Run: python3 queue.py [--timeout-ms MS]
import sys
# This file is named queue.py: take its folder off the import path, so that
# 'import queue' finds Python's own queue module and not this file
del sys.path[0]
import queue
from multiprocessing import Process, Queue

PRODUCERS = 2
CONSUMERS = 2
MAXSIZE = 3
ITEMS = 20
# --timeout-ms MS: a put or get gives up after MS milliseconds and tries again
TIMEOUT = int(sys.argv[sys.argv.index('--timeout-ms') + 1]) / 1000 if '--timeout-ms' in sys.argv else None


def producer(q, first):
    # This producer's share: items first, first + PRODUCERS, ...
    for item in range(first, ITEMS, PRODUCERS):
        while True:
            try:
                # Blocks while the queue is full
                q.put(item, timeout=TIMEOUT)
                break
            except queue.Full:
                # Still full when the timeout expired: try again
                continue


def consumer(q, name):
    while True:
        # The answer may be old by the time we act on it
        print(name, 'sees qsize', q.qsize(), flush=True)
        try:
            # Blocks while the queue is empty
            item = q.get(timeout=TIMEOUT)
        except queue.Empty:
            # Still empty when the timeout expired: try again
            continue
        if item is None:
            # The stop signal from the main process
            break
        print(name, 'got item', item, flush=True)


if __name__ == '__main__':
    # At most MAXSIZE items wait in the queue at once
    q = Queue(MAXSIZE)
    producers = [Process(target=producer, args=(q, i)) for i in range(PRODUCERS)]
    consumers = [Process(target=consumer, args=(q, 'consumer-%d' % i)) for i in range(CONSUMERS)]
    for p in producers + consumers:
        p.start()
    # Once every producer is done, nothing more will come
    for p in producers:
        p.join()
    for c in consumers:
        # One stop signal for each consumer
        q.put(None)
    for c in consumers:
        c.join()
