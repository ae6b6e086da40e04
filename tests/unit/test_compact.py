"""The compact forms of small hashes and sets (storage/compact.py), driven
through the real command handlers of an in-process node and checked against
a plain dict / set model, plus the form rules (packed while within the
limits, converted for good past them)."""
import os
import sys

from hypothesis import given, settings, strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from inprocess import in_process_node  # noqa: E402
from nodensync.commands.dispatch import dispatch  # noqa: E402
from nodensync.errors import CommandError  # noqa: E402
from nodensync.storage import compact  # noqa: E402
from nodensync.storage.compact import IntSet, PackedHash, PackedSet  # noqa: E402


class Node:
    """An in-process node whose compact-form limits are small, so that
    short command sequences cross them."""

    def __init__(self, hash_entries=4, hash_value=6, intset_entries=5):
        self.node, self.client, self.socks = in_process_node()
        ks = self.node.keyspace
        ks.hash_pack_entries = hash_entries
        ks.hash_pack_value = hash_value
        ks.intset_entries = intset_entries
        self.db = ks.dbs[0]

    def __call__(self, *argv):
        try:
            return dispatch(self.client, [a if isinstance(a, bytes) else a.encode() for a in argv])
        except CommandError as e:
            return e

    def close(self):
        for s in self.socks:
            s.close()


FIELDS = st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"1", b"22", b"longfield"])
VALUES = st.sampled_from([b"", b"1", b"x", b"a", b"-7", b"longvalue", b"b"])

HASH_OPS = st.one_of(
    st.tuples(st.just("HSET"), st.lists(st.tuples(FIELDS, VALUES), min_size=1, max_size=4)),
    st.tuples(st.just("HSETNX"), st.tuples(FIELDS, VALUES)),
    st.tuples(st.just("HDEL"), st.lists(FIELDS, min_size=1, max_size=3)),
    st.tuples(st.just("HINCRBY"), st.tuples(FIELDS, st.integers(-3, 3))),
)


def _hash_form_ok(value, ever_dict, ks):
    if value is None:
        return True
    if ever_dict:
        return type(value) is dict               # never converted back
    return type(value) is PackedHash and len(compact.unpack_hash(value)) <= ks.hash_pack_entries


@settings(max_examples=200, deadline=None)
@given(st.lists(HASH_OPS, min_size=1, max_size=30), st.lists(FIELDS, min_size=1, max_size=4))
def test_hash_commands_follow_a_dict_model(ops, probes):
    n = Node()
    model = {}
    ever_dict = False
    try:
        for op, args in ops:
            if op == "HSET":
                reply = n("HSET", "h", *[x for pair in args for x in pair])
                new = {f: v for f, v in args}
                assert reply == len(set(new) - set(model))
                model.update(new)
            elif op == "HSETNX":
                f, v = args
                assert n("HSETNX", "h", f, v) == (0 if f in model else 1)
                model.setdefault(f, v)
            elif op == "HDEL":
                assert n("HDEL", "h", *args) == len(set(args) & set(model))
                for f in args:
                    model.pop(f, None)
            else:
                f, incr = args
                reply = n("HINCRBY", "h", f, str(incr))
                value = compact.canonical_int(model.get(f, b"0"))
                if value is None:
                    assert isinstance(reply, CommandError)
                    continue
                assert reply == value + incr
                model[f] = b"%d" % (value + incr)
            stored = n.db.get(b"h")
            ever_dict = ever_dict or type(stored) is dict
            assert _hash_form_ok(stored, ever_dict, n.node.keyspace), (op, args, stored)
            if not model:
                ever_dict = False                    # the key is gone: a new hash starts packed
            assert n("HGETALL", "h") == model
            assert n("HLEN", "h") == len(model)
            assert n("HMGET", "h", *probes) == [model.get(f) for f in probes]
            for f in probes:
                assert n("HGET", "h", f) == model.get(f)
                assert n("HEXISTS", "h", f) == (1 if f in model else 0)
                assert n("HSTRLEN", "h", f) == len(model.get(f, b""))
            assert n("HKEYS", "h") == list(model)    # insertion order, as a listpack
    finally:
        n.close()


MEMBERS = st.sampled_from([b"1", b"2", b"-3", b"40", b"9223372036854775807",
                           b"-9223372036854775808", b"01", b"x", b"y", b"zz", b"long-member"])

