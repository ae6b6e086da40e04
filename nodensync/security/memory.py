"""maxmemory: memory accounting, eviction policies and -OOM.

Measuring memory
----------------
CPython has no per-allocation accounting, and the process RSS is a poor
gauge: freed objects stay in pymalloc's arenas, so RSS barely drops after
keys are deleted and an RSS-driven evictor would empty the whole dataset.
NodeNsync therefore *estimates* the dataset: for each database,
``keys x average entry size`` where the average comes from sampling keys
(``sys.getsizeof`` of key and value, rounded to pymalloc's 16-byte
classes, plus the measured cost of a dict slot; containers are sized from a
sample of their elements), plus the cost of TTLs and of the LRU/LFU
tracking table.  The sampler runs every 100 ms while maxmemory is set; a
sample costs microseconds, never a scan.  ``INFO memory`` reports this
estimate as ``used_memory`` (the real RSS is ``used_memory_rss``).  On the
reference machine the estimate stays within ~10% of the RSS growth for
uniform data (see docs/security.md); a dataset mixing a few huge
containers with many tiny keys is estimated less precisely.

Eviction
--------
Redis's approach: when a denyoom command arrives and the estimate is over
``maxmemory``, sample ``maxmemory-samples`` keys per database into a pool of
the 16 best candidates and evict the best, until under the limit (5 ms at
most per command; a background greenlet finishes the job).  Candidates are
drawn uniformly from a per-database snapshot of the key list (refreshed when
stale; 8 bytes per key, only while evicting) since dicts offer no random
access.

LRU and LFU need an access clock.  Values are plain Python objects without
room for one, so while an LRU/LFU policy is active (and only then) a side
table per database maps key -> last-access tick (LRU, a tick object shared
by every key touched in the same 100 ms) or key -> 8-bit logarithmic
counter (LFU, Redis's lfu-log-factor; counters decay by one every
lfu-decay-time minutes).  It is fed by a command listener from the keys a
command names, costs about one dict slot per key, and forgets deleted keys.

``noeviction`` (the default) refuses denyoom commands with -OOM once over
the limit.  A replica applies its master's stream without evicting.
"""
import itertools
import logging
import random
import sys
import time

import gevent

from .. import errors
from ..config import declare
from ..errors import CommandError
from ..storage import keyspace as _keyspace
from ..storage.compact import PACKED_TYPES

_release = getattr(_keyspace, "release", None)     # lazy free of big values

log = logging.getLogger("nodensync.memory")

G = "limits"
POLICIES = ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru",
            "allkeys-lfu", "allkeys-random", "noeviction"]      # (Redis's order, in its errors)

declare("maxmemory", "memory", 0, "Memory limit for the dataset in bytes, Redis units "
        "(1mb, 1gb ...; 0 = no limit). See docs/security.md for how it is measured.",
        redis="maxmemory", mutable=True, minimum=0, maximum=2 ** 64 - 1, group=G)
declare("maxmemoryPolicy", "enum", "noeviction", "What to do when maxmemory is reached.",
        redis="maxmemory-policy", choices=POLICIES, mutable=True, group=G)
declare("maxmemorySamples", "int", 5, "Keys sampled per eviction by the LRU/LFU/TTL policies.",
        redis="maxmemory-samples", mutable=True, minimum=1, maximum=2 ** 31 - 1, group=G)
declare("maxmemoryEvictionTenacity", "int", 10, "How long eviction may run per command "
        "before the rest is left to a background task, 0..100: Redis's time limit "
        "(10 -> 500 us, linear below, +15% a step above, 100 = no limit, everything in the "
        "command) times 10 here, as Python evicts a key about ten times slower than Redis "
        "(the default 10 gives 5 ms).", redis="maxmemory-eviction-tenacity", mutable=True,
        minimum=0, maximum=100, group=G)
declare("lfuLogFactor", "int", 10, "LFU counter logarithm factor.", redis="lfu-log-factor",
        mutable=True, minimum=0, maximum=2 ** 31 - 1, group=G)
