# The lost update (tutorial section 1): workers add 1 to one shared counter
# by reading it and writing back what they read plus one.
# Run: python3 race.py [--lock] [--threads]
import sys
import threading
from multiprocessing import Process, Lock, Value

WORKERS = 4
INCREMENTS = 50
# --lock: hold a lock around each read and write
USE_LOCK = '--lock' in sys.argv
# --threads: the workers are threads of this one process
USE_THREADS = '--threads' in sys.argv


def add(counter, lock):
    for i in range(INCREMENTS):
        if USE_LOCK:
            # Only one worker at a time gets past this line
            lock.acquire()
        # Read the counter from shared memory
        seen = counter.value
        # Another worker may write here, between our read and our write
        counter.value = seen + 1
        if USE_LOCK:
            # Let the next worker in
            lock.release()


if __name__ == '__main__':
    # One int in shared memory, with no lock of its own
    counter = Value('i', 0, lock=False)
    lock = threading.Lock() if USE_THREADS else Lock()

    if USE_THREADS:
        workers = [threading.Thread(target=add, args=(counter, lock)) for i in range(WORKERS)]
    else:
        workers = [Process(target=add, args=(counter, lock)) for i in range(WORKERS)]
    for w in workers:
        w.start()
    for w in workers:
        # Wait until this worker has done all its additions
        w.join()

    expected = WORKERS * INCREMENTS
    print('counter:', counter.value, 'expected:', expected)
    # Every increment that was overwritten is lost
    print('lost updates:', expected - counter.value)
