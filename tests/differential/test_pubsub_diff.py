"""Pub/Sub compared byte for byte with a real redis-server, under RESP2 and
RESP3: (un)subscribe replies and counts, message formats, patterns, shard
channels, PUBSUB introspection, subscribed mode, keyspace notifications and
the settings around them."""
import time

import hiredis
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pairtools import Pair, split_replies


@pytest.fixture
def pair(diff, node_server, redis_server):
    p = Pair(node_server.port, redis_server.port, diff.protocol)
    yield p
    p.close()


@pytest.fixture
def pub(diff, node_server, redis_server):
    """A publisher connection to each server."""
    p = Pair(node_server.port, redis_server.port, 2)
    yield p
    p.close()


def test_subscribe_unsubscribe_replies_and_counts(pair):
    pair.call("UNSUBSCRIBE")
    pair.call("PUNSUBSCRIBE")
    pair.call("SUNSUBSCRIBE")
    pair.call("SUBSCRIBE", "a", "b", "a", n=3)
    pair.call("PSUBSCRIBE", "h*llo", "a", n=2)
    pair.call("SSUBSCRIBE", "s1", "s2", "s1", n=3)     # shard count is separate
    pair.call("UNSUBSCRIBE", "b", "zz", n=2)
    pair.call("SUNSUBSCRIBE", "s2", n=1)
    pair.call("PUNSUBSCRIBE", "nomatch", n=1)
    pair.call("UNSUBSCRIBE", n=1)                      # the one left: "a"
    pair.call("PUNSUBSCRIBE", n=2)                     # patterns: subscription order
    pair.call("SUNSUBSCRIBE", n=1)
    pair.call("UNSUBSCRIBE", n=1)                      # nothing left: null channel
    pair.nothing_pending()


def _unsubscribe_all(pair, command, n):
    """Redis unsubscribes several channels in its hash table's order: compare
    the messages with the channel names set aside, and the names as a set."""
    def shape(data):
        replies = split_replies(data)
        names = []
        skeleton = []
        for r in replies:
            kind, name, count = hiredis_parse(r)
            names.append(name)
            skeleton.append((r[:1], kind, count))
        return skeleton, sorted(names)
    pair.node.send(command)
    pair.ref.send(command)
    assert shape(pair.node.read(n)) == shape(pair.ref.read(n))


def hiredis_parse(data):
    reader = hiredis.Reader()
    reader.feed(data)
    return reader.gets()


def test_unsubscribe_everything(pair):
    pair.call("SUBSCRIBE", "c1", "c2", "c3", n=3)
    _unsubscribe_all(pair, "UNSUBSCRIBE", 3)
    pair.call("SSUBSCRIBE", "s1", "s2", n=2)
    _unsubscribe_all(pair, "SUNSUBSCRIBE", 2)
    pair.call("PING")


def test_messages_channels_and_patterns(pair, pub):
    pair.call("SUBSCRIBE", "news", "other", n=2)
    pair.call("PSUBSCRIBE", "n*", "ne?s", "[mn]ews", "x", n=4)
    pub.call("PUBLISH", "news", "hello")              # 1 channel + 3 patterns
    pair.read(4, unordered=True)
    pub.call("PUBLISH", "nothing", "bin\x00ary\r\n")
    pair.read(1)
    pub.call("PUBLISH", "zzz", "nobody")
    pub.call("PUBLISH", "other", "")
    pair.read(1)
    pair.nothing_pending()


def test_shard_channels_are_separate(pair, pub):
    pair.call("SSUBSCRIBE", "ch", n=1)
    pair.call("SUBSCRIBE", "ch2", n=1)
    pub.call("PUBLISH", "ch", "regular")              # not a shard subscriber
    pub.call("SPUBLISH", "ch2", "shard")               # not a channel subscriber
    pub.call("SPUBLISH", "ch", "shard")
    pair.read(1)
    pair.nothing_pending()


