"""String commands.

Values are ``bytes``; a value that is a canonical 64-bit integer written by
INCR-style commands is kept as an ``int`` (cheaper to store and to
increment).  Readers convert with ``db.get_string``; every handler here
accepts both.

Errors are raised as fresh ``CommandError`` objects or, for the shared
ones, with their traceback reset: re-raising one exception instance makes
its ``__traceback__`` grow by a frame chain per raise (and keeps those
frames alive).
"""
from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK
from ..storage import numbers
from ..storage.keyspace import now_ms
from .registry import command, WRITE, READONLY, DENYOOM, FAST
from .util import mark_plain_string, mark_raw_string

G = "string"
_WRONGTYPE = CommandError(errors.WRONGTYPE)
_NOT_INT = CommandError(errors.NOT_INTEGER)
_OVERFLOW = CommandError(errors.OVERFLOW)
_SYNTAX = CommandError(errors.SYNTAX)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def parse_int(b):
    """Redis's string2ll: a canonical signed 64-bit integer (no spaces, '+',
    leading zeros or '-0'); a fresh NOT_INTEGER error otherwise."""
    try:
        v = int(b)
    except (ValueError, TypeError):
        raise CommandError(errors.NOT_INTEGER) from None
    if not _INT64_MIN <= v <= _INT64_MAX or b"%d" % v != b:
        raise CommandError(errors.NOT_INTEGER)
    return v


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
    raise _WRONGTYPE.with_traceback(None)


# Option flags shared by SET and GETEX (Redis's parseExtendedStringArgumentsOrReply).
_NX, _XX, _GET, _KEEPTTL, _PERSIST = 1, 2, 4, 8, 16
_EX, _PX, _EXAT, _PXAT = 32, 64, 128, 256
_ANY_EXPIRE = _EX | _PX | _EXAT | _PXAT
_EXPIRE_OPTS = {b"EX": _EX, b"PX": _PX, b"EXAT": _EXAT, b"PXAT": _PXAT}


def _opt(arg):
    """An option word as Redis compares it: case-insensitively and as a C
    string (it ends at the first NUL byte)."""
    if b"\0" in arg:
        arg = arg[:arg.index(b"\0")]
    return arg.upper()


def _parse_extended(options, for_set):
    """SET/GETEX options -> (flags, expire argument or None).  Only the
    words are checked here; the expire value is parsed afterwards, as in
    Redis (a syntax error wins over a bad number)."""
    flags = 0
    expire = None
    i = 0
    n = len(options)
    while i < n:
        opt = _opt(options[i])
        if opt == b"NX" and for_set and not flags & _XX:
            flags |= _NX
        elif opt == b"XX" and for_set and not flags & _NX:
            flags |= _XX
        elif opt == b"GET" and for_set:
            flags |= _GET
        elif opt == b"KEEPTTL" and for_set and not flags & (_PERSIST | _ANY_EXPIRE):
            flags |= _KEEPTTL
        elif opt == b"PERSIST" and not for_set and not flags & (_ANY_EXPIRE | _KEEPTTL):
            flags |= _PERSIST
        elif opt in _EXPIRE_OPTS and i + 1 < n and not flags & (
                _KEEPTTL | _PERSIST | (_ANY_EXPIRE & ~_EXPIRE_OPTS[opt])):
            flags |= _EXPIRE_OPTS[opt]
            expire = options[i + 1]
            i += 1
        else:
            raise _SYNTAX.with_traceback(None)
        i += 1
    return flags, expire