declare("lfuDecayTime", "int", 1, "Minutes after which LFU counters decay by one (0 = never).",
        redis="lfu-decay-time", mutable=True, minimum=0, maximum=2 ** 31 - 1, group=G)

# Measured on CPython 3.11 (see docs/security.md): the average cost of one
# dict slot including index and resize slack, and of a TTL (expires slot,
# int, heap tuple).
ENTRY_OVERHEAD = 64
EXPIRE_OVERHEAD = 150
TRACK_OVERHEAD = 64
POOL_SIZE = 16
# Commands that look at keys without counting as an access (Redis's
# LOOKUP_NOTOUCH).
NO_TOUCH = frozenset(["object|encoding", "object|freq", "object|idletime", "object|refcount",
                      "type", "ttl", "pttl", "expiretime", "pexpiretime", "exists",
                      "memory|usage", "dump",
                      "restore"])       # (sets the access itself: Memory.restored)
LFU_INIT = 5
SAMPLE_PERIOD = 0.1
BASE_PERIOD = 0.05          # how long maxmemory reuses its sum of the clients and buffers
TENACITY_SCALE = 10
_getsizeof = sys.getsizeof


def eviction_budget(tenacity):
    """Seconds one eviction call may run (None: no limit), Redis's
    evictionTimeLimitUs for ``tenacity`` scaled by TENACITY_SCALE."""
    if tenacity >= 100:
        return None
    if tenacity <= 10:
        us = 50 * tenacity
    else:
        us = int(500.0 * 1.15 ** (tenacity - 10))
    return us * TENACITY_SCALE / 1e6


def _r16(n):
    return (n + 15) & ~15


def _elem(x):
    t = type(x)
    if t is bytes:
        return _r16(_getsizeof(x))
    if t is float or t is int:
        return 32
    if t is tuple:
        return _r16(_getsizeof(x)) + sum(_elem(i) for i in x)
    return _r16(_getsizeof(x))


def value_size(value, sample=16):
    """Estimated bytes held by one value (containers from a sample)."""
    t = type(value)
    if t is bytes or t in PACKED_TYPES:
        return _r16(_getsizeof(value))
    if t is int:
        return 32
    size_fn = getattr(value, "memory_usage", None)      # (a stream)
    if size_fn is not None:
        return size_fn(sample)
    try:
        n = len(value)
    except TypeError:
        return _r16(_getsizeof(value))
    if t is dict:
        if not n:
            return _getsizeof(value)
        items = list(itertools.islice(value.items(), sample))
        per = sum(_elem(k) + _elem(v) for k, v in items) / len(items)
        return _getsizeof(value) + int(n * per)
    members = getattr(value, "members", None)
    if isinstance(members, dict):     # storage.zset.ZSet: member -> key dict + SortedList of keys
        if not n:
            return 200
        items = list(itertools.islice(members, sample))
        # the member (a dict key) and its index key (8-byte score prefix +
        # member, the dict's value too) with the index's pointer to it
        per = sum(_elem(m) + _r16(_getsizeof(m) + 8) + 8 for m in items) / len(items)
        return _getsizeof(members) + int(n * per)
    if not n:
        return _getsizeof(value)
    items = list(itertools.islice(iter(value), sample))
    per = sum(_elem(x) for x in items) / len(items)
    return _getsizeof(value) + int(n * per)


# Memory of one connected client besides its buffers: its Client object,
# greenlet, socket and parser.  Measured on this machine (Python 3.11,
# gevent 24): 2,000 idle connections grew the server's RSS by 12.8 KB each.
# (Redis counts ~20 KB per client: its struct with the 16 KB reply buffer.)
CLIENT_OVERHEAD = 12 * 1024


def entry_size(key, value):
    return _r16(_getsizeof(key)) + value_size(value) + ENTRY_OVERHEAD


# -- what is counted besides the dataset ---------------------------------------------
# One place answers "how much do the clients, the replication buffer and the
# AOF buffer use", for INFO memory, MEMORY STATS, /metrics and maxmemory
# alike (Redis's getMemoryOverheadData and freeMemoryGetNotCountedMemory).
# Each client's figure is Client.memory_usage, the one behind CLIENT LIST's
# tot-mem and client eviction.  Nothing here runs per command: INFO sums on
# demand, maxmemory at most every BASE_PERIOD.