SET_OPS = st.one_of(
    st.tuples(st.just("SADD"), st.lists(MEMBERS, min_size=1, max_size=4)),
    st.tuples(st.just("SREM"), st.lists(MEMBERS, min_size=1, max_size=3)),
    st.tuples(st.just("SPOP"), st.integers(0, 3)),
    st.tuples(st.just("SPOP"), st.none()),
    st.tuples(st.just("SMOVE"), MEMBERS),
)


def _set_form_ok(value, history, ks):
    """The form rules: an intset holds only canonical integers and never
    comes back once left; a packed set holds short members; a plain set
    stays one."""
    if value is None:
        return True
    members = compact.set_members(value)
    t = type(value)
    if t is IntSet:
        return (history <= {IntSet} and len(members) <= ks.intset_entries
                and all(compact.canonical_int(m) is not None for m in members)
                and list(members) == sorted(members, key=int))
    if t is PackedSet:
        return (set not in history and len(members) <= compact.SET_PACK_ENTRIES
                and all(len(m) <= compact.SET_PACK_VALUE for m in members))
    return t is set


@settings(max_examples=200, deadline=None)
@given(st.lists(SET_OPS, min_size=1, max_size=30), st.lists(MEMBERS, min_size=1, max_size=4))
def test_set_commands_follow_a_set_model(ops, probes):
    n = Node()
    model = set()
    other = set()                                # SMOVE's destination
    history = set()
    try:
        for op, args in ops:
            if op == "SADD":
                assert n("SADD", "s", *args) == len(set(args) - model)
                model.update(args)
            elif op == "SREM":
                assert n("SREM", "s", *args) == len(set(args) & model)
                model.difference_update(args)
            elif op == "SPOP" and args is None:
                popped = n("SPOP", "s")
                assert (popped in model) if model else popped is None
                model.discard(popped)
            elif op == "SPOP":
                popped = n("SPOP", "s", str(args))
                assert popped <= model and len(popped) == min(args, len(model))
                model -= popped
            else:
                assert n("SMOVE", "s", "o", args) == (1 if args in model else 0)
                if args in model:
                    model.discard(args)
                    other.add(args)
            stored = n.db.get(b"s")
            if stored is None:
                history = set()
            else:
                assert _set_form_ok(stored, history, n.node.keyspace), (op, args, stored)
                history.add(type(stored))
            assert set(n("SMEMBERS", "s")) == model
            assert set(n("SMEMBERS", "o")) == other
            assert n("SCARD", "s") == len(model)
            assert n("SMISMEMBER", "s", *probes) == [1 if m in model else 0 for m in probes]
            for m in probes:
                assert n("SISMEMBER", "s", m) == (1 if m in model else 0)
            if model:
                assert n("SRANDMEMBER", "s") in model
                picked = n("SRANDMEMBER", "s", "2")
                assert len(picked) == min(2, len(model)) and set(picked) <= model
                assert all(m in model for m in n("SRANDMEMBER", "s", "-3"))
            assert set(n("SINTER", "s", "o")) == model & other
            assert set(n("SUNION", "s", "o")) == model | other
            cursor, seen = n("SSCAN", "s", "0", "COUNT", "1")
            for _ in range(100):
                if cursor == b"0":
                    break
                cursor, more = n("SSCAN", "s", cursor, "COUNT", "1")
                seen += more
            assert cursor == b"0" and set(seen) == model
    finally:
        n.close()


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(-(1 << 63), (1 << 63) - 1), max_size=20),
       st.lists(st.integers(-(1 << 63), (1 << 63) - 1), max_size=6))
def test_intset_add_remove_contains(start, changes):
    """The int64 splicing of an IntSet against a set of ints."""
    n = Node(intset_entries=100)
    try:
        ks = n.node.keyspace
        members = {b"%d" % v for v in start}
        value = compact.compact_set(ks, set(members)) if members else None
        for v in changes:
            m = b"%d" % v
            if value is None:
                value, added = compact.compact_set(ks, {m}), 1
            elif m in members:
                value, removed = compact.set_remove(value, [m])
                assert removed == 1
                members.discard(m)
                continue
            else:
                value, added = compact.set_add(ks, value, [m])
            assert added == (0 if m in members else 1)
            members.add(m)
        if not members:
            assert value is None
            return
        assert type(value) is IntSet
        assert compact.set_members(value) == sorted(members, key=int)
        assert compact.set_len(value) == len(members)
        for v in list(start) + changes:
            assert compact.set_contains(value, b"%d" % v) == ((b"%d" % v) in members)
            assert not compact.set_contains(value, b"0%d" % abs(v))    # not canonical
    finally:
        n.close()


