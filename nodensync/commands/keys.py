"""Generic key commands: DEL, UNLINK, EXISTS, TYPE, the EXPIRE family, TTL,
PERSIST, KEYS, SCAN, RANDOMKEY, RENAME, COPY, MOVE, TOUCH and OBJECT.

Expire commands are propagated as ``PEXPIREAT key <absolute ms>`` (options
kept), an expiry already in the past as ``DEL key``, exactly as Redis
rewrites them, so replicas and the AOF never see a relative time.
"""
import copy as _copy
from collections import deque

import gevent

from .. import config as cfg
from .. import errors
from ..errors import CommandError
from ..pacing import Pacer
from ..protocol.resp import OK, Status, status_lines
from ..storage.compact import PACKED_TYPES, IntSet, PackedHash, PackedSet
from ..storage.compact import canonical_int as _canonical_int
from ..storage.acyclic import untrack
from ..storage.keyspace import TYPE_NAMES, now_ms, release, type_name
from ..storage.zset import ZSet
from ..storage.stream import Stream
from .registry import (command, container, WRITE, READONLY, DENYOOM, FAST, LOADING,
                       STALE)
from ..server.blocking import signal_key_ready
from .util import (carry_mark, mark_raw_string, marked_encoding, redis_glob_filter,
                   redis_glob_matcher, parse_int, parse_int32)

G = "generic"
_INT64_MAX = (1 << 63) - 1
_INT32_MIN = -(1 << 31)
_INT32_MAX = (1 << 31) - 1
_SYNTAX = CommandError(errors.SYNTAX)
_NO_SUCH_KEY = CommandError(errors.NO_SUCH_KEY)
_SAME_OBJECT = CommandError("ERR source and destination objects are the same")
_DB_RANGE = CommandError(errors.DB_INDEX)
_INVALID_CURSOR = CommandError("ERR invalid cursor")


def _live(db, key):
    """The value at key (None when absent), expiring it if its time has come."""
    value = db.data.get(key)
    if value is not None and db.expires and key in db.expires:
        return db.get(key)
    return value


def _count_lookup(ctx, found):
    # keyspace_hits / keyspace_misses, as Redis's lookupKeyRead counts them
    stats = ctx.node.stats
    if found:
        stats.keyspace_hits += 1
    else:
        stats.keyspace_misses += 1


# -- DEL / UNLINK / EXISTS / TOUCH / TYPE ----------------------------------------
def _delete(ctx, keys, lazy):
    db = ctx.db
    data = db.data
    removed = 0
    for key in keys:
        if key not in data or _live(db, key) is None:
            continue
        value = data.pop(key)
        if db.expires:
            db.expires.pop(key, None)
        if lazy:
            release(value)
        db.modified(key, "del", "g")
        removed += 1
    return removed


@command("del", arity=-2, flags=WRITE, keys=(1, -1, 1), group=G, since="1.0.0",
         syntax="key [key ...]",
         complexity="O(N) where N is the number of keys that will be removed. When a key to "
                    "remove holds a value other than a string, the individual complexity for "
                    "this key is O(M) where M is the number of elements in the list, set, "
                    "sorted set or hash. Removing a single key that holds a string value is O(1).")
def del_(ctx, *keys):
    """Delete a key"""
    return _delete(ctx, keys, False)


@command("unlink", summary='Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.', arity=-2, flags=WRITE | FAST, keys=(1, -1, 1), group=G, since="4.0.0",
         syntax="key [key ...]",
         complexity="O(1) for each key removed regardless of its size. Then the command does "
                    "O(N) work in a different thread in order to reclaim memory, where N is the "
                    "number of allocations the deleted objects where composed of.")
def unlink(ctx, *keys):
    """Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking."""
    return _delete(ctx, keys, True)


@command("exists", arity=-2, flags=READONLY | FAST, keys=(1, -1, 1), group=G, since="1.0.0",
         syntax="key [key ...]", complexity="O(N) where N is the number of keys to check.")
