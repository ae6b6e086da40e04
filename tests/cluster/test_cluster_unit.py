"""Unit tests of the cluster's pure parts: key -> slot, the topology state
machine (deterministic operations, refusals), views and CLUSTER NODES
lines.  Expected slots come from a real Redis 7.0 (CLUSTER KEYSLOT)."""
import os
import pickle
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from nodensync.cluster.slots import key_slot, parse_slot, ranges, format_ranges  # noqa: E402
from nodensync.cluster.topology import Topology, View, node_line, nodes_text  # noqa: E402
from nodensync.errors import CommandError  # noqa: E402

# (key, slot) pairs answered by redis-server 7.0.15's CLUSTER KEYSLOT.
REDIS_SLOTS = [
    (b"foo", 12182), (b"{}a", 10875), (b"{x}a", 16287), (b"b", 3300), (b"{b}1", 3300),
    (b"123456789", 12739), (b"", 0), (b"{user1000}.following", 3443),
    (b"{user1000}.followers", 3443), (b"foo{}{bar}", 8363), (b"foo{{bar}}zap", 4015),
    (b"foo{bar}{zap}", 5061), (b"key:1", 6657),
]


@pytest.mark.parametrize("key,slot", REDIS_SLOTS)
def test_key_slot_matches_redis(key, slot):
    assert key_slot(key) == slot


def test_hash_tags():
    assert key_slot(b"{user}:a") == key_slot(b"{user}:b") == key_slot(b"user")
    assert key_slot(b"{}user") != key_slot(b"user")          # empty tag: whole key
    assert key_slot(b"x{abc") == key_slot(b"x{abc")           # no closing brace
    assert 0 <= key_slot(os.urandom(100)) < 16384


def test_parse_slot():
    assert parse_slot(b"0") == 0 and parse_slot(b"16383") == 16383
    for bad in (b"16384", b"-1", b"abc", b" 1", b"+1", b"01", b""):
        with pytest.raises(CommandError) as e:
            parse_slot(bad)
        assert e.value.message == "ERR Invalid or out of range slot"


def test_ranges():
    assert ranges([0, 1, 2, 5, 7, 8]) == [(0, 2), (5, 5), (7, 8)]
    assert format_ranges([(0, 2), (5, 5)]) == ["0-2", "5"]
    assert ranges([]) == []


A, B, C, D = ("a" * 40, "b" * 40, "c" * 40, "d" * 40)


def make3():
    t = Topology()
    for i, nid in enumerate((A, B, C)):
        r = t.apply("add_node", (nid, "127.0.0.1", 7000 + i, 17000 + i, "", 5, [], 0))
        assert r["new"] and r["voter"]
    assert t.apply("add_slots", (A, list(range(0, 5461)))) is None
    assert t.apply("add_slots", (B, list(range(5461, 10923)))) is None
    assert t.apply("add_slots", (C, list(range(10923, 16384)))) is None
    return t


def test_topology_slots_and_epochs():
    t = make3()
    assert t.slots[0] == A and t.slots[16383] == C
    assert [t.nodes[x]["epoch"] for x in (A, B, C)] == [1, 2, 3]
    assert t.apply("add_slots", (B, [0])) == "ERR Slot 0 is already busy"
    assert t.apply("del_slots", ([0],)) is None
    assert t.apply("del_slots", ([0],)) == "ERR Slot 0 is already unassigned"
    v = View(t, A)
    assert v.assigned == 16383 and v.owner[0] is None and v.owner[1] is v.me


def test_topology_failover_moves_shard():
    t = make3()
    t.apply("add_node", (D, "127.0.0.1", 7003, 17003, "", 5, [], 0))
    assert t.apply("replicate", (D, A)) is None
    assert t.apply("replicate", (D, D)) == "ERR Can't replicate myself"
    assert t.apply("replicate", (B, A)).startswith("ERR To set a master")
    t.apply("set_migrating", (5, A, B))
    t.apply("set_importing", (5, B, A))
    res = t.apply("failover", (A, D, "auto", 0.0))
    assert res["epoch"] == 4 and not res["already"]
    assert t.slots[0] == D and t.nodes[A]["master"] == D and t.nodes[D]["master"] is None
    assert t.migrating[5] == (D, B) and t.importing[5] == (B, D)
    # a second identical failover is recognised, a wrong one refused
    assert t.apply("failover", (A, D, "auto", 0.0))["already"]
    assert t.apply("failover", (B, C, "auto", 0.0)).startswith("ERR")


