"""Keyspace notifications on a running NodeNsync: expired events from active
expiry, the setting at start-up and at run time, databases, transactions."""
import time

import pytest
import redis

from pairtools import Conn


@pytest.fixture
def notifying(node):
    node.config_set("notify-keyspace-events", "KEA")
    yield node
    node.config_set("notify-keyspace-events", "")


def _collect(p, count, timeout=5.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if m is not None:
            out.append(m)
    return out


def test_active_expiry_sends_expired_events(notifying, node_server):
    r = redis.Redis(host="127.0.0.1", port=node_server.port)
    p = r.pubsub()
    try:
        p.subscribe("__keyevent@0__:expired")
        for i in range(50):
            notifying.set("tmp%d" % i, "v", px=50)
        got = _collect(p, 50, timeout=10)       # nobody reads the keys: active expiry
        assert sorted(m["data"] for m in got) == sorted(b"tmp%d" % i for i in range(50))
        assert notifying.dbsize() == 0
    finally:
        p.close()
        r.close()


def test_events_carry_the_database_number(notifying, node_server):
    r = redis.Redis(host="127.0.0.1", port=node_server.port, db=9)
    p = notifying.pubsub()
    try:
        p.psubscribe("__keyspace@*__:k")
        r.set("k", "v")
        r.delete("k")
        got = _collect(p, 2)
        assert [(m["channel"], m["data"]) for m in got] == [
            (b"__keyspace@9__:k", b"set"), (b"__keyspace@9__:k", b"del")]
    finally:
        p.close()
        r.close()


def test_events_from_a_transaction(notifying, node_server):
    p = notifying.pubsub()
    try:
        p.subscribe("__keyevent@0__:set", "__keyevent@0__:incrby")
        with notifying.pipeline(transaction=True) as t:
            t.set("a", "1").incr("a").set("b", "2").execute()
        got = _collect(p, 3)
        assert [(m["channel"], m["data"]) for m in got] == [
            (b"__keyevent@0__:set", b"a"), (b"__keyevent@0__:incrby", b"a"),
            (b"__keyevent@0__:set", b"b")]
    finally:
        p.close()


def test_off_means_silent(node, node_server):
    node.config_set("notify-keyspace-events", "")
    c = Conn(node_server.port)
    try:
        c.call("PSUBSCRIBE", "*")
        node.set("quiet", "1")
        node.delete("quiet")
        assert c.pending(0.2) == b""
        node.config_set("notify-keyspace-events", "KEx")    # expired only
        node.set("quiet", "1")
        assert c.pending(0.2) == b""
    finally:
        node.config_set("notify-keyspace-events", "")
        c.close()


def test_setting_at_start_up(server_factory):
    server = server_factory("--notify-keyspace-events", "Elg")
    r = redis.Redis(host="127.0.0.1", port=server.port)
    assert r.config_get("notify-keyspace-events") == {"notify-keyspace-events": "glE"}
    p = r.pubsub()
    p.psubscribe("__key*")
    r.set("s", "1")                 # string: class off
    r.rpush("l", "x")
    r.delete("l")
    got = _collect(p, 2)
    assert [(m["channel"], m["data"]) for m in got] == [
        (b"__keyevent@0__:rpush", b"l"), (b"__keyevent@0__:del", b"l")]
    p.close()
    r.close()


def test_bad_setting_at_start_up_is_refused(server_factory):
    with pytest.raises(RuntimeError) as e:
        server_factory("--notify-keyspace-events", "KEAq")
    assert "Invalid event class character" in str(e.value)
