"""MULTI / EXEC / DISCARD / WATCH / UNWATCH compared byte for byte with a real
redis-server, under RESP2 and RESP3 (the ``diff`` fixture's parameter)."""
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pairtools import Pair


@pytest.fixture
def pair(diff, node_server, redis_server):
    p = Pair(node_server.port, redis_server.port, diff.protocol)
    yield p
    p.close()


@pytest.fixture
def other(diff, node_server, redis_server):
    """A second connection to each server (another client)."""
    p = Pair(node_server.port, redis_server.port, 2)
    yield p
    p.close()


def run(pair, commands):
    for c in commands:
        pair.call(*c)


def test_nesting_and_misplaced_commands(pair):
    run(pair, [("EXEC",), ("DISCARD",), ("MULTI",), ("MULTI",), ("WATCH", "x"),
               ("SET", "a", "1"), ("EXEC",), ("EXEC",), ("DISCARD",), ("GET", "a")])


def test_arity_of_transaction_commands(pair):
    run(pair, [("MULTI", "x"), ("DISCARD", "x"), ("WATCH",), ("UNWATCH", "x"),
               ("EXEC", "x"),                      # outside MULTI: EXECABORT too
               ("MULTI",), ("SET", "k", "v"), ("EXEC", "x"),
               ("EXEC",),                          # the transaction is gone
               ("GET", "k"),
               ("MULTI",), ("DISCARD", "x"), ("WATCH",), ("EXEC",),
               ("MULTI",), ("UNWATCH", "x"), ("EXEC",)])


def test_queued_errors_abort_the_transaction(pair):
    run(pair, [("MULTI",), ("SET", "a", "1"), ("SET", "a"), ("NOSUCHCOMMAND", "x"),
               ("INCR", "a"), ("EXEC",), ("GET", "a"),
               ("MULTI",), ("CONFIG", "NOPE"), ("EXEC",),
               ("MULTI",), ("CONFIG",), ("PING",), ("EXEC",),
               ("MULTI",), ("SET", "b", "2"), ("EXEC",), ("GET", "b")])


def test_runtime_errors_do_not_roll_back(pair):
    run(pair, [("MULTI",), ("SET", "s", "abc"), ("INCR", "s"), ("LPUSH", "s", "x"),
               ("SET", "n", "1"), ("INCRBY", "n", "notanumber"), ("INCR", "n"),
               ("GET", "s"), ("EXEC",), ("GET", "n"), ("GET", "s")])


def test_empty_and_discarded_transactions(pair):
    run(pair, [("MULTI",), ("EXEC",),
               ("MULTI",), ("SET", "x", "1"), ("DISCARD",), ("GET", "x"), ("EXEC",),
               ("MULTI",), ("DISCARD",), ("DISCARD",)])


def test_pipelined_transaction(pair):
    pair.pipeline([("MULTI",), ("SET", "a", "1"), ("INCR", "a"), ("GET", "a"), ("EXEC",),
                   ("GET", "a")], 6)
    pair.pipeline([("MULTI",), ("SET", "a"), ("INCR", "a"), ("EXEC",), ("GET", "a")], 5)


def test_select_and_hello_inside_transaction(pair):
    run(pair, [("MULTI",), ("SET", "k", "db0"), ("SELECT", "2"), ("SET", "k", "db2"),
               ("SELECT", "99"), ("EXEC",), ("GET", "k"), ("SELECT", "0"), ("GET", "k")])
    # A protocol switch inside EXEC changes how the following replies look.
    run(pair, [("MULTI",), ("GET", "missing"), ("HELLO", "2"), ("GET", "missing"),
               ("HELLO", "3"), ("GET", "missing")])
    pair.node.send("EXEC")
    pair.ref.send("EXEC")
    client_id = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")
    assert client_id.sub(b"", pair.node.read()) == client_id.sub(b"", pair.ref.read())


def test_blocking_commands_inside_exec(pair):
    # Inside EXEC a blocking command answers at once (its timeout, as it were).
    run(pair, [("MULTI",), ("BLPOP", "nolist", "0"), ("BRPOP", "nolist", "1"),
               ("RPUSH", "list", "a", "b"), ("BLPOP", "list", "0"), ("BRPOP", "list", "0"),
               ("BLPOP", "list", "0"), ("EXEC",)])


def test_unwatch_and_reset_queued(pair):
    run(pair, [("WATCH", "k"), ("MULTI",), ("UNWATCH",), ("PING",), ("EXEC",),
               ("MULTI",), ("SET", "k", "1"), ("RESET",), ("EXEC",), ("GET", "k")])


