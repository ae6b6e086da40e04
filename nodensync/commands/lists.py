"""List commands, blocking ones included (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
BLMPOP: see ``server/blocking.py`` for the waiting itself).

A list is a ``collections.deque`` of bytes: O(1) pushes and pops at both
ends, indexing from the nearer end.  An empty list is never stored: the key
is deleted, with a ``del`` notification after the command's own event, as
Redis does.  Every push or move into a key signals clients blocked on it.

Replies never hand out the stored deque itself (inside MULTI the reply is
encoded after later commands of the transaction ran): ranges are copied.

Writes are propagated in a deterministic form: a blocking pop that was served
as its non-blocking equivalent (BLPOP -> LPOP, BLMOVE -> LMOVE, BRPOPLPUSH ->
RPOPLPUSH, BLMPOP/LMPOP -> LPOP/RPOP key count), as Redis 7.0 does.
"""
from collections import deque
from itertools import islice

from .. import errors
from ..errors import CommandError
from ..protocol.resp import OK, NULL_ARRAY, Bulks
from ..server import blocking
from .registry import (command, keys_after_numkeys, WRITE, READONLY, DENYOOM, FAST,
                       NOSCRIPT, BLOCKING)
from .util import option_word as _word

G = "list"
_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1

_signal = blocking.signal_key_ready
_waiting = blocking._waiting    # clients blocked in the process (a list, never rebound)


def _err(message):
    # A fresh error each time: a re-raised shared instance grows its traceback.
    return CommandError(message)


def _wrongtype():
    return CommandError(errors.WRONGTYPE)


# The canonical spellings of small indexes (LRANGE 0 99, LINDEX -1 ...) ->
# their value: one dict lookup instead of int() and the round-trip check.
_SMALL_LONGS = {b"%d" % i: i for i in range(-1024, 1025)}


def _long(b, message=errors.NOT_INTEGER):
    """Redis's getLongFromObjectOrReply: a canonical int64 (string2ll)."""
    v = _SMALL_LONGS.get(b)
    if v is not None:
        return v
    try:
        v = int(b)
    except (ValueError, TypeError):
        raise _err(message) from None
    if not _LONG_MIN <= v <= _LONG_MAX or b"%d" % v != b:
        raise _err(message)
    return v


def _range_long(b, lo, hi, message=None):
    """Redis's getRangeLongFromObjectOrReply (``message`` replaces both the
    not-an-integer and the out-of-range texts when given)."""
    v = _long(b, message or errors.NOT_INTEGER)
    if not lo <= v <= hi:
        raise _err(message or "ERR value is out of range, value must between %d and %d"
                   % (lo, hi))
    return v


def _positive_long(b, message=None):
    """Redis's getPositiveLongFromObjectOrReply (0 allowed)."""
    return _range_long(b, 0, _LONG_MAX, message or "ERR value is out of range, must be positive")


def _where(arg):
    """LEFT/RIGHT -> True for the head (left)."""
    w = _word(arg)
    if w == b"LEFT":
        return True
    if w == b"RIGHT":
        return False
    raise _err(errors.SYNTAX)


def _get_list(db, key):
    """The deque at key, None when absent, WRONGTYPE for another type."""
    value = db.data.get(key)
    if value is None:
        return None
    if db.expires and key in db.expires:
        value = db.get(key)
        if value is None:
            return None
    if type(value) is not deque:
        raise _wrongtype()
    return value


def _removed(db, key, lst, event, count):
    """Bookkeeping after ``count`` elements left ``lst``: the list event,
    and the key deleted (``del``) when the list is now empty."""
    db.modified(key, event, "l", count)
    if not lst:
        db.delete(key)
        db.modified(key, "del", "g", 0)


def _slice(lst, start, end):
    """Elements start..end (inclusive, already normalised and in range) as a
    list (a Bulks reply: list elements are bytes), walking from the nearer
    end of the deque."""
    n = len(lst)
    if start == 0 and end == n - 1:
        return Bulks(lst)
    if start <= n - 1 - end:
        return Bulks(islice(lst, start, end + 1))
    out = Bulks(islice(reversed(lst), n - 1 - end, n - start))
    out.reverse()
    return out


