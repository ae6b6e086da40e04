"""Databases, typed access and expiry.

Values are stored as plain Python objects so that a key costs no more than
its dict entry:

======  ======================================================
type    Python value
======  ======================================================
string  ``bytes``, or ``int`` for canonical integers (INCR)
hash    ``dict`` bytes -> bytes, or ``compact.PackedHash`` while small
list    ``collections.deque`` of bytes
set     ``set`` of bytes, or ``compact.IntSet`` / ``compact.PackedSet``
        while small
zset    ``storage.zset.ZSet``
======  ======================================================

The compact forms (storage/compact.py) are immutable (a str, ``bytes``
subclasses): a write stores a new one (keeping the TTL) or converts to the
dict / set.

Expiry times live in a second dict (key -> absolute unix time in ms) as in
Redis.  Keys are expired lazily when touched and actively by ``expire_cycle``
which pops a heap of deadlines within a time budget, so memory of expired
keys is reclaimed without stalling clients.

Rule for command handlers: after changing a key call ``db.modified(key,
event)``; it counts the change (dirty), invalidates WATCHes and sends the
keyspace notification.
"""
import heapq
import random
import time
from collections import OrderedDict, deque
from itertools import compress, islice

from ..errors import CommandError, WRONGTYPE
from .compact import HASH_PACK_ENTRIES, IntSet, PackedHash, PackedSet
from .acyclic import KEEPERS, is_tracked, untrack
from .zset import ZSet
from .stream import FREE_EFFORT_THRESHOLD as STREAM_FREE_EFFORT_THRESHOLD, Stream

TYPE_NAMES = {bytes: "string", int: "string", dict: "hash", PackedHash: "hash", deque: "list",
              set: "set", IntSet: "set", PackedSet: "set", ZSet: "zset",
              Stream: "stream"}
# Keyspace-notification class letter of each type, Redis's K/E flags.
TYPE_CLASS = {bytes: "$", int: "$", dict: "h", PackedHash: "h", deque: "l", set: "s",
              IntSet: "s", PackedSet: "s", ZSet: "z", Stream: "t"}

_WRONGTYPE = CommandError(WRONGTYPE)


# While EXEC runs its queue, the clock keys expire by is frozen at the EXEC's
# start (Redis's fixed_time_expire): a key cannot expire between two commands
# of one transaction, which the replicas and the AOF, replaying the block,
# would not see.
_frozen_ms = [None]


def now_ms():
    frozen = _frozen_ms[0]
    return int(time.time() * 1000) if frozen is None else frozen


def freeze_time():
    """From now on now_ms() stays at its current value, until
    thaw_time(what this returned); nests."""
    outer = _frozen_ms[0]
    if outer is None:
        _frozen_ms[0] = int(time.time() * 1000)
    return outer


def thaw_time(outer):
    _frozen_ms[0] = outer


class KeyHook:
    """What ``db.watchers[key]`` may hold besides the clients WATCHing the
    key: ``touched()`` runs wherever such a WATCH would be invalidated --
    ``db.modified`` (every write, DEL, both keys of RENAME, MOVE ...), key
    expiry, and ``touch_all`` (FLUSHDB, FLUSHALL, SWAPDB, a full resync) for
    a key that exists before or after.  It runs in the writer's greenlet
    while the change is under way, so it must only take note (server/
    blocking.py wakes the clients blocked on the key).  Whoever adds a hook
    removes it (``db.watchers`` drops a key's set once it is empty)."""

    __slots__ = ("touched",)

    def __init__(self, touched):
        self.touched = touched


def watch_entry(client, db, key):
    """The client's WATCH entry [db, key, expired when watched] for ``key``
    in ``db`` (commands/transactions.py keeps them)."""
    for entry in client.watched:
        if entry[0] is db and entry[1] == key:
            return entry
    return None


def type_name(value):
    return TYPE_NAMES.get(type(value), "none")


# -- lazy free -----------------------------------------------------------------
# Freeing a container with millions of elements takes tens of milliseconds
# in CPython (every element is decref'd).  Values removed by UNLINK, by
# active expiry or overwritten by RENAME are handed to ``release``: small
# ones are simply dropped, big ones are emptied by one background greenlet
# in slices, so clients are not stalled (Redis's lazyfree).
LAZYFREE_THRESHOLD = 1024     # elements; smaller values are freed at once
LAZYFREE_SLICE = 1024         # elements freed between two yields (well under 1 ms)
_lazy_queue = deque()
_CONTAINER_TYPES = frozenset((dict, deque, set, ZSet, Stream))
_lazy_state = {"worker": None, "pending": 0, "freed": 0}


