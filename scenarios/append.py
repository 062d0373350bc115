# The file-append race (tutorial section 2.4): writers append one line each
# to the same file, in whatever order they get there.
# Run: python3 append.py [--lock] [--chunks K]
import multiprocessing
import os
import sys
import tempfile

WRITERS = 10
# --lock: hold a lock while writing a whole line
USE_LOCK = '--lock' in sys.argv
# --chunks K: write each line in K separate writes
CHUNKS = int(sys.argv[sys.argv.index('--chunks') + 1]) if '--chunks' in sys.argv else 1


def pieces(text, parts):
    # Cut text into parts of nearly equal length
    size, extra = divmod(len(text), parts)
    out, at = [], 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        out.append(text[at:at + n])
        at += n
    return out


def fileinput(filename, str, lock):
    if USE_LOCK:
        # No other writer can write while we hold the lock
        lock.acquire()
    # Mode 'a': every write goes to the end of the file as it is right then
    with open(filename, 'a', encoding='UTF-8') as f:
        if CHUNKS == 1:
            f.write(str)
        else:
            for part in pieces(str, CHUNKS):
                f.write(part)
                # Send this part to the file now, as its own write
                f.flush()
    if USE_LOCK:
        lock.release()


if __name__ == '__main__':
    with tempfile.TemporaryDirectory() as folder:
        filename = os.path.join(folder, 'a.txt')
        open(filename, 'w').close()
        lock = multiprocessing.Lock()
        p_l = []
        for i in range(WRITERS):
            p = multiprocessing.Process(target=fileinput, args=(filename, 'writer %s\n' % i, lock))
            p_l.append(p)
            # Started in order 0, 1, 2, ...
            p.start()
        for p in p_l:
            p.join()
        with open(filename, encoding='UTF-8') as f:
            # ... but the lines are in the order the writers got there
            print(f.read(), end='')
