"""Sorted set commands.

Values are ``storage.zset.ZSet`` (member -> key dict plus a SortedList of
the keys, which sort by score then member), so ranks, score ranges and lex
ranges are O(log n) lookups plus the size of the reply.

Scores are Python floats; handlers return them and the encoder prints them
as Redis 7.0 does (``%.17g``, ``inf``/``-inf``): a bulk string in RESP2, a
double in RESP3.  Replies "with scores" are flat ``[member, score, ...]``
arrays in RESP2 and arrays of ``[member, score]`` pairs in RESP3, as Redis
sends them.

Argument parsing follows Redis's three flavours of doubles exactly:
``parse_score`` (getDoubleFromObject: no spaces, no overflow, no underflow
to zero), ``parse_range_score`` (the strtod of zslParseRange: leading spaces
and overflow accepted, an empty string is 0) and the lex range items.
"""
import math
import re

from .. import errors
from ..errors import CommandError
from ..storage.compact import as_set
from ..storage.keyspace import release
from ..protocol.resp import NO_REPLY, NULL_ARRAY, Raw, encode_double, format_double
from ..server import blocking
from ..storage.zset import ZSet, LEX_MIN, LEX_MAX
from .registry import (command, keys_after_numkeys, WRITE, READONLY, DENYOOM, FAST,
                       BLOCKING, NOSCRIPT)
from .keys import encoding_of
from .sets import SET_TYPES, parse_scan_cursor, parse_scan_options, positive_long, _range_long
from .util import parse_int, reply_surely_over_limit

G = "sorted_set"


# Fresh error instances: re-raising a shared one grows its traceback.
def _wrongtype():
    return CommandError(errors.WRONGTYPE)


def _syntax():
    return CommandError(errors.SYNTAX)


def _nan_err():
    return CommandError("ERR resulting score is not a number (NaN)")


def _range_err():
    return CommandError("ERR min or max is not a float")


def _lex_err():
    return CommandError("ERR min or max not valid string range item")


_LONG_MAX = (1 << 63) - 1
_INF = math.inf
_signal = blocking.signal_key_ready
_isnan = math.isnan

