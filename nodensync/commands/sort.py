"""SORT and SORT_RO, as Redis 7.0's sort.c.

The elements of a list, set or sorted set are sorted numerically (each must
read as a double, or the reply is an error) or with ALPHA as byte strings,
optionally by the value of other keys (``BY weight_*`` or a hash field
``BY obj_*->field``), limited with LIMIT, and either returned (with ``GET``
patterns replacing each element) or stored as a list (STORE).

Redis details kept here: equal numeric scores fall back to comparing the
elements; a missing BY value scores 0 (NULL sorts first with ALPHA); ``BY``
without ``*`` means "do not sort" (native order of a list or sorted set,
DESC reverses it), except a set sorted into STORE, which is sorted ALPHA so
the stored result does not depend on hash order.
"""
import math
import re
from collections import deque

from .. import errors
from ..errors import CommandError
from ..server.blocking import signal_key_ready
from ..storage.compact import PackedHash, packed_hash_get, set_members
from ..storage.keyspace import type_name
from .registry import command, WRITE, READONLY, DENYOOM
from .strings import _opt

_SPACES = b" \t\n\v\f\r"
# What C's strtod() reads completely (after leading spaces): decimal and hex
# floats, inf/infinity and nan (refused later, as Redis does).
_STRTOD = re.compile(
    rb"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf(?:inity)?|nan(?:\([0-9a-z_]*\))?"
    rb"|0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[-+]?\d+)?)\Z", re.I)
_SCORE_ERR = "ERR One or more scores can't be converted into double"


def _strtod(text):
    """The double Redis's SORT reads from ``text``, or None when strtod
    would stop early, overflow, underflow or read a NaN.  An empty string
    reads as 0 (strtod stops at once, on the terminating NUL)."""
    if not text:
        return 0.0
    body = text.lstrip(_SPACES)
    if not _STRTOD.match(body):
        return None
    low = body.lower().lstrip(b"+-")
    if low.startswith(b"nan"):
        return None
    if low.startswith(b"0x"):
        v = float.fromhex(body.decode())
    else:
        v = float(body)
    if math.isinf(v) and not low.startswith(b"inf"):
        return None                                  # ERANGE (overflow)
    if v == 0.0:
        hexa = low.startswith(b"0x")
        mantissa = (low[2:].split(b"p") if hexa else low.split(b"e"))[0]
        if mantissa.strip(b"0."):
            return None                              # ERANGE (underflow to zero)
    if v != 0.0 and abs(v) < 2.2250738585072014e-308:
        return None                                  # ERANGE (subnormal result)
    return v


def _as_bytes(member):
    return member if type(member) is bytes else b"%d" % member


def _lookup_by_pattern(db, pattern, subst):
    """Redis's lookupKeyByPattern: ``#`` is the element itself; the first
    ``*`` is replaced by the element; ``key->field`` reads a hash field.
    None when the pattern has no ``*`` or the key/field is missing or of
    another type."""
    if pattern == b"#":
        return subst
    star = pattern.find(b"*")
    if star < 0:
        return None
    arrow = pattern.find(b"->", star + 1)
    field = None
    if arrow >= 0 and arrow + 2 < len(pattern):
        field = pattern[arrow + 2:]
        pattern = pattern[:arrow]
    value = db.get(pattern[:star] + subst + pattern[star + 1:])
    if value is None:
        return None
    kind = type_name(value)
    if field is not None:
        if kind != "hash":
            return None
        found = packed_hash_get(value, field) if type(value) is PackedHash else value.get(field)
        return None if found is None else _as_bytes(found)
    return _as_bytes(value) if kind == "string" else None


def _full_key_access(ctx, key, args, readonly):
    """Whether one selector of the client's ACL user allows this command and
    reading every key (Redis allows BY and GET patterns only then: they name
    keys no key spec can show)."""
    user = getattr(ctx, "acl_user", None)
    if user is None or user.full:
        return True
    spec = sort_ro.spec if readonly else sort.spec
    return user.unrestricted_key_access(spec, [spec.name.encode(), key, *args])


def _parse(ctx, key, args, readonly):
    desc = alpha = dontsort = False
    start, count = 0, -1
    sortby = store = None
    gets = []
    full_access = _full_key_access(ctx, key, args, readonly)
    cluster = ctx.node.cluster is not None
    i, n = 0, len(args)
    while i < n:
        word = _opt(args[i])
        left = n - i - 1
        if word in (b"ASC", b"DESC"):
            desc = word == b"DESC"
        elif word == b"ALPHA":
            alpha = True
        elif word == b"LIMIT" and left >= 2:
            start, count = _long(args[i + 1]), _long(args[i + 2])
            i += 2
        elif word == b"STORE" and left >= 1 and not readonly:
            store = args[i + 1]
            i += 1
        elif word == b"BY" and left >= 1:
            sortby = args[i + 1]
            if b"*" not in sortby.split(b"\0", 1)[0]:
                dontsort = True
            elif cluster:
                raise CommandError("ERR BY option of SORT denied in Cluster mode.")
            elif not full_access:
                raise CommandError("ERR BY option of SORT denied due to insufficient ACL "
                                   "permissions.")
            i += 1
        elif word == b"GET" and left >= 1:
            if cluster:
                raise CommandError("ERR GET option of SORT denied in Cluster mode.")
            if not full_access:
                raise CommandError("ERR GET option of SORT denied due to insufficient ACL "
                                   "permissions.")
            gets.append(args[i + 1])
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    return desc, alpha, dontsort, start, count, sortby, store, gets