def _normalise(start, end, n):
    """Redis's LRANGE/LTRIM index rules -> (start, end) inclusive, or None
    for an empty range."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if start > end or start >= n:
        return None
    if end >= n:
        end = n - 1
    return start, end


# -- pushes ----------------------------------------------------------------------------
# LPUSH/RPUSH/LPOP/RPOP test the stored value inline (data.get, type) and only
# go through _get_list when that is not a deque in a database without TTLs:
# fewer calls on the path pipelined clients hammer.
def _push_target(db, key):
    """The list at key to push into, created when absent; WRONGTYPE for
    another type."""
    lst = _get_list(db, key)
    if lst is None:
        lst = deque()
        db.set(key, lst)
    return lst


def _pushx(ctx, key, values, left):
    db = ctx.db
    lst = _get_list(db, key)
    if lst is None:
        return 0
    if left:
        lst.extendleft(values)
    else:
        lst.extend(values)
    n = len(lst)
    db.modified(key, "lpush" if left else "rpush", "l", len(values))
    _signal(db, key)
    return n


_PUSH_COMPLEXITY = ("O(1) for each element added, so O(N) to add N elements when the "
                    "command is called with multiple arguments.")


def _push(db, key, values, left):
    """LPUSH/RPUSH onto a key that holds no list the handler could change in
    place (absent, maybe expired, or another type): the list created (or
    WRONGTYPE)."""
    lst = _push_target(db, key)
    if left:
        lst.extendleft(values)
    else:
        lst.extend(values)
    db.modified(key, "lpush" if left else "rpush", "l", len(values))
    if _waiting[0]:                             # (signal_key_ready's own test)
        _signal(db, key)
    return len(lst)


# LPUSH and RPUSH change a stored list in place themselves (no GC
# bookkeeping: modified_value), without _push's frame: their usual case.
@command("lpush", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key element [element ...]", since="1.0.0", complexity=_PUSH_COMPLEXITY)
def lpush(ctx, key, *values):
    """Prepend one or multiple elements to a list."""
    db = ctx.db
    lst = db.data.get(key)
    if type(lst) is not deque or db.expires:
        return _push(db, key, values, True)
    lst.extendleft(values)
    db.modified_value(key, "lpush", "l", len(values))
    if _waiting[0]:
        _signal(db, key)
    return len(lst)


@command("rpush", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key element [element ...]", since="1.0.0", complexity=_PUSH_COMPLEXITY)
def rpush(ctx, key, *values):
    """Append one or multiple elements to a list."""
    db = ctx.db
    lst = db.data.get(key)
    if type(lst) is not deque or db.expires:
        return _push(db, key, values, False)
    lst.extend(values)
    db.modified_value(key, "rpush", "l", len(values))
    if _waiting[0]:
        _signal(db, key)
    return len(lst)


@command("lpushx", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key element [element ...]", since="2.2.0", complexity=_PUSH_COMPLEXITY)
def lpushx(ctx, key, *values):
    """Prepend an element to a list, only if the list exists."""
    return _pushx(ctx, key, values, True)


@command("rpushx", arity=-3, flags=WRITE | DENYOOM | FAST, keys=(1, 1, 1), group=G,
         syntax="key element [element ...]", since="2.2.0", complexity=_PUSH_COMPLEXITY)
def rpushx(ctx, key, *values):
    """Append an element to a list, only if the list exists."""
    return _pushx(ctx, key, values, False)


# -- pops -------------------------------------------------------------------------------
def _pop_count(ctx, key, args, left):
    """LPOP/RPOP key count."""
    if len(args) > 1:
        raise errors.wrong_arity("lpop" if left else "rpop")
    db = ctx.db
    count = _positive_long(args[0])
    lst = _get_list(db, key)
    if lst is None:
        return NULL_ARRAY
    if not count:
        return []
    n = min(count, len(lst))
    if n == len(lst):
        out = list(lst)
        if not left:
            out.reverse()
        lst.clear()
    else:
        pop = lst.popleft if left else lst.pop
        out = [pop() for _ in range(n)]
    _removed(db, key, lst, "lpop" if left else "rpop", n)
    return out


def _pop_one(db, key, left):
    """LPOP/RPOP key: one element, with _get_list and _removed's work done
    inline for the common case (a list already stored)."""
    lst = db.data.get(key)
    if type(lst) is not deque or db.expires:    # absent, maybe expired, or another type
        if lst is None:
            return None
        lst = _get_list(db, key)
        if lst is None:
            return None
    if left:
        value = lst.popleft()
        db.modified_value(key, "lpop", "l")     # (the list changed in place)
    else:
        value = lst.pop()
        db.modified_value(key, "rpop", "l")
    if not lst:
        db.delete(key)
        db.modified(key, "del", "g", 0)
    return value


@command("lpop", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G, syntax="key [count]",
         since="1.0.0", complexity="O(N) where N is the number of elements returned")
def lpop(ctx, key, *args):
    """Remove and get the first elements in a list."""
    if args:
        return _pop_count(ctx, key, args, True)
    return _pop_one(ctx.db, key, True)


@command("rpop", arity=-2, flags=WRITE | FAST, keys=(1, 1, 1), group=G, syntax="key [count]",
         since="1.0.0", complexity="O(N) where N is the number of elements returned")
def rpop(ctx, key, *args):
    """Remove and get the last elements in a list."""
    if args:
        return _pop_count(ctx, key, args, False)
    return _pop_one(ctx.db, key, False)


# -- reading ------------------------------------------------------------------------------
@command("llen", arity=2, flags=READONLY | FAST, keys=(1, 1, 1), group=G, syntax="key",
         since="1.0.0", complexity="O(1)")
def llen(ctx, key):
    """Get the length of a list."""
    lst = _get_list(ctx.db, key)
    return 0 if lst is None else len(lst)


@command("lrange", arity=4, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key start stop",
         since="1.0.0",
         complexity="O(S+N) where S is the distance of start offset from HEAD for small "
                    "lists, from nearest end (HEAD or TAIL) for large lists; and N is the "
                    "number of elements in the specified range.")
def lrange(ctx, key, start, stop):
    """Get a range of elements from a list."""
    start = _long(start)
    stop = _long(stop)
    lst = _get_list(ctx.db, key)
    if lst is None:
        return []
    r = _normalise(start, stop, len(lst))
    if r is None:
        return []
    return _slice(lst, r[0], r[1])


@command("lindex", arity=3, flags=READONLY, keys=(1, 1, 1), group=G, syntax="key index",
         since="1.0.0",
         complexity="O(N) where N is the number of elements to traverse to get to the element "
                    "at index. This makes asking for the first or the last element of the "
                    "list O(1).")
def lindex(ctx, key, index):
    """Get an element from a list by its index."""
    lst = _get_list(ctx.db, key)
    if lst is None:
        return None
    i = _long(index)
    n = len(lst)
    if i < 0:
        i += n
    if not 0 <= i < n:
        return None
    return lst[i]


@command("lpos", arity=-3, flags=READONLY, keys=(1, 1, 1), group=G,
         syntax="key element [RANK rank] [COUNT num-matches] [MAXLEN len]", since="6.0.6",
         complexity="O(N) where N is the number of elements in the list, for the average case. "
                    "When searching for elements near the head or the tail of the list, or "
                    "when the MAXLEN option is provided, the command may run in constant time.")
def lpos(ctx, key, element, *options):
    """Return the index of matching elements on a list."""
    rank, count, maxlen = 1, -1, 0
    i, n = 0, len(options)
    while i < n:
        opt = _word(options[i])
        more = i + 1 < n
        if opt == b"RANK" and more:
            i += 1
            rank = _long(options[i])
            if rank == 0:
                raise _err("ERR RANK can't be zero: use 1 to start from the first match, "
                           "2 from the second ... or use negative to start from the end "
                           "of the list")
        elif opt == b"COUNT" and more:
            i += 1
            count = _positive_long(options[i], "ERR COUNT can't be negative")
        elif opt == b"MAXLEN" and more:
            i += 1
            maxlen = _positive_long(options[i], "ERR MAXLEN can't be negative")
        else:
            raise _err(errors.SYNTAX)
        i += 1
    lst = _get_list(ctx.db, key)
    if lst is None:
        return [] if count != -1 else None
    size = len(lst)
    if rank > 0:
        items = lst if not maxlen else islice(lst, maxlen)
        forward = True
    else:
        items = reversed(lst) if not maxlen else islice(reversed(lst), maxlen)
        forward = False
        # Redis negates a negative rank; -LONG_MIN overflows to itself, a
        # negative rank every match satisfies.
        rank = -rank if rank != _LONG_MIN else 1
    out = []
    matches = 0
    for index, value in enumerate(items):
        if value == element:
            matches += 1
            if matches >= rank:
                out.append(index if forward else size - 1 - index)
                if count == -1 or (count and len(out) >= count):
                    break
    if count == -1:
        return out[0] if out else None
    return out


# -- in-place changes ------------------------------------------------------------------------
@command("lset", arity=4, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key index element", since="1.0.0",
         complexity="O(N) where N is the length of the list. Setting either the first or "
                    "the last element of the list is O(1).")
def lset(ctx, key, index, element):
    """Set the value of an element in a list by its index."""
    db = ctx.db
    lst = _get_list(db, key)
    if lst is None:
        raise _err(errors.NO_SUCH_KEY)
    i = _long(index)
    n = len(lst)
    if i < 0:
        i += n
    if not 0 <= i < n:
        raise _err(errors.OUT_OF_RANGE)
    lst[i] = element
    db.modified(key, "lset", "l")
    return OK


@command("linsert", arity=5, flags=WRITE | DENYOOM, keys=(1, 1, 1), group=G,
         syntax="key <BEFORE | AFTER> pivot element", since="2.2.0",
         complexity="O(N) where N is the number of elements to traverse before seeing the "
                    "value pivot. This means that inserting somewhere on the left end on the "
                    "list (head) can be considered O(1) and inserting somewhere on the right "
                    "end (tail) is O(N).")
def linsert(ctx, key, where, pivot, element):
    """Insert an element before or after another element in a list."""
    w = _word(where)
    if w == b"AFTER":
        after = True
    elif w == b"BEFORE":
        after = False
    else:
        raise _err(errors.SYNTAX)
    db = ctx.db
    lst = _get_list(db, key)
    if lst is None:
        return 0
    try:
        i = lst.index(pivot)
    except ValueError:
        return -1
    lst.insert(i + 1 if after else i, element)
    db.modified(key, "linsert", "l")
    _signal(db, key)
    return len(lst)


@command("lrem", arity=4, flags=WRITE, keys=(1, 1, 1), group=G, syntax="key count element",
         since="1.0.0",
         complexity="O(N+M) where N is the length of the list and M is the number of "
                    "elements removed.")
def lrem(ctx, key, count, element):
    """Remove elements from a list."""
    count = _long(count)
    db = ctx.db
    lst = _get_list(db, key)
    if lst is None:
        return 0
    if count == 1:
        try:
            lst.remove(element)
        except ValueError:
            return 0
        removed = 1
    else:
        limit = abs(count) if count else len(lst)
        kept = []
        removed = 0
        source = lst if count >= 0 else reversed(lst)
        for value in source:
            if removed < limit and value == element:
                removed += 1
            else:
                kept.append(value)
        if not removed:
            return 0
        if count < 0:
            kept.reverse()
        lst.clear()
        lst.extend(kept)
    _removed(db, key, lst, "lrem", removed)
    return removed


@command("ltrim", arity=4, flags=WRITE, keys=(1, 1, 1), group=G, syntax="key start stop",
         since="1.0.0",
         complexity="O(N) where N is the number of elements to be removed by the operation.")
def ltrim(ctx, key, start, stop):
    """Trim a list to the specified range."""
    start = _long(start)
    stop = _long(stop)
    db = ctx.db
    lst = _get_list(db, key)
    if lst is None:
        return OK
    n = len(lst)
    r = _normalise(start, stop, n)
    if r is None:
        removed = n
        lst.clear()
    else:
        start, stop = r
        kept = stop - start + 1
        removed = n - kept
        if removed <= kept:
            for _ in range(start):
                lst.popleft()
            for _ in range(n - 1 - stop):
                lst.pop()
        else:
            keep = _slice(lst, start, stop)
            lst.clear()
            lst.extend(keep)
    _removed(db, key, lst, "ltrim", removed)
    return OK


# -- moves --------------------------------------------------------------------------------
def _move(ctx, src, dst, from_left, to_left):
    """LMOVE: the element moved, or None when ``src`` is empty.  Checks the
    destination's type before changing anything."""
    db = ctx.db
    slist = _get_list(db, src)
    if not slist:
        return None
    dlist = _get_list(db, dst)
    value = slist.popleft() if from_left else slist.pop()
    if dlist is None:
        dlist = deque()
        db.set(dst, dlist)
    if to_left:
        dlist.appendleft(value)
    else:
        dlist.append(value)
    db.modified(dst, "lpush" if to_left else "rpush", "l", 0)
    _removed(db, src, slist, "lpop" if from_left else "rpop", 1)
    _signal(db, dst)
    return value


