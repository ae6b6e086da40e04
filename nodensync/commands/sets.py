"""Set commands.

A set is a Python ``set`` of bytes or, while small, a compact form from
``storage.compact`` (``IntSet``: Redis's intset; ``PackedSet``: Redis 7.2's
listpack); ``compact`` has the operations over all three forms.  Empty sets are never stored: the
key is deleted (with a ``del`` notification after the command's own event),
as Redis does.

Random picks in a compact set: a random index into its members (exactly
uniform).  A Python set has no random access.  While its hash table is
small a pick is exactly uniform (a random position, O(table)).  A big table
is walked with the set's own O(1) pop finger (``pop`` then ``add`` back),
skipping a random number of members each time: members come in hash order,
a permutation seeded per process, so every member is reachable and no pick
costs more than a few steps, which keeps SPOP and SRANDMEMBER O(1) on huge
sets (and draining a set with SPOP linear: the finger never rescans).
"""
import itertools
import sys

from .. import errors
from ..errors import CommandError
from ..protocol.resp import NO_REPLY, OrderedSet
from ..storage.compact import (IntSet, PackedSet, as_set, compact_pop, compact_set, set_add,
                               set_contains, set_len, set_members, set_remove)
from ..storage.keyspace import release
from .registry import command, keys_after_numkeys, WRITE, READONLY, DENYOOM, FAST
from .util import glob_matcher, parse_int, reply_surely_over_limit, try_int

G = "set"


# Fresh error instances: re-raising a shared one grows its traceback.
def _wrongtype():
    return CommandError(errors.WRONGTYPE)


def _syntax():
    return CommandError(errors.SYNTAX)


_LONG_MAX = (1 << 63) - 1
_ULONG_MAX = (1 << 64) - 1
_SMALL_TABLE = 33 * 1024    # sys.getsizeof of a set: up to ~1300 members, exact picks
_MAX_SKIP = 8
_PROPAGATE_BATCH = 1024
_SPACES = b" \t\n\v\f\r"


# -- helpers ------------------------------------------------------------------

SET_TYPES = (set, IntSet, PackedSet)


def _get_set(db, key):
    """The stored set at key (any form), None when absent, WRONGTYPE for
    another type."""
    value = db.get(key)
    if value is not None and type(value) not in SET_TYPES:
        raise _wrongtype()
    return value


def _replace(db, key, old, new):
    """Store the new form of a changed set (compact forms are immutable);
    the key keeps its TTL."""
    if new is not old and new is not None:
        db.set(key, new, keepttl=True)


def _deleted(db, key):
    """The container at key became empty: drop it, notify ``del``."""
    db.delete(key)
    db.modified(key, "del", "g", dirty=0)


def _range_long(b, lo, hi, msg=None):
    """Redis's getRangeLongFromObjectOrReply."""
    try:
        v = parse_int(b)
    except CommandError:
        raise CommandError("ERR " + msg if msg else errors.NOT_INTEGER) from None
    if v < lo or v > hi:
        if msg:
            raise CommandError("ERR " + msg)
        raise CommandError("ERR value is out of range, value must between %d and %d" % (lo, hi))
    return v


def positive_long(b, msg="value is out of range, must be positive"):
    """Redis's getPositiveLongFromObjectOrReply: the same message for a
    non-integer and for a negative value."""
    return _range_long(b, 0, _LONG_MAX, msg)


def parse_scan_cursor(b):
    """Redis's parseScanCursorOrReply: strtoul(..., 10) on the whole
    argument, leading whitespace refused, negative numbers wrap."""
    if b[:1] and b[:1] in _SPACES:
        raise CommandError("ERR invalid cursor")
    b = b.split(b"\0", 1)[0]
    if not b:
        return 0
    neg = b[:1] == b"-"
    digits = b[1:] if b[:1] in (b"-", b"+") else b
    if not digits or not digits.isdigit():
        raise CommandError("ERR invalid cursor")
    v = int(digits)
    if v > _ULONG_MAX:
        raise CommandError("ERR invalid cursor")
    return (-v) & _ULONG_MAX if neg else v


def parse_scan_options(args, allow_type=False):
    """SCAN-family options after the cursor -> (match predicate or None,
    count)."""
    count = 10
    match = None
    i, n = 0, len(args)
    while i < n:
        opt = args[i].lower()
        left = n - i
        if opt == b"count" and left >= 2:
            count = parse_int(args[i + 1])
            if count < 1:
                raise _syntax()
            i += 2
        elif opt == b"match" and left >= 2:
            pat = args[i + 1]
            match = None if pat == b"*" else glob_matcher(pat)
            i += 2
        else:
            raise _syntax()
    return match, count


