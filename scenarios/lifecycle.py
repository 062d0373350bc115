# The life and death of a process (tutorial sections 2.1 to 2.3): start, run,
# join, exit codes, terminate, kill, daemon, zombie, orphan, and a process
# terminated while it holds a lock.
# Run: python3 lifecycle.py [--lock-kind flock]
import fcntl
import os
import sys
import tempfile
import time
from multiprocessing import Event, Lock, Process, parent_process

WAITERS = 2
# --lock-kind flock: a lock the kernel lets go of when its holder dies
LOCK_KIND = 'flock' if '--lock-kind' in sys.argv and sys.argv[sys.argv.index('--lock-kind') + 1] == 'flock' else 'semaphore'


class FlockLock:
    # A lock made with flock on a file
    def __init__(self, path):
        self.path = path

    def acquire(self):
        self.f = open(self.path, 'w')
        fcntl.flock(self.f, fcntl.LOCK_EX)

    def release(self):
        fcntl.flock(self.f, fcntl.LOCK_UN)


def do_some_work(what):
    time.sleep(0.1)


def background():
    # A daemon: it works until the main process ends
    while True:
        do_some_work('daemon')


def busy():
    # Works until it is stopped from outside
    while True:
        do_some_work('busy')


def hello():
    print('hello() runs in PID', os.getpid())
    if parent_process() is not None:
        # Only in a child process: take a while, so the main process can look at it
        time.sleep(1.5)
    print('hello() in PID', os.getpid(), 'returns')


class MyProcess(Process):
    def run(self):
        # An error in run(): the process ends with exit code 1
        raise ValueError('run() fails')


def f():
    print('f() returns at once')


def state_of(pid):
    # The state letter in /proc/PID/stat: R running, S sleeping, Z zombie
    with open('/proc/%d/stat' % pid) as stat:
        return stat.read().rsplit(')', 1)[1].split()[0]


def show_exitcode(p):
    # None while p runs, 0 after a normal end, -N after signal N
    print(p.name, 'exitcode:', p.exitcode)


def show_parent(who):
    ppid = os.getppid()
    print(who, 'has parent PID', ppid)
    return ppid


def orphan(seen):
    first = show_parent('g')
    seen.set()
    # Wait until g's parent has died and g has a new parent
    while os.getppid() == first:
        time.sleep(0.005)
    show_parent('g, now an orphan,')
    print('g returns')


def start_g(seen):
    g = Process(target=orphan, args=(seen,), name='g')
    g.start()
    # At exit, o waits for its child g, as every Python process does
    print('o: run() returns')


def use_lock(lock, has_lock):
    lock.acquire()
    if has_lock is not None:
        # The holder tells the main process, then keeps the lock for ever
        has_lock.set()
        while True:
            do_some_work('holding the lock')
    lock.release()


if __name__ == '__main__':
    folder = tempfile.mkdtemp()
    lock = Lock() if LOCK_KIND == 'semaphore' else FlockLock(os.path.join(folder, 'lock.flock'))

    # A daemon, started first: it is terminated when the main process ends
    d = Process(target=background, name='d', daemon=True); d.start()

    # run() calls hello() right here, in the main process
    p = Process(target=hello, name='hello')
    p.run()
    # start() runs hello() in a new child process
    p.start()
    print('name:', p.name)
    print('pid:', p.pid)
    print('is_alive():', p.is_alive())
    show_exitcode(p)
    # Wait at most 0.2 s: the child is still running after it
    p.join(timeout=0.2)
    # Wait until the child has ended
    p.join()
    show_exitcode(p)

    q = MyProcess(name='MyProcess'); q.start()
    q.join()
    print('q exitcode:', q.exitcode)

    terminated = Process(target=busy, name='terminated')
    terminated.start()
    # SIGTERM: exit code -15
    terminated.terminate()
    terminated.join()
    killed = Process(target=busy, name='killed')
    killed.start()
    # SIGKILL: exit code -9
    killed.kill()
    killed.join()
    print('exit codes:', terminated.exitcode, killed.exitcode)

    # A zombie: a child that has ended and that its parent has not joined yet
    z = Process(target=f, name='z')
    z.start()
    while state_of(z.pid) != 'Z':
        time.sleep(0.005)
    print('z is in state', state_of(z.pid))
    # join() reaps the zombie
    z.join()

    # An orphan: o starts g; when o is terminated, g gets a new parent
    seen = Event()
    o = Process(target=start_g, args=(seen,), name='o')
    o.start()
    seen.wait()
    # Give o time to return from run()
    time.sleep(0.2)
    o.terminate()
    o.join()

    # A holder terminated while it holds the lock
    has_lock = Event()
    h = Process(target=use_lock, args=(lock, has_lock), name='h')
    h.start()
    has_lock.wait()
    waiters = [Process(target=use_lock, args=(lock, None), name='waiter-%d' % (n + 1)) for n in range(WAITERS)]
    for w in waiters:
        w.start()
    # Nothing is cleaned up: a Lock held by h stays taken
    h.terminate()
    h.join()
    if LOCK_KIND == 'semaphore':
        for w in waiters:
            # Returns after 1 s: the waiter still waits for the lock
            w.join(timeout=1)
        for w in waiters:
            print(w.name, 'waits for the lock, in state', state_of(w.pid))
    for w in waiters:
        if LOCK_KIND == 'semaphore':
            # A deadlock: nobody will let go of the lock, so end the waiter
            w.terminate()
        w.join()

    print('main ends: at exit Python terminates the daemon d, then joins it')