def test_compact_pop_is_set_remove_of_a_member():
    """SPOP's compact_pop leaves what set_remove of the member it returns
    leaves (same form, same bytes), down to None."""
    import random
    rng = random.Random(5)
    ks = Node().node.keyspace
    for members in ([b"%d" % i for i in range(-3, 40)], [b"m%d" % i for i in range(100)],
                    [b"7"], [b"x"], [b"9223372036854775807", b"-9223372036854775808"]):
        for _ in range(30):
            value = compact.compact_set(ks, set(members))
            assert type(value) in (IntSet, PackedSet)
            left = set(members)
            while value is not None:
                m, new = compact.compact_pop(value, rng)
                assert m in left
                left.discard(m)
                assert new == compact.set_remove(value, (m,))[0]
                assert new is None or type(new) is type(value)
                value = new
            assert not left


def test_spop_of_a_compact_set_keeps_the_ttl_and_stays_untracked():
    import gc
    n = Node()
    try:
        n("SADD", "s", "1", "2", "3")
        n("SADD", "t", "x", "y", "z")
        for k in ("s", "t"):
            n("PEXPIREAT", k, "4102444800000")
            n("SPOP", k)
        assert type(n.db.get(b"s")) is IntSet and type(n.db.get(b"t")) is PackedSet
        for k in (b"s", b"t"):
            assert n.db.get_expire(k) == 4102444800000
            assert not gc.is_tracked(n.db.get(k))
        assert not gc.is_tracked(n.db.data)
    finally:
        n.close()


def test_a_write_keeps_the_ttl_and_the_packed_form():
    n = Node()
    try:
        n("HSET", "h", "a", "1")
        n("SADD", "s", "1")
        n("SADD", "t", "x")
        for k in ("h", "s", "t"):
            n("PEXPIREAT", k, "4102444800000")
        n("HSET", "h", "b", "2")
        n("SADD", "s", "2")
        n("SADD", "t", "y")
        assert type(n.db.get(b"h")) is PackedHash
        assert type(n.db.get(b"s")) is IntSet
        assert type(n.db.get(b"t")) is PackedSet
        for k in (b"h", b"s", b"t"):
            assert n.db.get_expire(k) == 4102444800000
    finally:
        n.close()


def test_packed_hash_lookup_skips_values():
    p = compact.pack_hash({b"a": b"b", b"b": b"a", b"c": b"c"})
    assert compact.packed_hash_get(p, b"a") == b"b"
    assert compact.packed_hash_get(p, b"b") == b"a"
    assert compact.packed_hash_get(p, b"c") == b"c"
    assert compact.packed_hash_get(compact.pack_hash({b"x": b"y"}), b"y") is None
    assert compact.packed_hash_len(p) == 3


def test_loaded_values_are_compacted_by_the_rules():
    n = Node(hash_entries=2, hash_value=3, intset_entries=2)
    try:
        ks = n.node.keyspace
        assert type(compact.compact(ks, {b"a": b"1", b"b": b"2"})) is PackedHash
        assert type(compact.compact(ks, {b"a": b"1", b"b": b"2", b"c": b"3"})) is dict
        assert type(compact.compact(ks, {b"a": b"1234"})) is dict
        assert type(compact.compact(ks, {b"1", b"2"})) is IntSet
        assert type(compact.compact(ks, {b"1", b"2", b"3"})) is PackedSet
        assert type(compact.compact(ks, {b"x" * 65})) is set
        assert compact.compact(ks, b"str") == b"str"
    finally:
        n.close()


def test_a_packed_hash_is_not_tracked_by_the_garbage_collector():
    """Small hashes were untracked dicts; their packed form must not add a
    million objects to every full collection (see compact.PackedHash)."""
    import gc
    n = Node()
    try:
        p = compact.pack_hash({b"f": b"v"})
        assert type(p) is PackedHash and not gc.is_tracked(p)
        value, _ = compact.hash_set(n.node.keyspace, p, (b"g", b"w"))
        assert type(value) is PackedHash and not gc.is_tracked(value)
    finally:
        n.close()
