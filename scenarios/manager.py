# Shared data through a Manager (tutorial section 2.6.2): workers change a
# dict and a list that a server process holds; a plain dict is not shared.
# Run: python3 manager.py
import os
from multiprocessing import Manager, Process

WORKERS = 10

# A plain dict: each process has its own copy of it
plain = {}


def remember_me():
    # Changes only this process's own copy of the plain dict
    plain[os.getpid()] = os.getpid()


def worker(d, l):
    # Each line asks the manager's server process to change its data
    d[os.getpid()] = os.getpid()
    l.append(os.getpid())
    remember_me()


if __name__ == '__main__':
    # The main process puts a key of its own in its plain dict
    remember_me()
    # Starts the server process, which serves every request on d and l
    m = Manager()
    d = m.dict()
    l = m.list()

    p_l = []
    for i in range(WORKERS):
        p = Process(target=worker, args=(d, l))
        p_l.append(p)
        p.start()
    for p in p_l:
        p.join()

    # Read the shared dict and list back from the server
    print(d, l)
    # Still one key: the workers changed only their own copies
    print('plain dict in the main process:', plain)
    # Stop the server process
    m.shutdown()