# -- WATCH ------------------------------------------------------------------------------------
def watch_case(pair, other, setup=(), watch=("k",), touch=(), pause=0.0, body=(("PING",),)):
    for c in setup:
        pair.call(*c)
    pair.call("WATCH", *watch)
    for c in touch:
        if c == ("__sleep__",):        # let a TTL pass
            time.sleep(0.4)
        else:
            other.call(*c)
    if pause:
        time.sleep(pause)
    pair.call("MULTI")
    for c in body:
        pair.call(*c)
    return pair.call("EXEC")


def aborted(reply):
    return reply in (b"*-1\r\n", b"_\r\n")


def test_watch_untouched_key(pair, other):
    assert watch_case(pair, other).endswith(b"PONG\r\n")
    watch_case(pair, other, setup=[("SET", "k", "1")], body=[("INCR", "k")])
    pair.call("GET", "k")


def test_watch_touched_by_another_client(pair, other):
    assert aborted(watch_case(pair, other, setup=[("SET", "k", "1")],
                              touch=[("SET", "k", "1")], body=[("INCR", "k")]))
    pair.call("GET", "k")
    assert aborted(watch_case(pair, other, touch=[("SET", "k", "new")]))
    watch_case(pair, other, setup=[("SET", "k", "1")], touch=[("DEL", "k")])
    watch_case(pair, other, watch=("a", "b", "k"), touch=[("INCR", "b")])


def test_watch_not_touched_by_no_op_writes(pair, other):
    watch_case(pair, other, touch=[("DEL", "k")])               # missing key: no change
    watch_case(pair, other, touch=[("SET", "other", "1")])
    watch_case(pair, other, touch=[("SELECT", "3"), ("SET", "k", "x"), ("SELECT", "0")])


def test_watch_touched_by_own_write_before_multi(pair, other):
    watch_case(pair, other, setup=[("SET", "k", "1")], touch=(),
               body=[("GET", "k")])
    pair.call("WATCH", "k")
    pair.call("SET", "k", "2")
    run(pair, [("MULTI",), ("GET", "k"), ("EXEC",)])


def test_watch_twice_unwatch_and_discard(pair, other):
    run(pair, [("WATCH", "k"), ("WATCH", "k", "k"), ("UNWATCH",)])
    other.call("SET", "k", "1")
    run(pair, [("MULTI",), ("PING",), ("EXEC",)])      # unwatched: runs
    run(pair, [("WATCH", "k"), ("MULTI",), ("DISCARD",)])
    other.call("SET", "k", "2")
    run(pair, [("MULTI",), ("PING",), ("EXEC",)])      # DISCARD unwatched too
    run(pair, [("WATCH", "k")])
    other.call("SET", "k", "3")
    run(pair, [("MULTI",), ("EXEC",), ("MULTI",), ("PING",), ("EXEC",)])  # one EXEC only


def test_watch_in_another_database(pair, other):
    run(pair, [("SELECT", "5"), ("WATCH", "k"), ("SELECT", "0")])
    other.call("SET", "k", "1")                  # db 0: not the watched key
    run(pair, [("MULTI",), ("PING",), ("EXEC",)])
    run(pair, [("SELECT", "5"), ("WATCH", "k"), ("SELECT", "0")])
    other.call("SELECT", "5")
    other.call("SET", "k", "1")
    run(pair, [("MULTI",), ("PING",), ("EXEC",), ("SELECT", "0")])


def test_watch_and_flushdb(pair, other):
    assert not aborted(watch_case(pair, other, touch=[("FLUSHDB",)]))   # key absent
    assert aborted(watch_case(pair, other, setup=[("SET", "k", "1")], touch=[("FLUSHDB",)]))
    watch_case(pair, other, setup=[("SET", "k", "1")], touch=[("FLUSHALL",)])
    watch_case(pair, other, setup=[("SET", "o", "1")], touch=[("FLUSHALL",)])
    watch_case(pair, other, setup=[("SET", "k", "1")],
               touch=[("SELECT", "1"), ("FLUSHDB",), ("SELECT", "0")])