def exists(ctx, *keys):
    """Determine if a key exists"""
    db = ctx.db
    n = 0
    for key in keys:
        found = _live(db, key) is not None
        _count_lookup(ctx, found)
        n += found
    return n


@command("touch", summary='Alters the last access time of a key(s). Returns the number of existing keys specified.', arity=-2, flags=READONLY | FAST, keys=(1, -1, 1), group=G, since="3.2.1",
         syntax="key [key ...]",
         complexity="O(N) where N is the number of keys that will be touched.")
def touch(ctx, *keys):
    """Alters the last access time of a key(s). Returns the number of existing keys specified."""
    db = ctx.db
    n = 0
    for key in keys:
        found = _live(db, key) is not None
        _count_lookup(ctx, found)
        n += found
    return n


_TYPE_REPLY = {}


@command("type", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, since="1.0.0",
         syntax="key", complexity="O(1)")
def type_(ctx, key):
    """Determine the type stored at key"""
    value = _live(ctx.db, key)
    _count_lookup(ctx, value is not None)
    name = type_name(value) if value is not None else "none"
    reply = _TYPE_REPLY.get(name)
    if reply is None:
        reply = _TYPE_REPLY[name] = Status(name.encode())
    return reply


# -- EXPIRE family ---------------------------------------------------------------
_NX, _XX, _GT, _LT = 1, 2, 4, 8


def _expire_flags(options):
    flags = 0
    for opt in options:
        o = opt.lower()
        if o == b"nx":
            flags |= _NX
        elif o == b"xx":
            flags |= _XX
        elif o == b"gt":
            flags |= _GT
        elif o == b"lt":
            flags |= _LT
        else:
            # Redis prints the option as a C string: it ends at a NUL byte.
            text = opt.split(b"\0", 1)[0].decode("utf-8", "replace")
            raise CommandError("ERR Unsupported option %s" % text)
    if flags & _NX and flags & (_XX | _GT | _LT):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not compatible")
    if flags & _GT and flags & _LT:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    return flags


def _expire(ctx, name, key, param, options, relative, seconds):
    """Redis's expireGenericCommand: options, then the time, then the key."""
    flags = _expire_flags(options) if options else 0
    when = parse_int(param)
    invalid = CommandError("ERR invalid expire time in '%s' command" % name)
    if seconds:
        # C's LLONG_MAX / 1000 and LLONG_MIN / 1000 truncate toward zero
        if when > _INT64_MAX // 1000 or when < -(_INT64_MAX // 1000):
            raise invalid
        when *= 1000
    if relative:
        base = now_ms()
        if when > _INT64_MAX - base:
            raise invalid
        when += base
    db = ctx.db
    if _live(db, key) is None:
        return 0
    if flags:
        current = db.expires.get(key, -1)
        if flags & _NX and current != -1:
            return 0
        if flags & _XX and current == -1:
            return 0
        if flags & _GT and (current == -1 or when <= current):
            return 0
        if flags & _LT and current != -1 and when >= current:
            return 0
    ks = db.keyspace
    if when <= now_ms() and ks.active_expire_enabled and not ctx.node.loading:
        # Already in the past: delete now, propagated as a DEL.
        value = db.data.pop(key)
        db.expires.pop(key, None)
        release(value)
        ctx.propagate_as = [[b"del", key]]
        db.modified(key, "del", "g")
        return 1
    db.set_expire(key, when)
    if name != "pexpireat" or relative or seconds:
        ctx.propagate_as = [[b"pexpireat", key, b"%d" % when] + list(options)]
    db.modified(key, "expire", "g")
    return 1


_EXPIRE_SYNTAX = "key %s [NX | XX | GT | LT]"


@command("expire", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="1.0.0",
         syntax=_EXPIRE_SYNTAX % "seconds", complexity="O(1)")
def expire(ctx, key, seconds, *options):
    """Set a key's time to live in seconds"""
    return _expire(ctx, "expire", key, seconds, options, True, True)


@command("pexpire", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="2.6.0",
         syntax=_EXPIRE_SYNTAX % "milliseconds", complexity="O(1)")
