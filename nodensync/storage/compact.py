"""Compact forms of small hashes and sets (Redis's listpack and intset).

A Python dict or set costs hundreds of bytes per key before its elements
(each element is a separate ``bytes`` object too).  Redis keeps small hashes
and sets in one flat buffer; so do we, in one immutable object (a ``bytes``
subclass with ``__slots__ = ()``, or a str for hashes: see PackedHash):

==============  =============================================  ================
type            content                                        OBJECT ENCODING
==============  =============================================  ================
``PackedHash``  ``marshal`` (version 2) of the flat list       listpack
                [field, value, field, value, ...], as a str
``IntSet``      the members as sorted native int64s            intset
``PackedSet``   ``marshal`` (version 2) of the tuple of        hashtable (as
                members, in insertion order                    Redis 7.0 says)
==============  =============================================  ================

``marshal`` of a flat tuple was measured against a RESP multibulk parsed by
``hiredis.Reader``: both decode in C at about the same speed, marshal is ~7%
smaller and encodes 2-3x faster (a C call instead of a Python join).
Version 2 skips marshal's reference table (not needed: no shared objects).
A hash is a list so that a write changes the decoded list in place (no
dict is built); a field is found by ``index`` on the fields' slice.

Every write decodes, modifies and packs again (O(n) in C, as a listpack
write is in Redis), which is why the forms are kept small.  A value that
grows past a limit becomes a plain ``dict`` / ``set`` for good, as Redis
never converts back:

* hash: at most ``hash-max-listpack-entries`` fields (capped at
  HASH_PACK_ENTRIES) and fields/values of at most ``hash-max-listpack-value``
  bytes (capped at HASH_PACK_VALUE), checked on the written fields as Redis
  does.  The caps keep the re-pack cheap; a dict within Redis's limits still
  reports ``listpack`` (see commands/keys.py encoding_of).
* integer set: canonical int64 members, at most ``set-max-intset-entries``.
  Adding another member converts it like Redis 7.2 does (to a packed set
  when that fits, else to a ``set``); Redis 7.0 reports both "hashtable".
* other set: at most SET_PACK_ENTRIES members of at most SET_PACK_VALUE
  bytes (Redis 7.2's set-max-listpack-entries / -value defaults).  Redis 7.0,
  whose behaviour NodeNsync reports, has no listpack sets: OBJECT ENCODING
  says "hashtable" for them (the differential tests compare it with 7.0).

The limits in effect live on the Keyspace (``hash_pack_entries``,
``hash_pack_value``, ``intset_entries``), set from the settings by
server/core.py.
"""
import marshal
from array import array
from bisect import bisect_left
from itertools import chain, filterfalse

from . import acyclic

HASH_PACK_ENTRIES = 128     # fields; beyond this a re-pack costs more than a dict write
HASH_PACK_VALUE = 512       # bytes per field or value
SET_PACK_ENTRIES = 128      # Redis 7.2's set-max-listpack-entries
SET_PACK_VALUE = 64         # Redis 7.2's set-max-listpack-value

_loads = marshal.loads
_dumps = marshal.dumps
_flatten = chain.from_iterable
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


# A small hash: marshal of [field, value, field, value, ...], held in a str
# (latin-1, one character per byte), not in a bytes subclass: an instance of
# a Python-level class is tracked by the garbage collector in CPython 3.11
# (+16 bytes, and every full collection visits it: ~140 ms per million),
# whereas the dicts small hashes were are not tracked.  No other value is a
# str, so the type still tells the kind.  (Sets were tracked before, as set
# objects: their subclasses cost nothing new.)
PackedHash = str


def _pack_flat(flat):
    return _dumps(flat, 2).decode("latin-1")


def _unpack_flat(p):
    return _loads(p.encode("latin-1"))


class PackedSet(bytes):
    """A small set of strings: marshal of (member, member, ...)."""
    __slots__ = ()


class IntSet(bytes):
    """A set of canonical integers: sorted native int64s (Redis's intset)."""
    __slots__ = ()


PACKED_TYPES = (PackedHash, PackedSet, IntSet)


def canonical_int(s):
    """The int64 a string spells canonically ("12", "-3"; not "012", "+1",
    " 1"), else None: Redis's string2ll round trip (the intset test, the
    'int' encoding of strings and of RDB strings)."""
    n = len(s)
    if 0 < n <= 20:
        c = s[0]
        if 48 <= c <= 57 or c == 45:
            try:
                v = int(s)
            except ValueError:
                return None
            if _INT64_MIN <= v <= _INT64_MAX and b"%d" % v == s:
                return v
    return None


# -- hashes ------------------------------------------------------------------------

def pack_hash(h):
    return _pack_flat(list(_flatten(h.items())))


def unpack_hash(p):
    """A new dict with the packed hash's fields, in their order."""
    it = iter(_unpack_flat(p))
    return dict(zip(it, it))