def test_publish_to_self_is_ordered(pair):
    # Pipelined: the subscribe confirmation, then the message, then PUBLISH's
    # own reply (RESP3 may publish while subscribed; RESP2 gets an error).
    pair.pipeline([("SUBSCRIBE", "me"), ("PUBLISH", "me", "m1"), ("PING",)],
                  4 if pair.protocol == 3 else 3)


def test_subscribed_mode(pair):
    pair.call("SSUBSCRIBE", "s")
    pair.call("GET", "k")              # RESP2: refused; RESP3: any command
    pair.call("PING")
    pair.call("PING", "msg")
    pair.call("PUBSUB", "NUMPAT")
    pair.call("MULTI")
    pair.call("EXEC")
    pair.call("SUBSCRIBE", "c")
    pair.call("UNSUBSCRIBE", "c")
    pair.call("PING")                  # still subscribed to the shard channel
    pair.call("SUNSUBSCRIBE")
    pair.call("PING")                  # out of subscribed mode
    pair.call("GET", "k")


def test_subscribe_confirmations_ignore_client_reply(pair, pub):
    # (Un)subscribe confirmations are pushes: Redis 7.0 sends them under
    # CLIENT REPLY OFF, and SKIP is used up by the SUBSCRIBE it skipped.
    pair.node.send("CLIENT", "REPLY", "OFF")
    pair.ref.send("CLIENT", "REPLY", "OFF")
    pair.pipeline([("SUBSCRIBE", "a", "b"), ("UNSUBSCRIBE", "a"), ("PSUBSCRIBE", "x*"),
                   ("PING",), ("PUNSUBSCRIBE",)], 5)
    pub.call("PUBLISH", "b", "m")
    pair.read(1)                       # the message itself
    pair.pipeline([("CLIENT", "REPLY", "SKIP"), ("UNSUBSCRIBE", "b"), ("PING",)], 1)
    pair.nothing_pending()


def test_reset_leaves_subscribed_mode(pair, pub):
    pair.call("SUBSCRIBE", "c")
    pair.call("PSUBSCRIBE", "p*")
    pair.call("RESET")
    pub.call("PUBLISH", "c", "x")
    pub.call("PUBLISH", "pp", "x")
    pub.call("PUBSUB", "NUMSUB", "c")
    pub.call("PUBSUB", "NUMPAT")
    pair.call("GET", "k")
    pair.nothing_pending()


def test_pubsub_introspection(pair, pub, node_server, redis_server):
    pub.call("SUBSCRIBE", "a", "b", n=2)
    pub.call("PSUBSCRIBE", "x*", "y*", n=2)
    pub.call("SSUBSCRIBE", "s1", n=1)
    pair.call("SUBSCRIBE", "b", n=1)
    pair.call("PSUBSCRIBE", "x*", n=1)          # NUMPAT counts unique patterns
    other = Pair(node_server.port, redis_server.port, 2)
    try:
        for cmd in [("PUBSUB", "NUMSUB", "a", "b", "zz"), ("PUBSUB", "NUMSUB"),
                    ("PUBSUB", "NUMPAT"), ("PUBSUB", "SHARDNUMSUB", "s1", "x"),
                    ("PUBSUB", "SHARDNUMSUB"), ("PUBSUB", "CHANNELS", "z*"),
                    ("PUBSUB", "SHARDCHANNELS", "q*")]:
            other.call(*cmd)
        other.call("PUBSUB", "CHANNELS", unordered=True)
        other.call("PUBSUB", "CHANNELS", "[ab]", unordered=True)
        other.call("PUBSUB", "SHARDCHANNELS", unordered=True)
        other.call("PUBSUB", "SHARDCHANNELS", "s?", unordered=True)
    finally:
        other.close()


def test_pubsub_errors_and_help(pair):
    for cmd in [("PUBSUB",), ("PUBSUB", "help"), ("PUBSUB", "HELP", "x"), ("PUBSUB", "nope"),
                ("PUBSUB", "NUMPAT", "x"), ("PUBSUB", "channels", "a", "b"),
                ("PUBSUB", "ShardChannels", "a", "b"), ("PUBLISH", "a"),
                ("PUBLISH", "a", "b", "c"), ("SPUBLISH", "a"), ("SUBSCRIBE",),
                ("SSUBSCRIBE",), ("PSUBSCRIBE",)]:
        pair.call(*cmd)


