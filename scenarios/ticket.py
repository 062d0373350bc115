# The ticket grab (tutorial section 2.4): buyers race for the tickets left
# in a JSON file; a lock lets one buyer at a time read and rewrite it.
# Run: python3 ticket.py [--no-lock]
import json
import os
import random
import sys
import tempfile
import time
from multiprocessing import Process, Lock

BUYERS = 10
TICKETS = 5
# --no-lock: buy without the lock, and see tickets sold twice
USE_LOCK = '--no-lock' not in sys.argv


def gettickles(filename, str, lock):
    if USE_LOCK:
        # Lock the part that reads and rewrites the file
        lock.acquire()
    try:
        with open(filename, encoding='utf-8') as f:
            # An empty or half-written file does not parse
            dic = json.loads(f.read())
    except:
        # The bare except: a file that did not parse counts as 100 tickets
        dic = {'count': 100}

    if dic['count'] > 0:
        dic['count'] -= 1
        # A random network delay of up to one second
        time.sleep(random.random())
        # Opening with 'w' empties the file at once
        with open(filename, 'w', encoding='utf-8') as f:
            f.write(json.dumps(dic))
        print('{0} got a ticket'.format(str))
    else:
        print('{0} found no ticket left'.format(str))

    if USE_LOCK:
        # Done: unlock, so that the next buyer can go
        lock.release()


if __name__ == '__main__':
    # The file goes in a fresh temporary folder, removed at the end
    with tempfile.TemporaryDirectory() as folder:
        filename = os.path.join(folder, 'tickets.json')
        # The ticket file: a JSON count of the tickets left
        with open(filename, 'w', encoding='utf-8') as start:
            start.write(json.dumps({'count': TICKETS}))

        lock = Lock()
        p_l = []
        for i in range(BUYERS):
            p = Process(target=gettickles, args=(filename, 'buyer %s' % i, lock))
            p_l.append(p)
            p.start()
        for p in p_l:
            p.join()

        with open(filename, encoding='utf-8') as f:
            print('left in the file:', f.read())
