# mpviz's agent: carried inside mpviz and loaded first by every Python
# process of `mpviz run PROG.py` (see sitecustomize.py beside it).
#
# It reports what the process does with multiprocessing as events, one JSON
# object per frame, into the run's event pipe (the same pipe mpviz's own
# processes write to), and before each operation it waits for the pacer's
# permit on the run's gates (the same futex words). Both are opened through
# /proc from mpviz's fork server, which holds them for the run, so they
# reach a process whatever the start method.
#
# It patches multiprocessing's modules as they are imported, never imports
# them itself: a program that does not use multiprocessing finds none of
# them in sys.modules (the agent's own json and mmap are there). Only the
# locks and queues the program makes are followed and paced, never those
# multiprocessing makes for itself. Nothing here starts a thread.

import json
import os
import sys
import threading
import time

_CFG = None
_pid = None
_fd = None
_words = None  # the gates: word 0 the mode, word 1 + slot a slot's permits
_mem = None
_addr0 = 0
_futex = None
_used = 0
_buf = []
_buf_len = 0
_mutex = threading.Lock()
_names = {}
_counter = [0]
_program = None
_stdlib = None
_here = os.path.dirname(os.path.abspath(__file__))
_FREE = 1
_PIPE_BUF = 4096
_MAX_TEXT = 1000
# Whether this process is inside Process.start() (see _after_fork).
_starting = False
# What multiprocessing started this process as, if it is a helper of its own.
_helper = None


def _now():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) - _CFG["origin"]


def _write(data):
    global _fd, _words
    if _fd is None:
        return
    try:
        os.write(_fd, data)
    except OSError:
        # mpviz is gone: nobody is left to report to, or to pace. The
        # program goes on (and cleans up) as it would without mpviz.
        _fd = None
        _words = None


def _flush():
    global _buf, _buf_len
    with _mutex:
        data = b"".join(_buf)
        _buf = []
        _buf_len = 0
    if data:
        _write(data)


def _free():
    return _words is not None and _words[0] == _FREE


def _emit(kind, pid=None, **fields):
    """Reports one event: kept back while the run is not paced (up to one
    atomic write of the pipe), else sent at once with what was kept."""
    if _fd is None:
        return
    fields["kind"] = kind
    # The object's fields after its `{`: the stamp and PID go before them.
    try:
        tail = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()[1:]
    except (TypeError, ValueError) as e:
        tail = _tail("error", message="mpviz could not report a %s event: %s" % (kind, type(e).__name__))
    _emit_tail(tail, pid)


def _emit_tail(tail, pid=None):
    """Reports the event whose fields, after the stamp and the PID, are
    `tail` (JSON, from the first field to the closing brace): the hot
    paths (a lock's events) have theirs made once."""
    global _buf, _buf_len
    if _fd is None:
        return
    body = b'{"t_ns":%d,"pid":%d,' % (_now(), _pid if pid is None else pid) + tail
    if len(body) + 2 > _PIPE_BUF:
        body = b'{"t_ns":%d,"pid":%d,"kind":"error","message":"an event was too long to report"}' % (
            _now(), _pid if pid is None else pid)
    frame = (0x8000 | len(body)).to_bytes(2, "little") + body
    keep = _free()
    with _mutex:
        if _buf_len + len(frame) > _PIPE_BUF or not keep:
            data = b"".join(_buf)
            _buf = []
            _buf_len = 0
        else:
            data = b""
        if keep:
            _buf.append(frame)
            _buf_len += len(frame)
        elif len(data) + len(frame) <= _PIPE_BUF:
            data += frame
            frame = b""
    # Written outside the mutex (a write may block on a full pipe), each
    # write at most PIPE_BUF bytes: atomic, never interleaved with another's.
    if data:
        _write(data)
    if not keep and frame:
        _write(frame)


def _tail(kind, **fields):
    """An event's fields as `_emit_tail` takes them, made once."""
    fields["kind"] = kind
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()[1:]


def _user_frame():
    """The innermost frame of the program's own code (not Python's library,
    not mpviz's agent)."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        # Not Python's library, not the agent, and not code made at run
        # time (`<string>`: a manager's proxy methods are exec'd).
        if not (name.startswith(_stdlib) or name.startswith(_here) or name.startswith("<")):
            return f
        f = f.f_back
    return None


def _where():
    """The program's line that is running: (file, line, its text)."""
    f = _user_frame()
    if f is None:
        return None, None, ""
    import linecache

    text = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f.f_code.co_filename, f.f_lineno, text[:200]


