"""Databases, typed access and expiry.

Values are stored as plain Python objects so that a key costs no more than
its dict entry:

======  ======================================================
type    Python value
======  ======================================================
string  ``bytes``, or ``int`` for canonical integers (INCR)
hash    ``dict`` bytes -> bytes
list    ``collections.deque`` of bytes
set     ``set`` of bytes
zset    ``storage.zset.ZSet``
======  ======================================================

Expiry times live in a second dict (key -> absolute unix time in ms) as in
Redis.  Keys are expired lazily when touched and actively by ``expire_cycle``
which pops a heap of deadlines within a time budget, so memory of expired
keys is reclaimed without stalling clients.

Rule for command handlers: after changing a key call ``db.modified(key,
event)``; it counts the change (dirty), invalidates WATCHes and sends the
keyspace notification.
"""
import heapq
import itertools
import time
from collections import deque

from ..errors import CommandError, WRONGTYPE
from .zset import ZSet

TYPE_NAMES = {bytes: "string", int: "string", dict: "hash", deque: "list",
              set: "set", ZSet: "zset"}
# Keyspace-notification class letter of each type, Redis's K/E flags.
TYPE_CLASS = {bytes: "$", int: "$", dict: "h", deque: "l", set: "s", ZSet: "z"}

_WRONGTYPE = CommandError(WRONGTYPE)


def now_ms():
    return int(time.time() * 1000)


def type_name(value):
    return TYPE_NAMES.get(type(value), "none")


class Database:
    __slots__ = ("id", "keyspace", "data", "expires", "heap", "watchers",
                 "avg_ttl")

    def __init__(self, keyspace, index):
        self.id = index
        self.keyspace = keyspace
        self.data = {}
        self.expires = {}
        self.heap = []          # (when_ms, key); may hold stale entries
        self.watchers = {}      # key -> set of clients WATCHing it
        self.avg_ttl = 0

    def __len__(self):
        return len(self.data)

    # -- reading -----------------------------------------------------------
    def get(self, key):
        """The value at key, or None; expires the key if its time has come."""
        value = self.data.get(key)
        if value is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when <= now_ms():
                return self._expired(key)
        return value

    def get_typed(self, key, pytype):
        """The value if it is of ``pytype`` (None when absent); WRONGTYPE
        otherwise."""
        value = self.get(key)
        if value is not None and type(value) is not pytype:
            raise _WRONGTYPE
        return value

    def get_string(self, key):
        """A string value as bytes (None when absent), WRONGTYPE otherwise."""
        value = self.get(key)
        t = type(value)
        if t is bytes or value is None:
            return value
        if t is int:
            return b"%d" % value
        raise _WRONGTYPE

    def exists(self, key):
        return self.get(key) is not None

    def _expired(self, key):
        ks = self.keyspace
        if not ks.active_expire_enabled:
            # A replica hides logically expired keys but waits for the
            # master's DEL, so both sides stay identical.
            if ks.serving_master_stream:
                return self.data.get(key)
            return None
        self.delete(key)
        ks.stat_expired_keys += 1
        ks.on_expired(self, key)
        return None

    # -- writing -----------------------------------------------------------
    def set(self, key, value, keepttl=False):
        """Store ``value``; the key's TTL is cleared unless keepttl."""
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)

    def delete(self, key):
        """Remove key; True if it existed (expired or not)."""
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        return True

    def modified(self, key, event=None, klass=None, dirty=1):
        """Account for a change to ``key``: dirty counter, WATCH, keyspace
        notification ``event`` (class letter ``klass``, default by type)."""
        ks = self.keyspace
        ks.dirty += dirty
        if self.watchers:
            clients = self.watchers.get(key)
            if clients:
                for c in clients:
                    c.watch_dirty = True
        if event is not None and ks.notify_flags:
            if klass is None:
                klass = TYPE_CLASS.get(type(self.data.get(key)), "g")
            ks.notify(klass, event, key, self.id)

    def touch_all(self):
        """Invalidate every WATCH on this database (FLUSHDB, SWAPDB)."""
        for clients in self.watchers.values():
            for c in clients:
                c.watch_dirty = True

    # -- expiry ------------------------------------------------------------
    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        heapq.heappush(self.heap, (when_ms, key))
        if len(self.heap) > 2 * len(self.expires) + 1024:
            self._rebuild_heap()

    def get_expire(self, key):
        """Absolute expiry in ms, or -1 for a key without one."""
        return self.expires.get(key, -1)

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    def _rebuild_heap(self):
        self.heap = [(w, k) for k, w in self.expires.items()]
        heapq.heapify(self.heap)

    def expire_due(self, now, deadline):
        """Delete keys whose time has come, until ``deadline`` (perf counter
        seconds).  Returns how many were expired."""
        heap, expires = self.heap, self.expires
        count = 0
        while heap and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            if expires.get(key) != when:
                continue  # stale heap entry: TTL changed or key gone
            self.delete(key)
            self.keyspace.stat_expired_keys += 1
            self.keyspace.on_expired(self, key)
            count += 1
            if (count & 31) == 0 and time.perf_counter() > deadline:
                break
        return count

    def flush(self):
        self.touch_all()
        self.data = {}
        self.expires = {}
        self.heap = []

    def random_key(self, rng):
        """A random existing (non-expired) key or None."""
        for _ in range(100):
            if not self.data:
                return None
            n = len(self.data)
            # islice is O(k): good enough for the sampled positions used here,
            # bounded below so RANDOMKEY on a huge db stays cheap.
            k = rng.randrange(min(n, 4096))
            key = next(itertools.islice(self.data, k, None))
            if self.get(key) is not None:
                return key
        return None


