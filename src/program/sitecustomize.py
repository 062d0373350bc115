# Written by mpviz into a run's private directory, first on PYTHONPATH, so
# that every Python process of `mpviz run` loads mpviz's agent before the
# program. Then the program's own sitecustomize, if it has one, is loaded
# as Python would have loaded it, and the directory leaves sys.path.
import os as _os
import sys as _sys

_here = _os.path.dirname(_os.path.abspath(__file__))
_me = _sys.modules[__name__]
try:
    import _mpviz_agent

    _mpviz_agent.start()
finally:
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
    del _sys.modules["sitecustomize"]
try:
    import sitecustomize  # noqa: F401  (the program's own)
except ImportError as e:
    # None: this module stays in its place, as Python's import expects.
    _sys.modules["sitecustomize"] = _me
    if e.name != "sitecustomize":
        raise
