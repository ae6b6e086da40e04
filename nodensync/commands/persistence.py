"""Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF, DUMP, RESTORE.

The machinery lives in ``storage/persistence.py`` (``node.persistence``);
these handlers check arguments and answer with Redis 7.0's texts.
"""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, Status
from ..storage import rdb
from ..storage.compact import compact
from ..storage.keyspace import now_ms, release
from ..storage.snapshot import encoding_limits
from ..storage.stream import Stream
from .registry import (command, ADMIN, NOSCRIPT, NO_ASYNC_LOADING, NO_MULTI, LOADING, STALE,
                       FAST, READONLY, WRITE, DENYOOM)
from .util import parse_int

from .. import config as cfg

G = "server"

cfg.declare("sanitizeDumpPayload", "enum", "no",
            "Deep integrity check of RESTORE payloads and RDB files (no, yes, clients). "
            "NodeNsync always checks deeply, whatever the value: every payload or file is "
            "decoded entry by entry into new values before anything is stored, and one "
            "that does not decode or breaks Redis's sanitizer rules (duplicate members or "
            "fields, NaN scores, inconsistent streams) is refused, as Redis's 'yes' does. "
            "Accepted for compatibility.",
            redis="sanitize-dump-payload", mutable=True, choices=["no", "yes", "clients"],
            group="persistence")
_BG_IN_PROGRESS = "ERR Background save already in progress"


def _p(ctx):
    return ctx.node.persistence


@command("save", arity=1, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, group=G,
         syntax="", since="1.0.0", complexity="O(N) where N is the total number of keys in all databases")
def save(ctx):
    """Synchronously save the dataset to disk"""
    p = _p(ctx)
    if p.rdb.in_progress():
        raise CommandError(_BG_IN_PROGRESS)
    if p.rdb.save():
        return OK
    raise CommandError("ERR")


@command("bgsave", arity=-1, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING, group=G,
         syntax="[SCHEDULE]", since="1.0.0",
         complexity="O(N) where N is the total number of keys in all databases")
