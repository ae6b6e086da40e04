"""Sorted set value: a member -> key dict plus a sorted index of the keys.

A member's key is an 8-byte order-preserving encoding of its
score followed by the member bytes.  The prefix has a fixed length, so the
keys' bytes order (memcmp, then length) is exactly Redis's order: by score,
then by member bytes.  The index is a ``sortedcontainers.SortedList`` of
the keys, which gives O(log n) rank, insert, delete and range lookups; the
dict (``members``) holds the same key objects, so an update finds the old
key without rebuilding it, and a score is decoded from the key
(``score_of``, exactly the float that was stored).

Why bytes keys rather than ``(score, member)`` tuples and a member ->
score dict: with a big sorted set every comparison of a bisection is a
cache miss, and a tuple costs one for the tuple, one for its float and, on
equal scores, one for the member; a key is one object.  Keys are never
tracked by the cyclic GC either (tuples are, until a collection looks at
them), and there are no float objects to allocate and chase.

Ranges are expressed as half-open index intervals ``[lo, hi)`` of the
index, found by bisection; callers slice them with ``islice``.

Scores equal to -0.0 are stored as 0.0: Redis keeps small sorted sets in a
listpack where the score text of -0.0 is "0", so that is what clients see.

``skiplist`` is what OBJECT ENCODING, DUMP and the RDB writer need to know
beyond the content: Redis converts a sorted set's listpack to a skiplist
when an insert takes it past zset-max-listpack-entries or brings a member
longer than zset-max-listpack-value, and never back -- a set that shrinks
stays a skiplist.  A sorted set built whole (the STORE commands, RESTORE,
loading) is a listpack if it fits, as Redis's zsetConvertToListpackIfNeeded
and rdbLoadObject make it.  ``LISTPACK_LIMITS`` follows those two settings
(server/core.py).
"""
import math
import struct
from bisect import bisect_left as _bisect_left, bisect_right as _bisect_right, insort as _insort

from sortedcontainers import SortedList

from . import acyclic

_INF = math.inf
_nextafter = math.nextafter

_D = struct.Struct(">d")
_pack_d, _unpack_d = _D.pack, _D.unpack_from
_Q = struct.Struct(">Q")
_pack_q, _unpack_q = _Q.pack, _Q.unpack_from
_MAX63 = (1 << 63) - 1
PREFIX = 8                              # bytes of score encoding in a key
# [zset-max-listpack-entries, zset-max-listpack-value], kept up to date by
# server/core.py (a list: ZSet.add reads it without an attribute lookup)
LISTPACK_LIMITS = [128, 64]


def score_prefix(score):
    """The 8 bytes that order like ``score`` (not NaN; -0.0 must already be
    0.0): the IEEE-754 bits with the sign bit set for positives and all
    bits flipped for negatives.  A positive score's encoding is the bits of
    its negation; a negative one's is 2**63-1 minus the bits of its
    magnitude."""
    if score >= 0.0:
        return _pack_d(-score)
    return _pack_q(_MAX63 - _unpack_q(_pack_d(-score))[0])


def _negative_score(key):
    """The score of a key whose prefix is below 0x80 (a negative score)."""
    return -_unpack_d(_pack_q(_MAX63 - _unpack_q(key)[0]))[0]


def score_of(key):
    """The score a key encodes."""
    return -_unpack_d(key)[0] if key[0] & 0x80 else _negative_score(key)


def _pairs(keys):
    """(member, score) pairs of an iterable of keys (score_of inlined)."""
    return [(k[PREFIX:], -_unpack_d(k)[0] if k[0] & 0x80 else _negative_score(k))
            for k in keys]


def _bound(score):
    """score_prefix of a range bound (which may be -0.0)."""
    return score_prefix(score + 0.0)


