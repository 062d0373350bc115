# A child that leaves its process group (a new session), and a grandchild
# that does too, both living far longer than any test: mpviz must still end
# them when it is stopped.
import multiprocessing as mp
import os
import subprocess
import time


def leave():
    os.setsid()
    subprocess.Popen(['sleep', '600'], start_new_session=True)
    print('left the group', flush=True)
    time.sleep(600)


if __name__ == '__main__':
    p = mp.Process(target=leave)
    p.start()
    p.join()
