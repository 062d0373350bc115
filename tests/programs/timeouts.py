# Timed and non-blocking operations keep their meaning under mpviz: the
# wait for a permit is not counted against their timeout.
import multiprocessing as mp
import queue


def hold(lock, held, done):
    with lock:
        held.set()
        done.wait()


if __name__ == '__main__':
    lock = mp.Lock()
    held, done = mp.Event(), mp.Event()
    p = mp.Process(target=hold, args=(lock, held, done))
    p.start()
    held.wait()
    print('non-blocking', lock.acquire(False))
    print('timed', lock.acquire(timeout=0.05))
    done.set()
    p.join()
    print('free again', lock.acquire(timeout=5))
    lock.release()
    q = mp.Queue(maxsize=1)
    try:
        q.get(timeout=0.05)
    except queue.Empty:
        print('empty')
    q.put('a')
    try:
        q.put('b', timeout=0.05)
    except queue.Full:
        print('full')
    print('got', q.get())