_SIDE = {True: b"LEFT", False: b"RIGHT"}


@command("lmove", arity=5, flags=WRITE | DENYOOM, keys=(1, 2, 1), group=G,
         syntax="source destination <LEFT | RIGHT> <LEFT | RIGHT>", since="6.2.0",
         complexity="O(1)")
def lmove(ctx, src, dst, wherefrom, whereto):
    """Pop an element from a list, push it to another list and return it."""
    return _move(ctx, src, dst, _where(wherefrom), _where(whereto))


@command("rpoplpush", arity=3, flags=WRITE | DENYOOM, keys=(1, 2, 1), group=G,
         syntax="source destination", since="1.2.0", complexity="O(1)")
def rpoplpush(ctx, src, dst):
    """Remove the last element in a list, prepend it to another list and return it."""
    return _move(ctx, src, dst, False, True)


def _blocking_move(ctx, src, dst, from_left, to_left, timeout_ms, propagate):
    def try_serve(key):
        value = _move(ctx, src, dst, from_left, to_left)
        if value is not None:
            ctx.propagate_as = [propagate]
        return value
    return blocking.block_on_keys(ctx, (src,), timeout_ms, try_serve, deque)


@command("blmove", arity=6, flags=WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys=(1, 2, 1),
         group=G, syntax="source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout",
         since="6.2.0", complexity="O(1)")