def lazyfree_pending():
    """How many values wait to be freed (INFO lazyfree_pending_objects)."""
    return _lazy_state["pending"]


# A stream is freed in the background when Redis would free it so (its
# lazyfreeGetFreeEffort above 64, Stream.free_effort): INFO's
# lazyfreed_objects then counts the same streams.  Each of its radix tree
# nodes stands for up to stream-node-max-entries entries (several Python
# objects each), so that is at least as much work as the 1,024 elements
# that send the other types to the background.


def release(value):
    """Drop a value that is no longer in the keyspace without stalling."""
    t = type(value)
    if t is bytes or t is int or value is None or isinstance(value, (bytes, str)):
        return                       # strings and compact forms: one block
    try:
        if t is Stream:
            if value.free_effort() <= STREAM_FREE_EFFORT_THRESHOLD:
                return
        elif len(value) < LAZYFREE_THRESHOLD:
            return
    except TypeError:
        return
    _lazy_queue.append(value)
    _lazy_state["pending"] += 1
    worker = _lazy_state["worker"]
    if worker is None or worker.dead:
        import gevent
        _lazy_state["worker"] = gevent.spawn(_lazyfree_run)


def _lazyfree_run():
    import gevent
    from ..pacing import Pacer
    pacer = Pacer()     # slices, with rests: see pacing.py
    while _lazy_queue:
        value = _lazy_queue.popleft()
        try:
            for _ in _drain(value):
                pacer.pause()
        except Exception:   # a value of an unexpected shape: just drop it
            pass
        del value
        _lazy_state["pending"] -= 1
        _lazy_state["freed"] += 1
        gevent.sleep(0)


def _drain(value):
    """Empty ``value`` LAZYFREE_SLICE elements at a time (a generator that
    yields between slices)."""
    if isinstance(value, ZSet):
        parts = [value.members, value.index]
    elif type(value) is Stream:
        # The entries, then each group's PEL and consumers (whose PELs
        # share the group's pending entries).
        parts = [value.entries]
        for g in value.groups.values():
            parts.append(g.pel)
            parts.extend(c.pel for c in g.consumers.values())
            parts.append(g.consumers)
        parts.append(value.groups)
    else:
        parts = [value]
    for part in parts:
        if isinstance(part, dict):
            # A database's key dict (FLUSHALL ASYNC) may hold big values:
            # those go back to the queue instead of being freed in one go.
            popitem = part.popitem
            while part:
                for _ in range(min(LAZYFREE_SLICE, len(part))):
                    value = popitem()[1]
                    if type(value) in _CONTAINER_TYPES and len(value) >= LAZYFREE_THRESHOLD:
                        release(value)
                value = None
                yield
            continue
        if hasattr(part, "pop") and not isinstance(part, (bytes, str)):
            pop = part.pop
        else:
            continue
        while part:
            for _ in range(min(LAZYFREE_SLICE, len(part))):
                pop()
            yield