def _intset_order(members):
    """Members in the order Redis's intset encoding keeps them (ascending
    integers) when they all are canonical integers, else unchanged."""
    nums = []
    for m in members:
        v = try_int(m)
        if v is None:
            return list(members)
        nums.append((v, m))
    nums.sort()
    return [m for _, m in nums]


def _small_table(s):
    return sys.getsizeof(s) <= _SMALL_TABLE


def _walk(rng, s):
    """The member a few random steps further along the set's pop finger
    (the set is unchanged)."""
    pop, add = s.pop, s.add
    m = pop()
    add(m)
    for _ in range(int(rng.random() * _MAX_SKIP)):
        m = pop()
        add(m)
    return m


def _random_member(rng, s):
    if type(s) is not set:
        seq = set_members(s)
        return seq[rng.randrange(len(seq))]
    if _small_table(s):
        return next(itertools.islice(s, rng.randrange(len(s)), None))
    return _walk(rng, s)


def _pop_random(rng, s):
    """Remove and return a random member."""
    if _small_table(s):
        m = next(itertools.islice(s, rng.randrange(len(s)), None))
        s.discard(m)
        return m
    pop, add = s.pop, s.add
    for _ in range(int(rng.random() * _MAX_SKIP)):
        add(pop())
    return pop()


def _sample(rng, s, count):
    """``count`` distinct random members (count < len(s))."""
    if type(s) is not set:
        return rng.sample(set_members(s), count)
    n = len(s)
    if _small_table(s) or count > n // 4:
        return rng.sample(tuple(s), count)
    seen = set()
    while len(seen) < count:
        seen.add(_walk(rng, s))
    out = list(seen)
    rng.shuffle(out)
    return out


def _propagate_srem(ctx, key, members):
    ctx.propagate_as = [[b"srem", key] + members[i:i + _PROPAGATE_BATCH]
                        for i in range(0, len(members), _PROPAGATE_BATCH)]


# -- single-key commands ----------------------------------------------------------