def bgsave(ctx, *args):
    """Asynchronously save the dataset to disk"""
    schedule = False
    if args:
        if len(args) == 1 and args[0].lower() == b"schedule":
            schedule = True
        else:
            raise CommandError(errors.SYNTAX)
    p = _p(ctx)
    child = p.child
    if child is not None and child.kind == "rdb":
        raise CommandError(_BG_IN_PROGRESS)
    in_exec = ctx.in_exec
    if child is not None or in_exec:
        if schedule or in_exec:
            p.rdb.scheduled = True
            return Status(b"Background saving scheduled")
        raise CommandError("ERR Another child process is active (AOF?): can't BGSAVE right now. "
                           "Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
    if p.rdb.bgsave():
        return Status(b"Background saving started")
    raise CommandError("ERR")


@command("lastsave", arity=1, flags=LOADING | STALE | FAST, group=G, syntax="", since="1.0.0",
         complexity="O(1)", categories=("admin", "dangerous"))
def lastsave(ctx):
    """Get the UNIX time stamp of the last successful save to disk"""
    return _p(ctx).rdb.lastsave


@command("bgrewriteaof", arity=1, flags=ADMIN | NOSCRIPT | NO_ASYNC_LOADING, group=G, syntax="",
         since="1.0.0", complexity="O(1)")
def bgrewriteaof(ctx):
    """Asynchronously rewrite the append-only file"""
    p = _p(ctx)
    a = p.aof
    child = p.child
    if child is not None and child.kind == "aof":
        raise CommandError("ERR Background append only file rewriting already in progress")
    if child is not None or ctx.in_exec:
        a.scheduled = True
        a.rewrite_failures = 0
        return Status(b"Background append only file rewriting scheduled")
    if a.rewrite():
        return Status(b"Background append only file rewriting started")
    raise CommandError("ERR Can't execute an AOF background rewriting. Please check the server "
                       "logs for more information.")


@command("dump", summary='Return a serialized version of the value stored at the specified key.', arity=2, flags=READONLY, keys=(1, 1, 1), group="generic", syntax="key",
         since="2.6.0", complexity="O(1) to access the key and additional O(N*M) to serialize "
         "it, where N is the number of Redis objects composing the value and M their average "
         "size. For small string values the time complexity is thus O(1)+O(1*M) where M is "
         "small, so simply O(1).")
def dump(ctx, key):
    """Return a serialized version of the value stored at the specified key."""
    value = ctx.db.get(key)
    if value is None:
        return None
    conf = ctx.node.config
    try:
        return rdb.dump_payload(value, compress=conf["rdbCompression"],
                                limits=encoding_limits(conf))
    except rdb.UnsupportedValue:
        raise CommandError("ERR DUMP is not supported for values of this type") from None


@command("restore", summary='Create a key using the provided serialized value, previously obtained using DUMP.', arity=-4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group="generic",
         syntax="key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] "
                "[FREQ frequency]",
         since="2.6.0", categories=("dangerous",),
         complexity="O(1) to create the new key and additional O(N*M) to reconstruct the "
         "serialized value, where N is the number of Redis objects composing the value and M "
         "their average size. For small string values the time complexity is thus "
         "O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the "
         "complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).")
def restore(ctx, key, ttl_arg, payload, *opts):
    """Create a key using the provided serialized value, previously obtained using DUMP."""
    replace = absttl = False
    idle = freq = None
    i = 0
    n = len(opts)
    while i < n:
        o = opts[i].lower()
        more = n - i - 1
        if o == b"replace":
            replace = True
        elif o == b"absttl":
            absttl = True
        elif o == b"idletime" and more >= 1 and freq is None:
            idle = parse_int(opts[i + 1])
            if idle < 0:
                raise CommandError("ERR Invalid IDLETIME value, must be >= 0")
            i += 1
        elif o == b"freq" and more >= 1 and idle is None:
            freq = parse_int(opts[i + 1])
            if freq < 0 or freq > 255:
                raise CommandError("ERR Invalid FREQ value, must be >= 0 and <= 255")
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    db = ctx.db
    if not replace and db.get(key) is not None:
        raise CommandError("BUSYKEY Target key name already exists.")
    ttl = parse_int(ttl_arg)
    if ttl < 0:
        raise CommandError("ERR Invalid TTL value, must be >= 0")
    if not rdb.verify_payload(payload):
        raise CommandError("ERR DUMP payload version or checksum are wrong")
    try:
        value = rdb.load_payload(payload)
    except (rdb.RdbError, ValueError, IndexError, OverflowError, MemoryError):
        raise CommandError("ERR Bad data format") from None
    # (an empty stream is a value: its groups and last ID; Redis restores it)
    if value is None or (type(value) not in (bytes, int, Stream) and not len(value)):
        raise CommandError("ERR Bad data format")
    node = ctx.node
    deleted = False
    if replace:
        old = db.data.get(key)
        deleted = db.delete(key)
        if deleted:
            release(old)
    now = now_ms()
    if ttl and not absttl:
        ttl += now
    if ttl and ttl <= now and not node.loading and node.role_name() != "replica":
        if deleted:
            ctx.propagate_as = [[b"DEL", key]]
            db.modified(key, "del", klass="g")
        return OK
    db.set(key, compact(db.keyspace, value))
    if ttl:
        db.set_expire(key, ttl)
        if not absttl:
            argv = [b"RESTORE", key, b"%d" % ttl, payload] + list(opts) + [b"ABSTTL"]
            ctx.propagate_as = [argv]
    db.modified(key, "restore", klass="g")
    restored = getattr(getattr(node, "memory_state", None), "restored", None)
    if restored is not None:
        restored(db, key, idle, freq)
    return OK
