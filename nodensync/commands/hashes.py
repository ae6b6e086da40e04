"""Hash commands.

A hash is a plain ``dict`` field (bytes) -> value (bytes).  An empty hash is
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
from ..protocol.resp import OK
from ..storage import numbers
from ..storage.keyspace import ScanCursors
from .registry import command, WRITE, READONLY, DENYOOM, FAST
from .strings import parse_int, _opt
from .util import glob_matcher

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
    """The dict at key, None when absent, WRONGTYPE for another type."""
    value = db.get(key)
    if value is not None and type(value) is not dict:
        raise _wrongtype()
    return value


def _hash_for_write(db, key):
    """The dict at key, created (and stored) when absent."""
    h = _get_hash(db, key)
    if h is None:
        h = {}
        db.set(key, h)
    return h


def _hset_pairs(ctx, key, pairs, name):
    if len(pairs) % 2:
        raise errors.wrong_arity(name)
    db = ctx.db
    h = _hash_for_write(db, key)
    before = len(h)
    for i in range(0, len(pairs), 2):
        h[pairs[i]] = pairs[i + 1]
    db.modified(key, "hset", "h")
    return len(h) - before


@command("hset", arity=-4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key field value [field value ...]", since="2.0.0")
def hset(ctx, key, *pairs):
    """Set the string value of a hash field."""
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
    h = _get_hash(db, key)
    if h is not None and field in h:
        return 0
    if h is None:
        h = {}
        db.set(key, h)
    h[field] = value
    db.modified(key, "hset", "h")
    return 1


@command("hget", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="2.0.0")
def hget(ctx, key, field):
    """Get the value of a hash field."""
    h = _get_hash(ctx.db, key)
    return None if h is None else h.get(field)


@command("hmget", arity=-3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field [field ...]", since="2.0.0")
def hmget(ctx, key, *fields):
    """Get the values of all the given hash fields."""
    h = _get_hash(ctx.db, key)
    if h is None:
        return [None] * len(fields)
    get = h.get
    return [get(f) for f in fields]


@command("hgetall", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hgetall(ctx, key):
    """Get all the fields and values in a hash."""
    h = _get_hash(ctx.db, key)
    return {} if h is None else dict(h)


@command("hkeys", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hkeys(ctx, key):
    """Get all the fields in a hash."""
    h = _get_hash(ctx.db, key)
    return [] if h is None else list(h)


@command("hvals", arity=2, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hvals(ctx, key):
    """Get all the values in a hash."""
    h = _get_hash(ctx.db, key)
    return [] if h is None else list(h.values())


@command("hlen", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="2.0.0")
def hlen(ctx, key):
    """Get the number of fields in a hash."""
    h = _get_hash(ctx.db, key)
    return 0 if h is None else len(h)


@command("hexists", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="2.0.0")
def hexists(ctx, key, field):
    """Determine if a hash field exists."""
    h = _get_hash(ctx.db, key)
    return 1 if h is not None and field in h else 0


@command("hstrlen", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key field", since="3.2.0")
def hstrlen(ctx, key, field):
    """Get the length of the value of a hash field."""
    h = _get_hash(ctx.db, key)
    if h is None:
        return 0
    v = h.get(field)
    return 0 if v is None else len(v)


@command("hdel", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key field [field ...]", since="2.0.0")
def hdel(ctx, key, *fields):
    """Delete one or more hash fields."""
    db = ctx.db
    h = _get_hash(db, key)
    if h is None:
        return 0
    deleted = 0
    for f in fields:
        if h.pop(f, None) is not None:
            deleted += 1
            if not h:
                break
    if deleted:
        removed = not h
        if removed:
            db.delete(key)
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
    h = _get_hash(db, key)
    cur = None if h is None else h.get(field)
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
    if h is None:
        h = {}
        db.set(key, h)
    h[field] = b"%d" % result
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
    h = _get_hash(db, key)
    cur = None if h is None else h.get(field)
    if cur is None:
        value = numbers.from_int(0)
    else:
        value = numbers.parse(cur)
        if value is None:
            raise CommandError(errors.HASH_NOT_FLOAT)
    text = numbers.human(numbers.add(value, incr))
    if text is None:
        raise CommandError(errors.NAN_OR_INF)
    if h is None:
        h = {}
        db.set(key, h)
    h[field] = text
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
        h = _get_hash(db, key)
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
    h = _get_hash(db, key)
    if h is None or count == 0:
        return []
    size = len(h)
    pairs = withvalues and ctx.resp3
    if count < 0:
        # With repetitions, in random order.
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
    h = _get_hash(ctx.db, key)
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
    if len(h) <= ScanCursors.SMALL:
        # Like a small (listpack) hash in Redis: everything at once, whatever
        # the cursor.
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