def test_topology_slot_moves_and_replica_migration():
    t = make3()
    assert t.apply("set_migrating", (0, B, C)) == "ERR I'm not the owner of hash slot 0"
    assert t.apply("set_importing", (0, A, B)) == "ERR I'm already the owner of hash slot 0"
    assert t.apply("set_migrating", (0, A, "x" * 40)).startswith("ERR I don't know about node")
    t.apply("set_migrating", (0, A, B))
    t.apply("set_importing", (0, B, A))
    v = View(t, A)
    assert 0 in v.migrating_to and v.migrating_to[0].id == B
    assert 0 in View(t, B).importing_from
    t.apply("set_slot_node", (0, B, True))
    assert t.slots[0] == B and not t.migrating and not t.importing
    # moving A's last slots away turns A into a replica of the taker
    for s in range(1, 5461):
        t.apply("set_slot_node", (s, C, True))
    assert t.nodes[A]["master"] == C


def test_topology_is_deterministic_and_picklable():
    ops = [("add_node", (A, "127.0.0.1", 7000, 17000, "", 2, [1, 2], 0)),
           ("add_node", (B, "127.0.0.1", 7001, 17001, "", 2, [], 0)),
           ("add_node", (C, "127.0.0.1", 7002, 17002, "", 2, [], 0)),
           ("add_slots", (B, [3, 4])), ("bump_epoch", (C,)), ("forget", (B,))]
    t1, t2 = Topology(), Topology()
    r1 = [t1.apply(o, a) for o, a in ops]
    r2 = [t2.apply(o, a) for o, a in ops]
    assert r1 == r2
    assert r1[2]["voter"] is False          # third member beyond 2 voters: read-only
    t3 = pickle.loads(pickle.dumps(t1))
    assert t3.__dict__ == t1.__dict__
    assert t1.slots[3] is None and B not in t1.nodes


class _Health:
    def node_state(self, nid):
        return 0, 1700000000000, "connected", False


def test_nodes_lines():
    t = make3()
    t.apply("add_node", (D, "127.0.0.1", 7003, 17003, "host-d", 5, [], 0))
    t.apply("replicate", (D, A))
    t.apply("set_migrating", (3, A, B))
    t.apply("set_importing", (6000, A, B))
    v = View(t, A)
    lines = nodes_text(v, _Health()).splitlines()
    mine = next(line for line in lines if line.startswith(A))
    parts = mine.split()
    assert parts[1] == "127.0.0.1:7000@17000"
    assert parts[2] == "myself,master" and parts[3] == "-" and parts[7] == "connected"
    assert parts[8] == "0-5460"
    assert parts[9] == "[3->-%s]" % B and parts[10] == "[6000-<-%s]" % B
    rep = next(line for line in lines if line.startswith(D)).split()
    assert rep[1] == "127.0.0.1:7003@17003,host-d" and rep[2] == "slave" and rep[3] == A
    assert rep[6] == "1"                     # a replica shows its master's epoch
    assert len(rep) == 8
    assert node_line(v, v.nodes[B], _Health()).split()[8] == "5461-10922"


class _KS:
    dirty = 0


class _DB:
    def __init__(self):
        self.keyspace = _KS()
        self.data = {}


def test_slot_index_reuses_a_pass_only_while_exact():
    from nodensync.cluster.slots import SlotIndex
    db = _DB()
    idx = SlotIndex(lambda: db)
    db.data.update({b"{b}1": b"x", b"{b}2": b"y", b"foo": b"z"})
    db.keyspace.dirty += 3
    assert sorted(idx.keys(3300)) == [b"{b}1", b"{b}2"]
    # a new key while the slot is not migrating: the dirty counter moved -> rebuilt
    db.data[b"{b}3"] = b"w"
    db.keyspace.dirty += 1
    assert sorted(idx.keys(3300)) == [b"{b}1", b"{b}2", b"{b}3"]
    # migrating: the index built after the token is trusted; keys only leave
    token = idx.mark()
    assert idx.count(3300, token) == 3
    del db.data[b"{b}1"]
    db.keyspace.dirty += 1
    built = idx.built_dirty
    assert sorted(idx.keys(3300, token)) == [b"{b}2", b"{b}3"]
    assert idx.built_dirty == built          # no new pass
    # a replaced database (full sync) is never trusted
    db2 = _DB()
    db2.data[b"{b}9"] = b"v"
    db = db2
    assert idx.keys(3300, token) == [b"{b}9"]