def _gate(what, where=None):
    """Waits for the pacer's permit before an operation, unless the run is
    not paced. Only a process's main thread is paced. `where`: the line to
    say, if not the program's innermost frame."""
    global _used
    if _words is None or _free() or threading.current_thread() is not threading.main_thread():
        return
    _file, line, text = where or _where()
    slot = _pid
    _used = max(_used, _words[1 + slot]) + 1
    args = {"code": text or what}
    if line is not None:
        args["line"] = line
    # Sent at once, never kept back: a ready the pacer never sees is a
    # permit never granted.
    _flush()
    _emit("ready", action="py", args=args)
    _flush()
    ticket = _used
    while True:
        seen = _words[1 + slot]
        if seen >= ticket:
            return
        _futex_wait(slot, seen)


def _futex_wait(slot, seen):
    global _addr0, _futex
    # ctypes is loaded by the first wait only: a process that never waits
    # (a run at full speed) forks as light as without mpviz.
    import ctypes

    if _futex is None:
        _addr0 = ctypes.addressof(ctypes.c_char.from_buffer(_mem))
        _futex = ctypes.CDLL(None, use_errno=True).syscall
        _futex.restype = ctypes.c_long
    addr = _addr0 + 4 * (1 + slot)
    # FUTEX_WAIT (0), not private: the word is shared between processes.
    # ctypes lets go of the GIL for the call: the program's other threads
    # (a queue's feeder, a pool's handlers) run on.
    _futex(ctypes.c_long(_CFG["futex"]), ctypes.c_void_p(addr), ctypes.c_int(0),
           ctypes.c_uint(seen), ctypes.c_void_p(0))


_PLAIN = (int, float, complex, bool, str, bytes, list, tuple, dict, set, frozenset, type(None))