def packed_hash_len(p):
    return len(_unpack_flat(p)) >> 1


def packed_hash_get(p, field):
    """The value of ``field`` or None, without building a dict."""
    flat = _unpack_flat(p)
    fields = flat[::2]
    if field in fields:                  # no exception on a miss: cheaper
        return flat[2 * fields.index(field) + 1]
    return None


def hash_set(ks, value, pairs):
    """Set the fields of ``pairs`` (field, value, ...) in the stored hash
    ``value`` (None: a new hash) -> (value to store, fields added).  A dict
    changes in place; a packed hash is re-packed while it fits the limits,
    else (and for good) becomes a dict."""
    if type(value) is dict:
        before = len(value)
        it = iter(pairs)
        value.update(zip(it, it))
        return value, len(value) - before
    # The common cases first, each a few C calls (HSET's per-call cost).
    flat = [] if value is None else _loads(value.encode("latin-1"))   # _unpack_flat, inlined
    before = len(flat)
    if len(pairs) == 2:
        fields = flat[::2]
        if pairs[0] in fields:
            flat[2 * fields.index(pairs[0]) + 1] = pairs[1]
        else:
            flat += pairs
    elif not before and len(set(pairs[::2])) << 1 == len(pairs):
        flat += pairs                           # a new hash, no repeated field
    else:
        fields = flat[::2]
        for i in range(0, len(pairs), 2):
            f = pairs[i]
            if f in fields:
                flat[2 * fields.index(f) + 1] = pairs[i + 1]
            else:
                flat.append(f)
                flat.append(pairs[i + 1])
                fields.append(f)
    added = (len(flat) - before) >> 1
    if len(flat) >> 1 <= ks.hash_pack_entries and max(map(len, pairs)) <= ks.hash_pack_value:
        return _dumps(flat, 2).decode("latin-1"), added              # _pack_flat, inlined
    it = iter(flat)
    return dict(zip(it, it)), added


def hash_delete(value, fields):
    """Remove ``fields`` from the stored hash ``value`` -> (value to store,
    None when nothing is left; how many were removed).  A dict changes in
    place; a packed hash stays packed (it only shrinks)."""
    if type(value) is dict:
        deleted = 0
        for f in fields:
            if value.pop(f, None) is not None:
                deleted += 1
                if not value:
                    break
        return (value if value else None), deleted
    flat = _unpack_flat(value)
    fields_now = flat[::2]
    drop = set(fields).intersection(fields_now)
    if not drop:
        return value, 0
    if len(drop) == len(fields_now):
        return None, len(drop)
    keep = [i for i, f in enumerate(fields_now) if f not in drop]
    return _pack_flat([x for i in keep for x in flat[2 * i:2 * i + 2]]), len(drop)


def compact_hash(ks, h):
    """The form to store a whole hash in (RDB load, RESTORE): packed when it
    fits, else the dict itself."""
    flat = list(_flatten(h.items()))
    if flat and len(h) <= ks.hash_pack_entries and max(map(len, flat)) <= ks.hash_pack_value:
        return _pack_flat(flat)
    return h


# -- sets --------------------------------------------------------------------------

def _intset_view(p):
    return memoryview(p).cast("q")


def pack_ints(ints):
    """An IntSet of the given distinct ints (any order)."""
    return IntSet(array("q", sorted(ints)).tobytes())


def intset_contains(p, member):
    v = canonical_int(member)
    if v is None:
        return False
    view = _intset_view(p)
    i = bisect_left(view, v)
    return i < len(view) and view[i] == v


def set_len(value):
    """Members of a stored set in any form."""
    t = type(value)
    if t is IntSet:
        return len(value) >> 3
    if t is PackedSet:
        return len(_loads(value))
    return len(value)


def set_members(value):
    """The members of a stored set as a sequence or set supporting ``in``
    (the stored ``set`` itself, or a new tuple / list; intset members come
    in ascending order as Redis returns them)."""
    t = type(value)
    if t is PackedSet:
        return _loads(value)
    if t is IntSet:
        return [b"%d" % v for v in _intset_view(value).tolist()]
    return value


def set_contains(value, member):
    t = type(value)
    if t is IntSet:
        return intset_contains(value, member)
    if t is PackedSet:
        return member in _loads(value)
    return member in value


def as_set(value):
    """A Python set of the members (the stored one for a plain set: do not
    modify it unless the key is a plain set)."""
    if type(value) is set:
        return value
    return set(set_members(value))


def _packed_set(members):
    return PackedSet(_dumps(tuple(members), 2))


def _fits_packed(n, members):
    return n <= SET_PACK_ENTRIES and (not n or max(map(len, members)) <= SET_PACK_VALUE)


