"""Keep the keyspace out of the cyclic garbage collector.

A full (generation 2) collection of CPython's cyclic GC visits every
element of every tracked container: about 70 ms for one set of a million
members on this machine, and every client waits, because the collection
runs inside whichever greenlet happened to allocate.  The keyspace's
containers (``set`` and ``deque`` values, the databases' key dicts and
expiry heaps, SCAN/KEYS key snapshots) hold only bytes, ints and tuples of
those: they can never be part of a reference cycle, so reference counting
alone frees them and the collector has nothing to find in them.  CPython
already leaves such dicts (hash values: bytes -> bytes) untracked on its
own; ``untrack`` does the same for the rest through the C API's
``PyObject_GC_UnTrack`` (idempotent, and the type's own dealloc untracks
again safely).

A dict that is untracked becomes tracked again when a container is stored
in it (CPython's ``MAINTAIN_TRACKING``), so the keyspace untracks its key
dicts again after such writes (``Database.modified``, after loading, and
once per active-expiry cycle as a safety net).

Only objects that hold nothing but bytes/ints/floats (or tuples of them)
may be passed here: a cycle through an untracked container would never be
collected.
"""
import ctypes
import gc
from collections import deque

is_tracked = gc.is_tracked

try:
    _untrack = ctypes.pythonapi.PyObject_GC_UnTrack
    _untrack.argtypes = [ctypes.py_object]
    _untrack.restype = None
except (AttributeError, OSError):      # not CPython: nothing to do
    _untrack = None

# Value types whose instances CPython always tracks although ours are acyclic.
TRACKED_VALUE_TYPES = frozenset((set, deque))


def untrack(obj):
    """Take ``obj`` (an acyclic container) out of the collector's lists;
    returns it, so a creation site can wrap the new object."""
    if _untrack is not None and is_tracked(obj):
        _untrack(obj)
    return obj


def untrack_value(value):
    """``untrack`` a keyspace value when it is a set or a list (other
    values are untracked by CPython itself or hold tracked parts, as a
    sorted set's index)."""
    if type(value) in TRACKED_VALUE_TYPES and _untrack is not None and is_tracked(value):
        _untrack(value)