def pexpire(ctx, key, milliseconds, *options):
    """Set a key's time to live in milliseconds"""
    return _expire(ctx, "pexpire", key, milliseconds, options, True, False)


@command("expireat", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="1.2.0",
         syntax=_EXPIRE_SYNTAX % "unix-time-seconds", complexity="O(1)")
def expireat(ctx, key, timestamp, *options):
    """Set the expiration for a key as a UNIX timestamp"""
    return _expire(ctx, "expireat", key, timestamp, options, False, True)


@command("pexpireat", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="2.6.0",
         syntax=_EXPIRE_SYNTAX % "unix-time-milliseconds", complexity="O(1)")
def pexpireat(ctx, key, timestamp, *options):
    """Set the expiration for a key as a UNIX timestamp specified in milliseconds"""
    return _expire(ctx, "pexpireat", key, timestamp, options, False, False)


def _ttl(ctx, key, in_ms, absolute):
    db = ctx.db
    value = _live(db, key)
    _count_lookup(ctx, value is not None)
    if value is None:
        return -2
    when = db.expires.get(key) if db.expires else None
    if when is None:
        return -1
    ttl = when if absolute else when - now_ms()
    if ttl < 0:
        ttl = 0
    return ttl if in_ms else (ttl + 500) // 1000


@command("ttl", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, since="1.0.0",
         syntax="key", complexity="O(1)")
def ttl(ctx, key):
    """Get the time to live for a key in seconds"""
    return _ttl(ctx, key, False, False)


@command("pttl", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, since="2.6.0",
         syntax="key", complexity="O(1)")
def pttl(ctx, key):
    """Get the time to live for a key in milliseconds"""
    return _ttl(ctx, key, True, False)


@command("expiretime", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, since="7.0.0",
         syntax="key", complexity="O(1)")
def expiretime(ctx, key):
    """Get the expiration Unix timestamp for a key"""
    return _ttl(ctx, key, False, True)


@command("pexpiretime", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, since="7.0.0",
         syntax="key", complexity="O(1)")
def pexpiretime(ctx, key):
    """Get the expiration Unix timestamp for a key in milliseconds"""
    return _ttl(ctx, key, True, True)


@command("persist", arity=2, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="2.2.0",
         syntax="key", complexity="O(1)")
def persist(ctx, key):
    """Remove the expiration from a key"""
    db = ctx.db
    if _live(db, key) is None or not db.persist(key):
        return 0
    db.modified(key, "persist", "g")
    return 1


# -- KEYS / SCAN / RANDOMKEY -----------------------------------------------------
# Keys matched between two yields of a KEYS over a big database (about 1 ms).
_KEYS_SLICE = 10000


@command("keys", arity=2, flags=READONLY, group=G, since="1.0.0", syntax="pattern",
         categories=("dangerous",),
         complexity="O(N) with N being the number of keys in the database, under the "
                    "assumption that the key names in the database and the given pattern "
                    "have limited length.")
def keys(ctx, pattern):
    """Find all keys matching the given pattern"""
    db = ctx.db
    data = db.data
    if pattern == b"*":
        found = list(data)
    elif len(data) <= _KEYS_SLICE or getattr(ctx, "in_exec", False):
        found = redis_glob_filter(pattern)(data)
    else:
        # A big database: match a point-in-time copy of the key list in
        # slices, letting other clients run between slices, so KEYS does not
        # stall every client (the reply is that snapshot's matches).  The
        # copy holds only bytes: untracked, young GC passes skip it.
        matches = redis_glob_filter(pattern)
        snapshot = untrack(list(data))
        found = []
        pacer = Pacer()
        for i in range(0, len(snapshot), _KEYS_SLICE):
            found.extend(matches(snapshot[i:i + _KEYS_SLICE]))
            pacer.pause()
    expires = db.expires
    if expires and found:
        # Logically expired keys are skipped (not deleted), as Redis does.
        now = now_ms()
        found = [k for k in found if expires.get(k, now + 1) > now]
    return found