def _clean(text):
    """`text` as UTF-8 can carry it: a lone surrogate (a file name's undecodable
    byte, say) as its escape, in letters."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _short(value, limit=120):
    """A value as Python's repr shows it, cut. Only Python's own types are
    shown so (their repr runs none of the program's code); any other object,
    even inside a list, as its type."""
    import reprlib

    class Shown(reprlib.Repr):
        def repr_instance(self, x, level):
            if type(x) in _PLAIN:
                return repr(x)[: self.maxother]
            return "<%s object>" % type(x).__name__

    shown = Shown()
    shown.maxstring = shown.maxother = limit
    try:
        text = _clean(shown.repr(value))
    except Exception:
        text = "<%s object>" % type(value).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _py(value):
    """A value as the protocol carries it: None, a bool, an int, or text."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    return _short(value)


def _called_by_program():
    """Whether the function that calls this one was called by the
    program's own code."""
    name = sys._getframe(2).f_code.co_filename
    return not (name.startswith(_stdlib) or name.startswith(_here) or name.startswith("<"))


def _made_by_program(obj):
    """Whether `obj`, being made, was asked for by the program's code, not
    by multiprocessing (a Condition's, a Barrier's, a queue's own locks) or
    another library for itself: past the agent, `obj`'s own constructors
    and multiprocessing's context, the first frame is the program's."""
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        mine = f.f_locals.get("self") is obj
        context = os.path.basename(name) == "context.py" and "multiprocessing" in name
        if name.startswith(_here) or mine or context:
            f = f.f_back
            continue
        return not (name.startswith(_stdlib) or name.startswith("<"))
    return False


def _name_for(kind):
    """A name for a lock or queue the program makes: the variable its line
    assigns, else its kind; numbered when the process made one so named
    before; with the PID where another process than the main one made it."""
    _file, _line, text = _where()
    base = kind
    head = text.split("=", 1)
    # `lock = Lock()`: one target, one object made on the line.
    import re

    made = len(re.findall(r"(?<![\w])" + kind + r"\(", head[-1]))
    if len(head) == 2 and ";" not in text and made == 1:
        target = head[0].strip().split(".")[-1].split("[")[0]
        if target.isidentifier():
            base = target
    n = _names.get(base, 0) + 1
    _names[base] = n
    name = base if n == 1 else "%s#%d" % (base, n)
    if _pid != _CFG["main"]:
        name = "%s@%d" % (name, _pid)
    return name


# --- Locks ------------------------------------------------------------------


def _patch_synchronize(m):
    SemLock = m.SemLock

    def make(cls, kind):
        init = cls.__init__

        def __init__(self, *a, **k):
            followed = type(self) is cls and _made_by_program(self)
            if followed:
                _gate(kind)
            init(self, *a, **k)
            if followed:
                self._mpviz = _name_for(kind)
                # Its kind as Python names it: each is a POSIX semaphore.
                _emit("lock_made", lock=self._mpviz, lock_kind=kind)
                self._make_methods()

        cls.__init__ = __init__

    for cls, kind in ((m.Lock, "Lock"), (m.RLock, "RLock"), (m.Semaphore, "Semaphore"),
                      (m.BoundedSemaphore, "BoundedSemaphore")):
        make(cls, kind)

    make_methods = SemLock._make_methods

    def _make_methods(self):
        make_methods(self)
        name = getattr(self, "_mpviz", None)
        if name is None:
            return
        sl = self._semlock
        reentrant = isinstance(self, m.RLock)
        waits, takes, lets_go = (_tail(k, lock=name) for k in ("lock_wait", "lock_acquire", "lock_release"))

        def acquire(block=True, timeout=None):
            if reentrant and sl._is_mine():
                return sl.acquire(block, timeout)
            _gate("acquire")
            _emit_tail(waits)
            # A free lock is taken at once (Python's acquire tries first
            # too); the reports are sent before the process may wait.
            ok = sl.acquire(False)
            if not ok and block:
                _flush()
                ok = sl.acquire(True, timeout)
            if ok:
                _emit_tail(takes)
            else:
                _emit("lock_gave_up", lock=name,
                      timeout_ms=None if timeout is None or not block else int(timeout * 1000))
            return ok

        bounded = isinstance(self, (m.Lock, m.BoundedSemaphore)) and not reentrant

        def release():
            if reentrant and sl._count() > 1:
                return sl.release()
            # A release Python refuses (an RLock not held by this process,
            # a Lock or BoundedSemaphore not taken) raises, and happened not.
            if (reentrant and not sl._is_mine()) or (bounded and _value(sl) >= sl.maxvalue):
                return sl.release()
            _gate("release")
            # Reported, and sent, before the lock is let go: whoever takes
            # it next reports that after this.
            _emit_tail(lets_go)
            _flush()
            return sl.release()

        self.acquire = acquire
        self.release = release

    SemLock._make_methods = _make_methods

    def __enter__(self):
        if getattr(self, "_mpviz", None) is None:
            return self._semlock.__enter__()
        return self.acquire()

    def __exit__(self, *args):
        if getattr(self, "_mpviz", None) is None:
            return self._semlock.__exit__(*args)
        return self.release()

    SemLock.__enter__ = __enter__
    SemLock.__exit__ = __exit__
    _keep_name_through_pickling(SemLock)


def _value(sl):
    try:
        return sl._get_value()
    except Exception:
        return -1


def _keep_name_through_pickling(cls):
    """A followed object's name travels with it to a spawned process."""
    getstate, setstate = cls.__getstate__, cls.__setstate__

    def __getstate__(self):
        state = getstate(self)
        name = getattr(self, "_mpviz", None)
        return state if name is None else ("__mpviz__", name, state)

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 3 and state[0] == "__mpviz__":
            self._mpviz = state[1]
            state = state[2]
        setstate(self, state)

    cls.__getstate__ = __getstate__
    cls.__setstate__ = __setstate__


# --- Queues -----------------------------------------------------------------


class _Item:
    """An item put into a followed queue, with its number: the get that
    takes it says which put it was."""

    __slots__ = ("n", "obj")

    def __init__(self, n, obj):
        self.n = n
        self.obj = obj

    def __reduce__(self):
        return (_Item, (self.n, self.obj))


def _next_item():
    _counter[0] += 1
    return (_pid << 20) + _counter[0]


def _depth(q):
    try:
        return max(0, q.qsize())
    except Exception:
        return 0


def _patch_queues(m):
    import queue as stdqueue

    def follow_init(cls, kind):
        init = cls.__init__

        def __init__(self, *a, **k):
            init(self, *a, **k)
            if type(self) is cls and _made_by_program(self):
                self._mpviz = _name_for(kind)
                size = getattr(self, "_maxsize", 0)
                bounded = size if size and size < 2**30 else 0
                _emit("queue_depth", queue=self._mpviz, depth=0, maxsize=bounded)

        cls.__init__ = __init__
        _keep_name_through_pickling(cls)

    def follow_put(cls):
        put = cls.put

        def wrapped(self, obj, block=True, timeout=None):
            name = getattr(self, "_mpviz", None)
            if name is None:
                return put(self, obj, block, timeout)
            item = _next_item()
            _gate("put")
            sem = self._sem
            try:
                full = sem._semlock._get_value() == 0
            except Exception:
                full = False
            if full and block:
                _emit("blocked", queue=name, op="put")
                _flush()
            try:
                put(self, _Item(item, obj), block, timeout)
            except stdqueue.Full:
                _emit("full", queue=name, item=item)
                raise
            _emit("put", queue=name, item=item, depth=_depth(self))

        cls.put = wrapped

    def follow_get(cls):
        get = cls.get

        def wrapped(self, block=True, timeout=None):
            name = getattr(self, "_mpviz", None)
            if name is None:
                return get(self, block, timeout)
            _gate("get")
            if block:
                try:
                    empty = not self._reader.poll()
                except Exception:
                    empty = False
                if empty:
                    _emit("blocked", queue=name, op="get")
                    _flush()
            try:
                got = get(self, block, timeout)
            except stdqueue.Empty:
                _emit("empty", queue=name)
                raise
            if isinstance(got, _Item):
                _emit("get", queue=name, item=got.n, depth=_depth(self))
                return got.obj
            return got

        cls.get = wrapped

    follow_init(m.Queue, "Queue")
    follow_init(m.JoinableQueue, "JoinableQueue")
    follow_put(m.Queue)
    follow_put(m.JoinableQueue)
    follow_get(m.Queue)

    simple = m.SimpleQueue
    sinit, sput, sget = simple.__init__, simple.put, simple.get

    def s_init(self, *a, **k):
        sinit(self, *a, **k)
        if type(self) is simple and _made_by_program(self):
            self._mpviz = _name_for("SimpleQueue")
            _emit("queue_depth", queue=self._mpviz, depth=0, maxsize=0)

    def s_put(self, obj):
        name = getattr(self, "_mpviz", None)
        if name is None:
            return sput(self, obj)
        item = _next_item()
        _gate("put")
        sput(self, _Item(item, obj))
        _emit("put", queue=name, item=item, depth=0)

    def s_get(self):
        name = getattr(self, "_mpviz", None)
        if name is None:
            return sget(self)
        _gate("get")
        if not self._poll():
            _emit("blocked", queue=name, op="get")
            _flush()
        got = sget(self)
        if isinstance(got, _Item):
            _emit("get", queue=name, item=got.n, depth=0)
            return got.obj
        return got

    simple.__init__, simple.put, simple.get = s_init, s_put, s_get
    _keep_name_through_pickling(simple)


# --- Processes --------------------------------------------------------------


def _role(name):
    if "PoolWorker" in name:
        return "worker"
    if "Manager" in name:
        return "manager"
    return "process"


def _patch_process(m):
    BP = m.BaseProcess
    start, join, terminate, kill, is_alive = BP.start, BP.join, BP.terminate, BP.kill, BP.is_alive
    bootstrap = BP._bootstrap

    def _bootstrap(self, *a, **k):
        global _pid
        _pid = os.getpid()
        try:
            return bootstrap(self, *a, **k)
        finally:
            _flush()

    def call(self, what, result, **more):
        _emit("process_call", call="%s.%s" % (self.name, what), target=self.pid,
              result=_py(result), **more)

    def p_start(self):
        global _starting
        _gate("start")
        # A child forked by start() is reported here, by its parent; one
        # forked by the program's own os.fork() reports itself.
        _starting = True
        try:
            r = start(self)
        finally:
            _starting = False
        # Reported by the parent, as soon as the child has a PID: a child
        # ended before it ran a line (a terminate() at once) is still seen.
        # Its parent is this process, unless multiprocessing's fork server
        # forked it (then /proc says which).
        forked_here = "forkserver" not in type(self._popen).__module__
        _emit("spawn", pid=self.pid, name=self.name, role=_role(self.name), slot=self.pid,
              ppid=_pid if forked_here else _parent_of(self.pid))
        call(self, "start()", r)
        return r

    def p_join(self, timeout=None):
        _gate("join")
        _flush()
        r = join(self, timeout)
        code = self.exitcode
        more = {"alive": code is None}
        if timeout is not None:
            more["timeout_ms"] = int(timeout * 1000)
        if code is not None:
            more["exitcode"] = code
        call(self, "join()" if timeout is None else "join(%s)" % timeout, r, **more)
        return r

    def p_terminate(self):
        _gate("terminate")
        r = terminate(self)
        call(self, "terminate()", r)
        return r

    def p_kill(self):
        _gate("kill")
        r = kill(self)
        call(self, "kill()", r)
        return r

    def p_is_alive(self):
        # Reported where the program asks, not where multiprocessing (or
        # concurrent.futures) asks for itself.
        asked = self._popen is not None and _called_by_program()
        if asked:
            _gate("is_alive")
        r = is_alive(self)
        if asked:
            call(self, "is_alive()", r)
        return r

    exitcode, daemon = BP.exitcode, BP.daemon

    def p_exitcode(self):
        asked = _called_by_program()
        if asked:
            _gate("exitcode")
        r = exitcode.fget(self)
        if asked:
            call(self, "exitcode", r)
        return r

    def p_set_daemon(self, value):
        asked = _called_by_program()
        if asked:
            _gate("daemon")
        daemon.fset(self, value)
        if asked:
            call(self, "daemon = %r" % (value,), None)

    BP.exitcode = property(p_exitcode, doc=exitcode.__doc__)
    BP.daemon = property(daemon.fget, p_set_daemon, doc=daemon.__doc__)
    BP._bootstrap, BP.start, BP.join = _bootstrap, p_start, p_join
    BP.terminate, BP.kill, BP.is_alive = p_terminate, p_kill, p_is_alive


def _parent_of(pid):
    """A process's parent as /proc says: this process, or, for a child of
    multiprocessing's fork server, the fork server."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return _pid


def _exitcode(status):
    """Python's exit code for a wait status: the exit status, or minus the
    signal that ended the process; None for a stop."""
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    return None


def _patch_wait():
    """The exit of every process a Python process of the run reaps, as its
    waitpid reported it: multiprocessing's Popen (fork, spawn), its fork
    server (forkserver), the program's own os.fork() children."""
    waitpid, wait = os.waitpid, os.wait

    def reaped(pid, status):
        if pid > 0:
            code = _exitcode(status)
            if code is not None:
                _emit("exit", pid=pid, exitcode=code)

    def p_waitpid(pid, options):
        r = waitpid(pid, options)
        reaped(*r)
        return r

    def p_wait():
        r = wait()
        reaped(*r)
        return r

    p_waitpid.__doc__, p_wait.__doc__ = waitpid.__doc__, wait.__doc__
    os.waitpid, os.wait = p_waitpid, p_wait


# --- Pools ------------------------------------------------------------------


class _Task:
    """A pool task's function, numbered: the worker reports starting and
    finishing it. Pickled by reference to this module, which every process
    of the run has loaded."""

    __slots__ = ("n", "func")

    def __init__(self, n, func):
        self.n = n
        self.func = func

    def __reduce__(self):
        return (_Task, (self.n, self.func))

    def __call__(self, *a, **k):
        return _run_task(self.n, self.func, a, k)


class _MapTask:
    """A map's function: each item comes with its task number."""

    __slots__ = ("base", "func", "star")

    def __init__(self, base, func, star):
        self.base, self.func, self.star = base, func, star

    def __reduce__(self):
        return (_MapTask, (self.base, self.func, self.star))

    def __call__(self, i, x):
        args = tuple(x) if self.star else (x,)
        return _run_task(self.base + i, self.func, args, {})


def _run_task(n, func, a, k):
    # Where the task will run: its function's first line, if it is the
    # program's (the worker's own frames are the pool's, and the line its
    # fork happened at).
    code = getattr(func, "__code__", None)
    if code is not None and not code.co_filename.startswith((_stdlib, _here, "<")):
        import linecache

        text = linecache.getline(code.co_filename, code.co_firstlineno).strip()
        _gate("task", where=(code.co_filename, code.co_firstlineno, text[:200]))
    else:
        _gate("task")
    _emit("task_start", task=n)
    try:
        r = func(*a, **k)
    except BaseException as e:
        _emit("task_done", task=n, ok=False, error_type=type(e).__name__, error=_short(str(e)))
        _flush()
        raise
    fields = {"result": r} if isinstance(r, int) and not isinstance(r, bool) and -(2**63) <= r < 2**63 else {"shown": _short(r)}
    _emit("task_done", task=n, ok=True, **fields)
    _flush()
    return r


_tasks = [0]


def _patch_pool(m):
    Pool = m.Pool
    apply_async, map_async = Pool.apply_async, Pool._map_async
    close, join, terminate = Pool.close, Pool.join, Pool.terminate

    def on_done(n, cb, ok):
        def callback(value):
            t = threading.current_thread()
            fields = {"task": n, "thread": t.name, "ok": ok, "tid": threading.get_native_id()}
            if ok:
                if isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63:
                    fields["result"] = value
            else:
                fields["error_type"] = type(value).__name__
                fields["error"] = _short(str(value))
            _emit("callback", **fields)
            _flush()
            return cb(value)

        return callback

    def running(pool):
        # A pool that is not running refuses the task: no submission.
        check = getattr(pool, "_check_running", None)
        if check is not None:
            check()

    def p_apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        running(self)
        _tasks[0] += 1
        n = _tasks[0]
        _gate("apply_async")
        _emit("task_submit", task=n)
        if callback is not None:
            callback = on_done(n, callback, True)
        if error_callback is not None:
            error_callback = on_done(n, error_callback, False)
        return apply_async(self, _Task(n, func), args, kwds, callback, error_callback)

    def p_map_async(self, func, iterable, mapper, chunksize=None, callback=None, error_callback=None):
        running(self)
        items = list(iterable)
        base = _tasks[0] + 1
        _tasks[0] += len(items)
        _gate("map")
        for i in range(len(items)):
            _emit("task_submit", task=base + i)
        star = getattr(mapper, "__name__", "") == "starmapstar"
        wrapped = _MapTask(base, func, star)
        return map_async(self, wrapped, list(enumerate(items)), m.starmapstar, chunksize,
                         callback, error_callback)

    def pool_call(orig, what):
        def wrapped(self, *a, **k):
            if what != "close":
                _gate(what)
            _emit("pool_call", call=what)
            _flush()
            return orig(self, *a, **k)

        return wrapped

    Pool.apply_async, Pool._map_async = p_apply_async, p_map_async
    Pool.close = pool_call(close, "close")
    Pool.join = pool_call(join, "join")
    Pool.terminate = pool_call(terminate, "terminate")


# --- Managers ---------------------------------------------------------------


def _patch_managers(m):
    BaseProxy = m.BaseProxy
    callmethod = BaseProxy._callmethod

    def _callmethod(self, methodname, args=(), kwds={}):
        if methodname.startswith("#") or threading.current_thread() is not threading.main_thread():
            return callmethod(self, methodname, args, kwds)
        typeid = getattr(self._token, "typeid", "?")
        _gate("proxy")
        shown = ", ".join([_short(a, 40) for a in args] + ["%s=%s" % (k, _short(v, 40)) for k, v in kwds.items()])
        _flush()
        try:
            r = callmethod(self, methodname, args, kwds)
        except BaseException as e:
            _emit("proxy_call", typeid=typeid, method=methodname, args=shown,
                  error="%s: %s" % (type(e).__name__, _short(str(e), 80)))
            raise
        _emit("proxy_call", typeid=typeid, method=methodname, args=shown, result=_short(r, 80))
        return r

    BaseProxy._callmethod = _callmethod


# --- Output, sleep ----------------------------------------------------------


class _Output:
    """sys.stdout or sys.stderr: what the program prints, as events, a line
    at a time, by process."""

    def __init__(self, stream, inner):
        self._stream = stream
        self._inner = inner
        self._line = ""

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not %s" % type(text).__name__)
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            self._send(line)
        if len(self._line) > _MAX_TEXT:
            line, self._line = self._line, ""
            self._send(line)
        return len(text)

    def _send(self, text):
        text = _clean(text)
        while True:
            _emit("output", stream=self._stream, text=text[:_MAX_TEXT])
            text = text[_MAX_TEXT:]
            if not text:
                break
        # Sent at once, as a terminal shows a line: in the order the
        # processes printed, and not lost if the process is killed next.
        _flush()

    def flush(self):
        if self._line:
            line, self._line = self._line, ""
            self._send(line)
        _flush()

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def isatty(self):
        return False

    def writable(self):
        return True

    def __getattr__(self, name):
        return getattr(self._inner, name)


def _patch_time():
    sleep = time.sleep

    def wrapped(seconds):
        # The program's own sleeps, in a process's main thread: a step
        # each, as a tutorial's "network delay" is.
        if (_words is not None and threading.current_thread() is threading.main_thread()
                and _called_by_program()):
            _gate("sleep")
            _emit("sleep", ms=int(seconds * 1000))
            _flush()
        return sleep(seconds)

    # Still pickled as time.sleep (a process's target, under spawn).
    wrapped.__module__, wrapped.__name__, wrapped.__qualname__ = "time", "sleep", "sleep"
    wrapped.__doc__ = sleep.__doc__
    time.sleep = wrapped


# --- Start ------------------------------------------------------------------

_PATCHES = {
    "multiprocessing.synchronize": _patch_synchronize,
    "multiprocessing.queues": _patch_queues,
    "multiprocessing.process": _patch_process,
    "multiprocessing.pool": _patch_pool,
    "multiprocessing.managers": _patch_managers,
}


class _Finder:
    """Patches a multiprocessing module once it has been imported."""

    def find_spec(self, name, path=None, target=None):
        if name not in _PATCHES:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            try:
                _PATCHES[name](module)
            except Exception as e:  # a Python mpviz does not know: say so, run on
                _emit("error", message="mpviz could not follow %s: %s" % (name, e))

        spec.loader.exec_module = patched
        return spec


def _after_fork():
    global _pid, _buf, _buf_len, _mutex, _used, _names, _starting
    by_start = _starting
    _starting = False
    parent = _pid
    _pid = os.getpid()
    _buf = []
    _buf_len = 0
    _mutex = threading.Lock()
    _used = 0
    _names = {}
    _counter[0] = 0
    # The program's own os.fork(): a process no Process.start() reports.
    # (multiprocessing's fork server forks the children main's start()
    # reports.)
    if not by_start and _helper != "forkserver":
        name = "os.fork() of %d" % parent
        _emit("spawn", name=name, role="process", slot=_pid, ppid=parent)


def _at_exit():
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, _Output):
            try:
                stream.flush()
            except Exception:
                pass
    _flush()