def _long(arg):
    try:
        v = int(arg)
    except ValueError:
        v = None
    if v is None or b"%d" % v != arg or not -(1 << 63) <= v < (1 << 63):
        raise CommandError(errors.NOT_INTEGER)
    return v


def _elements(value, kind):
    if kind == "zset":
        return [m for m, _ in value.items()]
    if kind == "set":
        value = set_members(value)     # (packed forms: compact.py)
    return [_as_bytes(m) for m in value]


def _sorted(db, elements, desc, alpha, sortby):
    """Redis's sortCompare over the elements: (score or compare key,
    element) pairs, sorted, DESC reversing the whole comparison."""
    if alpha:
        if sortby is None:
            return sorted(elements, reverse=desc)
        # NULL (missing BY value) before any string; equal values keep
        # their order (Redis's qsort leaves such ties unspecified).
        keyed = []
        for e in elements:
            v = _lookup_by_pattern(db, sortby, e)
            keyed.append(((0,) if v is None else (1, v), e))
        keyed.sort(key=lambda p: p[0], reverse=desc)
        return [e for _, e in keyed]
    keyed = []
    for e in elements:
        v = e if sortby is None else _lookup_by_pattern(db, sortby, e)
        score = 0.0 if v is None else _strtod(v)
        if score is None:
            raise CommandError(_SCORE_ERR)
        keyed.append((score, e))
    keyed.sort(reverse=desc)
    return [e for _, e in keyed]


def _sort(ctx, key, args, readonly):
    desc, alpha, dontsort, start, count, sortby, store, gets = _parse(ctx, key, args, readonly)
    db = ctx.db
    value = db.get(key)
    kind = "list" if value is None else type_name(value)
    if kind not in ("list", "set", "zset"):
        raise CommandError(errors.WRONGTYPE)
    elements = [] if value is None else _elements(value, kind)
    if dontsort and kind == "set" and (store is not None or ctx.in_script):
        # A stored result, or one a script sees, must not depend on hash
        # order (the replicas and the AOF replay it): sorted ALPHA instead.
        dontsort, alpha, sortby = False, True, None
    total = len(elements)
    start = min(max(start, 0), total)
    count = min(max(count, -1), total)
    end = total if count < 0 else min(start + count, total)
    if dontsort:
        if desc and kind != "set":
            elements.reverse()
    else:
        elements = _sorted(db, elements, desc, alpha, sortby)
    elements = elements[start:end]
    if gets:
        out = [_lookup_by_pattern(db, g, e) for e in elements for g in gets]
    else:
        out = elements
    if store is None:
        return out
    if out:
        items = [b"" if v is None else v for v in out]
        db.set(store, deque(items))
        db.modified(store, "sortstore", "l", dirty=len(items))
        signal_key_ready(db, store)
        ctx.propagate_as = [[b"DEL", store], [b"RPUSH", store] + items]
    elif db.delete(store):
        db.modified(store, "del", "g")
        ctx.propagate_as = [[b"DEL", store]]
    return len(out)


def _sort_keys(argv):
    """SORT's keys, as Redis's sortGetKeys: the sorted key and the last
    STORE destination (LIMIT, GET and BY arguments are skipped; the word
    after STORE is still read as an option)."""
    keys = [1]
    skip = {b"LIMIT": 2, b"GET": 1, b"BY": 1}
    store = None
    i = 2
    while i < len(argv):
        word = argv[i].upper()
        if word in skip:
            i += skip[word]
        elif word == b"STORE" and i + 1 < len(argv):
            store = i + 1
        i += 1
    return keys if store is None else keys + [store]


_sort_keys.legacy = (1, 1, 1)


def _sort_ro_keys(argv):
    return [1]


_sort_ro_keys.legacy = (1, 1, 1)


@command("sort", arity=-2, flags=WRITE | DENYOOM, keys=_sort_keys, group="generic",
         syntax="key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] "
                "[ASC | DESC] [ALPHA] [STORE destination]",
         since="1.0.0", complexity="O(N+M*log(M)) where N is the number of elements in the "
         "list or set to sort, and M the number of returned elements. When the elements are "
         "not sorted, complexity is O(N).")
def sort(ctx, key, *args):
    """Sort the elements in a list, set or sorted set."""
    return _sort(ctx, key, args, False)


@command("sort_ro", arity=-2, flags=READONLY, keys=_sort_ro_keys, group="generic",
         syntax="key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] "
                "[ASC | DESC] [ALPHA]",
         since="7.0.0", complexity="O(N+M*log(M)) where N is the number of elements in the "
         "list/set/zset to sort, and M the number of returned elements. When the elements "
         "are not sorted, complexity is O(N).",
         summary="Sort the elements in a list, set or sorted set. Read-only variant of SORT.")
def sort_ro(ctx, key, *args):
    """Sort the elements in a list, set or sorted set, without STORE."""
    return _sort(ctx, key, args, True)


# Redis files SORT under the data types it reads, not under @keyspace.
sort.spec.categories = ["write", "set", "sortedset", "list", "slow", "dangerous"]
sort_ro.spec.categories = ["read", "set", "sortedset", "list", "slow", "dangerous"]
