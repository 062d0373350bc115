# One program that does a little of everything mpviz follows, with the start
# method named on its command line (fork, spawn or forkserver). The tests
# run it under `mpviz run --json` and check the stream.
import multiprocessing as mp
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def hold(lock, n):
    with lock:
        print('worker', n, 'holds the lock')


def produce(q, n):
    for i in range(n):
        q.put(i)


def square(x):
    return x * x


def record(d, key):
    d[key] = os.getpid()


if __name__ == '__main__':
    # `methods.py spawn set`: the method set for the whole program, with
    # set_start_method; else a context of its own.
    if sys.argv[2:] == ['set']:
        mp.set_start_method(sys.argv[1])
        ctx = mp
    else:
        ctx = mp.get_context(sys.argv[1])
    lock = ctx.Lock()
    workers = [ctx.Process(target=hold, args=(lock, n)) for n in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    q = ctx.Queue(maxsize=2)
    p = ctx.Process(target=produce, args=(q, 5))
    p.start()
    got = [q.get() for _ in range(5)]
    p.join()
    print('got', got)

    results = []
    with ctx.Pool(2) as pool:
        for x in range(4):
            pool.apply_async(square, (x,), callback=results.append)
        print('map', pool.map(square, range(3)))
        pool.close()
        pool.join()
    print('callbacks', sorted(results))

    with ctx.Manager() as m:
        d = m.dict()
        ps = [ctx.Process(target=record, args=(d, k)) for k in range(2)]
        for x in ps:
            x.start()
        for x in ps:
            x.join()
        print('dict', len(d))

    context = ctx if ctx is not mp else mp.get_context()
    with ProcessPoolExecutor(2, mp_context=context) as ex:
        print('executor', list(ex.map(square, range(3))))

    t = ctx.Process(target=time.sleep, args=(30,))
    t.start()
    t.terminate()
    t.join()
    print('terminated', t.exitcode)
