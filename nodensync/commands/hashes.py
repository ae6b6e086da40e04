"""Hash commands.

A hash is a ``dict`` field (bytes) -> value (bytes), or while small a
``storage.compact.PackedHash`` (Redis's listpack): reads go through
``_field`` / ``_read_hash``, writes through ``_set_fields`` (which packs
again, or converts to a dict for good) and ``compact.hash_delete``.  An empty hash is
never stored: the key is deleted (with a ``del`` notification after the
command's own event), as Redis does.  Python dicts keep insertion order,
which is also the order of Redis's small (listpack) hashes, so HGETALL,
HKEYS, HVALS and HSCAN of a small hash list fields in the same order.

Replies never hand out the stored dict itself: inside MULTI the reply is
encoded after later commands of the transaction ran.
"""
import itertools

from .. import errors
from ..errors import CommandError
from ..protocol.resp import NO_REPLY, OK
from ..storage import numbers
from ..storage.compact import (PackedHash, hash_delete, hash_set, packed_hash_get,
                               packed_hash_len, unpack_hash)
from .keys import encoding_of
from .registry import command, WRITE, READONLY, DENYOOM, FAST
from .strings import parse_int, _opt
from .util import glob_matcher, reply_surely_over_limit

G = "hash"
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_LONG_MAX = _INT64_MAX
_ULONG_MAX = (1 << 64) - 1
_SPACES = b" \t\n\v\f\r"


def _wrongtype():
    # A fresh error each time: a re-raised shared instance grows its traceback.
    return CommandError(errors.WRONGTYPE)


def _get_hash(db, key):
    """The stored hash at key (a dict or a PackedHash), None when absent,
    WRONGTYPE for another type."""
    value = db.get(key)
    if value is not None:
        t = type(value)
        if t is not PackedHash and t is not dict:
            raise _wrongtype()
    return value


def _read_hash(db, key):
    """A dict of the hash at key for reading (the stored dict, or a new one
    decoded from the packed form), None when absent."""
    value = _get_hash(db, key)
    if type(value) is PackedHash:
        return unpack_hash(value)
    return value


def _field(value, field):
    """The value of ``field`` in a stored hash (None: no such field)."""
    if value is None:
        return None
    if type(value) is PackedHash:
        return packed_hash_get(value, field)
    return value.get(field)


def _set_fields(db, key, pairs, stored):
    """Set (field, value, ...) in the hash ``stored`` at key (None: create
    it); returns how many fields were added.  The caller notifies."""
    value, added = hash_set(db.keyspace, stored, pairs)
    if stored is None:
        db.set(key, value)
    elif value is not stored:
        db.data[key] = value             # a new packed form; the TTL stays
    return added


def _hset_pairs(ctx, key, pairs, name):
    if len(pairs) % 2:
        raise errors.wrong_arity(name)
    db = ctx.db
    added = _set_fields(db, key, pairs, _get_hash(db, key))
    db.modified(key, "hset", "h")
    return added


