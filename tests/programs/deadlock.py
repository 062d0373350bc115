# Two processes take two locks in opposite orders: each holds one and waits
# for the other's, for ever. An Event makes sure both hold their first lock
# before either asks for its second.
import multiprocessing as mp


def worker(first, second, both_hold, name):
    with first:
        both_hold.wait()
        print(name, 'waits for its second lock', flush=True)
        with second:
            print(name, 'never gets here')


if __name__ == '__main__':
    a = mp.Lock()
    b = mp.Lock()
    both_hold = mp.Barrier(2)
    p = mp.Process(target=worker, args=(a, b, both_hold, 'p'))
    q = mp.Process(target=worker, args=(b, a, both_hold, 'q'))
    p.start()
    q.start()
    p.join()
    q.join()