def parse_scan_cursor(raw):
    """Redis's parseScanCursorOrReply: strtoul() of the text (up to a NUL),
    refusing a leading space, trailing garbage and overflow; '-n' wraps."""
    text = raw.split(b"\0", 1)[0]
    if not text:
        return 0
    if text[:1].isspace():
        raise _INVALID_CURSOR
    sign = 1
    body = text
    if body[:1] in (b"+", b"-"):
        sign = -1 if body[:1] == b"-" else 1
        body = body[1:]
    if not body.isdigit():
        raise _INVALID_CURSOR
    value = int(body)
    if value > 0xFFFFFFFFFFFFFFFF:
        raise _INVALID_CURSOR
    return value if sign > 0 else (-value) & 0xFFFFFFFFFFFFFFFF


@command("scan", arity=-2, flags=READONLY, group=G, since="2.8.0",
         syntax="cursor [MATCH pattern] [COUNT count] [TYPE type]",
         complexity="O(1) for every call. O(N) for a complete iteration, including enough "
                    "command calls for the cursor to return back to 0. N is the number of "
                    "elements inside the collection.")
def scan(ctx, cursor, *options):
    """Incrementally iterate the keys space"""
    cur = parse_scan_cursor(cursor)
    count = 10
    match = None
    typename = None
    i = 0
    n = len(options)
    while i < n:
        opt = options[i].lower()
        if opt == b"count" and i + 1 < n:
            count = parse_int(options[i + 1])
            if count < 1:
                raise _SYNTAX
        elif opt == b"match" and i + 1 < n:
            pattern = options[i + 1]
            match = None if pattern == b"*" else redis_glob_matcher(pattern)
        elif opt == b"type" and i + 1 < n:
            typename = options[i + 1].lower()
        else:
            raise _SYNTAX
        i += 2
    db = ctx.db
    data = db.data
    next_cursor, candidates = db.keyspace.scans.scan(data, cur, count)
    out = []
    for key in candidates:
        if match is not None and not match(key):
            continue
        value = _live(db, key)
        if value is None:
            continue
        if typename is not None and type_name(value).encode() != typename:
            continue
        out.append(key)
    return [b"%d" % next_cursor, out]


@command("randomkey", arity=1, flags=READONLY, group=G, since="1.0.0", syntax="",
         complexity="O(1)")
def randomkey(ctx):
    """Return a random key from the keyspace"""
    return ctx.db.random_key(ctx.node.rng)


# -- RENAME / COPY / MOVE --------------------------------------------------------
def _rename(ctx, src, dst, nx):
    db = ctx.db
    value = _live(db, src)
    if value is None:
        raise _NO_SUCH_KEY
    if src == dst:
        return 0 if nx else OK
    when = db.expires.get(src) if db.expires else None
    old = _live(db, dst)
    if old is not None:
        if nx:
            return 0
        release(old)
    db.data.pop(src)
    if when is not None:
        db.expires.pop(src, None)
    db.set(dst, value)
    if when is not None:
        db.set_expire(dst, when)
    db.modified(src, "rename_from", "g", dirty=0)
    db.modified(dst, "rename_to", "g")
    carry_mark(db, src, db, dst, value)
    signal_key_ready(db, dst)
    return 1 if nx else OK


@command("rename", arity=3, flags=WRITE, keys=(1, 2, 1), group=G, since="1.0.0",
         syntax="key newkey", complexity="O(1)")
def rename(ctx, key, newkey):
    """Rename a key"""
    return _rename(ctx, key, newkey, False)


@command("renamenx", arity=3, flags=WRITE | FAST, keys=(1, 2, 1), group=G, since="1.0.0",
         syntax="key newkey", complexity="O(1)")
def renamenx(ctx, key, newkey):
    """Rename a key, only if the new key does not exist"""
    return _rename(ctx, key, newkey, True)


def _db_index(ctx, raw):
    """A database number as getIntFromObjectOrReply + selectDb check it."""
    index = parse_int32(raw)
    dbs = ctx.node.keyspace.dbs
    if not 0 <= index < len(dbs):
        raise _DB_RANGE
    return dbs[index]