def blmove(ctx, src, dst, wherefrom, whereto, timeout):
    """Pop an element from a list, push it to another list and return it; or block until one is available."""  # noqa: E501
    from_left = _where(wherefrom)
    to_left = _where(whereto)
    timeout_ms = blocking.parse_timeout(timeout)
    return _blocking_move(ctx, src, dst, from_left, to_left, timeout_ms,
                          [b"lmove", src, dst, _SIDE[from_left], _SIDE[to_left]])


@command("brpoplpush", arity=4, flags=WRITE | DENYOOM | NOSCRIPT | BLOCKING, keys=(1, 2, 1),
         group=G, syntax="source destination timeout", since="2.2.0", complexity="O(1)")
def brpoplpush(ctx, src, dst, timeout):
    """Pop an element from a list, push it to another list and return it; or block until one is available."""  # noqa: E501
    timeout_ms = blocking.parse_timeout(timeout)
    return _blocking_move(ctx, src, dst, False, True, timeout_ms, [b"rpoplpush", src, dst])


# -- blocking pops and multi-key pops ----------------------------------------------------
def _bpop(ctx, args, left):
    timeout_ms = blocking.parse_timeout(args[-1])
    db = ctx.db
    event = "lpop" if left else "rpop"
    name = b"lpop" if left else b"rpop"

    def try_serve(key):
        lst = _get_list(db, key)
        if not lst:
            return None
        value = lst.popleft() if left else lst.pop()
        _removed(db, key, lst, event, 1)
        ctx.propagate_as = [[name, key]]
        return [key, value]

    result = blocking.block_on_keys(ctx, args[:-1], timeout_ms, try_serve, deque)
    return NULL_ARRAY if result is None else result