def _expire_at_ms(arg, flags, cmdname):
    """Redis's getExpireMillisecondsOrReply: the absolute expiry in ms."""
    v = parse_int(arg)
    seconds = flags & (_EX | _EXAT)
    if v <= 0 or (seconds and v > _INT64_MAX // 1000):
        raise CommandError("ERR invalid expire time in '%s' command" % cmdname)
    if seconds:
        v *= 1000
    if flags & (_EX | _PX):
        v += now_ms()
    if v > _INT64_MAX:   # overflow in Redis's signed arithmetic
        raise CommandError("ERR invalid expire time in '%s' command" % cmdname)
    return v


def _as_bytes(value):
    """A string value as bytes (None stays None); WRONGTYPE for others."""
    t = type(value)
    if t is bytes or value is None:
        return value
    if t is int:
        return b"%d" % value
    raise _WRONGTYPE.with_traceback(None)


def _notify(db, klass, event, key):
    ks = db.keyspace
    if ks.notify_flags:
        ks.notify(klass, event, key, db.id)


@command("set", arity=-3, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key value [NX | XX] [GET] [EX seconds | PX milliseconds | "
                "EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]")
def set_(ctx, key, value, *options):
    """Set the string value of a key."""
    db = ctx.db
    if not options:
        if db.notify_new:
            db.note_new(key)
        db.data[key] = value
        if db.expires:
            db.expires.pop(key, None)
        if not value and db.marks:
            db.marks.pop(key, None)     # (b"" is one object: util.mark_raw_string)
        db.modified_value(key, "set", "$")
        return OK
    flags, expire = _parse_extended(options, True)
    expire_at = _expire_at_ms(expire, flags, "set") if expire is not None else None
    old = db.get(key)
    want_get = flags & _GET
    if want_get:
        reply = _as_bytes(old)
    if (flags & _NX and old is not None) or (flags & _XX and old is None):
        return reply if want_get else None
    db.set(key, value, keepttl=flags & _KEEPTTL)
    if expire_at is not None:
        db.set_expire(key, expire_at)
        # Propagate an absolute time so replicas and the AOF agree.
        ctx.propagate_as = [[b"SET", key, value, b"PXAT", b"%d" % expire_at]]
    elif want_get:
        # Replicas need no reply: propagate without GET (as Redis does).
        ctx.propagate_as = [[b"SET", key, value] + [o for o in options if _opt(o) != b"GET"]]
    db.modified(key, "set", "$")
    if expire_at is not None:
        _notify(db, "g", "expire", key)
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
        if db.notify_new:
            db.note_new(key)
    elif t is bytes:
        try:
            value = parse_int(value)
        except CommandError:
            raise _NOT_INT.with_traceback(None) from None
    else:
        raise _WRONGTYPE.with_traceback(None)
    result = value + delta
    if not _INT64_MIN <= result <= _INT64_MAX:
        raise _OVERFLOW.with_traceback(None)
    db.data[key] = result
    db.modified_value(key, "incrby", "$")
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
         syntax="key value [key value ...]", since="1.0.1")
def mset(ctx, *pairs):
    """Set multiple keys to multiple values."""
    if len(pairs) % 2:
        raise errors.wrong_arity("mset")
    db = ctx.db
    # (a string value stores no container: no GC bookkeeping, modified_value)
    for i in range(0, len(pairs), 2):
        db.set(pairs[i], pairs[i + 1])
        db.modified_value(pairs[i], "set", "$")
    return OK


@command("msetnx", arity=-3, flags=WRITE | DENYOOM, keys=(1, -1, 2), group=G,
         syntax="key value [key value ...]", since="1.0.1")
def msetnx(ctx, *pairs):
    """Set multiple keys to multiple values, only if none of the keys exist."""
    if len(pairs) % 2:
        raise errors.wrong_arity("msetnx")
    db = ctx.db
    for i in range(0, len(pairs), 2):
        if db.get(pairs[i]) is not None:
            return 0
    for i in range(0, len(pairs), 2):
        db.set(pairs[i], pairs[i + 1])
        db.modified(pairs[i], "set", "$")
    return 1


@command("setnx", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key value")
def setnx(ctx, key, value):
    """Set the value of a key, only if the key does not exist."""
    db = ctx.db
    if db.get(key) is not None:
        return 0
    db.set(key, value)
    db.modified(key, "set", "$")
    return 1


def _setex(ctx, key, expire, value, flag, name):
    db = ctx.db
    when = _expire_at_ms(expire, flag, name)
    db.set(key, value)
    db.set_expire(key, when)
    ctx.propagate_as = [[b"SET", key, value, b"PXAT", b"%d" % when]]
    db.modified(key, "set", "$")
    _notify(db, "g", "expire", key)
    return OK


@command("setex", arity=4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key seconds value", since="2.0.0")
def setex(ctx, key, seconds, value):
    """Set the value and expiration of a key."""
    return _setex(ctx, key, seconds, value, _EX, "setex")


@command("psetex", arity=4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key milliseconds value", since="2.6.0")
def psetex(ctx, key, milliseconds, value):
    """Set the value and expiration in milliseconds of a key."""
    return _setex(ctx, key, milliseconds, value, _PX, "psetex")


@command("getset", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key value")
def getset(ctx, key, value):
    """Set the string value of a key and return its old value."""
    db = ctx.db
    old = _as_bytes(db.get(key))
    db.set(key, value)
    db.modified(key, "set", "$")
    ctx.propagate_as = [[b"SET", key, value]]
    return old


@command("getdel", arity=2, flags=WRITE | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="6.2.0")
def getdel(ctx, key):
    """Get the value of a key and delete the key."""
    db = ctx.db
    value = _as_bytes(db.get(key))
    if value is not None:
        db.delete(key)
        ctx.propagate_as = [[b"DEL", key]]
        db.modified(key, "del", "g")
    return value


@command("getex", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key [EX seconds | PX milliseconds | EXAT unix-time-seconds | "
                "PXAT unix-time-milliseconds | PERSIST]", since="6.2.0")
def getex(ctx, key, *options):
    """Get the value of a key and optionally set its expiration."""
    flags, expire = _parse_extended(options, False)
    db = ctx.db
    value = _as_bytes(db.get(key))
    if value is None:
        return None
    if expire is not None:
        when = _expire_at_ms(expire, flags, "getex")
        ks = db.keyspace
        if flags & (_EXAT | _PXAT) and when <= now_ms() and ks.active_expire_enabled \
                and not ks.serving_master_stream:
            # An absolute time already past: the key goes now.
            db.delete(key)
            ctx.propagate_as = [[b"DEL", key]]
            db.modified(key, "del", "g")
        else:
            db.set_expire(key, when)
            ctx.propagate_as = [[b"PEXPIREAT", key, b"%d" % when]]
            db.modified(key, "expire", "g")
    elif flags & _PERSIST:
        if db.persist(key):
            ctx.propagate_as = [[b"PERSIST", key]]
            db.modified(key, "persist", "g")
    return value


def _check_length(ctx, total):
    """Redis's checkStringLength: a string may not outgrow
    proto-max-bulk-len (the master's stream is trusted)."""
    if total > ctx.node.config["protoMaxBulkLen"] and not ctx.is_master:
        raise CommandError(errors.STRING_TOO_LONG)


@command("append", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key value", since="2.0.0")
def append(ctx, key, value):
    """Append a value to a key."""
    db = ctx.db
    old = db.get(key)
    if old is None:
        db.set(key, value)
        total = len(value)
    else:
        old = _as_bytes(old)
        total = len(old) + len(value)
        _check_length(ctx, total)
        new = db.data[key] = old + value       # keeps the TTL
    db.modified(key, "append", "$")
    if old is not None:
        mark_raw_string(db, key, new)
    return total


@command("strlen", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="2.2.0")
def strlen(ctx, key):
    """Get the length of the value stored in a key."""
    value = _as_bytes(ctx.db.get(key))
    return 0 if value is None else len(value)


def _getrange(ctx, key, start, end):
    start = parse_int(start)
    end = parse_int(end)
    value = _as_bytes(ctx.db.get(key))
    if value is None:
        return b""
    n = len(value)
    if start < 0 and end < 0 and start > end:
        return b""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return b""
    return value[start:end + 1]


@command("getrange", arity=4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key start end", since="2.4.0")
def getrange(ctx, key, start, end):
    """Get a substring of the string stored at a key."""
    return _getrange(ctx, key, start, end)


@command("substr", arity=4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key start end", since="1.0.0")
def substr(ctx, key, start, end):
    """Get a substring of the string stored at a key."""
    return _getrange(ctx, key, start, end)


@command("setrange", arity=4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key offset value", since="2.2.0")
def setrange(ctx, key, offset, value):
    """Overwrite part of a string at key starting at the specified offset."""
    offset = parse_int(offset)
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    db = ctx.db
    old = db.get(key)
    if old is None:
        if not value:
            return 0
        _check_length(ctx, offset + len(value))
        new = bytes(offset) + value
        db.set(key, new)
    else:
        old = _as_bytes(old)
        if not value:
            return len(old)
        _check_length(ctx, offset + len(value))
        n = len(old)
        if offset >= n:
            new = old + bytes(offset - n) + value
        else:
            new = old[:offset] + value + old[offset + len(value):]
        db.data[key] = new               # keeps the TTL
    db.modified(key, "setrange", "$")
    mark_raw_string(db, key, new)
    return len(new)


def _long_double_of(value, error):
    """The long double a stored string value holds (0 when absent)."""
    if value is None:
        return numbers.from_int(0)
    if type(value) is int:
        return numbers.from_int(value)
    ld = numbers.parse(value)
    if ld is None:
        raise CommandError(error)
    return ld


@command("incrbyfloat", arity=3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key increment", since="2.6.0")
def incrbyfloat(ctx, key, increment):
    """Increment the float value of a key by the given amount."""
    db = ctx.db
    old = db.get(key)
    if old is not None and type(old) is not bytes and type(old) is not int:
        raise _WRONGTYPE.with_traceback(None)
    value = _long_double_of(old, errors.NOT_FLOAT)
    incr = numbers.parse(increment)
    if incr is None:
        raise CommandError(errors.NOT_FLOAT)
    text = numbers.human(numbers.add(value, incr))
    if text is None:
        raise CommandError(errors.NAN_OR_INF)
    if old is None:
        db.set(key, text)
    else:
        db.data[key] = text              # keeps the TTL
    db.modified(key, "incrbyfloat", "$")
    mark_plain_string(db, key, text)
    # The printed value, not the addition, goes to replicas and the AOF.
    ctx.propagate_as = [[b"SET", key, text, b"KEEPTTL"]]
    return text


# -- LCS --------------------------------------------------------------------
def _bit_masks(text, alphabet):
    """For each byte value in ``alphabet``: an int whose bit k is set where
    text[k] is that byte (built in C: translate + base-2 int parsing)."""
    masks = {}
    rev = text[::-1]
    for ch in alphabet:
        table = bytearray(b"0" * 256)
        table[ch] = 0x31
        masks[ch] = int(rev.translate(bytes(table)), 2) if rev else 0
    return masks


def _lcs(a, b, want_idx, minmatchlen, withmatchlen, walk=True):
    """Redis's LCS: the LCS(i, j) table it builds and the exact backward walk
    it takes, so the string and the ranges are the ones Redis reports.

    The table is computed with the bit-parallel algorithm (Hyyrö): one
    big-int row per byte of the shorter string, a bit per byte of the
    longer one; bit k of ``rows[r]`` is set when LCS(r, k+1) = LCS(r, k)+1,
    so LCS(r, c) is a popcount.  The walk jumps over runs of steps along the
    longer string where nothing can change.
    Returns (length, lcs bytes, matches)."""
    alen, blen = len(a), len(b)
    transposed = alen > blen          # rows over the shorter string
    R, C = (b, a) if transposed else (a, b)
    clen = len(C)
    full = (1 << clen) - 1
    masks = _bit_masks(C, set(R))
    rows = [0]
    v = full
    for ch in R:
        u = v & masks[ch]
        v = ((v + u) | (v - u)) & full
        rows.append(full ^ v)
    total = rows[-1].bit_count()
    if not walk:
        return total, b"", []

    def T(r, c):
        return (rows[r] & ((1 << c) - 1)).bit_count()

    result = bytearray(total)
    idx = total
    matches = []
    # Walk in (r, c) coordinates; ranges are tracked in the same order.
    r, c = len(R), clen
    cur = total                      # LCS(r, c)
    rstart = None                    # None: no range open
    rend = cstart = cend = 0
    while r > 0 and c > 0:
        if rstart is None and cur == 0:
            break                    # no match left: only silent steps remain
        emit = False
        if R[r - 1] == C[c - 1]:
            result[idx - 1] = R[r - 1]
            if rstart is None:
                rstart = rend = r - 1
                cstart = cend = c - 1
            elif rstart == r and cstart == c:
                rstart -= 1
                cstart -= 1
            else:
                emit = True
            if rstart == 0 or cstart == 0:
                emit = True
            idx -= 1
            r -= 1
            c -= 1
            cur -= 1
            col_step = False
        else:
            row_val = T(r - 1, c)
            col_val = cur - ((rows[r] >> (c - 1)) & 1)      # T(r, c-1)
            if transposed:
                col_step = col_val > row_val                  # Redis: lcs1 > lcs2 -> i--
            else:
                col_step = not row_val > col_val
            if col_step:
                c -= 1
                cur = col_val
            else:
                r -= 1
                cur = row_val
            if rstart is not None:
                emit = True
        if emit:
            match_len = rend - rstart + 1
            if want_idx and (minmatchlen == 0 or match_len >= minmatchlen):
                if transposed:
                    m = [[cstart, cend], [rstart, rend]]
                else:
                    m = [[rstart, rend], [cstart, cend]]
                if withmatchlen:
                    m.append(match_len)
                matches.append(m)
            rstart = None
        if col_step and rstart is None and c > 2:
            # Skip the run of identical steps along C: nothing changes until
            # a bit of row r, row r-1 or the mask of R[r-1] is set.
            events = (rows[r] | rows[r - 1] | masks[R[r - 1]]) & ((1 << c) - 1)
            target = events.bit_length() + 1          # highest event + 2
            if target < c:
                # The decision taken at c holds for every position above target.
                row_val = T(r - 1, c)
                col_val = cur - ((rows[r] >> (c - 1)) & 1)
                if R[r - 1] != C[c - 1] and (
                        col_val > row_val if transposed else not row_val > col_val):
                    c = target
                    cur = T(r, c)
    return total, bytes(result), matches


@command("lcs", arity=-3, flags=READONLY, keys=(1, 2, 1), group=G,
         syntax="key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
         since="7.0.0")
def lcs(ctx, key1, key2, *options):
    """Find longest common substring."""
    db = ctx.db
    a = db.get(key1)
    b = db.get(key2)
    for v in (a, b):
        if v is not None and type(v) is not bytes and type(v) is not int:
            raise CommandError("ERR The specified keys must contain string values")
    a = _as_bytes(a) or b""
    b = _as_bytes(b) or b""
    getidx = getlen = withmatchlen = False
    minmatchlen = 0
    i = 0
    n = len(options)
    while i < n:
        opt = _opt(options[i])
        if opt == b"IDX":
            getidx = True
        elif opt == b"LEN":
            getlen = True
        elif opt == b"WITHMATCHLEN":
            withmatchlen = True
        elif opt == b"MINMATCHLEN" and i + 1 < n:
            minmatchlen = max(parse_int(options[i + 1]), 0)
            i += 1
        else:
            raise _SYNTAX.with_traceback(None)
        i += 1
    if getidx and getlen:
        raise CommandError("ERR If you want both the length and indexes, please just use IDX.")
    if len(a) >= 0xFFFFFFFF - 1 or len(b) >= 0xFFFFFFFF - 1:
        raise CommandError("ERR String too long for LCS")
    if (len(a) + 1) * (len(b) + 1) * 4 > ctx.node.config["protoMaxBulkLen"]:
        raise CommandError("ERR Insufficient memory, transient memory for LCS exceeds "
                           "proto-max-bulk-len")
    total, text, matches = _lcs(a, b, getidx, minmatchlen, withmatchlen,
                                walk=getidx or not getlen)
    if getidx:
        return {b"matches": matches, b"len": total}
    if getlen:
        return total
    return text