class Database:
    __slots__ = ("id", "keyspace", "data", "expires", "notify_new", "heap", "watchers", "marks",
                 "avg_ttl", "rk_pool", "rk_source", "rk_dirty", "rk_picks", "rk_len")

    def __init__(self, keyspace, index):
        self.id = index
        self.keyspace = keyspace
        self.data = {}
        self.expires = {}
        self.notify_new = False     # 'n' keyspace events on: see note_new
        self.heap = untrack([])     # (when_ms, key); may hold stale entries
        self.watchers = {}      # key -> set of clients WATCHing it (and KeyHooks)
        self.marks = {}         # key -> (bytes, OBJECT ENCODING): commands/util.py
        self.avg_ttl = 0
        # RANDOMKEY's pool of candidate keys (see random_key)
        self.rk_pool = None
        self.rk_source = 0
        self.rk_dirty = 0
        self.rk_picks = 0
        self.rk_len = 0

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
            raise _WRONGTYPE.with_traceback(None)
        return value

    def get_string(self, key):
        """A string value as bytes (None when absent), WRONGTYPE otherwise."""
        value = self.get(key)
        t = type(value)
        if t is bytes or value is None:
            return value
        if t is int:
            return b"%d" % value
        raise _WRONGTYPE.with_traceback(None)

    def exists(self, key):
        return self.get(key) is not None

    def _expired(self, key):
        ks = self.keyspace
        if not ks.active_expire_enabled:
            # A replica hides logically expired keys but waits for the
            # master's DEL, so both sides stay identical.
            if ks.serving_master_stream:
                return self.data.get(key)
            if not ks.force_expire_writes:
                return None
            # (a write on a writable replica: the key is deleted first, as
            # Redis's lookupKeyWrite does there, so the write does not
            # inherit the dead key's TTL)
        if ks.expire_paused:
            # CLIENT PAUSE: the key reads as expired, but deleting it is a
            # write (a DEL to propagate): it waits for the pause to end.
            return None
        self.drop_expired(key)
        return None

    # -- writing -----------------------------------------------------------
    def set(self, key, value, keepttl=False):
        """Store ``value``; the key's TTL is cleared unless keepttl."""
        if self.notify_new:
            self.note_new(key)
        self.data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        if not value and self.marks:
            self.marks.pop(key, None)   # (b"" is one object: commands/util.py's marks)

    def note_new(self, key):
        """Before a value is stored at ``key`` while 'n' keyspace events are
        on: the ``new`` event when no live key is there (Redis's dbAdd; a
        logically expired one is expired first)."""
        if self.get(key) is None:
            self.keyspace.notify("n", "new", key, self.id)

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
        data = self.data
        if is_tracked(data):
            # Storing a container (set, list, sorted set, packed set) tracks
            # the untracked key dict again (CPython's MAINTAIN_TRACKING):
            # take both out of the cyclic GC (acyclic.py).  Containers
            # changed in place stay untracked, except a sorted set's index,
            # which grows new sublists.
            keep = KEEPERS.get(type(data.get(key)))
            if keep is not None:
                keep(data[key])
            untrack(data)
        else:
            value = data.get(key)
            if type(value) is ZSet:
                value.keep_untracked()
        if klass is None and event is not None and self.keyspace.notify_flags:
            klass = TYPE_CLASS.get(type(data.get(key)), "g")
        self.modified_value(key, event, klass, dirty)

    def modified_value(self, key, event, klass, dirty=1):
        """modified() for a change that stored no new container: a string
        value (bytes or int), or an update in place of the list, hash or
        set already stored, or of a sorted set by ``ZSet.add`` (which keeps
        its index untracked itself).  Neither makes the key dict tracked by
        the GC (CPython tracks a dict when it stores a GC-tracked object),
        so the GC bookkeeping is skipped."""
        ks = self.keyspace
        ks.dirty += dirty
        if self.watchers:
            self.touch_watched(key)
        if ks.notify_flags and event is not None:
            ks.notify(klass, event, key, self.id)

    def touch_watched(self, key):
        """WATCH: the transactions of clients watching ``key`` will fail --
        except where the key was already expired when watched and is now
        deleted: logically no change (Redis's touchWatchedKey)."""
        clients = self.watchers.get(key)
        if clients:
            for c in clients:
                if type(c) is KeyHook:
                    c.touched()
                    continue
                if c.watch_expired:
                    entry = watch_entry(c, self, key)
                    if entry is not None and entry[2] and key not in self.data:
                        entry[2] = False
                        c.watch_expired -= 1
                        continue
                c.watch_dirty = True

    def touch_all(self, replaced_with=None):
        """Invalidate the WATCHes FLUSHDB/SWAPDB and a full resync affect,
        before this database's data is emptied or replaced by the data of
        ``replaced_with``: as Redis's touchAllWatchedKeysInDb, a watched key
        that exists in either, except that a key expired when watched that
        goes away, or is replaced by another expired one, is no change, and
        a missing key replaced by an expired one is flagged expired."""
        other = replaced_with.data if replaced_with is not None else ()
        data = self.data
        for key, clients in self.watchers.items():
            exists = key in data
            in_other = key in other
            if not (exists or in_other):
                continue
            for c in clients:
                if type(c) is KeyHook:
                    c.touched()
                    continue
                entry = watch_entry(c, self, key) if c.watch_expired else None
                if entry is not None and entry[2]:
                    if not in_other:
                        entry[2] = False
                        c.watch_expired -= 1
                        continue
                    if replaced_with.logically_expired(key):
                        continue
                elif not exists and replaced_with.logically_expired(key):
                    entry = watch_entry(c, self, key)
                    if entry is not None:
                        entry[2] = True
                        c.watch_expired += 1
                        continue
                c.watch_dirty = True

    def logically_expired(self, key):
        """The key is here with a deadline already past (not yet deleted)."""
        when = self.expires.get(key) if self.expires else None
        return when is not None and when <= now_ms() and key in self.data

    # -- expiry ------------------------------------------------------------
    # ``expires`` maps key -> absolute deadline (ms).  ``heap`` holds
    # (deadline, key) pairs for the active cycle; an entry is stale when
    # ``expires`` no longer has that exact deadline for the key (TTL changed,
    # PERSIST, key deleted): stale entries are skipped when popped, and the
    # heap is rebuilt when they outnumber the live ones.
    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        heapq.heappush(self.heap, (when_ms, key))
        ks = self.keyspace
        if ks.track_replica_expires and not ks.serving_master_stream:
            ks.remember_replica_expire(self.id, key)
        if len(self.heap) > 2 * len(self.expires) + 1024:
            self._rebuild_heap()

    def get_expire(self, key):
        """Absolute expiry in ms, or -1 for a key without one."""
        return self.expires.get(key, -1)

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    def _rebuild_heap(self):
        self.heap = untrack([(w, k) for k, w in self.expires.items()])
        heapq.heapify(self.heap)

    def drop_expired(self, key):
        """Remove a key whose time has come: count it, tell the listeners
        (DEL to replicas and the AOF) and send the "expired" notification,
        exactly once.  Returns False when the key was not there."""
        value = self.data.pop(key, None)
        if value is None:
            self.expires.pop(key, None)
            return False
        self.expires.pop(key, None)
        ks = self.keyspace
        ks.stat_expired_keys += 1
        ks.on_expired(self, key)
        release(value)
        return True

    def expire_due(self, now, deadline):
        """Delete keys whose time has come, until ``deadline`` (perf counter
        seconds).  Returns how many were expired."""
        heap, expires = self.heap, self.expires
        heappop = heapq.heappop
        perf = time.perf_counter
        count = popped = 0
        while heap and heap[0][0] <= now:
            when, key = heappop(heap)
            popped += 1
            if expires.get(key) == when and self.drop_expired(key):
                count += 1
            if (popped & 31) == 0 and perf() > deadline:
                break
        return count

    def sample_avg_ttl(self, now, samples=16):
        """Refresh ``avg_ttl`` (INFO keyspace) from a few random deadlines,
        as a running average like Redis's active expire cycle."""
        heap, expires = self.heap, self.expires
        if not expires:
            self.avg_ttl = 0
            return
        if not heap:
            return
        total = count = 0
        rnd = random.random
        n = len(heap)
        for _ in range(samples):
            when, key = heap[int(rnd() * n)]
            if when > now and expires.get(key) == when:
                total += when - now
                count += 1
        if count:
            avg = total // count
            self.avg_ttl = avg if not self.avg_ttl else (self.avg_ttl // 50) * 49 + avg // 50

    def flush(self):
        self.touch_all()
        self.keyspace.scans.forget(self.data)   # don't pin the old keys
        self.data = {}
        self.expires = {}
        self.heap = untrack([])
        self.marks = {}
        self.avg_ttl = 0
        self.rk_pool = None

    # -- random keys -------------------------------------------------------
    RK_SAMPLE = 65536

    def random_key(self, rng):
        """A random existing (non-expired) key or None, O(1) amortized.

        Python dicts have no random access, so picks come from a pool: the
        whole key list of a small database, a random sample of about
        RK_SAMPLE keys of a big one.  The pool is rebuilt when the dict was
        replaced, when the writes since it was built reach a quarter of the
        database's size then (so new keys get their chance), after RK_SAMPLE/4 picks from a
        sample, or when it runs dry; keys found deleted or expired leave it
        in O(1).  Expired keys met on the way are deleted (as Redis does);
        the work per call is bounded, then a linear pass finds a live key.
        """
        data = self.data
        if not data:
            return None
        ks = self.keyspace
        expires = self.expires
        active = ks.active_expire_enabled
        now = now_ms()
        rebuilds = 0
        last_expired = None
        for _ in range(128):
            if not data:
                return None
            pool = self.rk_pool
            if (not pool or self.rk_source != id(data)
                    or ks.dirty - self.rk_dirty > (self.rk_len >> 2) + 64
                    or (self.rk_picks >= 0 and self.rk_picks > (len(pool) >> 2) + 64)):
                if rebuilds == 2:
                    break
                rebuilds += 1
                pool = self._rk_rebuild(rng)
            if self.rk_picks >= 0:
                self.rk_picks += 1
            i = rng.randrange(len(pool))
            key = pool[i]
            if key in data:
                when = expires.get(key) if expires else None
                if when is None or when > now:
                    return key
                if active:
                    self.drop_expired(key)
                else:
                    last_expired = key
            # gone or expired: remove it from the pool (swap with the last)
            last = pool.pop()
            if i < len(pool):
                pool[i] = last
        for key in data:
            when = expires.get(key)
            if when is None or when > now:
                return key
        # Only logically expired keys are left: a replica (which waits for
        # the master's DEL) answers one of them, as Redis does.
        if not active and data:
            return last_expired if last_expired in data else next(iter(data))
        return None

    def _rk_rebuild(self, rng):
        data = self.data
        n = len(data)
        if n <= self.RK_SAMPLE:
            pool = list(data)
            self.rk_picks = -1          # the whole key list: no pick limit
        else:
            # Select each key with probability ~RK_SAMPLE/n, at C speed:
            # random bytes mapped to 1 (below a threshold) or 0, used as
            # selectors over the dict.
            t = max(1, min(255, (256 * self.RK_SAMPLE) // n))
            table = bytes([1] * t + [0] * (256 - t))
            randbytes = getattr(rng, "randbytes", None)
            noise = randbytes(n) if randbytes else random.randbytes(n)
            pool = list(compress(data, noise.translate(table)))
            if not pool:
                pool = [next(iter(data))]
            self.rk_picks = 0
        self.rk_pool = untrack(pool)
        self.rk_source = id(data)
        self.rk_dirty = self.keyspace.dirty
        self.rk_len = n
        return pool


class Keyspace:
    """All databases plus the hooks other subsystems plug into."""

    def __init__(self, count=16):
        self.dbs = [Database(self, i) for i in range(count)]
        self.dirty = 0
        self.stat_expired_keys = 0
        self.stat_expired_stale_perc = 0.0
        self.stat_evicted_keys = 0
        self.active_expire_enabled = True     # False on a replica
        self.active_cycle = True              # DEBUG SET-ACTIVE-EXPIRE 0: no expiry cycle
        self.expire_paused = False            # CLIENT PAUSE: expired keys kept until it ends
        self.packed_threshold = 1 << 30       # DEBUG QUICKLIST-PACKED-THRESHOLD (no effect here)
        self.serving_master_stream = False    # True while applying the master's stream
        # A writable replica expires the keys its own clients gave a TTL
        # (Redis's slaveKeysWithExpire): key -> bitmap of the databases
        # where it got one (databases 0-63), checked by expire_cycle.
        self.track_replica_expires = False    # set by the replication role (writable replica)
        self.replica_expires = {}
        # Set while a client's write runs on a writable replica (see
        # replication's expire guard): expired keys it meets are deleted.
        self.force_expire_writes = False
        self.notify_flags = ""                # notify-keyspace-events, parsed: set_notify_flags
        self.notify = lambda klass, event, key, dbid: None
        self.expired_listeners = []           # fn(db, key) -> propagate DEL etc.
        self.scans = ScanCursors()
        # Limits of the compact forms (storage/compact.py), from the settings
        # hash-max-listpack-entries/-value and set-max-intset-entries.
        self.hash_pack_entries = HASH_PACK_ENTRIES
        self.hash_pack_value = 64
        self.intset_entries = 512
        self._expire_next = 0                 # database the next expire cycle starts at

    def set_notify_flags(self, flags):
        """notify-keyspace-events, parsed (server/core.parse_notify_flags)."""
        self.notify_flags = flags
        for db in self.dbs:
            db.notify_new = "n" in flags

    # INFO memory's lazyfree fields (values freed by the background freer)
    @property
    def lazyfree_pending_objects(self):
        return _lazy_state["pending"]

    @property
    def lazyfreed_objects(self):
        return _lazy_state["freed"]

    @lazyfreed_objects.setter
    def lazyfreed_objects(self, value):      # CONFIG RESETSTAT
        _lazy_state["freed"] = value

    def on_expired(self, db, key):
        """A key expired (lazily or actively) and is gone: runs once per key."""
        for fn in self.expired_listeners:
            fn(db, key)
        if db.watchers:
            db.touch_watched(key)
        if self.notify_flags:
            self.notify("x", "expired", key, db.id)

    def remember_replica_expire(self, dbid, key):
        """A client of a writable replica set a TTL on ``key``: this node
        expires it itself (the master knows nothing of it)."""
        if dbid < 64:
            self.replica_expires[key] = self.replica_expires.get(key, 0) | (1 << dbid)

    def forget_replica_expires(self):
        """FLUSHALL, a full sync: the tracked names may come back from the
        master, whose TTLs are not ours to enforce (Redis's
        flushSlaveKeysWithExpireList)."""
        if self.replica_expires:
            self.replica_expires = {}
        # Set while a client's write runs on a writable replica (see
        # replication's expire guard): expired keys it meets are deleted.
        self.force_expire_writes = False

    def expire_replica_keys(self, budget_s=0.001):
        """A writable replica's active expiry (Redis's expireSlaveKeys):
        delete the tracked keys whose time has come; stop after meeting
        four that are not due yet, or when the time budget is used."""
        tracked = self.replica_expires
        now = now_ms()
        deadline = time.perf_counter() + budget_s
        dbs = self.dbs
        ndb = len(dbs)
        expired = noexpire = cycles = 0
        # Round robin: a key still to wait for goes to the end of the dict.
        for key in list(islice(tracked, 256)):
            bits = tracked.pop(key)
            keep = 0
            dbid = 0
            while bits and dbid < ndb:
                if bits & 1:
                    db = dbs[dbid]
                    when = db.expires.get(key)
                    if when is not None:
                        if when <= now and db.drop_expired(key):
                            expired += 1
                        else:
                            noexpire += 1
                            keep |= 1 << dbid
                bits >>= 1
                dbid += 1
            if keep:
                tracked[key] = keep
            cycles += 1
            if noexpire > 3 or ((cycles & 63) == 0 and time.perf_counter() > deadline):
                break
        return expired

    def expire_cycle(self, budget_s=0.001):
        """One active-expiry pass over the databases within a time budget.

        Each database pops its heap of deadlines; the pass starts after the
        database where the previous one ran out of time, so one database
        with a flood of expiring keys cannot starve the others."""
        for db in self.dbs:
            if is_tracked(db.data):     # a load or a swap stored containers
                untrack(db.data)
        if not (self.active_expire_enabled and self.active_cycle) or self.expire_paused:
            if self.replica_expires and self.active_cycle and not self.expire_paused \
                    and not self.active_expire_enabled:
                return self.expire_replica_keys(budget_s)
            return 0
        now = now_ms()
        perf = time.perf_counter
        deadline = perf() + budget_s
        dbs = self.dbs
        n = len(dbs)
        first = self._expire_next % n
        total = 0
        for i in range(n):
            db = dbs[(first + i) % n]
            if not db.expires:
                if db.heap:
                    db.heap = untrack([])   # only stale entries left
                db.avg_ttl = 0
                continue
            if db.heap and db.heap[0][0] <= now:
                total += db.expire_due(now, deadline)
            db.sample_avg_ttl(now)
            if perf() > deadline:
                self._expire_next = (first + i + 1) % n
                break
        return total

    def swap(self, a, b):
        da, db = self.dbs[a], self.dbs[b]
        da.touch_all(db)
        db.touch_all(da)
        da.data, db.data = db.data, da.data
        da.expires, db.expires = db.expires, da.expires
        da.heap, db.heap = db.heap, da.heap
        da.marks, db.marks = db.marks, da.marks
        da.avg_ttl, db.avg_ttl = db.avg_ttl, da.avg_ttl
        da.rk_pool = db.rk_pool = None


class ScanCursors:
    """Stable SCAN cursors over a changing dict (or set, or any sized
    iterable of keys).

    SCAN must return every key present for the whole iteration.  Python dicts
    offer no stable bucket cursor (a position shifts when earlier keys are
    deleted), so a scan of a large collection iterates a snapshot of its
    keys taken at cursor 0 (8 bytes per key); callers skip keys deleted
    since.  The cursor encodes the position and the snapshot id.

    A cursor whose snapshot is unknown (evicted, already finished, made up,
    or for another collection: FLUSHDB, SWAPDB, a key deleted and created
    again) restarts the iteration from a fresh snapshot: keys may come
    twice, which SCAN allows, but none is missed.

    Snapshots are bounded in number and in total size.  Snapshots unused for
    IDLE_SECONDS are dropped; when room is needed the most recently
    *created* snapshot goes first and the oldest one is never dropped for
    room, so even with more concurrent scans than fit, the oldest scan
    always finishes, then the next: every scan completes.

    A collection of at most ``count`` items comes whole (cursor 0), as from
    Redis's hash table scan; callers return Redis's compact encodings
    (listpack, intset) whole themselves, whatever the count.
    """
    MAX_SNAPSHOTS = 1024
    MAX_ENTRIES = 16 << 20   # keys held by all snapshots together (128 MB of pointers)
    IDLE_SECONDS = 600.0
    ID_BITS = 24
    _ID_MASK = (1 << ID_BITS) - 1
    _MAX_POS = (1 << (64 - ID_BITS)) - 1

    def __init__(self):
        # sid -> [keys, ident (see scan), last used], in creation order
        self.snapshots = OrderedDict()
        self.entries = 0
        self.next_id = 1

    def __len__(self):
        return len(self.snapshots)

    def scan(self, source, cursor, count, ident=None):
        """Return (next_cursor, keys) from ``source``; ``cursor`` is 0 to
        start or a value this method returned.  The keys may include some
        that were deleted since the scan started.  ``ident`` names the
        collection when ``source`` is not the same object from call to call
        (an immutable packed value replaced on every change); by default
        the object itself."""
        count = max(1, count)
        snap = None
        if ident is None:
            ident = id(source)
        if cursor:
            sid = cursor & self._ID_MASK
            pos = cursor >> self.ID_BITS
            rec = self.snapshots.get(sid)
            if rec is not None and rec[1] == ident and pos <= len(rec[0]):
                snap = rec[0]
                rec[2] = time.monotonic()
        if snap is None:
            if len(source) <= count:
                return 0, list(source)
            sid, snap = self._new_snapshot(source, ident)
            pos = 0
        end = pos + count
        chunk = snap[pos:end]
        if end >= len(snap) or end > self._MAX_POS:
            self._drop(sid)
            return 0, chunk
        return (end << self.ID_BITS) | sid, chunk

    def _new_snapshot(self, source, ident):
        snap = untrack(list(source))    # bytes only: no work for the cyclic GC
        now = time.monotonic()
        snapshots = self.snapshots
        for old_sid in [s for s, rec in snapshots.items() if now - rec[2] > self.IDLE_SECONDS]:
            self._drop(old_sid)
        while len(snapshots) > 1 and (len(snapshots) >= self.MAX_SNAPSHOTS or
                                      self.entries + len(snap) > self.MAX_ENTRIES):
            self._drop(next(reversed(snapshots)))     # the newest, never the oldest
        sid = self.next_id
        while sid in snapshots:          # never hand out a live id twice
            sid = sid % self._ID_MASK + 1
        self.next_id = sid % self._ID_MASK + 1
        snapshots[sid] = [snap, ident, now]
        self.entries += len(snap)
        return sid, snap

    def _drop(self, sid):
        rec = self.snapshots.pop(sid, None)
        if rec is not None:
            self.entries -= len(rec[0])

    def forget(self, source):
        """Drop the snapshots of ``source`` (it is being discarded)."""
        sid_of = id(source)
        for sid in [s for s, rec in self.snapshots.items() if rec[1] == sid_of]:
            self._drop(sid)

    def clear(self):
        self.snapshots.clear()
        self.entries = 0