# -- number parsing -------------------------------------------------------------
_DEC = re.compile(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?\Z")
_INFNAN = re.compile(rb"[+-]?(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)\Z", re.I)
_SPACES = b" \t\n\v\f\r"
_INF_WORDS = {b"inf": _INF, b"+inf": _INF, b"-inf": -_INF}


def _strtod_full(b):
    """strtod over all of ``b`` -> (value, erange) or None if it does not
    consume everything.  erange: the value overflowed (inf) or underflowed
    to zero."""
    if _DEC.match(b):
        v = float(b)
        if math.isinf(v):
            return v, True
        if v == 0.0:
            mant = b.split(b"e")[0].split(b"E")[0]
            return v, any(c in b"123456789" for c in mant)
        return v, False
    if _HEX.match(b):
        try:
            v = float.fromhex(b.decode())
        except OverflowError:
            return (-_INF if b[:1] == b"-" else _INF), True
        if v == 0.0:
            mant = b.lower().lstrip(b"+-")[2:].split(b"p")[0]
            return v, any(c not in b"0." for c in mant)
        return v, False
    if _INFNAN.match(b):
        return float(b.split(b"(")[0]), False
    return None


def parse_score(b, message=errors.NOT_FLOAT):
    """A double as Redis's getDoubleFromObject accepts it."""
    if len(b) < 16:             # the usual integer score (exact: below 2**53)
        if b.isdigit():
            return float(int(b))    # (int() parses bytes faster than float())
        if b[:1] == b"-" and b[1:].isdigit():
            return float(b)         # (keeps "-0" -0.0)
    if not b or b[:1] in _SPACES:
        raise CommandError(message)
    r = _strtod_full(b)
    if r is None:
        raise CommandError(message)
    v, erange = r
    if erange or _isnan(v):
        raise CommandError(message)
    return v


def _range_item(b):
    """One end of a score range -> (value, exclusive) (zslParseRange)."""
    ex = b[:1] == b"("
    if ex:
        b = b[1:]
    if len(b) < 16 and (b.isdigit() or (b[:1] == b"-" and b[1:].isdigit())):
        return float(b), ex     # the usual integer bound
    v = _INF_WORDS.get(b)
    if v is not None:
        return v, ex
    b = b.split(b"\0", 1)[0]
    if not b:
        return 0.0, ex
    r = _strtod_full(b.lstrip(_SPACES))
    if r is None or _isnan(r[0]):
        raise _range_err()
    return r[0], ex


def parse_score_range(bmin, bmax):
    smin, minex = _range_item(bmin)
    smax, maxex = _range_item(bmax)
    return smin, minex, smax, maxex


def _lex_item(b):
    c = b[:1]
    if c == b"+":
        if b[1:2] not in (b"", b"\0"):
            raise _lex_err()
        return LEX_MAX, True
    if c == b"-":
        if b[1:2] not in (b"", b"\0"):
            raise _lex_err()
        return LEX_MIN, True
    if c == b"(":
        return b[1:], True
    if c == b"[":
        return b[1:], False
    raise _lex_err()


def parse_lex_range(bmin, bmax):
    lmin, minex = _lex_item(bmin)
    lmax, maxex = _lex_item(bmax)
    return lmin, minex, lmax, maxex


# -- helpers ----------------------------------------------------------------------
def _get_zset(db, key):
    value = db.get(key)
    if value is not None and type(value) is not ZSet:
        raise _wrongtype()
    return value


def _deleted(db, key):
    db.delete(key)
    db.modified(key, "del", "g", dirty=0)


def _store_result(ctx, dst, zs, event):
    """Store a computed sorted set at ``dst`` (replacing any value, clearing
    its TTL) or delete ``dst`` when the result is empty.  Returns the
    cardinality."""
    db = ctx.db
    if zs is not None and len(zs):
        release(db.data.get(dst))    # a big overwritten value is freed in the background
        db.set(dst, zs)
        db.modified(dst, event)
        _signal(db, dst)
        return len(zs)
    if db.get(dst) is not None:
        db.delete(dst)
        db.modified(dst, "del", "g")
    return 0


def _with_scores(ctx, pairs):
    """[(member, score)] -> the WITHSCORES reply for the client's protocol."""
    if ctx.resp3:
        return [[m, s] for m, s in pairs]
    out = []
    for m, s in pairs:
        out.append(m)
        out.append(s)
    return out


def _reply_pairs(ctx, pairs, withscores):
    if withscores:
        return _with_scores(ctx, pairs)
    return [m for m, _ in pairs]


# -- ZADD / ZINCRBY -----------------------------------------------------------------
_OPTION_START = frozenset(b"nNxXcCiIgGlL")


def _zadd_generic(ctx, key, args, incr=False):
    nx = xx = gt = lt = ch = False
    i, n = 0, len(args)
    while i < n:
        opt = args[i]
        if not opt or len(opt) > 4 or opt[0] not in _OPTION_START:
            break               # a score: options are over
        opt = opt.lower()
        if opt == b"nx":
            nx = True
        elif opt == b"xx":
            xx = True
        elif opt == b"ch":
            ch = True
        elif opt == b"incr":
            incr = True
        elif opt == b"gt":
            gt = True
        elif opt == b"lt":
            lt = True
        else:
            break
        i += 1
    rest = args[i:]
    if not rest or len(rest) % 2:
        raise _syntax()
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not compatible")
    if incr and len(rest) > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = [parse_score(rest[j]) for j in range(0, len(rest), 2)]
    db = ctx.db
    zs = _get_zset(db, key)
    created = False
    if zs is None:
        if xx:
            return None if incr else 0
        zs = ZSet()
        created = True
    added = updated = processed = 0
    newscore = None
    cur_score = zs.score
    for j, score in enumerate(scores):
        member = rest[2 * j + 1]
        cur = cur_score(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score = cur + score
                if _isnan(score):
                    raise _nan_err()
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            newscore = score
            if score != cur:
                zs.add(member, score)
                updated += 1
            processed += 1
        elif not xx:
            zs.add(member, score)
            newscore = score
            added += 1
            processed += 1
    if created and len(zs):
        db.set(key, zs)
    if added or updated:
        db.modified(key, "zincr" if incr else "zadd", dirty=added + updated)
        if added:
            _signal(db, key)
    if incr:
        return newscore if processed else None
    return added + updated if ch else added


@command("zadd", arity=-4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
         since="1.2.0")
def zadd(ctx, key, score, member, *args):
    """Add one or more members to a sorted set, or update its score if it already exists."""
    if not args and score and score[0] not in _OPTION_START:
        # The usual ZADD key score member: no options to look for (a first
        # word that cannot start an option is the score), and, for a sorted
        # set stored already, just ZSet.add (it keeps its index untracked
        # by the GC itself: modified_value).
        score = parse_score(score)
        db = ctx.db
        zs = db.data.get(key)
        if type(zs) is not ZSet or db.expires:     # absent, maybe expired, or another type
            zs = _get_zset(db, key)
            if zs is None:
                zs = ZSet()
                zs.add(member, score)
                db.set(key, zs)
                db.modified(key, "zadd")
                _signal(db, key)
                return 1
        r = zs.add(member, score)       # 1 added, 0 score changed, None same score
        if r is None:
            return 0
        db.modified_value(key, "zadd", "z")
        if r:
            _signal(db, key)
        return r
    return _zadd_generic(ctx, key, (score, member) + args)


@command("zincrby", arity=4, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key increment member", since="1.2.0")
def zincrby(ctx, key, increment, member):
    """Increment the score of a member in a sorted set."""
    return _zadd_generic(ctx, key, (increment, member), incr=True)


# -- simple reads and removals -----------------------------------------------------------
@command("zrem", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key member [member ...]", since="1.2.0")
def zrem(ctx, key, *members):
    """Remove one or more members from a sorted set."""
    db = ctx.db
    zs = _get_zset(db, key)
    if zs is None:
        return 0
    deleted = 0
    for m in members:
        if zs.remove(m):
            deleted += 1
            if not len(zs):
                break
    if deleted:
        db.modified(key, "zrem", dirty=deleted)
        if not len(zs):
            _deleted(db, key)
    return deleted


@command("zcard", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key", since="1.2.0")
def zcard(ctx, key):
    """Get the number of members in a sorted set."""
    zs = _get_zset(ctx.db, key)
    return len(zs) if zs is not None else 0


@command("zscore", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member", since="1.2.0")
def zscore(ctx, key, member):
    """Get the score associated with the given member in a sorted set."""
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return None
    return zs.score(member)


@command("zmscore", arity=-3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member [member ...]", since="6.2.0")
def zmscore(ctx, key, *members):
    """Get the score associated with the given members in a sorted set."""
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return [None] * len(members)
    get = zs.score
    return [get(m) for m in members]


def _rank(ctx, key, member, reverse):
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return None
    r = zs.rank(member)
    if r is None:
        return None
    return len(zs) - 1 - r if reverse else r


@command("zrank", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member", since="2.0.0")
def zrank(ctx, key, member):
    """Determine the index of a member in a sorted set."""
    return _rank(ctx, key, member, False)


@command("zrevrank", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member", since="2.0.0")
def zrevrank(ctx, key, member):
    """Determine the index of a member in a sorted set, with scores ordered from high to low."""
    return _rank(ctx, key, member, True)


@command("zcount", arity=4, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key min max", since="2.0.0")
def zcount(ctx, key, bmin, bmax):
    """Count the members in a sorted set with scores within the given values."""
    rng = parse_score_range(bmin, bmax)
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return 0
    lo, hi = zs.score_bounds(*rng)
    return hi - lo


@command("zlexcount", arity=4, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key min max", since="2.8.9")
def zlexcount(ctx, key, bmin, bmax):
    """Count the number of members in a sorted set between a given lexicographical range."""
    rng = parse_lex_range(bmin, bmax)
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return 0
    lo, hi = zs.lex_bounds(*rng)
    return hi - lo


# -- ranges -----------------------------------------------------------------------------------
_RANK, _SCORE, _LEX = 0, 1, 2


def _rank_bounds(start, end, llen):
    """Redis's index sanitising -> (lo, hi) positions, or None if empty."""
    if start < 0:
        start += llen
    if end < 0:
        end += llen
    if start < 0:
        start = 0
    if start > end or start >= llen:
        return None
    if end >= llen:
        end = llen - 1
    return start, end + 1


def _zrange_generic(ctx, args, store, rangetype=None, reverse=None):
    """Redis's zrangeGenericCommand.  ``args`` starts at the source key
    (after the destination for ZRANGESTORE).  ``rangetype``/``reverse``
    None means "from the options" (ZRANGE, ZRANGESTORE).  Returns
    (items, withscores): items are (member, score) pairs for ZRANGESTORE
    and WITHSCORES, else just the members (no scores decoded)."""
    key = args[0]
    withscores = False
    offset, limit = 0, -1
    i, n = 3, len(args)
    while i < n:
        opt = args[i].lower()
        left = n - i - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = parse_int(args[i + 1])
            limit = parse_int(args[i + 2])
            i += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype is None and opt == b"bylex":
            rangetype = _LEX
        elif rangetype is None and opt == b"byscore":
            rangetype = _SCORE
        else:
            raise _syntax()
        i += 1
    if reverse is None:
        reverse = False
    if rangetype is None:
        rangetype = _RANK
    if limit != -1 and rangetype == _RANK:
        raise CommandError("ERR syntax error, LIMIT is only supported in combination "
                           "with either BYSCORE or BYLEX")
    if withscores and rangetype == _LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    bmin, bmax = args[1], args[2]
    if reverse and rangetype != _RANK:
        bmin, bmax = bmax, bmin
    if rangetype == _RANK:
        start = parse_int(bmin)
        end = parse_int(bmax)
    elif rangetype == _SCORE:
        srange = parse_score_range(bmin, bmax)
    else:
        lrange = parse_lex_range(bmin, bmax)
    scores = withscores or store
    zs = _get_zset(ctx.db, key)
    if zs is None:
        pairs = []
    elif rangetype == _RANK:
        llen = len(zs)
        b = _rank_bounds(start, end, llen)
        if b is None:
            pairs = []
        elif reverse:
            pairs = zs.slice(llen - b[1], llen - b[0], True, scores)
        else:
            pairs = zs.slice(b[0], b[1], False, scores)
    elif rangetype == _SCORE:
        lo, hi = zs.score_bounds(*srange)
        pairs = zs.window(lo, hi, reverse, offset, limit, scores)
    else:
        pairs = zs.lex_range(*lrange, reverse=reverse, offset=offset, limit=limit,
                             scores=scores)
    return pairs, withscores


def _range_reply(ctx, args, rangetype=None, reverse=None):
    """The reply of ZRANGE and its older forms."""
    items, withscores = _zrange_generic(ctx, args, False, rangetype, reverse)
    return _with_scores(ctx, items) if withscores else items


@command("zrange", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
         since="1.2.0")
def zrange(ctx, *args):
    """Return a range of members in a sorted set."""
    return _range_reply(ctx, args)


@command("zrangestore", arity=-5, flags=WRITE | DENYOOM, keys=(1, 2, 1), group=G,
         syntax="dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
         since="6.2.0")
def zrangestore(ctx, dst, *args):
    """Store a range of members from sorted set into another key."""
    pairs, _ = _zrange_generic(ctx, args, True)
    return _store_result(ctx, dst, ZSet(pairs) if pairs else None, "zrangestore")


@command("zrevrange", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key start stop [WITHSCORES]", since="1.2.0")
def zrevrange(ctx, *args):
    """Return a range of members in a sorted set, by index, with scores ordered from high to low."""
    return _range_reply(ctx, args, _RANK, True)


@command("zrangebyscore", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key min max [WITHSCORES] [LIMIT offset count]", since="1.0.5")
def zrangebyscore(ctx, *args):
    """Return a range of members in a sorted set, by score."""
    return _range_reply(ctx, args, _SCORE, False)


@command("zrevrangebyscore", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key max min [WITHSCORES] [LIMIT offset count]", since="2.2.0")
def zrevrangebyscore(ctx, *args):
    """Return a range of members in a sorted set, by score, with scores ordered from high to low."""
    return _range_reply(ctx, args, _SCORE, True)


@command("zrangebylex", arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key min max [LIMIT offset count]", since="2.8.9")
def zrangebylex(ctx, *args):
    """Return a range of members in a sorted set, by lexicographical range."""
    return _range_reply(ctx, args, _LEX, False)


@command("zrevrangebylex", summary='Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.', arity=-4, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key max min [LIMIT offset count]", since="2.8.9")
def zrevrangebylex(ctx, *args):
    """Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings."""  # noqa: E501
    return _range_reply(ctx, args, _LEX, True)


def _zremrange(ctx, key, bmin, bmax, rangetype):
    if rangetype == _RANK:
        start = parse_int(bmin)
        end = parse_int(bmax)
    elif rangetype == _SCORE:
        srange = parse_score_range(bmin, bmax)
    else:
        lrange = parse_lex_range(bmin, bmax)
    db = ctx.db
    zs = _get_zset(db, key)
    if zs is None:
        return 0
    if rangetype == _RANK:
        b = _rank_bounds(start, end, len(zs))
        if b is None:
            return 0
        lo, hi = b
    elif rangetype == _SCORE:
        lo, hi = zs.score_bounds(*srange)
    else:
        lo, hi = zs.lex_bounds(*lrange)
    deleted = zs.delete_slice(lo, hi)
    if deleted:
        db.modified(key, ("zremrangebyrank", "zremrangebyscore", "zremrangebylex")[rangetype],
                    dirty=deleted)
        if not len(zs):
            _deleted(db, key)
    return deleted


@command("zremrangebyrank", arity=4, flags=WRITE, keys=(1, 1, 1), group=G,
         syntax="key start stop", since="2.0.0")
def zremrangebyrank(ctx, key, start, stop):
    """Remove all members in a sorted set within the given indexes."""
    return _zremrange(ctx, key, start, stop, _RANK)


@command("zremrangebyscore", arity=4, flags=WRITE, keys=(1, 1, 1), group=G,
         syntax="key min max", since="1.2.0")
def zremrangebyscore(ctx, key, bmin, bmax):
    """Remove all members in a sorted set within the given scores."""
    return _zremrange(ctx, key, bmin, bmax, _SCORE)


@command("zremrangebylex", arity=4, flags=WRITE, keys=(1, 1, 1), group=G,
         syntax="key min max", since="2.8.9")
def zremrangebylex(ctx, key, bmin, bmax):
    """Remove all members in a sorted set between the given lexicographical range."""
    return _zremrange(ctx, key, bmin, bmax, _LEX)


# -- pops ---------------------------------------------------------------------------------------
def pop_zset(ctx, key, count, from_max):
    """Pop up to ``count`` members with the lowest (``from_max``: highest)
    scores from the sorted set at ``key``: a list of (member, score) in pop
    order.  Deletes the key when it becomes empty and sends the
    notifications.  [] when the key is missing; WRONGTYPE for another type."""
    db = ctx.db
    zs = _get_zset(db, key)
    if zs is None or count <= 0:
        return []
    popped = zs.pop(count, from_max)
    if popped:
        db.modified(key, "zpopmax" if from_max else "zpopmin", dirty=len(popped))
        if not len(zs):
            _deleted(db, key)
    return popped


def _zpop_command(ctx, key, args, from_max):
    if len(args) > 1:
        raise _syntax()
    count = positive_long(args[0]) if args else -1
    # (pop_zset checks the type, and pops nothing for a missing key or 0)
    popped = pop_zset(ctx, key, 1 if count == -1 else count, from_max)
    if count == -1 or not ctx.resp3:
        out = []
        for m, s in popped:
            out.append(m)
            out.append(s)
        return out
    return [[m, s] for m, s in popped]


def _zpop_one(ctx, key, from_max):
    """ZPOPMIN/ZPOPMAX key: pop_zset and _zpop_command for one member,
    the lookup inline and no GC bookkeeping (ZSet.pop_one keeps the index
    untracked)."""
    db = ctx.db
    zs = db.data.get(key)
    if zs is None:
        return []
    if type(zs) is not ZSet or db.expires:     # maybe expired, or another type
        zs = _get_zset(db, key)
        if zs is None:
            return []
    member, score = zs.pop_one(from_max)
    db.modified_value(key, "zpopmax" if from_max else "zpopmin", "z")
    if not zs.members:
        _deleted(db, key)
    return _member_score_reply(ctx.resp3, member, score)


def _member_score_reply(resp3, member, score):
    """The flat [member, score] reply, encoded here: resp.encode's general
    path for a list holding a float costs more than the pop itself."""
    return Raw(b"*2\r\n$%d\r\n%s\r\n%s" % (len(member), member, encode_double(score, resp3)))


@command("zpopmin", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key [count]", since="5.0.0")
def zpopmin(ctx, key, *args):
    """Remove and return members with the lowest scores in a sorted set."""
    if args:
        return _zpop_command(ctx, key, args, False)
    return _zpop_one(ctx, key, False)


@command("zpopmax", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key [count]", since="5.0.0")
def zpopmax(ctx, key, *args):
    """Remove and return members with the highest scores in a sorted set."""
    if args:
        return _zpop_command(ctx, key, args, True)
    return _zpop_one(ctx, key, True)


def _parse_mpop(args):
    """``numkeys key [key ...] MIN|MAX [COUNT count]`` -> (keys, from_max,
    count)."""
    numkeys = _range_long(args[0], 1, _LONG_MAX, "numkeys should be greater than 0")
    where_idx = numkeys + 1
    if where_idx >= len(args):
        raise _syntax()
    where = args[where_idx].lower()
    if where == b"min":
        from_max = False
    elif where == b"max":
        from_max = True
    else:
        raise _syntax()
    count = -1
    j = where_idx + 1
    while j < len(args):
        if count == -1 and args[j].lower() == b"count" and j + 1 < len(args):
            count = _range_long(args[j + 1], 1, _LONG_MAX, "count should be greater than 0")
            j += 2
        else:
            raise _syntax()
    return args[1:where_idx], from_max, (1 if count == -1 else count)


def _mpop_serve(ctx, key, from_max, count):
    popped = pop_zset(ctx, key, count, from_max)
    if not popped:
        return None
    # As Redis: ZPOPMIN/ZPOPMAX with the count actually popped.
    ctx.propagate_as = [[b"zpopmax" if from_max else b"zpopmin", key, b"%d" % len(popped)]]
    return [key, [[m, s] for m, s in popped]]


@command("zmpop", arity=-4, flags=WRITE, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] MIN | MAX [COUNT count]", since="7.0.0")
def zmpop(ctx, *args):
    """Remove and return members with scores in a sorted set."""
    keys, from_max, count = _parse_mpop(args)
    db = ctx.db
    for key in keys:
        zs = _get_zset(db, key)
        if zs is None:
            continue
        return _mpop_serve(ctx, key, from_max, count)
    return NULL_ARRAY


@command("bzpopmin", arity=-3, flags=WRITE | NOSCRIPT | FAST | BLOCKING, keys=(1, -2, 1),
         group=G, syntax="key [key ...] timeout", since="5.0.0")
def bzpopmin(ctx, *args):
    """Remove and return the member with the lowest score from one or more sorted sets, or block until one is available."""  # noqa: E501
    return _bzpop(ctx, args, False)


@command("bzpopmax", arity=-3, flags=WRITE | NOSCRIPT | FAST | BLOCKING, keys=(1, -2, 1),
         group=G, syntax="key [key ...] timeout", since="5.0.0")
def bzpopmax(ctx, *args):
    """Remove and return the member with the highest score from one or more sorted sets, or block until one is available."""  # noqa: E501
    return _bzpop(ctx, args, True)


def _bzpop(ctx, args, from_max):
    timeout_ms = blocking.parse_timeout(args[-1])
    name = b"zpopmax" if from_max else b"zpopmin"

    def try_serve(key):
        popped = pop_zset(ctx, key, 1, from_max)
        if not popped:
            return None
        member, score = popped[0]
        ctx.propagate_as = [[name, key]]
        return [key, member, score]

    result = blocking.block_on_keys(ctx, args[:-1], timeout_ms, try_serve, ZSet)
    return NULL_ARRAY if result is None else result


@command("bzmpop", arity=-5, flags=WRITE | BLOCKING, keys=keys_after_numkeys(2), group=G,
         syntax="timeout numkeys key [key ...] MIN | MAX [COUNT count]", since="7.0.0")
def bzmpop(ctx, timeout, *args):
    """Remove and return members with scores in a sorted set or block until one is available."""
    keys, from_max, count = _parse_mpop(args)
    timeout_ms = blocking.parse_timeout(timeout)

    def try_serve(key):
        return _mpop_serve(ctx, key, from_max, count)

    result = blocking.block_on_keys(ctx, keys, timeout_ms, try_serve, ZSet)
    return NULL_ARRAY if result is None else result


# -- random members ---------------------------------------------------------------------------
@command("zrandmember", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [count [WITHSCORES]]", since="6.2.0")
def zrandmember(ctx, key, *args):
    """Get one or multiple random elements from a sorted set."""
    rng = ctx.node.rng
    if not args:
        zs = _get_zset(ctx.db, key)
        if zs is None:
            return None
        return zs.at(rng.randrange(len(zs)))[0]
    count = _range_long(args[0], -_LONG_MAX, _LONG_MAX)
    withscores = False
    if len(args) > 2 or (len(args) == 2 and args[1].lower() != b"withscores"):
        raise _syntax()
    if len(args) == 2:
        withscores = True
        if count < -(_LONG_MAX // 2) or count > _LONG_MAX // 2:
            raise CommandError("ERR value is out of range")
    zs = _get_zset(ctx.db, key)
    if zs is None or count == 0:
        return []
    size = len(zs)
    if count < 0:
        if reply_surely_over_limit(ctx, -count * (2 if withscores else 1)):
            return NO_REPLY
        at = zs.at
        pairs = [at(rng.randrange(size)) for _ in range(-count)]
    elif count >= size:
        pairs = zs.slice(0, size, reverse=True)
    else:
        at = zs.at
        pairs = [at(i) for i in rng.sample(range(size), count)]
    return _reply_pairs(ctx, pairs, withscores)


# -- ZSCAN ------------------------------------------------------------------------------------
@command("zscan", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key cursor [MATCH pattern] [COUNT count]", since="2.8.0")
def zscan(ctx, key, cursor, *options):
    """Incrementally iterate sorted sets elements and associated scores."""
    cur = parse_scan_cursor(cursor)
    zs = _get_zset(ctx.db, key)
    if zs is None:
        return [b"0", []]
    match, count = parse_scan_options(options)
    scans = ctx.node.keyspace.scans
    if len(zs) <= count or encoding_of(ctx, zs) == b"listpack":
        # A listpack-encoded sorted set in Redis comes whole, in order.
        nxt, pairs = 0, zs.slice(0, len(zs))
    else:
        nxt, chunk = scans.scan(zs.members, cur, count)
        score = zs.score
        pairs = [(m, s) for m, s in zip(chunk, map(score, chunk)) if s is not None]
    out = []
    for m, s in pairs:
        if match is None or match(m):
            out.append(m)
            out.append(format_double(s))
    return [b"%d" % nxt, out]


# -- ZUNION / ZINTER / ZDIFF --------------------------------------------------------------------
_UNION, _INTER, _DIFF = 0, 1, 2
_SUM, _MIN, _MAX = 0, 1, 2


def _members_scores(src):
    """(member, score) pairs of a source (ZSet or set: score 1)."""
    if type(src) is ZSet:
        return src.score_items()
    return ((m, 1.0) for m in src)


def _score_of(src, member):
    if type(src) is ZSet:
        return src.score(member)
    return 1.0 if member in src else None


def _aggregate(target, val, agg):
    if agg == _SUM:
        r = target + val
        return 0.0 if r != r else r
    if agg == _MIN:
        return val if val < target else target
    return val if val > target else target


def _zsetop(ctx, dstkey, numkeys, rest, op, cmdname, cardinality_only=False):
    """Redis's zunionInterDiffGenericCommand -> dict member -> score (or the
    cardinality), plus withscores."""
    setnum = parse_int(numkeys)
    if setnum < 1:
        raise CommandError("ERR at least 1 input key is needed for '%s' command" % cmdname)
    if setnum > len(rest):
        raise _syntax()
    db = ctx.db
    srcs = []
    for k in rest[:setnum]:
        v = db.get(k)
        if v is not None and type(v) is not ZSet:
            if type(v) not in SET_TYPES:
                raise _wrongtype()
            v = as_set(v)            # a compact set's members, to read
        srcs.append(v)
    weights = [1.0] * setnum
    agg = _SUM
    withscores = False
    limit = 0
    j = setnum
    remaining = len(rest) - j
    while remaining:
        opt = rest[j].lower()
        if op != _DIFF and not cardinality_only and remaining >= setnum + 1 \
                and opt == b"weights":
            j += 1
            remaining -= 1
            for i in range(setnum):
                weights[i] = parse_score(rest[j], "ERR weight value is not a float")
                j += 1
                remaining -= 1
        elif op != _DIFF and not cardinality_only and remaining >= 2 and opt == b"aggregate":
            a = rest[j + 1].lower()
            if a == b"sum":
                agg = _SUM
            elif a == b"min":
                agg = _MIN
            elif a == b"max":
                agg = _MAX
            else:
                raise _syntax()
            j += 2
            remaining -= 2
        elif remaining >= 1 and dstkey is None and not cardinality_only \
                and opt == b"withscores":
            withscores = True
            j += 1
            remaining -= 1
        elif cardinality_only and remaining >= 2 and opt == b"limit":
            limit = positive_long(rest[j + 1], "LIMIT can't be negative")
            j += 2
            remaining -= 2
        else:
            raise _syntax()

    if op == _DIFF:
        first = srcs[0]
        result = {}
        if first:
            others = [s for s in srcs[1:] if s]
            for m, s in _members_scores(first):
                for o in others:
                    if m in o:
                        break
                else:
                    result[m] = s
        return result, withscores

    # Inputs ordered by cardinality (a stable sort, as Redis's qsort here).
    order = sorted(range(setnum), key=lambda i: len(srcs[i]) if srcs[i] else 0)
    srcs = [srcs[i] for i in order]
    weights = [weights[i] for i in order]

    if op == _INTER:
        result = {}
        count = 0
        first = srcs[0]
        if first:
            w0 = weights[0]
            others = list(zip(srcs[1:], weights[1:]))
            for m, s in _members_scores(first):
                score = w0 * s
                if score != score:
                    score = 0.0
                for o, w in others:
                    if o is first:
                        value = s * w
                    else:
                        value = _score_of(o, m)
                        if value is None:
                            break
                        value *= w
                    score = _aggregate(score, value, agg)
                else:
                    if cardinality_only:
                        count += 1
                        if limit and count >= limit:
                            break
                    else:
                        result[m] = score
        if cardinality_only:
            return count, False
        return result, withscores

    result = {}
    for src, w in zip(srcs, weights):
        if not src:
            continue
        for m, s in _members_scores(src):
            score = w * s
            if score != score:
                score = 0.0
            old = result.get(m)
            result[m] = score if old is None else _aggregate(old, score, agg)
    return result, withscores


def _sorted_pairs(result):
    return [(m, s) for s, m in sorted((s, m) for m, s in result.items())]


def _zsetop_reply(ctx, numkeys, rest, op, cmdname):
    result, withscores = _zsetop(ctx, None, numkeys, rest, op, cmdname)
    pairs = _sorted_pairs(result)
    return _reply_pairs(ctx, pairs, withscores)


def _zsetop_store(ctx, dst, numkeys, rest, op, cmdname, event):
    result, _ = _zsetop(ctx, dst, numkeys, rest, op, cmdname)
    return _store_result(ctx, dst, ZSet.from_scores(result) if result else None, event)


@command("zunion", arity=-3, flags=READONLY, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] [WEIGHTS weight [weight ...]] "
                "[AGGREGATE SUM | MIN | MAX] [WITHSCORES]", since="6.2.0")
def zunion(ctx, numkeys, *rest):
    """Add multiple sorted sets."""
    return _zsetop_reply(ctx, numkeys, rest, _UNION, "zunion")


@command("zinter", arity=-3, flags=READONLY, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] [WEIGHTS weight [weight ...]] "
                "[AGGREGATE SUM | MIN | MAX] [WITHSCORES]", since="6.2.0")
def zinter(ctx, numkeys, *rest):
    """Intersect multiple sorted sets."""
    return _zsetop_reply(ctx, numkeys, rest, _INTER, "zinter")


@command("zdiff", arity=-3, flags=READONLY, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] [WITHSCORES]", since="6.2.0")
def zdiff(ctx, numkeys, *rest):
    """Subtract multiple sorted sets."""
    return _zsetop_reply(ctx, numkeys, rest, _DIFF, "zdiff")


@command("zintercard", arity=-3, flags=READONLY, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] [LIMIT limit]", since="7.0.0")
def zintercard(ctx, numkeys, *rest):
    """Intersect multiple sorted sets and return the cardinality of the result."""
    count, _ = _zsetop(ctx, None, numkeys, rest, _INTER, "zintercard", cardinality_only=True)
    return count


@command("zunionstore", arity=-4, flags=WRITE | DENYOOM, keys=keys_after_numkeys(2, extra_first=1),
         group=G, syntax="destination numkeys key [key ...] [WEIGHTS weight [weight ...]] "
                         "[AGGREGATE SUM | MIN | MAX]", since="2.0.0")
def zunionstore(ctx, destination, numkeys, *rest):
    """Add multiple sorted sets and store the resulting sorted set in a new key."""
    return _zsetop_store(ctx, destination, numkeys, rest, _UNION, "zunionstore", "zunionstore")


@command("zinterstore", arity=-4, flags=WRITE | DENYOOM, keys=keys_after_numkeys(2, extra_first=1),
         group=G, syntax="destination numkeys key [key ...] [WEIGHTS weight [weight ...]] "
                         "[AGGREGATE SUM | MIN | MAX]", since="2.0.0")
def zinterstore(ctx, destination, numkeys, *rest):
    """Intersect multiple sorted sets and store the resulting sorted set in a new key."""
    return _zsetop_store(ctx, destination, numkeys, rest, _INTER, "zinterstore", "zinterstore")


@command("zdiffstore", arity=-4, flags=WRITE | DENYOOM, keys=keys_after_numkeys(2, extra_first=1),
         group=G, syntax="destination numkeys key [key ...]", since="6.2.0")
def zdiffstore(ctx, destination, numkeys, *rest):
    """Subtract multiple sorted sets and store the resulting sorted set in a new key."""
    return _zsetop_store(ctx, destination, numkeys, rest, _DIFF, "zdiffstore", "zdiffstore")
