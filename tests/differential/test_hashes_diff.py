"""Hash commands compared with a real redis-server, byte for byte (RESP2
and RESP3 through the ``diff`` fixture).  Small hashes list their fields in
insertion order in both servers; bigger ones are compared unordered."""
import random

from servers import RawClient

BIN = b"f\x00g\r\nh\xff"
BIG = str(2 ** 63 - 1)
SMALL = str(-2 ** 63)


def test_hset_hget_basic(diff):
    diff.check("HSET", "h", "f1", "v1")
    diff.check("HSET", "h", "f1", "v1b", "f2", "v2", "f3", "v3")
    diff.check("HSET", "h", "f4", "v4", "f4", "v4b")
    diff.check("HGET", "h", "f1")
    diff.check("HGET", "h", "f4")
    diff.check("HGET", "h", "nope")
    diff.check("HGET", "missing", "f")
    diff.check("HSET", "h", BIN, BIN)
    diff.check("HGET", "h", BIN)
    diff.check("HSET", "h", "", "")
    diff.check("HGET", "h", "")
    diff.check("HGETALL", "h")
    diff.check("HKEYS", "h")
    diff.check("HVALS", "h")
    diff.check("HSET", "h", "long", "x" * 3000)     # hashtable encoding: order differs
    diff.check("HGETALL", "h", unordered=True)
    diff.check("HKEYS", "h", unordered=True)
    diff.check("HVALS", "h", unordered=True)
    diff.check("HLEN", "h")
    diff.check("HLEN", "missing")
    diff.check("HSET", "h", "f1")
    diff.check("HSET", "h", "f1", "v", "f2")
    diff.check("HSET", "h")
    diff.check("HGET", "h")
    diff.check("HGET", "h", "a", "b")
    diff.check("HMSET", "h", "a", "1", "b", "2")
    diff.check("HMSET", "h", "a", "1", "b")
    diff.check("HMSET", "h", "a")
    diff.check("HMGET", "h", "a", "b", "nope", BIN)
    diff.check("HMGET", "missing", "a", "b")
    diff.check("HMGET", "h")


def test_wrong_type(diff):
    diff.check("SET", "s", "v")
    for cmd in (["HSET", "s", "f", "v"], ["HSETNX", "s", "f", "v"], ["HGET", "s", "f"],
                ["HMGET", "s", "f"], ["HMSET", "s", "f", "v"], ["HGETALL", "s"],
                ["HDEL", "s", "f"], ["HEXISTS", "s", "f"], ["HLEN", "s"], ["HKEYS", "s"],
                ["HVALS", "s"], ["HINCRBY", "s", "f", "1"], ["HINCRBYFLOAT", "s", "f", "1"],
                ["HSTRLEN", "s", "f"], ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"],
                ["HRANDFIELD", "s", "-2", "WITHVALUES"], ["HSCAN", "s", "0"]):
        diff.check(*cmd)
    diff.check("HSET", "s", "f")                      # arity before type
    diff.check("HINCRBY", "s", "f", "x")              # increment before type
    diff.check("HINCRBYFLOAT", "s", "f", "x")
    diff.check("HINCRBYFLOAT", "s", "f", "inf")
    diff.check("HSCAN", "s", "x")                     # cursor before type
    diff.check("INCR", "n")
    diff.check("HGET", "n", "f")
    diff.check("GET", "s")


def test_hsetnx_hexists_hstrlen(diff):
    diff.check("HSETNX", "h", "f", "v")
    diff.check("HSETNX", "h", "f", "v2")
    diff.check("HGET", "h", "f")
    diff.check("HSETNX", "h", BIN, BIN)
    diff.check("HEXISTS", "h", "f")
    diff.check("HEXISTS", "h", BIN)
    diff.check("HEXISTS", "h", "nope")
    diff.check("HEXISTS", "missing", "f")
    diff.check("HSTRLEN", "h", "f")
    diff.check("HSTRLEN", "h", BIN)
    diff.check("HSTRLEN", "h", "nope")
    diff.check("HSTRLEN", "missing", "f")
    diff.check("HSET", "h", "num", "-12345")
    diff.check("HSTRLEN", "h", "num")
    diff.check("HINCRBY", "h", "num2", "99999")
    diff.check("HSTRLEN", "h", "num2")
    diff.check("HSETNX", "h", "f")
    diff.check("HSETNX", "h", "f", "v", "x")
    diff.check("HEXISTS", "h")
    diff.check("HSTRLEN", "h", "f", "g")