@command("sadd", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key member [member ...]", since="1.0.0")
def sadd(ctx, key, *members):
    """Add one or more members to a set."""
    db = ctx.db
    s = db.data.get(key)
    if type(s) is set and not db.expires:
        # The common case without the general path's layers: a set that is a
        # plain set already (set_add would update it in place).
        n = len(s)
        if len(members) == 1:
            s.add(members[0])       # (half the cost of update() with a tuple)
        else:
            s.update(members)
        added = len(s) - n
        if added:
            db.modified_value(key, "sadd", "s", added)
        return added
    if db.expires or type(s) not in SET_TYPES:
        s = _get_set(db, key)       # maybe expired, absent, or another type
    if s is None:
        new = set(members)
        added = len(new)
        db.set(key, compact_set(db.keyspace, new))
    else:
        new, added = set_add(db.keyspace, s, members)
        _replace(db, key, s, new)
    if added:
        db.modified(key, "sadd", dirty=added)
    return added


@command("srem", arity=-3, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key member [member ...]", since="1.0.0")
def srem(ctx, key, *members):
    """Remove one or more members from a set."""
    db = ctx.db
    s = _get_set(db, key)
    if s is None:
        return 0
    new, removed = set_remove(s, members)
    if removed:
        _replace(db, key, s, new)
        db.modified(key, "srem", dirty=removed)
        if new is None:
            _deleted(db, key)
    return removed


@command("smembers", arity=2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key", since="1.0.0")
def smembers(ctx, key):
    """Get all the members in a set."""
    s = _get_set(ctx.db, key)
    if s is None:
        return set()
    if type(s) is IntSet:
        return OrderedSet(set_members(s))     # ascending, as Redis's intset
    return set(set_members(s))


@command("sismember", arity=3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member", since="1.0.0")
def sismember(ctx, key, member):
    """Determine if a given value is a member of a set."""
    s = _get_set(ctx.db, key)
    return 1 if s is not None and set_contains(s, member) else 0


@command("smismember", arity=-3, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key member [member ...]", since="6.2.0")
def smismember(ctx, key, *members):
    """Returns the membership associated with the given elements for a set."""
    s = _get_set(ctx.db, key)
    if s is None:
        return [0] * len(members)
    return [1 if set_contains(s, m) else 0 for m in members]


@command("scard", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G,
         syntax="key", since="1.0.0")
def scard(ctx, key):
    """Get the number of members in a set."""
    s = _get_set(ctx.db, key)
    return set_len(s) if s is not None else 0


@command("spop", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G,
         syntax="key [count]", since="1.0.0")
def spop(ctx, key, *args):
    """Remove and return one or multiple random members from a set."""
    if args:
        if len(args) > 1:
            raise _syntax()
        return _spop_count(ctx, key, positive_long(args[0]))
    db = ctx.db
    s = db.data.get(key)
    if s is None:
        return None
    if type(s) is not set or db.expires:
        s = _get_set(db, key)       # maybe expired, a compact form, or another type
        if s is None:
            return None
    rng = ctx.node.rng
    if type(s) is set:
        member = _pop_random(rng, s)
        left = s
        db.modified_value(key, "spop", "s")         # (changed in place)
    else:
        member, left = compact_pop(s, rng)
        if left is None:
            db.modified_value(key, "spop", "s")     # (nothing stored: deleted below)
        else:
            db.set(key, left, keepttl=True)
            db.modified(key, "spop", "s")
    if not left:
        _deleted(db, key)
    ctx.propagate_as = [[b"srem", key, member]]
    return member


def _spop_count(ctx, key, count):
    db = ctx.db
    s = _get_set(db, key)
    if s is None or count == 0:
        return set()
    if count >= set_len(s):
        popped = _intset_order(set_members(s))
        db.delete(key)
        db.modified(key, "spop", "s", dirty=len(popped))
        db.modified(key, "del", "g", dirty=0)
        _propagate_srem(ctx, key, popped)
        return set(popped)
    rng = ctx.node.rng
    if type(s) is not set:
        popped = _sample(rng, s, count)
        _replace(db, key, s, set_remove(s, popped)[0])
    elif _small_table(s) or count > len(s) // 4:
        popped = rng.sample(tuple(s), count)
        s.difference_update(popped)
    else:
        popped = [_pop_random(rng, s) for _ in range(count)]
    db.modified(key, "spop", dirty=count)
    _propagate_srem(ctx, key, popped)
    return set(popped)


@command("srandmember", arity=-2, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key [count]", since="1.0.0")
def srandmember(ctx, key, *args):
    """Get one or multiple random members from a set."""
    if len(args) > 1:
        raise _syntax()
    db = ctx.db
    rng = ctx.node.rng
    if not args:
        s = _get_set(db, key)
        if s is None:
            return None
        return _random_member(rng, s)
    count = _range_long(args[0], -_LONG_MAX, _LONG_MAX)
    s = _get_set(db, key)
    if s is None or count == 0:
        return []
    if count < 0:
        if reply_surely_over_limit(ctx, -count):
            return NO_REPLY
        if type(s) is not set or _small_table(s):
            pool = tuple(set_members(s))
            return [pool[rng.randrange(len(pool))] for _ in range(-count)]
        return [_walk(rng, s) for _ in range(-count)]
    if count >= set_len(s):
        return _intset_order(set_members(s))
    return _sample(rng, s, count)


@command("smove", arity=4, flags=WRITE | FAST, keys=(1, 2, 1), group=G,
         syntax="source destination member", since="1.0.0")
def smove(ctx, source, destination, member):
    """Move a member from one set to another."""
    db = ctx.db
    src = db.get(source)
    dst = db.get(destination)
    if src is None:
        return 0
    if type(src) not in SET_TYPES or (dst is not None and type(dst) not in SET_TYPES):
        raise _wrongtype()
    if source == destination:
        return 1 if set_contains(src, member) else 0
    if not set_contains(src, member):
        return 0
    left, _ = set_remove(src, (member,))
    _replace(db, source, src, left)
    db.modified(source, "srem")
    if left is None:
        _deleted(db, source)
    if dst is None:
        db.set(destination, compact_set(db.keyspace, {member}))
        db.modified(destination, "sadd")
    else:
        new, added = set_add(db.keyspace, dst, (member,))
        if added:
            _replace(db, destination, dst, new)
            db.modified(destination, "sadd")
    return 1


@command("sscan", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key cursor [MATCH pattern] [COUNT count]", since="2.8.0")
def sscan(ctx, key, cursor, *options):
    """Incrementally iterate Set elements."""
    cur = parse_scan_cursor(cursor)
    s = _get_set(ctx.db, key)
    if s is None:
        return [b"0", []]
    match, count = parse_scan_options(options)
    scans = ctx.node.keyspace.scans
    if type(s) is IntSet:
        nxt, chunk = 0, set_members(s)          # whole, ascending (as Redis)
    elif set_len(s) <= count:
        nxt, chunk = 0, _intset_order(set_members(s))
    elif type(s) is set:
        nxt, chunk = scans.scan(s, cur, count)
        chunk = [m for m in chunk if m in s]
    else:
        # A packed set is replaced on every change: its scan is named by
        # the database and key.  (Redis 7.0 keeps such a set in a hash
        # table, which it pages.)
        members = set_members(s)
        nxt, chunk = scans.scan(members, cur, count, ("set", ctx.db.id, key))
        if chunk:
            present = set(members)
            chunk = [m for m in chunk if m in present]
    if match is not None:
        chunk = [m for m in chunk if match(m)]
    return [b"%d" % nxt, chunk]


# -- multi-key algebra ----------------------------------------------------------------

def _load_sets(db, keys):
    """Every key's members as a Python set, to read only (None when
    missing); WRONGTYPE if any is not a set."""
    out = []
    for k in keys:
        v = db.get(k)
        if v is not None:
            if type(v) not in SET_TYPES:
                raise _wrongtype()
            v = as_set(v)
        out.append(v)
    return out


def _inter(sets):
    if any(s is None for s in sets):
        return set()
    ordered = sorted(sets, key=len)
    result = set(ordered[0])
    for s in ordered[1:]:
        result &= s
        if not result:
            break
    return result


def _union(sets):
    result = set()
    for s in sets:
        if s:
            result |= s
    return result


def _diff(sets):
    first = sets[0]
    if not first:
        return set()
    result = set(first)
    for s in sets[1:]:
        if s:
            result -= s
            if not result:
                break
    return result


def _store(ctx, dst, result, event):
    db = ctx.db
    if result:
        release(db.data.get(dst))    # a big overwritten value is freed in the background
        db.set(dst, compact_set(db.keyspace, result))
        db.modified(dst, event)
        return len(result)
    if db.get(dst) is not None:
        db.delete(dst)
        db.modified(dst, "del", "g")
    return 0


@command("sinter", arity=-2, flags=READONLY, keys=(1, -1, 1), group=G,
         syntax="key [key ...]", since="1.0.0")
def sinter(ctx, *keys):
    """Intersect multiple sets."""
    return _inter(_load_sets(ctx.db, keys))


@command("sintercard", arity=-3, flags=READONLY, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] [LIMIT limit]", since="7.0.0")
def sintercard(ctx, numkeys, *args):
    """Intersect multiple sets and return the cardinality of the result."""
    n = _range_long(numkeys, 1, _LONG_MAX, "numkeys should be greater than 0")
    if n > len(args):
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    i = n
    while i < len(args):
        if args[i].lower() == b"limit" and i + 1 < len(args):
            limit = positive_long(args[i + 1], "LIMIT can't be negative")
            i += 2
        else:
            raise _syntax()
    sets = _load_sets(ctx.db, args[:n])
    if any(not s for s in sets):
        return 0
    ordered = sorted(sets, key=len)
    first, rest = ordered[0], ordered[1:]
    count = 0
    for m in first:
        for s in rest:
            if m not in s:
                break
        else:
            count += 1
            if limit and count >= limit:
                break
    return count


@command("sinterstore", arity=-3, flags=WRITE | DENYOOM, keys=(1, -1, 1), group=G,
         syntax="destination key [key ...]", since="1.0.0")
def sinterstore(ctx, destination, *keys):
    """Intersect multiple sets and store the resulting set in a key."""
    return _store(ctx, destination, _inter(_load_sets(ctx.db, keys)), "sinterstore")


@command("sunion", arity=-2, flags=READONLY, keys=(1, -1, 1), group=G,
         syntax="key [key ...]", since="1.0.0")
def sunion(ctx, *keys):
    """Add multiple sets."""
    return _union(_load_sets(ctx.db, keys))


@command("sunionstore", arity=-3, flags=WRITE | DENYOOM, keys=(1, -1, 1), group=G,
         syntax="destination key [key ...]", since="1.0.0")
def sunionstore(ctx, destination, *keys):
    """Add multiple sets and store the resulting set in a key."""
    return _store(ctx, destination, _union(_load_sets(ctx.db, keys)), "sunionstore")


@command("sdiff", arity=-2, flags=READONLY, keys=(1, -1, 1), group=G,
         syntax="key [key ...]", since="1.0.0")
def sdiff(ctx, *keys):
    """Subtract multiple sets."""
    return _diff(_load_sets(ctx.db, keys))


@command("sdiffstore", arity=-3, flags=WRITE | DENYOOM, keys=(1, -1, 1), group=G,
         syntax="destination key [key ...]", since="1.0.0")
def sdiffstore(ctx, destination, *keys):
    """Subtract multiple sets and store the resulting set in a key."""
    return _store(ctx, destination, _diff(_load_sets(ctx.db, keys)), "sdiffstore")