@command("blpop", arity=-3, flags=WRITE | NOSCRIPT | BLOCKING, keys=(1, -2, 1), group=G,
         syntax="key [key ...] timeout", since="2.0.0",
         complexity="O(N) where N is the number of provided keys.")
def blpop(ctx, *args):
    """Remove and get the first element in a list, or block until one is available."""
    return _bpop(ctx, args, True)


@command("brpop", arity=-3, flags=WRITE | NOSCRIPT | BLOCKING, keys=(1, -2, 1), group=G,
         syntax="key [key ...] timeout", since="2.0.0",
         complexity="O(N) where N is the number of provided keys.")
def brpop(ctx, *args):
    """Remove and get the last element in a list, or block until one is available."""
    return _bpop(ctx, args, False)


def _parse_mpop(args, first):
    """``numkeys key [key ...] <LEFT | RIGHT> [COUNT count]`` starting at
    ``args[first]`` -> (keys, left, count), with Redis's checks in order."""
    numkeys = _range_long(args[first], 1, _LONG_MAX, "ERR numkeys should be greater than 0")
    where_idx = first + 1 + numkeys
    if where_idx >= len(args):
        raise _err(errors.SYNTAX)
    left = _where(args[where_idx])
    count = -1
    j = where_idx + 1
    while j < len(args):
        if count == -1 and _word(args[j]) == b"COUNT" and j + 1 < len(args):
            j += 1
            count = _range_long(args[j], 1, _LONG_MAX, "ERR count should be greater than 0")
        else:
            raise _err(errors.SYNTAX)
        j += 1
    return args[first + 1:where_idx], left, (1 if count == -1 else count)


