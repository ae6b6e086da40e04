"""Pub/Sub against a running NodeNsync with real clients: redis-py (RESP2 and
RESP3 push messages), raw sockets, fan-out, patterns, big and binary
messages, and clean-up when subscribers go away."""
import os
import time

import pytest
import redis

from pairtools import Conn


def _wait(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def _messages(p, count, timeout=5.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        m = p.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if m is not None:
            out.append(m)
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pubsub(node, node_server, protocol):
    r = redis.Redis(host="127.0.0.1", port=node_server.port, protocol=protocol)
    p = r.pubsub()
    try:
        p.subscribe("news")
        p.psubscribe("n*s", "x*")
        assert _wait(lambda: node.pubsub_numsub("news") == [(b"news", 1)])
        assert node.publish("news", "hello") == 2
        assert node.publish("nails", b"\x00\xff") == 1
        got = _messages(p, 3)
        assert [(m["type"], m["channel"], m["data"]) for m in got] == [
            ("message", b"news", b"hello"), ("pmessage", b"news", b"hello"),
            ("pmessage", b"nails", b"\x00\xff")]
        assert got[1]["pattern"] == b"n*s"
        p.unsubscribe("news")
        p.punsubscribe()
        assert _wait(lambda: node.pubsub_numpat() == 0)
        assert node.publish("news", "x") == 0
    finally:
        p.close()
        r.close()


def test_resp3_subscriber_runs_commands_between_pushes(node, node_server):
    c = Conn(node_server.port)
    try:
        c.call("HELLO", "3")
        assert c.call("SUBSCRIBE", "ch") == b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
        for i in range(3):
            assert node.publish("ch", "m%d" % i) == 1
        node.set("k", "v")
        # The pushes were queued before the reply to GET: they come first.
        assert c.call("GET", "k", n=4) == (
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm0\r\n"
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm1\r\n"
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nm2\r\n"
            b"$1\r\nv\r\n")
        assert c.call("PUBLISH", "ch", "self", n=2) == (
            b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$4\r\nself\r\n:1\r\n")
    finally:
        c.close()


def test_fan_out_to_many_subscribers(node, node_server):
    subs = [Conn(node_server.port) for _ in range(40)]
    try:
        for i, s in enumerate(subs):
            s.send("SUBSCRIBE", "fan", "own%d" % i)
        for s in subs:
            s.read(2)
        assert node.publish("fan", "all") == 40
        assert node.publish("own7", "one") == 1
        for i, s in enumerate(subs):
            expected = b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$3\r\nall\r\n"
            assert s.read(1) == expected
        assert subs[7].read(1) == b"*3\r\n$7\r\nmessage\r\n$4\r\nown7\r\n$3\r\none\r\n"
        assert dict(node.pubsub_numsub("fan", "own0")) == {b"fan": 40, b"own0": 1}
    finally:
        for s in subs:
            s.close()
    assert _wait(lambda: node.pubsub_numsub("fan") == [(b"fan", 0)])
    assert node.pubsub_channels() == []


def test_patterns_count_each_match(node, node_server):
    c = Conn(node_server.port)
    try:
        c.call("PSUBSCRIBE", "*", "a*", "a?c", "a[b-d]c", "a[^x]c", "a\\*c", "zz", n=7)
        assert node.publish("abc", "m") == 5          # *, a*, a?c, a[b-d]c, a[^x]c
        got = c.read(5)
        assert got.count(b"pmessage") == 5
        assert node.publish("a*c", "m") == 5          # *, a*, a?c, a[^x]c, a\*c
        c.read(5)
        assert node.publish("zz", "m") == 2
        c.read(2)
        assert node.pubsub_numpat() == 7
    finally:
        c.close()


def test_big_and_binary_messages(node, node_server):
    c = Conn(node_server.port)
    try:
        channel = b"\x00ch\r\n\xff"
        c.call("SUBSCRIBE", channel)
        payload = bytes(range(256)) * 4096            # 1 MB, every byte value
        assert node.publish(channel, payload) == 1
        got = c.read(1, timeout=10)
        assert got == (b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                       % (len(channel), channel, len(payload), payload))
    finally:
        c.close()


def test_many_channels_in_one_command(node, node_server):
    c = Conn(node_server.port)
    try:
        names = ["c%d" % i for i in range(1000)]
        replies = c.call("SUBSCRIBE", *names, n=1000)
        assert replies.endswith(b"$4\r\nc999\r\n:1000\r\n")
        assert node.pubsub_numsub("c500") == [(b"c500", 1)]
        replies = c.call("UNSUBSCRIBE", n=1000)
        assert replies.endswith(b":0\r\n")
        assert node.pubsub_channels() == []
    finally:
        c.close()


def test_killed_and_quitting_subscribers_are_forgotten(node, node_server):
    a = Conn(node_server.port)
    b = Conn(node_server.port)
    try:
        a.call("CLIENT", "SETNAME", "suba")
        a.call("SUBSCRIBE", "k1")
        b.call("SSUBSCRIBE", "k2")
        listing = node.execute_command("CLIENT", "LIST").decode()
        line = [x for x in listing.splitlines() if "name=suba" in x][0]
        assert " flags=P " in line and " sub=1 " in line and " psub=0 " in line
        assert node.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 2
        assert _wait(lambda: node.pubsub_numsub("k1") == [(b"k1", 0)])
        assert node.execute_command("PUBSUB", "SHARDNUMSUB", "k2") == [b"k2", 0]
    finally:
        a.close()
        b.close()
    c = Conn(node_server.port)
    c.call("SUBSCRIBE", "k3")
    assert c.call("QUIT") == b"+OK\r\n"
    c.close()
    assert _wait(lambda: node.pubsub_numsub("k3") == [(b"k3", 0)])


def test_info_counts_channels_and_patterns(node, node_server):
    c = Conn(node_server.port)
    try:
        c.call("SUBSCRIBE", "i1", "i2", n=2)
        c.call("PSUBSCRIBE", "p*", n=1)
        stats = node.info("stats")
        assert stats["pubsub_channels"] == 2
        assert stats["pubsub_patterns"] == 1
    finally:
        c.close()


def test_pipelined_burst_reaches_every_subscriber_in_order(node_server):
    # One write of 200 PUBLISH: each subscriber gets all 200 messages, in
    # publish order, after the SUBSCRIBE confirmation; an UNSUBSCRIBE sent
    # after they arrived is confirmed after them.
    from servers import RawClient
    subs = [RawClient(node_server.port) for _ in range(5)]
    pub = RawClient(node_server.port)
    try:
        for s in subs:
            s.call("SUBSCRIBE", "burst")
        pub.send_raw(b"".join(RawClient.encode(["PUBLISH", "burst", "m%d" % i])
                              for i in range(200)))
        for _ in range(200):
            assert pub.read_reply() == 5
        for s in subs:
            got = [s.read_reply() for _ in range(200)]
            assert got == [[b"message", b"burst", b"m%d" % i] for i in range(200)]
            assert s.call("UNSUBSCRIBE", "burst") == [b"unsubscribe", b"burst", 0]
    finally:
        for c in subs + [pub]:
            c.close()


def test_messages_reach_subscribers_on_replicas_not_the_aof(server_factory, redis_factory):
    """As Redis outside cluster mode: PUBLISH/SPUBLISH go on to the replicas
    (a NodeNsync one and a redis-server one), whose subscribers get them;
    the AOF leaves them out (a restart replays no message)."""
    m = server_factory("--appendonly", "yes", "--save", "")
    reps = [server_factory("--replicaof", "127.0.0.1:%d" % m.port, "--save", ""),
            redis_factory("--replicaof", "127.0.0.1", str(m.port))]
    subs, conns = [], []          # (a collected client closes its pool: keep them)
    for r in reps:
        c = redis.Redis(host="127.0.0.1", port=r.port)
        conns.append(c)
        assert _wait(lambda: c.info("replication")["master_link_status"] == "up", 20)
        p = c.pubsub()
        p.subscribe("news")
        p.ssubscribe("shard")
        assert _wait(lambda: c.pubsub_numsub("news") == [(b"news", 1)])
        subs.append(p)
    master = redis.Redis(host="127.0.0.1", port=m.port)
    assert master.publish("news", "hello") == 0          # (no subscriber on the master)
    with master.pipeline(transaction=True) as t:
        t.set("k", "v").publish("news", "in multi").execute()
    master.execute_command("SPUBLISH", "shard", "s1")
    for p in subs:
        got = [(x["type"], x["data"]) for x in _messages(p, 3)]
        assert got == [("message", b"hello"), ("message", b"in multi"), ("smessage", b"s1")]
        p.close()
    aof = b"".join(open(os.path.join(dirpath, f), "rb").read()
                   for dirpath, _, files in os.walk(m.dir) for f in files
                   if ".aof" in f and not f.endswith(".manifest"))
    assert b"$3\r\nSET\r\n" in aof.upper()
    assert b"PUBLISH" not in aof.upper()
