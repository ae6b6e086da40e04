"""storage.zset.ZSet against a plain model: the bytes index keys order as
Redis does (score, then member bytes), scores decode to the stored float,
and in-place moves (ZSet._move) keep SortedList's invariants."""
import math
import random

from nodensync.storage.zset import ZSet, score_of, score_prefix


def zkey(score, member):
    """The index key ZSet.add stores for (score, member)."""
    return ZSet([(member, score)]).members[member]

SPECIAL = [0.0, math.inf, -math.inf, 5e-324, -5e-324, 2.2250738585072014e-308,
           -2.2250738585072014e-308, 1.7976931348623157e308, -1.7976931348623157e308,
           1.0, -1.0, 0.5, -0.5, 1e15, -1e15]


def test_key_order_is_score_then_member():
    rng = random.Random(1)
    scores = SPECIAL + [rng.uniform(-1e9, 1e9) for _ in range(500)]
    members = [b"", b"\x00", b"a", b"a\x00", b"ab", b"b", b"\xff", b"\xff\xff"]
    pairs = [(s, m) for s in scores for m in rng.sample(members, 3)]
    assert sorted(pairs) == sorted(pairs, key=lambda p: zkey(*p))
    for s in scores:
        k = zkey(s, b"m")
        assert score_of(k) == s and math.copysign(1, score_of(k)) == math.copysign(1, s)
        assert k[:8] == score_prefix(s)


def test_negative_zero_is_stored_as_zero():
    z = ZSet([(b"a", -0.0)])
    assert math.copysign(1, z.score(b"a")) == 1
    assert z.add(b"a", 0.0) is None       # unchanged
    assert z.score_bounds(-0.0, False, -0.0, False) == (0, 1)


def test_updates_match_a_model():
    for seed in range(20):
        rng = random.Random(seed)
        z, ref = ZSet(), {}
        nmembers = rng.choice([3, 40, 2500, 5000])      # one sublist or several
        spread = rng.choice([2, 100, 10 ** 6])
        for _ in range(8000):
            m = b"m%d" % rng.randrange(nmembers)
            r = rng.random()
            if r < 0.4 and m in ref:          # small moves: mostly in place
                s = ref[m] + rng.choice([-1, 1]) * rng.random() * spread / 100
            elif r < 0.45:
                s = rng.choice(SPECIAL + [-0.0])
            else:
                s = float(rng.randrange(-spread, spread + 1))
            new = m not in ref
            changed = not new and ref[m] != s
            assert z.add(m, s) == (1 if new else 0 if changed else None)
            ref[m] = s + 0.0
            if r > 0.97:
                z.rank(m)                     # builds SortedList's positional index
            elif r < 0.01:
                d = rng.choice(list(ref))
                assert z.remove(d)
                del ref[d]
        z.index._check()
        expect = sorted(ref.items(), key=lambda p: (p[1], p[0]))
        assert list(z.items()) == expect
        assert list(z.items_desc()) == expect[::-1]
        assert [z.rank(m) for m, _ in expect] == list(range(len(expect)))
        assert dict(z.score_items()) == ref


def test_add_keeps_sublists_untracked_through_splits_and_merges():
    """ZSet.add moves keys between sublists itself (no positional index
    built): members moved from the low end to the high end empty the first
    sublists (merges) and overfill the last ones (splits).  The index must
    stay SortedList-valid, match the model, and no sublist may be tracked
    by the GC (ZADD on a stored sorted set does no GC bookkeeping after)."""
    import gc
    rng = random.Random(7)
    z, ref = ZSet(), {}
    for i in range(6000):
        m = b"m%d" % i
        z.add(m, float(i))
        ref[m] = float(i)
    top = 6000.0
    for step in range(30000):
        m = b"m%d" % rng.randrange(6000)
        r = rng.random()
        if r < 0.6:
            top += 1
            s = top                                    # to the high end
        elif r < 0.8:
            s = float(rng.randrange(-100, int(top)))   # anywhere
        else:
            s = ref[m] + rng.choice([-0.5, 0.5])       # a small move
        assert z.add(m, s) == (0 if ref[m] != s else None)
        ref[m] = s
        if step % 500 == 0:
            z.index._check()
            assert not z.index._index
            assert not any(gc.is_tracked(part) for part in z.index._lists)
    z.index._check()
    assert not any(gc.is_tracked(part) for part in z.index._lists)
    expect = sorted(ref.items(), key=lambda p: (p[1], p[0]))
    assert list(z.items()) == expect


def test_pop_one_keeps_sublists_untracked():
    """ZSet.pop_one (ZPOPMIN/ZPOPMAX key): pops from both ends merge the end
    sublists, adds in between split others; the index stays valid and
    untracked and the pops come in the model's order."""
    import gc
    z = ZSet()
    for i in range(8000):                   # ascending: sublists of 1000
        z.add(b"m%d" % i, float(i))
    for i in range(700):                    # the second sublist grows to 1700
        z.add(b"x%d" % i, 1000.5 + i)
    # Popping the first sublist down to half the load merges it into the
    # second, which is then too long and splits: a new sublist with their
    # number unchanged.
    for _ in range(600):
        z.pop_one()
        assert not any(gc.is_tracked(part) for part in z.index._lists)
    z.index._check()
    rng = random.Random(3)
    ref = {k[8:]: score_of(k) for k in z.index}
    n = 0
    while ref:
        if rng.random() < 0.3:
            m = b"n%d" % n
            n += 1
            s = float(rng.randrange(100000))
            assert z.add(m, s) == 1
            ref[m] = s
        from_max = rng.random() < 0.5
        order = sorted(ref.items(), key=lambda p: (p[1], p[0])) if len(ref) < 50 else None
        m, s = z.pop_one(from_max)
        if order is not None:
            assert (m, s) == (order[-1] if from_max else order[0])
        assert ref.pop(m) == s
        assert len(z) == len(ref)
        assert not any(gc.is_tracked(part) for part in z.index._lists)
        if len(ref) % 700 == 0:
            z.index._check()
    assert not len(z.index)