def copy_value(value):
    """A deep copy of a stored value (containers never share state)."""
    t = type(value)
    if t is bytes or t is int:
        return value
    if t is dict:
        return dict(value)
    if t is deque:
        return deque(value)
    if t is set:
        return set(value)
    if t is ZSet:
        return value.copy()
    if t is Stream:
        return value.copy()       # groups, PELs, consumers and node model (streamDup)
    if t in PACKED_TYPES:
        return value              # immutable: both keys may hold the one object
    return _copy.deepcopy(value)


@command("copy", arity=-3, flags=WRITE | DENYOOM, keys=(1, 2, 1), group=G, since="6.2.0",
         syntax="source destination [DB destination-db] [REPLACE]",
         complexity="O(N) worst case for collections, where N is the number of nested "
                    "items. O(1) for string values.")
def copy(ctx, source, destination, *options):
    """Copy a key"""
    src_db = dst_db = ctx.db
    replace = False
    i = 0
    n = len(options)
    while i < n:
        opt = options[i].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and i + 1 < n:
            dst_db = _db_index(ctx, options[i + 1])
            i += 1
        else:
            raise _SYNTAX
        i += 1
    if ctx.node.cluster is not None and (src_db.id != 0 or dst_db.id != 0):
        raise CommandError("ERR Copying to another database is not allowed in cluster mode")
    if src_db is dst_db and source == destination:
        raise _SAME_OBJECT
    value = _live(src_db, source)
    if value is None:
        return 0
    when = src_db.expires.get(source) if src_db.expires else None
    old = _live(dst_db, destination)
    if old is not None:
        if not replace:
            return 0
        release(old)
    encoding = None
    if type(value) is bytes or type(value) is int:
        # Redis's dupStringObject: the source's encoding in an object of
        # its own (never a shared integer).
        encoding = ((marked_encoding(src_db, source, value) if type(value) is bytes else None)
                    or encoding_of(ctx, value))
        if type(value) is int:
            value = b"%d" % value
        dst_db.set(destination, value)
    else:
        dst_db.set(destination, copy_value(value))
    if when is not None:
        dst_db.set_expire(destination, when)
    dst_db.modified(destination, "copy_to", "g")
    if encoding is not None:
        mark_raw_string(dst_db, destination, value, encoding)
    signal_key_ready(dst_db, destination)
    return 1


@command("move", arity=3, flags=WRITE | FAST, keys=(1, 1, 1), group=G, since="1.0.0",
         syntax="key db", complexity="O(1)")
def move(ctx, key, db):
    """Move a key to another database"""
    if ctx.node.cluster is not None:
        raise CommandError("ERR MOVE is not allowed in cluster mode")
    src = ctx.db
    dst = _db_index(ctx, db)
    if src is dst:
        raise _SAME_OBJECT
    value = _live(src, key)
    if value is None:
        return 0
    when = src.expires.get(key) if src.expires else None
    if _live(dst, key) is not None:
        return 0
    dst.set(key, value)
    if when is not None:
        dst.set_expire(key, when)
    src.data.pop(key)
    if when is not None:
        src.expires.pop(key, None)
    src.modified(key, "move_from", "g")
    dst.modified(key, "move_to", "g", dirty=0)
    carry_mark(src, key, dst, key, value)
    signal_key_ready(dst, key)
    return 1


# -- OBJECT ----------------------------------------------------------------------
container("object", group=G, since="2.2.3",
          summary="A container for object introspection commands").complexity = \
    "Depends on subcommand."

OBJ_SHARED_REFCOUNT = _INT32_MAX
OBJ_SHARED_INTEGERS = 10000
LFU_INIT_VAL = 5
_LFU_IDLE_ERR = ("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
                 "that when switching between policies at runtime LRU and LFU data will take "
                 "some time to adjust.")
_LFU_FREQ_ERR = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                 "Please note that when switching between policies at runtime LRU and LFU "
                 "data will take some time to adjust.")
