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

def untrack(obj):
    """Take ``obj`` (an acyclic container) out of the collector's lists;
    returns it, so a creation site can wrap the new object."""
    if _untrack is not None and is_tracked(obj):
        _untrack(obj)
    return obj


# type -> fn(value) keeping a keyspace value of that type untracked: sets and
# lists (always tracked by CPython) here, sorted sets register theirs
# (storage/zset.py).  Hash dicts of bytes CPython leaves untracked itself.
KEEPERS = {set: untrack, deque: untrack}


def untrack_value(value):
    """Keep a keyspace value out of the cyclic GC (see KEEPERS)."""
    keep = KEEPERS.get(type(value))
    if keep is not None:
        keep(value)