def test_hdel(diff):
    diff.check("HSET", "h", "a", "1", "b", "2", "c", "3")
    diff.check("HDEL", "h", "a")
    diff.check("HDEL", "h", "a")
    diff.check("HDEL", "h", "nope", "b", "b")
    diff.check("HGETALL", "h")
    diff.check("HDEL", "h", "c", "zzz")
    diff.check("EXISTS", "h")                         # empty hash: key deleted
    diff.check("HDEL", "h", "c")
    diff.check("HDEL", "missing", "a")
    diff.check("HSET", "h", "a", "1", "b", "2", "c", "3")
    diff.check("HDEL", "h", "a", "b", "c", "a")
    diff.check("TYPE", "h")
    diff.check("HDEL", "h")
    diff.check("HSET", "h2", "x", "1")
    diff.check("HDEL", "h2", "x")
    diff.check("HSET", "h2", "y", "2")
    diff.check("HGETALL", "h2")


def test_hgetall_order_after_updates(diff):
    diff.check("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4")
    diff.check("HSET", "h", "b", "22")
    diff.check("HDEL", "h", "a")
    diff.check("HSET", "h", "a", "11", "e", "5")
    diff.check("HINCRBY", "h", "c", "10")
    diff.check("HINCRBYFLOAT", "h", "f", "1.5")
    diff.check("HGETALL", "h")
    diff.check("HKEYS", "h")
    diff.check("HVALS", "h")
    diff.check("HGETALL", "missing")
    diff.check("HKEYS", "missing")
    diff.check("HVALS", "missing")


def test_big_hash_unordered(diff):
    args = []
    for i in range(300):
        args += ["field:%d" % i, "value:%d" % (i * 7)]
    diff.check("HSET", "big", *args)
    diff.check("HLEN", "big")
    diff.check("HGETALL", "big", unordered=True)
    diff.check("HKEYS", "big", unordered=True)
    diff.check("HVALS", "big", unordered=True)
    diff.check("HSET", "wide", "f", "v" * 100)        # a long value: hashtable encoding
    diff.check("HSET", "wide", "g", "w")
    diff.check("HGETALL", "wide", unordered=True)


def test_hincrby(diff):
    diff.check("HINCRBY", "h", "f", "5")
    diff.check("HINCRBY", "h", "f", "-10")
    diff.check("HINCRBY", "h", "f", "0")
    diff.check("HGET", "h", "f")
    diff.check("HSET", "h", "max", BIG, "min", SMALL)
    diff.check("HINCRBY", "h", "max", "1")
    diff.check("HINCRBY", "h", "max", "0")
    diff.check("HINCRBY", "h", "max", SMALL)
    diff.check("HINCRBY", "h", "min", "-1")
    diff.check("HINCRBY", "h", "min", BIG)
    diff.check("HGET", "h", "min")
    for bad in ["abc", "1.5", " 1", "1 ", "+1", "01", "", "9223372036854775808", BIN]:
        diff.check("HINCRBY", "h", "f", bad)
        diff.check("HSET", "h", "bad", bad)
        diff.check("HINCRBY", "h", "bad", "1")
    diff.check("HINCRBY", "newkey", "f", "x")
    diff.check("EXISTS", "newkey")
    diff.check("HINCRBY", "h", "f")
    diff.check("HINCRBY", "h", "f", "1", "2")