# The settings that choose compact encodings (Redis 7.0 names, aliases,
# defaults and bounds).  The hash and intset ones also choose how small
# hashes and sets are stored (storage/compact.py, applied by server/core.py);
# the others only change what OBJECT ENCODING reports.
_LONG_MAX = (1 << 63) - 1


def _encoding_setting(name, redis_name, alias, default, minimum, maximum, memory=False,
                      stored=False):
    flags = ["--" + name, "--" + redis_name] + (["--" + alias] if alias else [])
    effect = ("small values within it are stored compactly and OBJECT ENCODING reports it"
              if stored else "changes what OBJECT ENCODING reports")
    cfg.declare(name, "int", default, "Encoding threshold (%s): %s." % (redis_name, effect),
                redis=redis_name, flags=flags, mutable=True,
                minimum=minimum, maximum=maximum, group="encoding",
                parser=cfg.redis_memory if memory else cfg.redis_int)


_encoding_setting("hashMaxListpackEntries", "hash-max-listpack-entries",
                  "hash-max-ziplist-entries", 512, 0, _LONG_MAX, stored=True)
_encoding_setting("hashMaxListpackValue", "hash-max-listpack-value",
                  "hash-max-ziplist-value", 64, 0, _LONG_MAX, memory=True, stored=True)
_encoding_setting("zsetMaxListpackEntries", "zset-max-listpack-entries",
                  "zset-max-ziplist-entries", 128, 0, _LONG_MAX)
_encoding_setting("zsetMaxListpackValue", "zset-max-listpack-value",
                  "zset-max-ziplist-value", 64, 0, _LONG_MAX, memory=True)
_encoding_setting("setMaxIntsetEntries", "set-max-intset-entries", None, 512, 0, _LONG_MAX,
                  stored=True)
_encoding_setting("listMaxListpackSize", "list-max-listpack-size",
                  "list-max-ziplist-size", -2, _INT32_MIN, _INT32_MAX)
_encoding_setting("listCompressDepth", "list-compress-depth", None, 0, 0, _INT32_MAX)

# Redis 7.0's defaults, for a setting no module declares.
_ENCODING_DEFAULTS = {
    "hash-max-listpack-entries": 512, "hash-max-listpack-value": 64,
    "set-max-intset-entries": 512,
    "zset-max-listpack-entries": 128, "zset-max-listpack-value": 64,
    "maxmemory-policy": "noeviction", "maxmemory": 0,
}


def _setting(ctx, redis_name):
    """A setting's value by its Redis name, or Redis's default when no
    module declares it."""
    s = cfg.find(redis_name)
    if s is not None and s.name in ctx.node.config.values:
        return ctx.node.config.values[s.name]
    return _ENCODING_DEFAULTS[redis_name]


def _policy(ctx):
    policy = _setting(ctx, "maxmemory-policy")
    return policy.decode() if isinstance(policy, bytes) else str(policy)


def encoding_of(ctx, value):
    """The encoding Redis 7.0 reports for a value of this size and content.

    Redis converts a compact encoding to the general one when a limit is
    crossed and never back; this reports the encoding the current content
    would have, which is the same unless the value once grew past a limit
    and shrank again (a hash does not remember that; a sorted set keeps its
    actual encoding, ``ZSet.skiplist``, as its limits are crossed) or was
    grown by APPEND/SETRANGE, which Redis keeps 'raw' (marked:
    commands/util.py)."""
    t = type(value)
    if t is int:
        return b"int"
    if t is bytes:
        if _canonical_int(value) is not None:
            return b"int"
        return b"embstr" if len(value) <= 44 else b"raw"
    if t is PackedHash:
        return b"listpack"
    if t is IntSet:
        return b"intset"
    if t is PackedSet:
        return b"hashtable"   # Redis 7.0 has no listpack sets (7.2 would say listpack)
    if t is set:
        return b"hashtable"   # compact forms convert to a set for good, as in Redis
    if t is dict:
        # A dict may be within Redis's limits (the packed form has tighter
        # caps, storage/compact.py): then Redis would still say listpack.
        if len(value) > _setting(ctx, "hash-max-listpack-entries"):
            return b"hashtable"
        limit = _setting(ctx, "hash-max-listpack-value")
        for f, v in value.items():
            if len(f) > limit or len(v) > limit:
                return b"hashtable"
        return b"listpack"
    if t is deque:
        return b"quicklist"   # Redis 7.0 has no listpack-encoded lists
    if t is ZSet:
        return b"skiplist" if value.skiplist else b"listpack"
    name = TYPE_NAMES.get(t)
    if name == "stream":
        return b"stream"
    encoding = getattr(value, "redis_encoding", None)
    if encoding is not None:
        return encoding() if callable(encoding) else encoding
    return b"raw"


