"""String commands.

Values are ``bytes``; a value that is a canonical 64-bit integer written by
INCR-style commands is kept as an ``int`` (cheaper to store and to
increment).  Readers convert with ``db.get_string``.
"""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, NULL_ARRAY
from ..storage.keyspace import now_ms
from .registry import command, WRITE, READONLY, DENYOOM, FAST
from .util import parse_int

G = "string"
_WRONGTYPE = CommandError(errors.WRONGTYPE)
_NOT_INT = CommandError(errors.NOT_INTEGER)
_OVERFLOW = CommandError(errors.OVERFLOW)
_SYNTAX = CommandError(errors.SYNTAX)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


@command("get", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key")
def get(ctx, key):
    """Get the value of a key."""
    db = ctx.db
    value = db.data.get(key)
    if value is None:
        return None
    if db.expires and key in db.expires:
        value = db.get(key)
        if value is None:
            return None
    t = type(value)
    if t is bytes:
        return value
    if t is int:
        return b"%d" % value
    raise _WRONGTYPE


def _parse_set_options(ctx, options):
    """SET's options -> (nx, xx, get, keepttl, expire_at_ms or None)."""
    nx = xx = want_get = keepttl = False
    expire_at = None
    seen_expire = False
    i = 0
    n = len(options)
    while i < n:
        opt = options[i].upper()
        if opt == b"NX" and not xx:
            nx = True
        elif opt == b"XX" and not nx:
            xx = True
        elif opt == b"GET":
            want_get = True
        elif opt == b"KEEPTTL" and not seen_expire:
            keepttl = True
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and not keepttl and not seen_expire \
                and i + 1 < n:
            seen_expire = True
            v = parse_int(options[i + 1])
            if v <= 0:
                raise CommandError("ERR invalid expire time in 'set' command")
            if opt == b"EX":
                if v > _INT64_MAX // 1000:
                    raise CommandError("ERR invalid expire time in 'set' command")
                expire_at = now_ms() + v * 1000
            elif opt == b"PX":
                expire_at = now_ms() + v
            elif opt == b"EXAT":
                if v > _INT64_MAX // 1000:
                    raise CommandError("ERR invalid expire time in 'set' command")
                expire_at = v * 1000
            else:
                expire_at = v
            if expire_at > _INT64_MAX:
                raise CommandError("ERR invalid expire time in 'set' command")
            i += 1
        else:
            raise _SYNTAX
        i += 1
    return nx, xx, want_get, keepttl, expire_at


@command("set", arity=-3, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key value [NX | XX] [GET] [EX seconds | PX milliseconds | "
                "EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]")
def set_(ctx, key, value, *options):
    """Set the string value of a key."""
    db = ctx.db
    if not options:
        db.data[key] = value
        if db.expires:
            db.expires.pop(key, None)
        db.modified(key, "set", "$")
        return OK
    nx, xx, want_get, keepttl, expire_at = _parse_set_options(ctx, options)
    old = db.get(key)
    if want_get:
        if old is not None and type(old) is not bytes and type(old) is not int:
            raise _WRONGTYPE
        reply = b"%d" % old if type(old) is int else old
    if (nx and old is not None) or (xx and old is None):
        return reply if want_get else None
    db.set(key, value, keepttl=keepttl)
    if expire_at is not None:
        db.set_expire(key, expire_at)
        # Propagate an absolute time so replicas and the AOF agree.
        ctx.propagate_as = [[b"set", key, value, b"PXAT", b"%d" % expire_at]
                            + ([b"GET"] if want_get else [])]
    db.modified(key, "set", "$")
    if expire_at is not None and db.keyspace.notify_flags:
        db.keyspace.notify("g", "expire", key, db.id)
    return reply if want_get else OK


def _incr(ctx, key, delta):
    db = ctx.db
    value = db.data.get(key)
    if value is not None and db.expires and key in db.expires:
        value = db.get(key)
    t = type(value)
    if t is int:
        pass
    elif value is None:
        value = 0
    elif t is bytes:
        try:
            value = parse_int(value)
        except CommandError:
            raise _NOT_INT from None
    else:
        raise _WRONGTYPE
    result = value + delta
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise _OVERFLOW
    db.data[key] = result
    db.modified(key, "incrby", "$")
    return result


@command("incr", arity=2, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G, syntax="key")
def incr(ctx, key):
    """Increment the integer value of a key by one."""
    return _incr(ctx, key, 1)


@command("decr", arity=2, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G, syntax="key")
def decr(ctx, key):
    """Decrement the integer value of a key by one."""
    return _incr(ctx, key, -1)


@command("incrby", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key increment")
def incrby(ctx, key, increment):
    """Increment the integer value of a key by the given amount."""
    return _incr(ctx, key, parse_int(increment))


@command("decrby", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key decrement")
def decrby(ctx, key, decrement):
    """Decrement the integer value of a key by the given number."""
    d = parse_int(decrement)
    if d == _INT64_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incr(ctx, key, -d)


@command("mget", arity=-2, flags=READONLY | FAST, keys=(1, -1, 1), group=G,
         syntax="key [key ...]")
def mget(ctx, *keys):
    """Get the values of all the given keys."""
    db = ctx.db
    out = []
    for k in keys:
        v = db.get(k)
        t = type(v)
        out.append(v if t is bytes else b"%d" % v if t is int else None)
    return out


@command("mset", arity=-3, flags=WRITE | DENYOOM, keys=(1, -1, 2), group=G,
         syntax="key value [key value ...]")
def mset(ctx, *pairs):
    """Set multiple keys to multiple values."""
    if len(pairs) % 2:
        raise errors.wrong_arity("mset")
    db = ctx.db
    for i in range(0, len(pairs), 2):
        db.set(pairs[i], pairs[i + 1])
        db.modified(pairs[i], "set", "$")
    return OK