def start():
    global _CFG, _pid, _fd, _words, _mem, _program, _stdlib, _helper
    raw = os.environ.get("MPVIZ_AGENT")
    if not raw:
        return
    _CFG = json.loads(raw)
    _pid = os.getpid()
    _program = _CFG.get("program")
    _stdlib = os.path.dirname(os.__file__)
    fs = _CFG["fs"]
    try:
        _fd = os.open("/proc/%d/fd/%d" % (fs, _CFG["events"]), os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        # mpviz's run is over (or this process is not of it): run unseen.
        _fd = None
        return
    try:
        import mmap

        gfd = os.open("/proc/%d/fd/%d" % (fs, _CFG["gates"]), os.O_RDWR | os.O_CLOEXEC)
        size = 4 * (_CFG["slots"] + 1)
        _mem = mmap.mmap(gfd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        os.close(gfd)
        _words = memoryview(_mem).cast("I")
    except Exception as e:
        _words = None
        _emit("error", message="mpviz cannot pace this process: %s" % e)
    os.register_at_fork(after_in_child=_after_fork)
    sys.meta_path.insert(0, _Finder())
    if _pid != _CFG["main"]:
        cmd = open("/proc/self/cmdline", "rb").read().split(b"\0")
        text = b" ".join(cmd)
        if b"spawn_main" not in text:
            if b"forkserver" in text:
                name, role = "forkserver", "helper"
                _helper = "forkserver"
            elif b"resource_tracker" in text:
                name, role = "resource_tracker", "helper"
            else:
                name, role = "python", "process"
            _emit("spawn", name=name, role=role, slot=_pid, ppid=os.getppid())
    sys.stdout = _Output("stdout", sys.stdout)
    sys.stderr = _Output("stderr", sys.stderr)
    _patch_time()
    _patch_wait()
    import atexit

    atexit.register(_at_exit)