def compact_set(ks, members, intset_ok=True):
    """The form to store a whole set of ``members`` (a Python set) in: an
    intset when allowed and every member is a canonical integer, else a
    packed set when it fits, else the set itself."""
    n = len(members)
    if intset_ok and n <= ks.intset_entries:
        ints = []
        for m in members:
            v = canonical_int(m)
            if v is None:
                break
            ints.append(v)
        else:
            return pack_ints(ints)
    if _fits_packed(n, members):
        return _packed_set(members)
    return members


def repack_set(ks, old, members):
    """The form a set in form ``old`` takes after a change left it with
    ``members`` (a Python set): never back to a more compact kind (a plain
    set stays one, a packed set never becomes an intset), as Redis."""
    t = type(old)
    if t is set:
        return members
    return compact_set(ks, members, intset_ok=t is IntSet)


def set_add(ks, value, members):
    """Add ``members`` to the stored set ``value`` (never None) -> (new
    stored value, how many were added).  A plain set changes in place."""
    t = type(value)
    if t is set:
        before = len(value)
        value.update(members)
        return value, len(value) - before
    if t is IntSet:
        ints = [canonical_int(m) for m in members]
        if None not in ints:
            view = _intset_view(value)
            new = {v for v in ints if not _sorted_has(view, v)}
            if not new:
                return value, 0
            if len(view) + len(new) <= ks.intset_entries:
                if len(new) == 1:
                    v = new.pop()
                    at = bisect_left(view, v) << 3
                    return IntSet(value[:at] + array("q", (v,)).tobytes() + value[at:]), 1
                merged = view.tolist()
                merged.extend(new)
                return pack_ints(merged), len(new)
    elif t is PackedSet:
        old = _loads(value)
        if len(members) == 1:        # (nothing to dedupe: cheaper than the comprehension)
            new = [] if members[0] in old else list(members)
        else:
            new = [m for m in dict.fromkeys(members) if m not in old]
        if not new:
            return value, 0
        if _fits_packed(len(old) + len(new), new):
            return _packed_set(old + tuple(new)), len(new)
    s = as_set(value)
    before = len(s)
    s.update(members)
    return repack_set(ks, value, s), len(s) - before


def set_remove(value, members):
    """Remove ``members`` from the stored set ``value`` -> (new stored value,
    or None when nothing is left; how many were removed).  A plain set
    changes in place."""
    t = type(value)
    if t is set:
        before = len(value)
        value.difference_update(members)
        return (value if value else None), before - len(value)
    if t is IntSet:
        view = _intset_view(value)
        drop = set()
        for m in members:
            v = canonical_int(m)
            if v is not None and _sorted_has(view, v):
                drop.add(v)
        n = len(view)
        if not drop:
            return value, 0
        if len(drop) == n:
            return None, n
        if len(drop) == 1:
            return _intset_cut(value, bisect_left(view, drop.pop())), 1
        return pack_ints(filterfalse(drop.__contains__, view.tolist())), len(drop)
    old = _loads(value)
    kept = tuple(filterfalse(set(members).__contains__, old))
    removed = len(old) - len(kept)
    if not removed:
        return value, 0
    return (_packed_set(kept) if kept else None), removed


def compact_pop(value, rng):
    """Remove a random member (``rng.randrange``: exactly uniform) of an
    IntSet or PackedSet -> (member, new stored value or None when nothing
    is left): SPOP's one member without building the members' list
    (intset) or decoding the packed tuple twice."""
    if type(value) is IntSet:
        n = len(value) >> 3
        if n == 1:
            return b"%d" % _intset_view(value)[0], None
        i = rng.randrange(n)
        return b"%d" % _intset_view(value)[i], _intset_cut(value, i)
    old = _loads(value)
    if len(old) == 1:
        return old[0], None
    i = rng.randrange(len(old))
    return old[i], _packed_set(old[:i] + old[i + 1:])


def _intset_cut(value, i):
    """The IntSet ``value`` without its i-th integer."""
    at = i << 3
    return IntSet(value[:at] + value[at + 8:])


def _sorted_has(view, v):
    i = bisect_left(view, v)
    return i < len(view) and view[i] == v


# -- both ---------------------------------------------------------------------------

def expand(value):
    """The general (dict / set) form of a packed value; any other value
    unchanged.  For code that reads whole values (RDB, AOF rewrite)."""
    t = type(value)
    if t is PackedHash:
        return unpack_hash(value)
    if t is PackedSet or t is IntSet:
        return set(set_members(value))
    return value


def compact(ks, value):
    """The form to store a freshly loaded value in (RDB load, RESTORE)."""
    t = type(value)
    if t is dict:
        return compact_hash(ks, value)
    if t is set:
        return compact_set(ks, value)
    return value


# Packed sets are bytes subclasses, which CPython tracks in the cyclic GC;
# they hold no references: keep them out of it like the other values.
acyclic.KEEPERS[IntSet] = acyclic.untrack
acyclic.KEEPERS[PackedSet] = acyclic.untrack