def test_watch_and_swapdb(pair, other):
    assert not aborted(watch_case(pair, other, touch=[("SWAPDB", "0", "1")]))  # nowhere
    watch_case(pair, other, setup=[("SET", "k", "1")], touch=[("SWAPDB", "0", "1")])
    pair.call("FLUSHALL")
    watch_case(pair, other, setup=[("SELECT", "1"), ("SET", "k", "1"), ("SELECT", "0")],
               touch=[("SWAPDB", "0", "1")])
    pair.call("FLUSHALL")
    watch_case(pair, other, setup=[("SET", "k", "1")], touch=[("SWAPDB", "2", "3")])


def test_watch_key_that_expires(pair, other):
    # Expires between WATCH and EXEC: the transaction aborts (Redis 7).
    assert aborted(watch_case(pair, other, setup=[("SET", "k", "v", "PX", "300")], pause=0.6))
    # ... also when something read it (and so deleted it) meanwhile.
    watch_case(pair, other, setup=[("SET", "k", "v", "PX", "200")],
               touch=[("__sleep__",), ("GET", "k")], pause=0.0)
    # Already gone when WATCHed: nothing changes afterwards.
    pair.call("SET", "k", "v", "PX", "10")
    time.sleep(0.1)
    assert not aborted(watch_case(pair, other, pause=0.05))
    # A TTL that is still far away does not matter.
    watch_case(pair, other, setup=[("SET", "k", "v", "EX", "100")], pause=0.05)


def test_acl_rules_changed_before_exec(pair, other):
    """ACL rules are checked again at EXEC; a user who may no longer run EXEC
    gets EXECABORT with the reason."""
    try:
        other.call("ACL", "SETUSER", "txuser", "on", ">pw", "~*", "&*", "+@all")
        run(pair, [("AUTH", "txuser", "pw"), ("MULTI",), ("GET", "k"), ("SET", "x", "1"),
                   ("PUBLISH", "ch", "m"), ("PING",)])
        other.call("ACL", "SETUSER", "txuser", "resetkeys", "~x", "resetchannels", "-get")
        run(pair, [("EXEC",), ("MULTI",), ("SET", "k", "1"), ("SET", "x", "2")])
        other.call("ACL", "SETUSER", "txuser", "~*", "-@all")
        run(pair, [("EXEC",), ("GET", "x")])
    finally:
        other.call("ACL", "DELUSER", "txuser")


# -- Pub/Sub inside a transaction -----------------------------------------------------------
def test_subscribe_and_publish_inside_exec(pair):
    # The EXEC array counts commands, but SUBSCRIBE writes one reply per
    # channel and a message to oneself lands where it was published.
    pair.call("MULTI")
    pair.call("SUBSCRIBE", "x", "y")
    pair.call("PUBLISH", "x", "hello")
    pair.call("PUBLISH", "nobody", "hello")
    pair.call("EXEC", n=3)   # framed: the array swallows the first three replies
    pair.call("UNSUBSCRIBE", "x", n=1)
    pair.call("UNSUBSCRIBE", "y", n=1)
    pair.nothing_pending()


def test_monitor_inside_exec(pair):
    run(pair, [("MULTI",), ("MONITOR",), ("PING",), ("EXEC",)])


# -- property: random transaction programs --------------------------------------------------
KEYS = st.sampled_from(["a", "b"])
VALUES = st.sampled_from(["1", "x", "10"])
STEP = st.one_of(
    st.tuples(st.just("MULTI")),
    st.tuples(st.just("EXEC")),
    st.tuples(st.just("DISCARD")),
    st.tuples(st.just("WATCH"), KEYS),
    st.tuples(st.just("UNWATCH")),
    st.tuples(st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("INCR"), KEYS),
    st.tuples(st.just("GET"), KEYS),
    st.tuples(st.just("DEL"), KEYS),
    st.tuples(st.just("LPUSH"), KEYS, VALUES),
    st.tuples(st.just("SET"), KEYS),                   # arity error
    st.tuples(st.just("NOSUCH")),
    st.tuples(st.just("@other"), st.just("SET"), KEYS, VALUES),
    st.tuples(st.just("@other"), st.just("FLUSHDB")),
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(program=st.lists(STEP, min_size=1, max_size=14))
def test_random_transaction_programs(diff, node_server, redis_server, program):
    me = Pair(node_server.port, redis_server.port, diff.protocol)
    them = Pair(node_server.port, redis_server.port, 2)
    try:
        them.call("FLUSHALL")
        for step in program:
            if step[0] == "@other":
                them.call(*step[1:])
            else:
                me.call(*step)
        me.call("DISCARD", compare=False)   # leave no transaction behind
    finally:
        me.close()
        them.close()