def test_hincrbyfloat(diff):
    diff.check("HINCRBYFLOAT", "h", "f", "10.5")
    diff.check("HINCRBYFLOAT", "h", "f", "0.1")
    diff.check("HINCRBYFLOAT", "h", "f", "-5")
    diff.check("HINCRBYFLOAT", "h", "f", "5.0e3")
    diff.check("HINCRBYFLOAT", "h", "f", "0x10")
    diff.check("HINCRBYFLOAT", "h", "g", "1e-30")
    diff.check("HINCRBYFLOAT", "h", "g", "-1e-29")
    diff.check("HINCRBYFLOAT", "h", "big", "1.18e4932")
    diff.check("HINCRBYFLOAT", "h", "big", "1.18e4932")
    diff.check("HINCRBYFLOAT", "h", "tiny", "1e-4940")
    diff.check("HGETALL", "h", unordered=True)
    diff.check("HINCRBY", "h", "i", "7")
    diff.check("HINCRBYFLOAT", "h", "i", "0.5")
    for bad in ["abc", " 1", "1 ", "1\x00", "", "nan", "1e5000", "1e-5000", "1" * 5200]:
        diff.check("HINCRBYFLOAT", "h", "f", bad)
    for inf in ["inf", "-inf", "+Infinity"]:
        diff.check("HINCRBYFLOAT", "h", "f", inf)
        diff.check("HINCRBYFLOAT", "nokey", "f", inf)
    diff.check("EXISTS", "nokey")
    for stored in ["abc", "1 ", "nan", "inf", "", "0x1A", "1e2"]:
        diff.check("HSET", "h", "s", stored)
        diff.check("HINCRBYFLOAT", "h", "s", "1")
    diff.check("HINCRBYFLOAT", "h", "f")
    diff.check("HINCRBYFLOAT", "h", "f", "1", "2")


def test_hrandfield_deterministic(diff):
    diff.check("HRANDFIELD", "missing")
    diff.check("HRANDFIELD", "missing", "5")
    diff.check("HRANDFIELD", "missing", "-5", "WITHVALUES")
    diff.check("HSET", "one", "f", "v")
    diff.check("HRANDFIELD", "one")
    diff.check("HRANDFIELD", "one", "1")
    diff.check("HRANDFIELD", "one", "1", "WITHVALUES")
    diff.check("HRANDFIELD", "one", "5", "withvalues")
    diff.check("HRANDFIELD", "one", "-3")
    diff.check("HRANDFIELD", "one", "-3", "WITHVALUES")
    diff.check("HRANDFIELD", "one", "0")
    diff.check("HRANDFIELD", "one", "0", "WITHVALUES")
    diff.check("HSET", "h", "a", "1", "b", "2", "c", "3")
    diff.check("HRANDFIELD", "h", "3")                 # count >= size: the whole hash
    diff.check("HRANDFIELD", "h", "10", "WITHVALUES")
    diff.check("HRANDFIELD", "h", "x")
    diff.check("HRANDFIELD", "h", "1.5")
    diff.check("HRANDFIELD", "h", "2", "WITHVALUE")
    diff.check("HRANDFIELD", "h", "2", "WITHVALUES", "x")
    diff.check("HRANDFIELD", "h", SMALL)
    diff.check("HRANDFIELD", "h", "9223372036854775808")
    diff.check("HRANDFIELD", "h", SMALL, "WITHVALUES")
    diff.check("HRANDFIELD", "h", str(2 ** 62), "WITHVALUES")
    diff.check("HRANDFIELD", "h", str(-2 ** 62), "WITHVALUES")
    diff.check("HRANDFIELD", "h", str(2 ** 62 - 1), "WITHVALUES")
    diff.check("HRANDFIELD", "missing", SMALL)        # range checked before the key
    diff.check("HRANDFIELD", "missing", "2", "bogus")
    diff.check("HRANDFIELD")


def _parsed_pairs(reply, resp3):
    if resp3:
        return [tuple(p) for p in reply]
    return list(zip(reply[::2], reply[1::2]))