class Keyspace:
    """All databases plus the hooks other subsystems plug into."""

    def __init__(self, count=16):
        self.dbs = [Database(self, i) for i in range(count)]
        self.dirty = 0
        self.stat_expired_keys = 0
        self.stat_expired_stale_perc = 0.0
        self.stat_evicted_keys = 0
        self.active_expire_enabled = True     # False on a replica
        self.serving_master_stream = False    # True while applying the master's stream
        self.notify_flags = ""                # notify-keyspace-events, parsed
        self.notify = lambda klass, event, key, dbid: None
        self.expired_listeners = []           # fn(db, key) -> propagate DEL etc.
        self.scans = ScanCursors()

    def on_expired(self, db, key):
        for fn in self.expired_listeners:
            fn(db, key)
        if self.notify_flags:
            self.notify("x", "expired", key, db.id)

    def expire_cycle(self, budget_s=0.001):
        """One active-expiry pass over every database within a time budget."""
        if not self.active_expire_enabled:
            return 0
        now = now_ms()
        deadline = time.perf_counter() + budget_s
        total = 0
        for db in self.dbs:
            if db.heap and db.heap[0][0] <= now:
                total += db.expire_due(now, deadline)
                if time.perf_counter() > deadline:
                    break
        return total

    def swap(self, a, b):
        da, db = self.dbs[a], self.dbs[b]
        da.data, db.data = db.data, da.data
        da.expires, db.expires = db.expires, da.expires
        da.heap, db.heap = db.heap, da.heap
        da.touch_all()
        db.touch_all()


class ScanCursors:
    """Stable SCAN cursors over a changing dict.

    SCAN must return every key present for the whole iteration.  Python dicts
    offer no stable bucket cursor, so a scan of a large collection iterates a
    snapshot of its keys taken at cursor 0 (8 bytes per key); later calls
    skip keys deleted since.  Snapshots are kept LRU-bounded; the cursor
    encodes the snapshot id and the position.
    """
    SMALL = 512      # collections this small are returned whole, cursor 0
    MAX_SNAPSHOTS = 64
    ID_BITS = 20

    def __init__(self):
        self.snapshots = {}
        self.next_id = 1

    def scan(self, source, cursor, count):
        """Return (next_cursor, keys) from ``source`` (an iterable of keys
        supporting len())."""
        if cursor == 0:
            if len(source) <= max(self.SMALL, count):
                return 0, list(source)
            sid = self.next_id
            self.next_id = self.next_id % ((1 << self.ID_BITS) - 1) + 1
            snap = list(source)
            self.snapshots[sid] = snap
            while len(self.snapshots) > self.MAX_SNAPSHOTS:
                self.snapshots.pop(next(iter(self.snapshots)))
            pos = 0
        else:
            sid = cursor & ((1 << self.ID_BITS) - 1)
            pos = cursor >> self.ID_BITS
            snap = self.snapshots.pop(sid, None)
            if snap is None:
                # Unknown or evicted cursor: start a fresh snapshot at the
                # same position, the best that can be done.
                snap = list(source)
            self.snapshots[sid] = snap  # most recently used last
        end = pos + count
        chunk = snap[pos:end]
        if end >= len(snap):
            self.snapshots.pop(sid, None)
            return 0, chunk
        return (end << self.ID_BITS) | sid, chunk