@command("hset", arity=-4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field value [field value ...]", since="2.0.0")
def hset(ctx, key, *pairs):
    """Set the string value of a hash field."""
    db = ctx.db
    h = db.data.get(key)
    if len(pairs) == 2 and not db.expires:
        # The common cases without the general path's layers: one field of
        # an existing hash (a database without TTLs: no expiry to check).
        t = type(h)
        if t is dict:                   # (hash_set would update it in place)
            n = len(h)
            h[pairs[0]] = pairs[1]
            db.modified_value(key, "hset", "h")
            return len(h) - n
        if t is PackedHash:
            value, added = hash_set(db.keyspace, h, pairs)
            db.data[key] = value        # re-packed, or converted to a dict
            db.modified(key, "hset", "h")
            return added
    return _hset_pairs(ctx, key, pairs, "hset")


@command("hmset", arity=-4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field value [field value ...]", since="2.0.0")
def hmset(ctx, key, *pairs):
    """Set multiple hash fields to multiple values."""
    _hset_pairs(ctx, key, pairs, "hmset")
    return OK


@command("hsetnx", arity=4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field value", since="2.0.0")
def hsetnx(ctx, key, field, value):
    """Set the value of a hash field, only if the field does not exist."""
    db = ctx.db
    stored = _get_hash(db, key)
    if _field(stored, field) is not None:
        return 0
    _set_fields(db, key, (field, value), stored)
    db.modified(key, "hset", "h")
    return 1


@command("hget", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="2.0.0")
def hget(ctx, key, field):
    """Get the value of a hash field."""
    return _field(_get_hash(ctx.db, key), field)


@command("hmget", arity=-3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field [field ...]", since="2.0.0")
def hmget(ctx, key, *fields):
    """Get the values of all the given hash fields."""
    h = _read_hash(ctx.db, key)
    if h is None:
        return [None] * len(fields)
    get = h.get
    return [get(f) for f in fields]


@command("hgetall", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hgetall(ctx, key):
    """Get all the fields and values in a hash."""
    value = _get_hash(ctx.db, key)
    if value is None:
        return {}
    return unpack_hash(value) if type(value) is PackedHash else dict(value)


@command("hkeys", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hkeys(ctx, key):
    """Get all the fields in a hash."""
    h = _read_hash(ctx.db, key)
    return [] if h is None else list(h)


@command("hvals", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hvals(ctx, key):
    """Get all the values in a hash."""
    h = _read_hash(ctx.db, key)
    return [] if h is None else list(h.values())


@command("hlen", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hlen(ctx, key):
    """Get the number of fields in a hash."""
    value = _get_hash(ctx.db, key)
    if value is None:
        return 0
    return packed_hash_len(value) if type(value) is PackedHash else len(value)


@command("hexists", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="2.0.0")
def hexists(ctx, key, field):
    """Determine if a hash field exists."""
    return 0 if _field(_get_hash(ctx.db, key), field) is None else 1


@command("hstrlen", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="3.2.0")
def hstrlen(ctx, key, field):
    """Get the length of the value of a hash field."""
    v = _field(_get_hash(ctx.db, key), field)
    return 0 if v is None else len(v)


@command("hdel", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key field [field ...]", since="2.0.0")
def hdel(ctx, key, *fields):
    """Delete one or more hash fields."""
    db = ctx.db
    stored = _get_hash(db, key)
    if stored is None:
        return 0
    left, deleted = hash_delete(stored, fields)
    if deleted:
        removed = left is None
        if removed:
            db.delete(key)
        elif left is not stored:
            db.set(key, left, keepttl=True)
        db.modified(key, "hdel", "h", dirty=deleted)
        if removed:
            db.modified(key, "del", "g", dirty=0)
    return deleted


@command("hincrby", arity=4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field increment", since="2.0.0")
def hincrby(ctx, key, field, increment):
    """Increment the integer value of a hash field by the given number."""
    incr = parse_int(increment)
    db = ctx.db
    stored = _get_hash(db, key)
    cur = _field(stored, field)
    if cur is None:
        value = 0
    else:
        try:
            value = parse_int(cur)
        except CommandError:
            raise CommandError(errors.HASH_NOT_INTEGER) from None
    result = value + incr
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise CommandError(errors.OVERFLOW)
    _set_fields(db, key, (field, b"%d" % result), stored)
    db.modified(key, "hincrby", "h")
    return result


@command("hincrbyfloat", arity=4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field increment", since="2.6.0")
def hincrbyfloat(ctx, key, field, increment):
    """Increment the float value of a hash field by the given amount."""
    incr = numbers.parse(increment)
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    if not numbers.is_finite(incr):
        raise CommandError("ERR value is NaN or Infinity")
    db = ctx.db
    stored = _get_hash(db, key)
    cur = _field(stored, field)
    if cur is None:
        value = numbers.from_int(0)
    else:
        value = numbers.parse(cur)
        if value is None:
            raise CommandError(errors.HASH_NOT_FLOAT)
    text = numbers.human(numbers.add(value, incr))
    if text is None:
        raise CommandError(errors.NAN_OR_INF)
    _set_fields(db, key, (field, text), stored)
    db.modified(key, "hincrbyfloat", "h")
    # The printed value, not the addition, goes to replicas and the AOF.
    ctx.propagate_as = [[b"HSET", key, field, text]]
    return text


# -- HRANDFIELD ---------------------------------------------------------------
def _nth_field(h, i):
    return next(itertools.islice(h, i, None))


@command("hrandfield", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [count [WITHVALUES]]", since="6.2.0")
def hrandfield(ctx, key, *args):
    """Get one or multiple random fields from a hash."""
    db = ctx.db
    rng = ctx.node.rng
    if not args:
        h = _read_hash(db, key)
        if h is None:
            return None
        return _nth_field(h, rng.randrange(len(h)))
    count = parse_int(args[0])
    if count < -_LONG_MAX:
        raise CommandError("ERR value is out of range, value must between %d and %d"
                           % (-_LONG_MAX, _LONG_MAX))
    withvalues = False
    if len(args) > 2 or (len(args) == 2 and _opt(args[1]) != b"WITHVALUES"):
        raise CommandError(errors.SYNTAX)
    if len(args) == 2:
        withvalues = True
        if count < -(_LONG_MAX // 2) or count > _LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    h = _read_hash(db, key)
    if h is None or count == 0:
        return []
    size = len(h)
    pairs = withvalues and ctx.resp3
    if count < 0:
        # With repetitions, in random order.
        if reply_surely_over_limit(ctx, -count * (2 if withvalues else 1)):
            return NO_REPLY
        fields = list(h) if -count > 1 else None
        out = []
        for _ in range(-count):
            f = fields[rng.randrange(size)] if fields else _nth_field(h, rng.randrange(size))
            if pairs:
                out.append([f, h[f]])
            else:
                out.append(f)
                if withvalues:
                    out.append(h[f])
        return out
    if count == 1:
        picked = [_nth_field(h, rng.randrange(size))]
    elif count >= size:
        picked = list(h)             # the whole hash, in its own order
    else:
        picked = rng.sample(list(h), count)
    if pairs:
        return [[f, h[f]] for f in picked]
    if withvalues:
        out = []
        for f in picked:
            out.append(f)
            out.append(h[f])
        return out
    return picked


# -- HSCAN ----------------------------------------------------------------------
def parse_scan_cursor(arg):
    """Redis's parseScanCursorOrReply: strtoul() in base 10 on a C string, so
    "", "+5" and "-1" (which wraps) are accepted, as is anything after a NUL
    byte; a leading space or trailing junk is not."""
    if b"\0" in arg:
        arg = arg[:arg.index(b"\0")]
    if not arg:
        return 0
    if arg[:1] in _SPACES:
        raise CommandError("ERR invalid cursor")
    neg = arg[:1] == b"-"
    digits = arg[1:] if arg[:1] in (b"-", b"+") else arg
    if not digits.isdigit() or len(digits.lstrip(b"0")) > 20:
        raise CommandError("ERR invalid cursor")
    v = int(digits)
    if v > _ULONG_MAX:
        raise CommandError("ERR invalid cursor")
    return (-v) & _ULONG_MAX if neg else v


@command("hscan", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key cursor [MATCH pattern] [COUNT count]", since="2.8.0")
def hscan(ctx, key, cursor, *options):
    """Incrementally iterate hash fields and associated values."""
    cursor = parse_scan_cursor(cursor)
    h = _read_hash(ctx.db, key)
    if h is None:
        return [b"0", []]
    count = 10
    match = None
    i = 0
    n = len(options)
    while i < n:
        opt = _opt(options[i])
        if opt == b"COUNT" and i + 1 < n:
            count = parse_int(options[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
            i += 2
        elif opt == b"MATCH" and i + 1 < n:
            pat = options[i + 1]
            match = None if pat == b"*" else glob_matcher(pat)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    if encoding_of(ctx, h) == b"listpack":
        # As a listpack-encoded hash in Redis: everything at once, whatever
        # the cursor and count.
        next_cursor, fields = 0, list(h)
    else:
        next_cursor, fields = ctx.node.keyspace.scans.scan(h, cursor, count)
    out = []
    for f in fields:
        v = h.get(f)
        if v is None:
            continue                 # deleted since the cursor's snapshot
        if match is not None and not match(f):
            continue
        out.append(f)
        out.append(v)
    return [b"%d" % next_cursor, out]
