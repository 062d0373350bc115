# A process pool with apply_async and callbacks (tutorial section 2.5): three
# worker processes run every task; the callback runs in the main process.
# Run: python3 pool.py [--sync] [--fail K] [--crawl]
import sys
# queue.py sits beside this file: take this folder off the import path, so
# that multiprocessing finds Python's own queue module
del sys.path[0]
import http.server
import logging
import multiprocessing
import threading
import time
import urllib.error
import urllib.request

FORMAT = '%(asctime)s %(process)s %(threadName)s %(message)s'
logging.basicConfig(level=logging.INFO, format=FORMAT)

WORKERS = 3
TASKS = 9
# --sync: wait for each result before submitting the next task
SYNC = '--sync' in sys.argv
# --fail K: K of the tasks raise an error
FAIL = int(sys.argv[sys.argv.index('--fail') + 1]) if '--fail' in sys.argv else 0
# --crawl: tasks fetch pages from a little web server in the main process
CRAWL = '--crawl' in sys.argv
# Task 0 is slow; the main process waits for it only a moment
SLOW_SECONDS = 0.07
WAIT_SECONDS = 0.01


class Pages(http.server.BaseHTTPRequestHandler):
    # The main process's web server: /page/N is a page, anything else is 404
    def do_GET(self):
        if self.path.startswith('/page/'):
            body = '<html><title>Page %s</title></html>' % self.path[6:]
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


def calc(task, divisor, url):
    # A worker process runs this for every task it takes from the pool
    if task == 0 and not SYNC:
        time.sleep(SLOW_SECONDS)
    if CRAWL:
        # The tutorial's geturl: a missing page raises HTTPError
        try:
            return urllib.request.urlopen(url).read().decode()
        except urllib.error.HTTPError as e:
            # Sent back to the main process as a plain error (it can be pickled)
            raise Exception('HTTPError: %s' % e) from None
    sum = 0
    for i in range(1000):
        sum += 1
    # divisor is 0 for a failing task: ZeroDivisionError
    return sum // divisor


def result(res):
    # The callback: run by the main process, on its result-handler thread
    logging.info('callback got %s', res if not CRAWL or isinstance(res, Exception) else len(res))


if __name__ == '__main__':
    if CRAWL:
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Pages)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    # The worker processes are started here
    pool = multiprocessing.Pool(WORKERS)
    for i in range(TASKS):
        failing = i in [k * TASKS // FAIL for k in range(FAIL)]
        url = 'http://127.0.0.1:%d/%s/%d' % (server.server_port if CRAWL else 0, 'missing' if failing else 'page', i)
        # No callback with --sync: the main process takes the result itself
        on_done = None if SYNC else result
        res = pool.apply_async(calc, args=(i, 0 if failing else 1, url), callback=on_done, error_callback=on_done)
        if SYNC:
            # pool.apply() is this: apply_async(...).get()
            try:
                logging.info('get() returned %s', res.get())
            except Exception as e:
                logging.info('get() raised %r', e)
        elif i == 0:
            # Wait for the slow task 0, but only a moment
            res.wait(WAIT_SECONDS)
            logging.info('task 0 ready: %s', res.ready())
    # No more tasks
    pool.close()
    # Wait until every worker process has exited
    pool.join()
    logging.info('I am Main')