def clients_memory(node):
    """(normal, replicas): the clients' memory by Redis's client types
    (its stat_clients_type_memory), each client weighed by
    ``Client.memory_usage(live=False)``.  ``normal``: normal, pub/sub and
    MONITOR clients and the link to our master, INFO's mem_clients_normal.
    ``replicas``: the replicas' connections and query buffers, without
    their output, which is their share of the replication buffer
    (``replication_memory``)."""
    normal = replicas = 0
    for c in list(node.clients.values()):
        if c.is_replica:
            replicas += c.memory_usage(False, False)
        else:
            normal += c.memory_usage(False)
    return normal, replicas


def replication_memory(node):
    """(backlog, replicas' output, not counted by maxmemory) from the shared
    replication buffer, as Redis 7.0 splits it: with replicas connected,
    what passes repl-backlog-size is theirs (INFO's mem_clients_slaves),
    the rest is the backlog (mem_replication_backlog); maxmemory does not
    count what passes repl-backlog-size, replicas or not (a slow replica
    must not make the server evict its dataset)."""
    repl = getattr(node, "replication", None)
    if repl is None:
        return 0, 0, 0
    buf, size, replicas = repl.buffer_memory()
    excess = buf - size if buf > size else 0
    if replicas and excess:
        return size, excess, excess
    return buf, 0, excess


def aof_buffer_memory(node):
    p = getattr(node, "persistence", None)
    return getattr(p, "aof_buffer_bytes", 0) if p is not None else 0


def overhead(node):
    """Every figure counted besides the dataset, summed now: ``normal``
    and ``replicas`` (clients_memory), ``backlog``, ``replica_output`` and
    the replication part of ``not_counted`` (replication_memory),
    ``aof_buffer``; ``not_counted`` is INFO's mem_not_counted_for_evict
    (what passes repl-backlog-size and the AOF buffer); ``counted`` is
    what maxmemory adds to the dataset (Memory.base without the startup
    structures)."""
    normal, replicas = clients_memory(node)
    backlog, replica_output, repl_excess = replication_memory(node)
    aof_buf = aof_buffer_memory(node)
    total = normal + replicas + backlog + replica_output + aof_buf
    not_counted = repl_excess + aof_buf
    return {"normal": normal, "replicas": replicas, "backlog": backlog,
            "replica_output": replica_output, "aof_buffer": aof_buf,
            "total": total, "not_counted": not_counted, "counted": total - not_counted}