def test_disconnect_unsubscribes(node_server, redis_server, pair):
    sub = Pair(node_server.port, redis_server.port, 2)
    sub.call("SUBSCRIBE", "gone", n=1)
    sub.call("PSUBSCRIBE", "gone*", n=1)
    sub.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if pair.node.call("PUBSUB", "NUMPAT") == b":0\r\n":
            break
        time.sleep(0.02)
    time.sleep(0.05)
    pair.call("PUBSUB", "NUMSUB", "gone")
    pair.call("PUBSUB", "NUMPAT")
    pair.call("PUBLISH", "gone", "x")


# -- pattern matching: Redis's glob --------------------------------------------------------
PATTERN_CHARS = st.sampled_from(list("ab*?[]^-\\c"))
CHANNEL_CHARS = st.sampled_from(list("abc-^]\\*?["))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pattern=st.text(PATTERN_CHARS, min_size=1, max_size=6),
       channels=st.lists(st.text(CHANNEL_CHARS, min_size=0, max_size=5), min_size=1,
                         max_size=4))
def test_pattern_matching_like_redis(diff, node_server, redis_server, pattern, channels):
    sub = Pair(node_server.port, redis_server.port, diff.protocol)
    pub = Pair(node_server.port, redis_server.port, 2)
    try:
        sub.call("PSUBSCRIBE", pattern)
        for ch in channels:
            delivered = pub.call("PUBLISH", ch, "m")
            if delivered == b":1\r\n":
                sub.read(1)
        sub.nothing_pending(0.01)
    finally:
        sub.close()
        pub.close()


# -- keyspace notifications ------------------------------------------------------------------
@pytest.fixture
def events(pair, pub):
    """``pair`` subscribed to every keyspace/keyevent channel; notifications
    switched off again at the end."""
    pair.call("PSUBSCRIBE", "__key*__:*")
    yield pair
    pub.call("CONFIG", "SET", "notify-keyspace-events", "")


def _expect_events(events, count):
    if count:
        events.read(count)
    events.nothing_pending(0.02)


def test_keyspace_and_keyevent_messages(events, pub):
    pub.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    pub.call("SET", "k", "v")
    _expect_events(events, 2)
    pub.call("INCR", "n")
    pub.call("MSET", "a", "1", "b", "2")
    _expect_events(events, 6)
    pub.call("SELECT", "3")
    pub.call("SET", "x", "y")                 # database number in the channel
    pub.call("DEL", "x")
    pub.call("DEL", "x")                      # nothing deleted: no event
    _expect_events(events, 4)
    pub.call("HSET", "h", "f", "v")
    _expect_events(events, 2)
    pub.call("SELECT", "0")


def test_notification_classes(events, pub):
    pub.call("CONFIG", "SET", "notify-keyspace-events", "E$")      # strings, keyevent only
    pub.call("SET", "k", "v")
    pub.call("DEL", "k")                                           # generic: off
    pub.call("HSET", "h", "f", "v")                                # hash: off
    _expect_events(events, 1)
    pub.call("CONFIG", "SET", "notify-keyspace-events", "Kg")      # generic, keyspace only
    pub.call("SET", "k", "v")
    pub.call("DEL", "k")
    pub.call("DEL", "h")
    _expect_events(events, 2)
    pub.call("CONFIG", "SET", "notify-keyspace-events", "$")      # neither K nor E: off
    pub.call("SET", "k", "v")
    _expect_events(events, 0)