def test_hrandfield_random_shapes(diff):
    fields = {b"f%d" % i: b"v%d" % i for i in range(20)}
    args = []
    for k, v in fields.items():
        args += [k, v]
    diff.check("HSET", "h", *args)
    resp3 = diff.protocol == 3
    for count in (1, 5, 19):
        for server in (diff.node, diff.ref):
            got = server.call("HRANDFIELD", "h", str(count))
            assert len(got) == count and len(set(got)) == count
            assert set(got) <= set(fields)
            got = server.call("HRANDFIELD", "h", str(count), "WITHVALUES")
            pairs = _parsed_pairs(got, resp3)
            assert len(pairs) == count and len({f for f, _ in pairs}) == count
            assert all(fields[f] == v for f, v in pairs)
    for server in (diff.node, diff.ref):
        got = server.call("HRANDFIELD", "h", "-50")
        assert len(got) == 50 and set(got) <= set(fields)
        pairs = _parsed_pairs(server.call("HRANDFIELD", "h", "-50", "WITHVALUES"), resp3)
        assert len(pairs) == 50 and all(fields[f] == v for f, v in pairs)
        assert server.call("HRANDFIELD", "h") in fields
    # The reply's shape (array of arrays under RESP3) matches Redis.
    a = diff.node.call_raw("HRANDFIELD", "h", "-2", "WITHVALUES")
    b = diff.ref.call_raw("HRANDFIELD", "h", "-2", "WITHVALUES")
    assert a.split(b"\r\n")[0] == b.split(b"\r\n")[0]
    assert a.count(b"*") == b.count(b"*")


def test_hscan_small(diff):
    diff.check("HSCAN", "missing", "0")
    diff.check("HSCAN", "missing", "0", "COUNT", "0")   # no option check without a key
    diff.check("HSCAN", "missing", "0", "BOGUS")
    diff.check("HSCAN", "missing", "abc")
    diff.check("HSET", "h", "a", "1", "b", "2", "c", "3", BIN, BIN, "ab", "x")
    diff.check("HSCAN", "h", "0")
    diff.check("HSCAN", "h", "0", "COUNT", "1")
    diff.check("HSCAN", "h", "12345")                   # small hashes ignore the cursor
    diff.check("HSCAN", "h", "0", "MATCH", "a*")
    diff.check("HSCAN", "h", "0", "MATCH", "*")
    diff.check("HSCAN", "h", "0", "MATCH", "[bc]", "COUNT", "100")
    diff.check("HSCAN", "h", "0", "MATCH", "f*", "MATCH", "a?")
    diff.check("HSCAN", "h", "0", "match", "nomatch")
    diff.check("HSCAN", "h", "0", "MATCH", b"f\x00*")
    for cur in ["", "-1", "+0", "007", "18446744073709551615", "5\x00junk"]:
        diff.check("HSCAN", "h", cur)
    for cur in [" 1", "1 ", "x", "-", "+", "18446744073709551616", "0x10", "1.5",
                "9" * 30]:
        diff.check("HSCAN", "h", cur)
    for bad in (["COUNT"], ["COUNT", "0"], ["COUNT", "-1"], ["COUNT", "x"], ["MATCH"],
                ["TYPE", "string"], ["NOVALUES"], ["COUNT", "1", "MATCH"]):
        diff.check("HSCAN", "h", "0", *bad)
    diff.check("HSCAN", "h")


def _full_scan(client, key, count=None, match=None):
    cursor = b"0"
    seen = {}
    for _ in range(10000):
        args = ["HSCAN", key, cursor]
        if count:
            args += ["COUNT", str(count)]
        if match:
            args += ["MATCH", match]
        cursor, items = client.call(*args)
        for i in range(0, len(items), 2):
            seen[items[i]] = items[i + 1]
        if cursor == b"0":
            return seen
    raise AssertionError("scan did not finish")