def _mpop_server(ctx, left, count):
    db = ctx.db
    event = "lpop" if left else "rpop"
    name = b"lpop" if left else b"rpop"

    def try_serve(key):
        lst = _get_list(db, key)
        if not lst:
            return None
        n = min(count, len(lst))
        pop = lst.popleft if left else lst.pop
        out = [pop() for _ in range(n)]
        _removed(db, key, lst, event, n)
        ctx.propagate_as = [[name, key, b"%d" % n]]
        return [key, out]
    return try_serve


_MPOP_COMPLEXITY = ("O(N+M) where N is the number of provided keys and M is the number of "
                    "elements returned.")


@command("lmpop", arity=-4, flags=WRITE, keys=keys_after_numkeys(1), group=G,
         syntax="numkeys key [key ...] <LEFT | RIGHT> [COUNT count]", since="7.0.0",
         complexity=_MPOP_COMPLEXITY)
def lmpop(ctx, *args):
    """Pop elements from a list."""
    keys, left, count = _parse_mpop(args, 0)
    try_serve = _mpop_server(ctx, left, count)
    for key in keys:
        result = try_serve(key)
        if result is not None:
            return result
    return NULL_ARRAY


@command("blmpop", arity=-5, flags=WRITE | BLOCKING, keys=keys_after_numkeys(2), group=G,
         syntax="timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]", since="7.0.0",
         complexity=_MPOP_COMPLEXITY)
def blmpop(ctx, timeout, *args):
    """Pop elements from a list, or block until one is available."""
    keys, left, count = _parse_mpop(args, 0)
    timeout_ms = blocking.parse_timeout(timeout)
    result = blocking.block_on_keys(ctx, keys, timeout_ms, _mpop_server(ctx, left, count), deque)
    return NULL_ARRAY if result is None else result