def test_new_key_events(events, pub):
    """Class 'n' (not in 'A'): a key created, whatever command creates it
    (Redis's dbAdd), never one overwritten; a logically expired key counts
    as gone."""
    pub.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    pub.call("SET", "foo", "bar")
    _expect_events(events, 2)                 # set only: 'A' leaves 'n' out
    pub.call("CONFIG", "SET", "notify-keyspace-events", "KEn")
    created = [("SET", "foo", "baz"),       # (exists: nothing)
               ("SET", "bar", "bar"), ("SET", "opt", "v", "EX", "100"),
               ("INCR", "cnt"), ("INCR", "cnt"), ("LPUSH", "l", "a"), ("LPUSH", "l", "b"),
               ("HSET", "h", "f", "v"), ("SADD", "s", "m"), ("ZADD", "z", "1", "m"),
               ("XADD", "x", "1-0", "f", "v"), ("APPEND", "ap", "x"),
               ("SETBIT", "bits", "1", "1"), ("PFADD", "hll", "a"), ("RENAME", "bar", "bar2"),
               ("COPY", "foo", "foo2"), ("MSET", "m1", "1", "foo", "x"),
               ("SET", "gone", "v", "PX", "1")]
    for args in created:
        pub.call(*args)
    _expect_events(events, 2 * 15)
    time.sleep(0.02)
    pub.call("SET", "gone", "again")          # the expired key counts as gone: new
    _expect_events(events, 2)


def test_expired_events(events, pub):
    pub.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
    pub.call("SET", "k", "v", "PX", "30")
    # Active expiry: nobody touches the key.
    events.read(1)
    pub.call("SET", "k2", "v", "PX", "1")
    time.sleep(0.05)
    pub.call("GET", "k2")                     # lazy expiry, or already expired
    events.read(1)
    events.nothing_pending(0.02)


def test_own_notifications_inside_exec(pair, pub):
    """A RESP3 client subscribed to its own keys: the notifications its
    transaction causes sit inside the EXEC reply, where Redis writes them.
    (A RESP2 subscriber may not start the transaction: the same refusal.)"""
    try:
        pub.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        pair.call("SUBSCRIBE", "__keyspace@0__:k", "__keyevent@0__:incrby", n=2)
        if pair.protocol == 2:
            got = pair.call("MULTI")
            assert got.startswith(b"-ERR Can't execute 'multi'"), got
            return
        run = [("MULTI",), ("SET", "k", "v"), ("INCR", "k"), ("SET", "k", "1"), ("INCR", "k"),
               ("GET", "k")]
        for c in run:
            pair.call(*c)
        pair.node.send("EXEC")
        pair.ref.send("EXEC")
        got = pair.nothing_pending(0.3)       # compares everything that arrived
        assert got.startswith(b"*5\r\n>3\r\n$7\r\nmessage\r\n"), got
    finally:
        pub.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_notify_setting_values(pub):
    try:
        for value in ["KEA", "AKE", "Kx", "x", "", "K", "E", "KEg$lshzxetdmn", "KEg$lshzxet",
                      "KEAm", "KEAn", "AA", "$E", "Kn", "Kdn", "Kml", "nm"]:
            pub.call("CONFIG", "SET", "notify-keyspace-events", value)
            pub.call("CONFIG", "GET", "notify-keyspace-events")
        for bad in ["Ab", "KEA KEA", "kea", "A n"]:
            pub.call("CONFIG", "SET", "notify-keyspace-events", bad)
            pub.call("CONFIG", "GET", "notify-keyspace-events")
    finally:
        pub.call("CONFIG", "SET", "notify-keyspace-events", "")


def test_client_output_buffer_limit_setting(pub):
    default = "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    try:
        pub.call("CONFIG", "GET", "client-output-buffer-limit")
        for value in ["pubsub 1mb 512kb 10", "normal 1 2 3 pubsub 0 0 0", "replica 1gb 1gb 0",
                      "slave 10 10 10", "master 1 1 1", "bogus 1 1 1", "pubsub 1 1",
                      "pubsub x 1 1", "pubsub 1 1 -1", "pubsub -1 1 1", "", "PUBSUB 1 1 1",
                      "pubsub 1k 1K 1", "pubsub 1 1 1x", "pubsub 1.5 1 1",
                      "pubsub 1 1 1 normal 1 1"]:
            pub.call("CONFIG", "SET", "client-output-buffer-limit", value)
            pub.call("CONFIG", "GET", "client-output-buffer-limit")
    finally:
        pub.call("CONFIG", "SET", "client-output-buffer-limit", default)