def test_hscan_large_full_iteration(diff):
    args = []
    for i in range(1500):
        args += ["k%d" % i, "v%d" % i]
    diff.check("HSET", "big", *args)
    for count, match in ((None, None), (7, None), (100, "k1*"), (1000, "*9")):
        a = _full_scan(diff.node, "big", count, match)
        b = _full_scan(diff.ref, "big", count, match)
        assert a == b


def test_hscan_deletes_during_iteration(diff):
    # Every field present for the whole scan is returned; none twice with a
    # different value.
    args = []
    for i in range(2000):
        args += ["k%d" % i, "v%d" % i]
    diff.node.call("HSET", "big", *args)
    cursor, seen, rounds = b"0", {}, 0
    while True:
        cursor, items = diff.node.call("HSCAN", "big", cursor, "COUNT", "50")
        for i in range(0, len(items), 2):
            seen[items[i]] = items[i + 1]
        rounds += 1
        if rounds == 5:
            diff.node.call("HDEL", "big", *["k%d" % i for i in range(1000, 1500)])
        if cursor == b"0" or rounds > 1000:
            break
    assert cursor == b"0"
    kept = {b"k%d" % i for i in list(range(1000)) + list(range(1500, 2000))}
    assert kept <= set(seen)


def test_arity_errors(diff):
    for cmd in ["HSET", "HSETNX", "HGET", "HMGET", "HMSET", "HGETALL", "HDEL", "HEXISTS",
                "HLEN", "HKEYS", "HVALS", "HINCRBY", "HINCRBYFLOAT", "HSTRLEN",
                "HRANDFIELD", "HSCAN"]:
        diff.check(cmd)
        diff.check(cmd.lower(), "k")


def test_random_hash_ops(diff):
    rnd = random.Random(3)
    fields = ["a", "b", "c", BIN, "d"]
    for _ in range(150):
        f = rnd.choice(fields)
        op = rnd.randrange(7)
        if op == 0:
            diff.check("HSET", "h", f, str(rnd.randint(-5, 5)))
        elif op == 1:
            diff.check("HDEL", "h", f, rnd.choice(fields))
        elif op == 2:
            diff.check("HINCRBY", "h", f, str(rnd.randint(-3, 3)))
        elif op == 3:
            diff.check("HINCRBYFLOAT", "h", f, rnd.choice(["0.5", "-1.25", "3", "1e2"]))
        elif op == 4:
            diff.check("HSETNX", "h", f, "x")
        elif op == 5:
            diff.check("HGETALL", "h")
        else:
            diff.check("HMGET", "h", *fields)


HASH_EVENT_COMMANDS = [
    ("HSET", "h", "a", "1", "b", "2"), ("HSET", "h", "a", "1"), ("HMSET", "h", "c", "3"),
    ("HSETNX", "h", "a", "x"), ("HSETNX", "h", "d", "4"), ("HDEL", "h", "zz"),
    ("HDEL", "h", "a", "b"), ("HINCRBY", "h", "n", "5"), ("HINCRBY", "h", "c", "x"),
    ("HINCRBYFLOAT", "h", "f", "1.5"), ("HDEL", "h", "c", "d", "n", "f"),
    ("HINCRBY", "h2", "n", "1"), ("HINCRBYFLOAT", "h3", "n", "1"), ("HDEL", "h3", "n"),
]


def keyspace_events(port, commands):
    """Every keyspace/keyevent notification the commands produce, in order."""
    sub = RawClient(port)
    c = RawClient(port)
    try:
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("PSUBSCRIBE", "__key*__:*")
        for cmd in commands:
            c.call(*cmd)
        sub.sock.sendall(sub.encode(["PING"]))    # a barrier: replies come after the events
        events = []
        for _ in range(10000):
            m = sub.read_reply()
            if m[0] == b"pong":
                return events
            events.append(m)
        raise AssertionError("too many events")
    finally:
        sub.close()
        c.close()


def test_keyspace_events(server_factory, redis_factory):
    node, ref = server_factory(), redis_factory()
    assert keyspace_events(node.port, HASH_EVENT_COMMANDS) == \
        keyspace_events(ref.port, HASH_EVENT_COMMANDS)