class ZSet:
    __slots__ = ("members", "index", "untracked_lists", "skiplist")

    def __init__(self, items=()):
        self.members = {}
        self.index = SortedList()
        self.untracked_lists = 0
        self.skiplist = False       # Redis's encoding is a skiplist for good
        for member, score in items:
            self.add(member, score)

    def __len__(self):
        return len(self.members)

    def __contains__(self, member):
        return member in self.members

    def __eq__(self, other):
        return isinstance(other, ZSet) and self.members == other.members

    def __repr__(self):
        return "ZSet(%r)" % list(self.items())

    @classmethod
    def from_scores(cls, scores):
        """A ZSet from a member -> score dict; faster than repeated ``add``
        for bulk results (ZUNIONSTORE...)."""
        z = cls()
        members = z.members = {m: score_prefix(s + 0.0) + m for m, s in scores.items()}
        z.index = SortedList(members.values())
        entries, value = LISTPACK_LIMITS
        z.skiplist = len(members) > entries or (bool(members) and max(map(len, members)) > value)
        return z

    def keep_untracked(self):
        """Keep the index's sublists (lists of about a thousand bytes keys)
        out of the cyclic GC: without this a full collection visits every
        member (about 9 ms per million).  Cheap unless the sublists
        changed: a split or a merge changes their number, a rebuild
        replaces the first one (a merge followed by a split does neither:
        ``add`` and ``pop_one`` set ``untracked_lists`` to -1 to have every
        sublist checked)."""
        lists = getattr(self.index, "_lists", None)
        if lists is None:
            return
        if len(lists) != self.untracked_lists or (lists and acyclic.is_tracked(lists[0])):
            for part in lists:
                acyclic.untrack(part)
            self.untracked_lists = len(lists)

    def score(self, member):
        """The member's score, or None."""
        key = self.members.get(member)
        if key is None:
            return None
        return -_unpack_d(key)[0] if key[0] & 0x80 else _negative_score(key)

    def score_items(self):
        """(member, score) pairs in no particular order (lazily)."""
        for m, k in self.members.items():
            yield m, -_unpack_d(k)[0] if k[0] & 0x80 else _negative_score(k)

    def add(self, member, score):
        """Insert or update; returns 1 when the member is new, 0 when its
        score changed and None when it already had that score.  Keeps the
        index's sublists untracked itself (keep_untracked when their number
        changed), so a stored sorted set changed only by ``add`` needs no
        GC bookkeeping afterwards (Database.modified_value)."""
        score += 0.0                    # -0.0 -> 0.0
        if score >= 0.0:                # score_prefix, inlined (the hot path of ZADD)
            key = _pack_d(-score) + member
        else:
            key = _pack_q(_MAX63 - _unpack_q(_pack_d(-score))[0]) + member
        members = self.members
        old = members.get(member)
        if old is not None:
            if old == key:                  # same member: same score
                return None
            members[member] = key
            self._move(old, key)
            return 0
        members[member] = key
        index = self.index
        index.add(key)
        if len(index._lists) != self.untracked_lists:     # (a split, or the first key)
            self.keep_untracked()
        if not self.skiplist and (len(members) > LISTPACK_LIMITS[0]
                                  or len(member) > LISTPACK_LIMITS[1]):
            self.skiplist = True
        return 1

    def _move(self, old, key):
        """Replace ``old`` by ``key`` in the index.  Uses SortedList's
        sublists (``_lists``, their maxima ``_maxes``): when the new key
        still sorts between the old one's neighbours (a small ZINCRBY, a
        score that changes little), it takes the old one's slot, with no
        shifting and no positional-index update; otherwise the old key's
        position, found once, is deleted and the new key inserted -- by
        hand when neither sublist changes shape, by SortedList's _delete
        and add when one may (a merge, a split, the positional index)."""
        index = self.index
        maxes = index._maxes
        lists = index._lists
        pos = _bisect_left(maxes, old)
        lst = lists[pos]
        idx = _bisect_left(lst, old)
        last = len(lst) - 1
        if key < old:
            if idx:
                fits = lst[idx - 1] < key
            else:
                fits = not pos or maxes[pos - 1] < key
        elif idx < last:
            fits = key < lst[idx + 1]
        else:
            fits = pos == len(maxes) - 1 or key < lists[pos + 1][0]
        if fits:
            lst[idx] = key
            if idx == last:
                maxes[pos] = key
            return
        if index._index or (last <= index._load >> 1 and len(lists) > 1):
            # A positional index to keep up to date, or a sublist about to
            # be merged: SortedList's own delete and add.
            if last <= index._load >> 1 and len(lists) > 1:
                # A merge may be followed by a split (a new sublist with
                # their number unchanged): check every sublist.
                self.untracked_lists = -1
            index._delete(pos, idx)
            index.add(key)
            if len(lists) != self.untracked_lists:
                self.keep_untracked()
            return
        # What _delete then add do when the old key's sublist keeps more
        # than half the load (or is the only one: it keeps a key, as a key
        # that does not fit has a neighbour) and no positional index is
        # built: the length is unchanged, only the two sublists and their
        # maxima move.
        del lst[idx]
        if idx == last:
            maxes[pos] = lst[-1]
        pos = _bisect_right(maxes, key)
        if pos == len(maxes):
            pos -= 1
            lst = lists[pos]
            lst.append(key)
            maxes[pos] = key
        else:
            lst = lists[pos]
            _insort(lst, key)
        if len(lst) > index._load << 1:
            index._expand(pos)              # (splits the sublist)
            self.keep_untracked()

    def remove(self, member):
        key = self.members.pop(member, None)
        if key is None:
            return False
        self.index.remove(key)
        return True

    def rank(self, member):
        key = self.members.get(member)
        if key is None:
            return None
        return self.index.index(key)

    def items(self):
        """(member, score) pairs in ascending order (lazily)."""
        for k in self.index:
            yield k[PREFIX:], -_unpack_d(k)[0] if k[0] & 0x80 else _negative_score(k)

    def items_desc(self):
        """(member, score) pairs in descending order (lazily)."""
        for k in reversed(self.index):
            yield k[PREFIX:], -_unpack_d(k)[0] if k[0] & 0x80 else _negative_score(k)

    def copy(self):
        z = ZSet()
        z.members = dict(self.members)
        z.index = SortedList(self.index)
        z.skiplist = self.skiplist      # (Redis's zsetDup keeps the encoding)
        return z

    # -- positional access --------------------------------------------------
    def slice(self, lo, hi, reverse=False, scores=True):
        """(member, score) pairs of index positions [lo, hi), in ascending
        order or, with ``reverse``, descending from hi-1 down to lo.  With
        ``scores`` false just the members (no scores to decode)."""
        keys = self.index.islice(lo, hi, reverse=reverse)
        if scores:
            return _pairs(keys)
        return [k[PREFIX:] for k in keys]

    def at(self, i):
        """(member, score) at index position i."""
        return _pairs((self.index[i],))[0]

    def pop(self, count, from_max=False):
        """Remove and return up to ``count`` lowest (or highest) pairs, in
        pop order."""
        index = self.index
        n = min(count, len(index))
        if n <= 0:
            return []
        if n == 1:                 # ZPOPMIN/ZPOPMAX key, BZPOPMIN: one O(log n) pop
            return [self.pop_one(from_max)]
        if from_max:
            taken = list(index.islice(len(index) - n, len(index), reverse=True))
            del index[len(index) - n:]
        else:
            taken = list(index.islice(0, n))
            del index[:n]
        out = _pairs(taken)
        members = self.members
        for m, _ in out:
            del members[m]
        return out

    def pop_one(self, from_max=False):
        """Remove the lowest (highest) member of a non-empty sorted set;
        returns (member, score).  Like ``add``, keeps the index's sublists
        untracked itself."""
        index = self.index
        lists = index._lists
        if from_max:
            pos = len(lists) - 1
            lst = lists[pos]
            idx = len(lst) - 1
        else:
            pos = idx = 0
            lst = lists[0]
        if len(lst) <= (index._load >> 1) + 1 and len(lists) > 1:
            # The end sublist will be merged into its neighbour, which may
            # then split (a new sublist, their number unchanged).
            self.untracked_lists = -1
        key = lst[idx]
        index._delete(pos, idx)         # (SortedList.pop's work for either end)
        if len(lists) != self.untracked_lists:
            self.keep_untracked()
        m = key[PREFIX:]
        del self.members[m]
        return m, -_unpack_d(key)[0] if key[0] & 0x80 else _negative_score(key)

    def delete_slice(self, lo, hi):
        """Remove index positions [lo, hi); returns how many."""
        if hi <= lo:
            return 0
        index = self.index
        members = self.members
        for k in index.islice(lo, hi):
            del members[k[PREFIX:]]
        del index[lo:hi]
        return hi - lo

    # -- score ranges ---------------------------------------------------------
    def score_bounds(self, smin, minex, smax, maxex):
        """Index interval [lo, hi) of members with min <(=) score <(=) max.
        A bare score prefix sorts before every key with that score."""
        index = self.index
        n = len(index)
        if smin > smax or (smin == smax and (minex or maxex)) or not n:
            return 0, 0
        if minex:
            lo = n if smin == _INF else index.bisect_left(_bound(_nextafter(smin, _INF)))
        else:
            lo = index.bisect_left(_bound(smin))
        if maxex:
            hi = index.bisect_left(_bound(smax))
        else:
            hi = n if smax == _INF else index.bisect_left(_bound(_nextafter(smax, _INF)))
        if hi < lo:
            hi = lo
        return lo, hi

    # -- lex ranges -------------------------------------------------------------
    # A lex bound is (value, exclusive) where value is bytes, or LEX_MIN /
    # LEX_MAX for "-" / "+".  Redis defines lex ranges only when all scores
    # are equal; otherwise it scans its listpack linearly (sorted sets of up
    # to 128 entries), which is what the slow path below reproduces.

    @staticmethod
    def lex_gte_min(member, lmin, minex):
        if lmin is LEX_MIN:
            return True
        if lmin is LEX_MAX:
            return False
        return member > lmin if minex else member >= lmin

    @staticmethod
    def lex_lte_max(member, lmax, maxex):
        if lmax is LEX_MAX:
            return True
        if lmax is LEX_MIN:
            return False
        return member < lmax if maxex else member <= lmax

    @staticmethod
    def lex_range_empty(lmin, minex, lmax, maxex):
        c = _lexcmp(lmin, lmax)
        return c > 0 or (c == 0 and (minex or maxex))

    def lex_bounds(self, lmin, minex, lmax, maxex):
        """Index interval [lo, hi) of the lex range, as Redis finds it:
        the first entry >= min (if it is <= max) up to the first entry
        past max."""
        index = self.index
        n = len(index)
        if not n or self.lex_range_empty(lmin, minex, lmax, maxex):
            return 0, 0
        gte, lte = self.lex_gte_min, self.lex_lte_max
        prefix = index[0][:PREFIX]
        if prefix == index[-1][:PREFIX]:
            # All scores equal: members are in lex order, bisect.
            if lmin is LEX_MIN:
                lo = 0
            elif lmin is LEX_MAX:
                return 0, 0
            elif minex:
                lo = index.bisect_right(prefix + lmin)
            else:
                lo = index.bisect_left(prefix + lmin)
            if lmax is LEX_MAX:
                hi = n
            elif lmax is LEX_MIN:
                return 0, 0
            elif maxex:
                hi = index.bisect_left(prefix + lmax)
            else:
                hi = index.bisect_right(prefix + lmax)
            return lo, max(lo, hi)
        # Mixed scores: Redis's linear scan semantics.
        if not gte(index[-1][PREFIX:], lmin, minex) or not lte(index[0][PREFIX:], lmax, maxex):
            return 0, 0
        lo = None
        for i, m in enumerate(k[PREFIX:] for k in index):
            if gte(m, lmin, minex):
                if not lte(m, lmax, maxex):
                    return 0, 0
                lo = i
                break
        if lo is None:
            return 0, 0
        hi = lo
        for m in (k[PREFIX:] for k in index.islice(lo, n)):
            if not lte(m, lmax, maxex):
                break
            hi += 1
        return lo, hi

    def lex_range(self, lmin, minex, lmax, maxex, reverse=False, offset=0, limit=-1,
                  scores=True):
        """(member, score) pairs (``scores`` false: members) of a lex range
        as ZRANGEBYLEX emits them: from the first (last, with ``reverse``)
        entry in range, skip ``offset`` entries, then emit while in range,
        at most ``limit`` (negative: no limit)."""
        index = self.index
        n = len(index)
        if offset < 0 or not n:
            return []
        if index[0][:PREFIX] == index[-1][:PREFIX]:
            lo, hi = self.lex_bounds(lmin, minex, lmax, maxex)
            return self.window(lo, hi, reverse, offset, limit, scores)
        # Mixed scores (undefined in Redis): walk entries like its listpack.
        out = []
        gte, lte = self.lex_gte_min, self.lex_lte_max
        if self.lex_range_empty(lmin, minex, lmax, maxex) or \
                not gte(index[-1][PREFIX:], lmin, minex) or \
                not lte(index[0][PREFIX:], lmax, maxex):
            return []
        if not reverse:
            lo, hi = self.lex_bounds(lmin, minex, lmax, maxex)
            if lo == hi:
                return []
            p = lo + offset
            while p < n and limit != 0:
                k = index[p]
                m = k[PREFIX:]
                if not lte(m, lmax, maxex):
                    break
                out.append((m, score_of(k)) if scores else m)
                limit -= 1
                p += 1
            return out
        last = None
        for i in range(n - 1, -1, -1):
            m = index[i][PREFIX:]
            if lte(m, lmax, maxex):
                if gte(m, lmin, minex):
                    last = i
                break
        if last is None:
            return []
        p = last - offset
        while p >= 0 and limit != 0:
            k = index[p]
            m = k[PREFIX:]
            if not gte(m, lmin, minex):
                break
            out.append((m, score_of(k)) if scores else m)
            limit -= 1
            p -= 1
        return out

    def window(self, lo, hi, reverse=False, offset=0, limit=-1, scores=True):
        """(member, score) pairs (``scores`` false: members) of positions
        [lo, hi) after skipping ``offset`` from the start (the end, with
        ``reverse``) and keeping at most ``limit`` (negative: all)."""
        if offset < 0:
            return []
        if not reverse:
            a = lo + offset
            b = hi if limit < 0 else min(hi, a + limit)
            return self.slice(a, b, False, scores) if a < b else []
        b = hi - offset
        a = lo if limit < 0 else max(lo, b - limit)
        return self.slice(a, b, True, scores) if a < b else []


class _LexBound:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


LEX_MIN = _LexBound("LEX_MIN")
LEX_MAX = _LexBound("LEX_MAX")


def _lexcmp(a, b):
    """Redis's sdscmplex: LEX_MIN < any string < LEX_MAX."""
    if a is b:
        return 0
    if a is LEX_MIN or b is LEX_MAX:
        return -1
    if a is LEX_MAX or b is LEX_MIN:
        return 1
    return (a > b) - (a < b)


acyclic.KEEPERS[ZSet] = ZSet.keep_untracked
