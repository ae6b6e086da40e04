"""Random sequences of list commands compared with a real redis-server
(RESP2 and RESP3), and the propagated stream (what replicas and the AOF get)
replayed on redis-server to check it rebuilds the same lists.  A string key
is mixed in so WRONGTYPE paths run too; blocking commands get tiny timeouts
(they only block when every key is empty)."""
from collections import deque

from inprocess import run_capturing
from hypothesis import HealthCheck, given, settings, strategies as st

KEYS = ["l1", "l2", "l3", "s1"]
VALUES = ["a", "b", "c", "", "1", b"\x00\xff\r\n"]
INDEXES = ["0", "1", "-1", "2", "-2", "5", "-100", "100", "x"]
COUNTS = ["0", "1", "2", "-1", "-2", "10", "x"]

key = st.sampled_from(KEYS)
value = st.sampled_from(VALUES)
index = st.sampled_from(INDEXES)
side = st.sampled_from(["LEFT", "RIGHT", "left", "UP"])
values = st.lists(value, min_size=1, max_size=4)
keys = st.lists(key, min_size=1, max_size=3)


def _cmd(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts])


def _flat(t):
    out = []
    for part in t:
        if isinstance(part, (list, tuple)):
            out.extend(part)
        else:
            out.append(part)
    return tuple(out)


LPOS_OPTS = st.lists(st.sampled_from([["RANK", "1"], ["RANK", "-1"], ["RANK", "2"],
                                      ["RANK", "-3"], ["RANK", "0"], ["COUNT", "0"],
                                      ["COUNT", "2"], ["COUNT", "-1"], ["MAXLEN", "2"],
                                      ["MAXLEN", "0"], ["BOGUS"]]), max_size=3).map(
    lambda opts: [w for o in opts for w in o])
MPOP_TAIL = st.sampled_from([[], ["COUNT", "1"], ["COUNT", "3"], ["COUNT", "0"], ["COUNT"]])

NON_BLOCKING = st.one_of(
    _cmd(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), key, values).map(_flat),
    _cmd(st.sampled_from(["LPOP", "RPOP"]), key).map(_flat),
    _cmd(st.sampled_from(["LPOP", "RPOP"]), key, st.sampled_from(COUNTS)),
    _cmd("LLEN", key),
    _cmd("LRANGE", key, index, index),
    _cmd("LINDEX", key, index),
    _cmd("LSET", key, index, value),
    _cmd("LINSERT", key, st.sampled_from(["BEFORE", "AFTER", "after", "X"]), value, value),
    _cmd("LREM", key, st.sampled_from(COUNTS), value),
    _cmd("LTRIM", key, index, index),
    _cmd("LPOS", key, value, LPOS_OPTS).map(_flat),
    _cmd("LMOVE", key, key, side, side),
    _cmd("RPOPLPUSH", key, key),
    keys.flatmap(lambda ks: st.tuples(st.just("LMPOP"), st.just(str(len(ks))), st.just(ks),
                                      side, MPOP_TAIL)).map(_flat),
    _cmd("SET", "s1", value),
    _cmd("DEL", key),
    _cmd("EXISTS", key),
    _cmd("TYPE", key),
)
BLOCKING = st.one_of(
    _cmd(st.sampled_from(["BLPOP", "BRPOP"]), keys, "0.01").map(_flat),
    _cmd("BLMOVE", key, key, side, side, "0.01"),
    _cmd("BRPOPLPUSH", key, key, "0.01"),
    keys.flatmap(lambda ks: st.tuples(st.just("BLMPOP"), st.just("0.01"), st.just(str(len(ks))),
                                      st.just(ks), side, MPOP_TAIL)).map(_flat),
)
COMMANDS = st.one_of(NON_BLOCKING, NON_BLOCKING, NON_BLOCKING, NON_BLOCKING, BLOCKING)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(COMMANDS, min_size=1, max_size=20))
def test_random_list_sequences(diff, commands):
    diff.check("FLUSHALL")
    for cmd in commands:
        diff.check(*cmd)
    for k in KEYS:
        diff.check("TYPE", k)
        diff.check("LRANGE", k, "0", "-1")


# -- propagation ------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(st.lists(COMMANDS, min_size=1, max_size=20))
def test_propagated_stream_replays_identically(ref, commands):
    node, stream = run_capturing(commands)
    for argv in stream:
        assert argv[0].lower() not in (b"blpop", b"brpop", b"blmove", b"brpoplpush", b"blmpop",
                                       b"lmpop"), stream
    ref.flushall()
    for argv in stream:
        ref.execute_command(*argv)
    db = node.keyspace.dbs[0]
    for k in KEYS:
        value = db.get(k.encode())
        if type(value) is deque:
            assert ref.type(k) == b"list", (k, stream)
            assert list(value) == ref.lrange(k, 0, -1), (k, stream)
        elif value is None:
            assert not ref.exists(k), (k, stream)
        else:
            assert ref.get(k) == value, (k, stream)