def _refcount(ctx, value):
    """Small integers are shared objects in Redis (refcount INT_MAX) unless
    an LRU/LFU policy with maxmemory needs per-object access data."""
    t = type(value)
    if t is int:
        v = value
    elif t is bytes:
        v = _canonical_int(value)
    else:
        return 1
    if v is None or not 0 <= v < OBJ_SHARED_INTEGERS:
        return 1
    policy = _policy(ctx)
    if _setting(ctx, "maxmemory") and ("lru" in policy or "lfu" in policy):
        return 1
    return OBJ_SHARED_REFCOUNT


def _object_value(ctx, key):
    value = _live(ctx.db, key)
    _count_lookup(ctx, value is not None)
    return value


@command("object|encoding", arity=3, flags=READONLY, keys=(2, 2, 1), group=G, since="2.2.3",
         syntax="key", complexity="O(1)")
def object_encoding(ctx, key):
    """Inspect the internal encoding of a Redis object"""
    value = _object_value(ctx, key)
    if value is None:
        return None
    if type(value) is bytes:
        marked = marked_encoding(ctx.db, key, value)     # (APPEND, SETRANGE, INCRBYFLOAT, COPY ...)
        if marked is not None:
            return marked
    return encoding_of(ctx, value)


@command("object|refcount", arity=3, flags=READONLY, keys=(2, 2, 1), group=G, since="2.2.3",
         syntax="key", complexity="O(1)")
def object_refcount(ctx, key):
    """Get the number of references to the value of the key"""
    value = _object_value(ctx, key)
    if value is None:
        return None
    if type(value) is bytes and marked_encoding(ctx.db, key, value) is not None:
        return 1                 # (a string object of its own, never a shared integer)
    return _refcount(ctx, value)


@command("object|idletime", arity=3, flags=READONLY, keys=(2, 2, 1), group=G, since="2.2.3",
         syntax="key", complexity="O(1)")
def object_idletime(ctx, key):
    """Get the time since a Redis object was last accessed"""
    value = _object_value(ctx, key)
    if value is None:
        return None
    if "lfu" in _policy(ctx):
        raise CommandError(_LFU_IDLE_ERR)
    # Access times are kept only under an LRU/LFU maxmemory-policy (a side
    # table, security/memory.py); under the others the idle time reads 0.
    tracker = getattr(getattr(ctx.node, "memory_state", None), "idle_seconds", None)
    return tracker(ctx.db, key) if tracker is not None else 0


@command("object|freq", arity=3, flags=READONLY, keys=(2, 2, 1), group=G, since="4.0.0",
         syntax="key", complexity="O(1)")
def object_freq(ctx, key):
    """Get the logarithmic access frequency counter of a Redis object"""
    value = _object_value(ctx, key)
    if value is None:
        return None
    if "lfu" not in _policy(ctx):
        raise CommandError(_LFU_FREQ_ERR)
    tracker = getattr(getattr(ctx.node, "memory_state", None), "access_frequency", None)
    return tracker(ctx.db, key) if tracker is not None else LFU_INIT_VAL


_OBJECT_HELP = [
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
]


@command("object|help", arity=2, flags=LOADING | STALE, group=G, since="6.2.0", syntax="",
         complexity="O(1)")
def object_help(ctx):
    """Show helpful text about the different subcommands"""
    return status_lines(_OBJECT_HELP)