class Memory:
    """``node.memory`` while maxmemory > 0 (dispatch calls ``ensure`` before
    denyoom commands); ``Memory.used`` also answers INFO's used_memory."""

    def __init__(self, node):
        self.node = node
        self.rng = random.Random()
        ndb = len(node.keyspace.dbs)
        self.avg = [0.0] * ndb             # estimated bytes per entry, per db
        self.avg_at = [0.0] * ndb
        self.snapshots = {}                # (db index, volatile?) -> (dict, keys, time)
        self.pool = []                     # [(score, dbid, key)] best candidates last
        self.sampler = None
        self.evictor = None
        self.tracker = None
        self.last_refresh = 0.0
        self.policy = node.config["maxmemoryPolicy"]
        # used_memory_startup: the structures of the empty databases
        self.startup = sum(_getsizeof(db.data) + _getsizeof(db.expires)
                           for db in node.keyspace.dbs)
        self._base, self._base_at = self.startup, -1.0
        self.last_overhead = None          # overhead() as used_memory() last summed it (INFO)

    # -- accounting -----------------------------------------------------------------
    def measure(self, i, k=16):
        """Sample ``k`` keys of db ``i`` and fold their sizes into the average."""
        db = self.node.keyspace.dbs[i]
        data = db.data
        n = len(data)
        if not n:
            return
        if self.sampler is None and n > 64:
            # maxmemory is off (INFO asked): no key snapshot is kept; sample
            # a window at a random offset of the first keys instead.
            start = self.rng.randrange(min(n, 4096))
            keys = list(itertools.islice(data, start, start + k))
        else:
            keys = self.sample_keys(i, data, min(k, n))
        sizes = []
        for key in keys:
            value = data.get(key)
            if value is not None:
                sizes.append(entry_size(key, value))
        if not sizes:
            return
        mean = sum(sizes) / len(sizes)
        if not self.avg[i] or n <= len(sizes):
            self.avg[i] = mean
        else:
            self.avg[i] += (mean - self.avg[i]) * 0.3
        self.avg_at[i] = time.monotonic()

    def base(self):
        """Bytes maxmemory counts besides the dataset, as Redis counts them
        in used_memory minus freeMemoryGetNotCountedMemory: the empty
        keyspace's structures (used_memory_startup), every client
        (``Client.memory_usage``: connection, query buffer, output, MULTI
        ...; many clients' replies evict keys, as in Redis) and the
        replication buffer up to repl-backlog-size (``overhead``).
        Replicas' output past the backlog size and the AOF buffer are not
        counted.  (Summed at most every BASE_PERIOD: the maxmemory check
        before each write reads it.)"""
        now = time.monotonic()
        if now - self._base_at > BASE_PERIOD:
            self._base = self.startup + overhead(self.node)["counted"]
            self._base_at = now
        return self._base

    def used(self):
        """Estimated bytes used: the dataset plus ``base()``."""
        dbs = self.node.keyspace.dbs
        avg = self.avg
        total = float(self.base())
        now = None
        for i, db in enumerate(dbs):
            n = len(db.data)
            if n:
                a = avg[i]
                if not a:
                    self.measure(i, 32)
                    a = avg[i]
                elif self.sampler is None:
                    now = now or time.monotonic()
                    if now - self.avg_at[i] > 1.0:
                        self.measure(i, 32)
                        a = avg[i]
                total += n * a
                if db.expires:
                    total += len(db.expires) * EXPIRE_OVERHEAD
        if self.tracker is not None:
            total += self.tracker.size() * TRACK_OVERHEAD
        return int(total)

    def used_memory(self):
        """INFO used_memory: ``used()`` (what maxmemory counts) plus what it
        does not count (mem_not_counted_for_evict), summed now."""
        f = self.last_overhead = overhead(self.node)
        self._base = self.startup + f["counted"]
        self._base_at = time.monotonic()
        return self.used() + f["not_counted"]

    # -- sampling keys ----------------------------------------------------------------
    def sample_keys(self, i, source, k):
        """Up to ``k`` existing keys drawn uniformly from ``source`` (a db's
        data or expires dict), via a snapshot of its keys.  The snapshot is
        rebuilt when it is old and the key count moved, or when too many of
        the keys drawn from it are gone (evictions, deletes)."""
        n = len(source)
        if n <= 64:
            keys = list(source)
            return keys if n <= k else self.rng.sample(keys, k)
        slot = (i, source is not self.node.keyspace.dbs[i].data)
        snap = self.snapshots.get(slot)
        now = time.monotonic()
        if (snap is None or snap[0] is not source
                or abs(len(snap[1]) - n) * 4 > n          # amortized O(1) per change
                or (now - snap[2] > 1.0 and abs(len(snap[1]) - n) * 20 > n)
                or now - snap[2] > 30.0):
            snap = self._snapshot(slot, source, now)
        for attempt in (0, 1):
            keys = snap[1]
            drawn = self.rng.sample(keys, min(k * 2, len(keys)))
            found = [key for key in drawn if key in source][:k]
            if len(found) * 2 >= min(k, n) or attempt:
                return found
            snap = self._snapshot(slot, source, now)
        return []

    def _snapshot(self, slot, source, now):
        snap = (source, list(source), now)
        self.snapshots[slot] = snap
        return snap

    # -- eviction ------------------------------------------------------------------------
    def ensure(self, client, spec):
        """Before a denyoom command: evict if needed; -OOM if we cannot get
        under the limit."""
        if client.is_master:
            return
        limit = self.node.config["maxmemory"]
        if not limit:
            return
        used = self.used()
        if used <= limit:
            return
        if self.policy == "noeviction":
            raise CommandError(errors.OOM)
        now = time.monotonic()
        if now - self.last_refresh > 0.05:
            # Confirm with fresh samples before evicting on a stale average.
            self.last_refresh = now
            for i, db in enumerate(self.node.keyspace.dbs):
                if db.data:
                    self.measure(i, 16)
            used = self.used()
            if used <= limit:
                return
        freed = self.evict(used - limit,
                           eviction_budget(self.node.config["maxmemoryEvictionTenacity"]))
        if freed < used - limit:
            if not freed:
                # Nothing left to evict: before refusing, count the
                # clients afresh (the figure is up to 50 ms old; clients
                # with big buffers may have gone since).
                self._base_at = -1.0
                if self.used() <= limit:
                    return
                raise CommandError(errors.OOM)
            self.start_background()

    def evict_if_over(self, client):
        """Before a command that is not denyoom: evict when over the limit,
        as Redis's processCommand does before every command (such a
        command is never refused with -OOM).  The event loop's inline path
        (hub-safe commands) skips this; the sampler catches up within
        100 ms."""
        if client.is_master or self.policy == "noeviction":
            return
        limit = self.node.config["maxmemory"]
        if not limit:
            return
        used = self.used()
        if used > limit:
            freed = self.evict(used - limit, eviction_budget(
                self.node.config["maxmemoryEvictionTenacity"]))
            if freed < used - limit:
                self.start_background()

    def client_closed(self, _client):
        """A client went away: its buffers no longer count (the next check
        sums the clients afresh)."""
        self._base_at = -1.0

    def start_background(self):
        if self.evictor is None or self.evictor.dead:
            self.evictor = gevent.spawn(self._background)

    def _background(self):
        try:
            while True:
                limit = self.node.config["maxmemory"]
                if not limit or self.policy == "noeviction":
                    return
                over = self.used() - limit
                if over <= 0 or not self.evict(over, eviction_budget(
                        self.node.config["maxmemoryEvictionTenacity"]) or 0.005):
                    return
                gevent.sleep(0)
        except Exception:
            log.exception("background eviction failed")
        finally:
            self.evictor = None

    def evict(self, need, budget):
        """Evict keys until about ``need`` bytes are freed (by the estimate)
        or ``budget`` seconds passed.  Returns the bytes freed."""
        deadline = time.perf_counter() + budget if budget is not None else float("inf")
        freed = 0
        count = 0
        while freed < need:
            got = self.evict_one()
            if not got:
                break
            freed += got
            count += 1
            if (count & 7) == 0 and time.perf_counter() > deadline:
                break
        return freed

    def evict_one(self):
        """Evict the best candidate; returns the estimated bytes freed (0 if
        there is nothing to evict)."""
        policy = self.policy
        dbs = self.node.keyspace.dbs
        volatile = policy.startswith("volatile")
        if policy.endswith("random"):
            candidates = [db for db in dbs if (db.expires if volatile else db.data)]
            if not candidates:
                return 0
            db = self.rng.choice(candidates)
            source = db.expires if volatile else db.data
            for key in self.sample_keys(db.id, source, 1):
                if key in db.data:
                    return self.evict_key(db, key)
            return 0
        self.fill_pool(dbs, volatile, policy)
        pool = self.pool
        while pool:
            _, dbid, key = pool.pop()
            db = dbs[dbid]
            if key not in db.data or (volatile and key not in db.expires):
                continue
            return self.evict_key(db, key)
        return 0

    def fill_pool(self, dbs, volatile, policy):
        """Redis's eviction pool: sample keys from every database, keep the
        POOL_SIZE best candidates (best last)."""
        k = self.node.config["maxmemorySamples"]
        tracker = self.tracker
        by_ttl = policy.endswith("ttl")
        pool = {(dbid, key): score for score, dbid, key in self.pool}
        for db in dbs:
            source = db.expires if volatile else db.data
            if not source:
                continue
            dbid = db.id
            for key in self.sample_keys(dbid, source, k):
                if by_ttl:
                    score = -db.expires.get(key, 0)
                elif tracker is not None:
                    score = tracker.score(dbid, key)
                else:
                    score = 0
                pool[(dbid, key)] = score
        entries = sorted((score, ident[0], ident[1]) for ident, score in pool.items())
        self.pool = entries[-POOL_SIZE:]

    def evict_key(self, db, key):
        """Delete ``key`` as an eviction; returns its estimated size."""
        node = self.node
        value = db.data.get(key)
        freed = self.avg[db.id] or ENTRY_OVERHEAD
        if db.expires and key in db.expires:
            freed += EXPIRE_OVERHEAD
        db.delete(key)
        ks = node.keyspace
        ks.stat_evicted_keys += 1
        if self.tracker is not None and self.tracker.forget(db.id, key):
            freed += TRACK_OVERHEAD
        db.modified(key, "evicted", klass="e", dirty=0)
        tracking = getattr(ks, "tracking_state", None)
        if tracking is not None and tracking.listening:
            # (Redis's signalModifiedKey: clients caching it are told)
            tracking.invalidate(key, None)
        if node.propagators:
            node.propagate(db.id, [[b"DEL", key]])
        if value is not None and _release is not None:
            try:
                _release(value)
            except Exception:
                pass
        return freed

    # -- OBJECT IDLETIME / FREQ ------------------------------------------------------------
    def idle_seconds(self, db, key):
        t = self.tracker
        if t is None or t.lfu:
            return 0
        return max(0, (t.clock - (t.tables[db.id].get(key) or 0)) // 10)

    def restored(self, db, key, idle, freq):
        """RESTORE's access time or counter (Redis's objectSetLRUOrLFU): the
        IDLETIME under an LRU policy, the FREQ under an LFU one, else those
        of a new key."""
        t = self.tracker
        if t is None:
            return
        if t.lfu:
            t.tables[db.id][key] = LFU_INIT if freq is None else freq
        else:
            t.tables[db.id][key] = t.clock - (idle or 0) * 10

    def access_frequency(self, db, key):
        t = self.tracker
        if t is None or not t.lfu:
            return LFU_INIT
        return t.tables[db.id].get(key, LFU_INIT)

    # -- life cycle -------------------------------------------------------------------------
    def start(self):
        if self.sampler is None or self.sampler.dead:
            self.sampler = gevent.spawn(self._sample_loop)

    def stop(self):
        for g in (self.sampler, self.evictor):
            if g is not None:
                g.kill(block=False)
        self.sampler = self.evictor = None
        self.snapshots = {}
        self.pool = []

    def _sample_loop(self):
        while True:
            gevent.sleep(SAMPLE_PERIOD)
            try:
                for i, db in enumerate(self.node.keyspace.dbs):
                    if db.data:
                        self.measure(i, 8)
                    elif self.avg[i]:
                        self.avg[i] = 0.0
                        self.snapshots.pop((i, False), None)
                        self.snapshots.pop((i, True), None)
                if self.tracker is not None:
                    self.tracker.tick()
                limit = self.node.config["maxmemory"]
                if limit and self.policy != "noeviction" and self.used() > limit:
                    self.start_background()
            except Exception:
                log.exception("memory sampler failed")


class AccessTracker:
    """Side tables feeding LRU/LFU (only while such a policy is active)."""

    def __init__(self, node, lfu):
        self.node = node
        self.lfu = lfu
        self.tables = [dict() for _ in node.keyspace.dbs]
        self.start = time.monotonic()
        self.clock = 1
        self.decay_at = time.monotonic()
        self.sweep_pos = 0
        self.rng = random.Random()

    def size(self):
        return sum(len(t) for t in self.tables)

    def tick(self):
        """Every sampler period: advance the LRU clock (a new shared int
        object), decay LFU counters, sweep a slice of stale entries."""
        self.clock = int((time.monotonic() - self.start) * 10) + 1
        cfg = self.node.config
        if self.lfu and cfg["lfuDecayTime"]:
            if time.monotonic() - self.decay_at >= cfg["lfuDecayTime"] * 60:
                self.decay_at = time.monotonic()
                gevent.spawn(self._decay)
        self._sweep(2000)

    def _sweep(self, budget):
        dbs = self.node.keyspace.dbs
        for i, table in enumerate(self.tables):
            if not table:
                continue
            data = dbs[i].data
            if len(table) <= len(data):
                continue
            stale = [k for k in itertools.islice(table, budget) if k not in data]
            for k in stale:
                table.pop(k, None)

    def _decay(self):
        for table in self.tables:
            keys = list(table)
            for n, k in enumerate(keys):
                c = table.get(k)
                if c:
                    table[k] = c - 1
                if n % 10000 == 9999:
                    gevent.sleep(0)

    def listener(self, client, spec, argv, _usec):
        if (not (spec.first_key or spec.keys_fn is not None) or client.no_touch
                or spec.fullname in NO_TOUCH):
            return
        db = client.db
        data = db.data
        table = self.tables[db.id]
        try:
            positions = spec.key_positions(argv)
        except Exception:
            return
        for pos in positions:
            if pos >= len(argv):
                continue
            key = argv[pos]
            if key in data:
                if self.lfu:
                    c = table.get(key)
                    # A key seen for the first time starts at LFU_INIT (a new
                    # key in Redis); later accesses count.
                    table[key] = LFU_INIT if c is None else self._lfu_incr(c)
                else:
                    table[key] = self.clock
            elif table:
                table.pop(key, None)

    def _lfu_incr(self, counter):
        if counter >= 255:
            return 255
        base = counter - LFU_INIT
        if base < 0:
            base = 0
        p = 1.0 / (base * self.node.config["lfuLogFactor"] + 1)
        return counter + 1 if self.rng.random() < p else counter

    def score(self, dbid, key):
        """Higher = better eviction candidate."""
        value = self.tables[dbid].get(key)
        if self.lfu:
            return 255 - (LFU_INIT if value is None else value)
        return self.clock - (value or 0)

    def forget(self, dbid, key):
        return self.tables[dbid].pop(key, None) is not None

    def clear(self):
        for t in self.tables:
            t.clear()


def attach(node):
    mem = Memory(node)
    node.memory_state = mem
    node.used_memory = mem.used_memory
    cfg = node.config

    def apply(_value=None):
        limit = cfg["maxmemory"]
        policy = cfg["maxmemoryPolicy"]
        mem.policy = policy
        mem.pool = []
        # Access times / counters are kept under an LRU/LFU policy even with
        # no limit set, so OBJECT IDLETIME / FREQ and RESTORE's IDLETIME /
        # FREQ mean what they mean in Redis (its objects always carry them;
        # here the side table costs a little per access, so only then).
        wants_tracker = "lru" in policy or "lfu" in policy
        lfu = "lfu" in policy
        if wants_tracker and (mem.tracker is None or mem.tracker.lfu != lfu):
            if mem.tracker is not None:
                _remove(node.command_listeners, mem.tracker.listener)
            mem.tracker = AccessTracker(node, lfu)
            node.command_listeners.append(mem.tracker.listener)
        elif not wants_tracker and mem.tracker is not None:
            _remove(node.command_listeners, mem.tracker.listener)
            mem.tracker = None
        if limit:
            if node.memory is not mem:
                node.memory = mem
            mem.start()
            if policy != "noeviction" and mem.used() > limit:
                mem.start_background()
        else:
            if node.memory is mem:
                node.memory = None
            mem.stop()

    def on_flushall():
        if mem.tracker is not None:
            mem.tracker.clear()
        mem.pool = []
        mem.snapshots = {}

    node.client_close_hooks.append(mem.client_closed)
    for name in ("maxmemory", "maxmemoryPolicy"):
        cfg.on_change(name, apply)
    node.flushall_hooks.append(on_flushall)
    if cfg["maxmemory"]:
        node.start_hooks.append(apply)


def _remove(listeners, fn):
    try:
        listeners.remove(fn)
    except ValueError:
        pass


__all__ = ["Memory", "AccessTracker", "value_size", "entry_size", "POLICIES", "overhead",
           "clients_memory", "replication_memory"]
