"""Stream commands (XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XREAD,
XSETID) compared with a real redis-server, byte for byte (RESP2 and RESP3):
replies, every error text, approximate trimming's counts, and the
non-blocking behaviour of XREAD BLOCK (data ready, MULTI)."""
import pytest

from servers import RawClient


def _fill(diff, key, n, start_ms=1, fields=("f", "v")):
    for i in range(n):
        diff.check("XADD", key, "%d-%d" % (start_ms + i, 0), *fields)


def test_xadd_explicit_ids_and_xrange(diff):
    diff.check("XADD", "s", "1-1", "a", "1")
    diff.check("XADD", "s", "1-2", "b", "2", "c", "3")
    diff.check("XADD", "s", "2", "d", "4")              # ms alone: seq 0
    diff.check("XADD", "s", "2-*", "e", "5")            # generated sequence
    diff.check("XADD", "s", "3-*", "e", "5")
    diff.check("XADD", "s", "3-*", "\x00\xff", "")
    diff.check("XLEN", "s")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XREVRANGE", "s", "+", "-")
    diff.check("XRANGE", "s", "1", "2")
    diff.check("XRANGE", "s", "1-2", "3-0")
    diff.check("XRANGE", "s", "(1-1", "(3-0")
    diff.check("XREVRANGE", "s", "(3-1", "(1-2")
    diff.check("XRANGE", "s", "-", "+", "COUNT", "2")
    diff.check("XRANGE", "s", "-", "+", "count", "0")
    diff.check("XRANGE", "s", "-", "+", "COUNT", "-5")
    diff.check("XREVRANGE", "s", "+", "-", "COUNT", "3")
    diff.check("XRANGE", "s", "-", "+", "COUNT", "1", "COUNT", "3")
    diff.check("XRANGE", "s", "3", "1")
    diff.check("XRANGE", "nokey", "-", "+")
    diff.check("XRANGE", "nokey", "-", "+", "COUNT", "0")
    diff.check("XLEN", "nokey")


def test_xadd_errors(diff):
    diff.check("XADD", "s", "0-0", "a", "b")
    diff.check("XADD", "s", "0", "a", "b")
    diff.check("EXISTS", "s")
    diff.check("XADD", "s", "5-5", "a", "b")
    diff.check("XADD", "s", "5-5", "a", "b")
    diff.check("XADD", "s", "5-4", "a", "b")
    diff.check("XADD", "s", "4-*", "a", "b")
    diff.check("XADD", "s", "5-*", "a", "b")
    diff.check("XADD", "s", "5-18446744073709551615", "a", "b")
    diff.check("XADD", "s", "5-*", "a", "b")              # the sequence cannot overflow
    diff.check("XADD", "s", "a", "b")
    diff.check("XADD", "s", "6-0", "a")
    diff.check("XADD", "s", "6-0", "a", "b", "c")
    diff.check("XADD", "s", "foo", "a", "b")
    diff.check("XADD", "s", "-", "a", "b")
    diff.check("XADD", "s", "+", "a", "b")
    diff.check("XADD", "s", "1-2-3", "a", "b")
    diff.check("XADD", "s", "1-", "a", "b")
    diff.check("XADD", "s", "-1", "a", "b")
    diff.check("XADD", "s", "18446744073709551616", "a", "b")
    diff.check("XADD", "s", "x" * 200, "a", "b")
    diff.check("XADD", "s", "MAXLEN", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "-1", "*", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "x", "*", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b")
    diff.check("XADD", "s", "MINID", "1", "MAXLEN", "1", "*", "a", "b")
    diff.check("XADD", "s", "MINID", "-", "*", "a", "b")
    diff.check("XADD", "s", "LIMIT", "10", "*", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "10", "LIMIT", "10", "*", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "-1", "*", "a", "b")
    diff.check("XADD", "s", "MAXLEN", "~", "10", "LIMIT", "x", "*", "a", "b")
    diff.check("XADD", "s", "NOMKSTREAM")
    diff.check("XADD", "s")
    diff.check("SET", "str", "x")
    diff.check("XADD", "str", "*", "a", "b")
    diff.check("XADD", "str", "NOMKSTREAM", "*", "a", "b")
    diff.check("XRANGE", "str", "-", "+")
    diff.check("XLEN", "str")
    diff.check("XRANGE", "s", "foo", "+")
    diff.check("XRANGE", "s", "-", "foo")
    diff.check("XRANGE", "s", "(-", "+")
    diff.check("XRANGE", "s", "-", "(+")
    diff.check("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+")
    diff.check("XRANGE", "s", "-", "(0-0")
    diff.check("XRANGE", "s", "-", "(0")
    diff.check("XRANGE", "s", "-", "+", "COUNT")
    diff.check("XRANGE", "s", "-", "+", "COUNT", "x")
    diff.check("XRANGE", "s", "-", "+", "FOO", "1")
    diff.check("XRANGE", "nokey", "x", "+")
    diff.check("XRANGE", "str", "x", "+")
    diff.check("XLEN", "a", "b")


def test_xadd_nomkstream_and_id_spellings(diff):
    diff.check("XADD", "s", "NOMKSTREAM", "*", "a", "b")
    diff.check("EXISTS", "s")
    diff.check("XADD", "s", "nomkstream", "1-1", "a", "b")
    diff.check("XADD", "s", "1-1", "a", "b")
    diff.check("XADD", "s", "NOMKSTREAM", "1-2", "a", "b")
    for spelling in ["007", " 9", "+10", "11-+1", "12- 1", "13-0012", "14\x00junk"]:
        diff.check("XADD", "s", spelling, "a", "b")
    diff.check("XADD", "s", "15- -1", "a", "b")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XRANGE", "s", " 9", "+10")


def test_xadd_maxlen_exact(diff):
    for i in range(1, 21):
        diff.check("XADD", "s", "MAXLEN", "5", "%d-0" % i, "f", "v%d" % i)
    diff.check("XLEN", "s")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XADD", "s", "MAXLEN", "=", "2", "30-0", "f", "v")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XADD", "s", "MINID", "=", "31", "31-0", "f", "v")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XADD", "s", "MAXLEN", "0", "32-0", "f", "v")
    diff.check("XLEN", "s")
    diff.check("EXISTS", "s")


@pytest.mark.parametrize("n,maxlen", [(250, 10), (250, 100), (250, 149), (1000, 500),
                                      (99, 10), (301, 0), (305, 205)])
def test_xtrim_approx_maxlen(diff, n, maxlen):
    """MAXLEN ~ removes whole nodes (stream-node-max-entries 100): the same
    count and length as Redis."""
    _fill(diff, "s", n)
    diff.check("XTRIM", "s", "MAXLEN", "~", str(maxlen))
    diff.check("XLEN", "s")
    diff.check("XRANGE", "s", "-", "+", "COUNT", "1")
    diff.check("XTRIM", "s", "MAXLEN", str(maxlen))
    diff.check("XLEN", "s")


def test_xtrim_approx_limit_and_minid(diff):
    _fill(diff, "s", 1000)
    diff.check("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "150")
    diff.check("XLEN", "s")
    diff.check("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "250")
    diff.check("XLEN", "s")
    diff.check("XTRIM", "s", "MINID", "~", "650")
    diff.check("XLEN", "s")
    diff.check("XTRIM", "s", "MINID", "650")
    diff.check("XLEN", "s")
    diff.check("XTRIM", "s", "MINID", "~", "2000", "LIMIT", "0")
    diff.check("XLEN", "s")
    diff.check("EXISTS", "s")


def test_xtrim_errors(diff):
    _fill(diff, "s", 5)
    diff.check("XTRIM", "s", "MAXLEN", "~", "2", "LIMIT", "1")
    diff.check("XTRIM", "s", "MAXLEN", "2", "LIMIT", "1")
    diff.check("XTRIM", "s", "LIMIT", "1")
    diff.check("XTRIM", "s", "FOO", "1")
    diff.check("XTRIM", "s", "MAXLEN", "-1")
    diff.check("XTRIM", "s", "MAXLEN", "x")
    diff.check("XTRIM", "s", "MINID", "x")
    diff.check("XTRIM", "s", "MINID", "1", "MAXLEN", "1")
    diff.check("XTRIM", "s", "NOMKSTREAM", "MAXLEN", "1")
    diff.check("XTRIM", "s", "MAXLEN")
    diff.check("XTRIM", "s")
    diff.check("XTRIM", "nokey", "MAXLEN", "1")
    diff.check("XTRIM", "nokey", "FOO", "1")
    diff.check("SET", "str", "x")
    diff.check("XTRIM", "str", "MAXLEN", "1")
    diff.check("XTRIM", "s", "MAXLEN", "=", "3")
    diff.check("XTRIM", "s", "MINID", "=", "5")
    diff.check("XRANGE", "s", "-", "+")


def test_xtrim_with_small_nodes(diff):
    diff.check("CONFIG", "SET", "stream-node-max-entries", "10")
    try:
        _fill(diff, "s", 95)
        diff.check("XTRIM", "s", "MAXLEN", "~", "42")
        diff.check("XLEN", "s")
        diff.check("XDEL", "s", "51-0", "52-0", "60-0")
        diff.check("XTRIM", "s", "MAXLEN", "~", "25")
        diff.check("XLEN", "s")
        diff.check("XADD", "s", "MAXLEN", "~", "3", "100-0", "f", "v")
        diff.check("XLEN", "s")
        diff.check("XADD", "s", "MAXLEN", "~", "3", "LIMIT", "20", "101-0", "f", "v")
        diff.check("XLEN", "s")
    finally:
        diff.check("CONFIG", "SET", "stream-node-max-entries", "100")


def test_xtrim_node_bytes(diff):
    """Large values fill a node by stream-node-max-bytes first."""
    value = "x" * 300
    for i in range(60):
        diff.check("XADD", "s", "%d-0" % (i + 1), "field", value)
    diff.check("XTRIM", "s", "MAXLEN", "~", "30")
    diff.check("XLEN", "s")
    for i in range(60):
        diff.check("XADD", "t", "%d-%d" % (i + 1, i), "f%d" % (i % 3), "12345", "g", "-7")
    diff.check("XTRIM", "t", "MAXLEN", "~", "10")
    diff.check("XLEN", "t")
    diff.check("CONFIG", "SET", "stream-node-max-bytes", "0")
    try:
        _fill(diff, "u", 250)
        diff.check("XTRIM", "u", "MAXLEN", "~", "10")
        diff.check("XLEN", "u")
    finally:
        diff.check("CONFIG", "SET", "stream-node-max-bytes", "4096")
    diff.check("CONFIG", "GET", "stream-node-*", unordered=True)


def test_xdel(diff):
    _fill(diff, "s", 5)
    diff.check("XDEL", "s", "2-0", "4-0", "9-0")
    diff.check("XDEL", "s", "2-0")
    diff.check("XRANGE", "s", "-", "+")
    diff.check("XDEL", "s", "1-0", "foo")
    diff.check("XDEL", "s", "1")
    diff.check("XDEL", "s", "-")
    diff.check("XLEN", "s")
    diff.check("XDEL", "nokey", "foo")
    diff.check("XINFO", "STREAM", "s")
    diff.check("XDEL", "s", "3-0", "5-0")
    diff.check("EXISTS", "s")                    # an empty stream stays
    diff.check("XLEN", "s")
    diff.check("XINFO", "STREAM", "s")
    diff.check("XADD", "s", "5-0", "a", "b")
    diff.check("XADD", "s", "6-0", "a", "b")
    diff.check("SET", "str", "x")
    diff.check("XDEL", "str", "1-0")
    diff.check("XDEL", "s")


def test_xsetid(diff):
    diff.check("XSETID", "nokey", "1-1")
    diff.check("XSETID", "nokey", "foo")
    diff.check("XADD", "s", "5-5", "a", "b")
    diff.check("XSETID", "s", "5-4")
    diff.check("XSETID", "s", "5-5")
    diff.check("XSETID", "s", "10-0")
    diff.check("XADD", "s", "9-0", "a", "b")
    diff.check("XADD", "s", "10-*", "a", "b")
    diff.check("XSETID", "s", "20-0", "ENTRIESADDED", "1")
    diff.check("XSETID", "s", "20-0", "ENTRIESADDED", "-1")
    diff.check("XSETID", "s", "20-0", "ENTRIESADDED", "x")
    diff.check("XSETID", "s", "20-0", "MAXDELETEDID", "21-0")
    diff.check("XSETID", "s", "20-0", "MAXDELETEDID", "x")
    diff.check("XSETID", "s", "20-0", "ENTRIESADDED", "5", "MAXDELETEDID", "3-0")
    diff.check("XSETID", "s", "20-0", "FOO")
    diff.check("XSETID", "s", "20-0", "ENTRIESADDED")
    diff.check("XSETID", "s", "-")
    diff.check("XSETID", "s", "+")
    diff.check("XDEL", "s", "10-1", "5-5")
    diff.check("XINFO", "STREAM", "s")
    diff.check("XSETID", "s", "0-1")
    diff.check("XADD", "s", "0-2", "a", "b")
    diff.check("XINFO", "STREAM", "s")
    diff.check("SET", "str", "x")
    diff.check("XSETID", "str", "1-1")


def test_xread(diff):
    diff.check("XADD", "a", "1-0", "f", "1")
    diff.check("XADD", "a", "2-0", "f", "2")
    diff.check("XADD", "b", "3-0", "g", "3")
    diff.check("XREAD", "STREAMS", "a", "b", "0", "0")
    diff.check("XREAD", "COUNT", "1", "STREAMS", "a", "b", "0", "0")
    diff.check("XREAD", "COUNT", "0", "STREAMS", "a", "0")
    diff.check("XREAD", "COUNT", "-3", "STREAMS", "a", "0")
    diff.check("XREAD", "STREAMS", "a", "b", "1-0", "3-0")
    diff.check("XREAD", "STREAMS", "a", "b", "$", "$")
    diff.check("XREAD", "STREAMS", "a", "a", "0", "1")
    diff.check("XREAD", "STREAMS", "nokey", "a", "0", "0")
    diff.check("XREAD", "STREAMS", "nokey", "$")
    diff.check("XREAD", "BLOCK", "0", "STREAMS", "a", "0")           # data ready: no wait
    diff.check("XREAD", "COUNT", "1", "BLOCK", "10", "STREAMS", "a", "b", "1", "0")
    diff.check("XREAD", "BLOCK", "1", "STREAMS", "a", "$")           # times out
    diff.check("XREAD", "STREAMS", "streams", "0")
    diff.check("XREAD", "STREAMS", "a", "(1")
    diff.check("XDEL", "a", "2-0")
    diff.check("XREAD", "STREAMS", "a", "1-0")                     # last ID deleted


def test_xread_errors(diff):
    diff.check("SET", "str", "x")
    diff.check("XADD", "a", "1-0", "f", "1")
    diff.check("XREAD", "STREAMS", "a")
    diff.check("XREAD", "STREAMS", "a", "b", "0")
    diff.check("XREAD", "COUNT", "1", "a", "0")
    diff.check("XREAD", "FOO", "STREAMS", "a", "0")
    diff.check("XREAD", "COUNT", "x", "STREAMS", "a", "0")
    diff.check("XREAD", "BLOCK", "x", "STREAMS", "a", "0")
    diff.check("XREAD", "BLOCK", "1.5", "STREAMS", "a", "0")
    diff.check("XREAD", "BLOCK", "-1", "STREAMS", "a", "0")
    diff.check("XREAD", "GROUP", "g", "c", "STREAMS", "a", "0")
    diff.check("XREAD", "NOACK", "STREAMS", "a", "0")
    diff.check("XREAD", "STREAMS", "a", ">")
    diff.check("XREAD", "STREAMS", "a", "foo")
    diff.check("XREAD", "STREAMS", "a", "-")
    diff.check("XREAD", "STREAMS", "str", "0")
    diff.check("XREAD", "STREAMS", "a", "str", "foo", "0")
    diff.check("XREAD", "STREAMS", "str", "a", "0", "foo")
    diff.check("XREAD", "COUNT", "1")
    diff.check("XREAD", "BLOCK")
    diff.check("XREAD", "STREAMS")


def test_xread_block_in_multi_and_scripts(diff):
    diff.check("XADD", "a", "1-0", "f", "1")
    diff.check("MULTI")
    diff.check("XREAD", "BLOCK", "0", "STREAMS", "a", "$")
    diff.check("XREAD", "BLOCK", "0", "STREAMS", "a", "0")
    diff.check("EXEC")
    diff.check("EVAL", "return redis.pcall('xread', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')",
               "1", "a")
    diff.check("EVAL", "return redis.pcall('XREAD', 'STREAMS', KEYS[1], '0')", "1", "a")
    diff.check("EVAL", "return redis.pcall('XADD', KEYS[1], '5-*', 'x', 'y')", "1", "a")


def test_type_integrations(diff):
    diff.check("XADD", "s", "1-0", "f", "v")
    diff.check("TYPE", "s")
    diff.check("EXISTS", "s")
    diff.check("SCAN", "0", "TYPE", "stream")
    diff.check("SET", "str", "x")
    diff.check("SCAN", "0", "TYPE", "string")
    diff.check("LPUSH", "s", "x")
    diff.check("GET", "s")
    diff.check("HSET", "s", "a", "b")
    diff.check("EXPIRE", "s", "100")
    diff.check("TTL", "s")
    for cmd in (["SORT", "s"], ["LRANGE", "s", "0", "-1"], ["SMEMBERS", "s"],
                ["ZRANGE", "s", "0", "-1"], ["HGETALL", "s"], ["GETRANGE", "s", "0", "1"],
                ["APPEND", "s", "x"], ["INCR", "s"], ["PFADD", "s", "a"], ["STRLEN", "s"],
                ["SETRANGE", "s", "0", "x"], ["BITCOUNT", "s"], ["OBJECT", "ENCODING", "s"],
                ["SINTER", "s", "str"], ["SUNIONSTORE", "d", "s"], ["ZUNIONSTORE", "d", "1", "s"],
                ["LPOS", "s", "a"], ["GEOADD", "s", "1", "1", "m"], ["BLPOP", "s", "0.01"],
                ["LMOVE", "s", "d", "LEFT", "LEFT"], ["SCARD", "s"], ["HLEN", "s"],
                ["ZCARD", "s"], ["LLEN", "s"], ["GETDEL", "s"], ["GETEX", "s"]):
        diff.check(*cmd)
    diff.check("XADD", "str", "*", "a", "b")
    diff.check("XLEN", "str")
    diff.check("RENAME", "s", "t")
    diff.check("XRANGE", "t", "-", "+")
    diff.check("PERSIST", "t")
    diff.check("DEL", "t")
    diff.check("EXISTS", "t")


def test_keyspace_notifications(node_server, redis_server):
    """xadd, xtrim, xdel, xsetid events (class t) in Redis's order."""
    def events(port):
        sub = RawClient(port)
        c = RawClient(port)
        try:
            c.call("FLUSHALL")
            c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
            sub.call("PSUBSCRIBE", "__key*__:*", "done")
            c.call("XADD", "s", "1-0", "a", "b")
            c.call("XADD", "s", "MAXLEN", "1", "2-0", "a", "b")
            c.call("XADD", "s", "MAXLEN", "5", "3-0", "a", "b")
            c.call("XDEL", "s", "9-0")
            c.call("XDEL", "s", "2-0")
            c.call("XTRIM", "s", "MAXLEN", "5")
            c.call("XTRIM", "s", "MAXLEN", "0")
            c.call("XSETID", "s", "10-0")
            c.call("XADD", "s", "NOMKSTREAM", "11-0", "a", "b")
            c.call("DEL", "s")
            c.call("PUBLISH", "done", "x")
            out = []
            for _ in range(100):
                msg = sub.read_reply()
                if msg[0] != b"pmessage":
                    continue
                if msg[2] == b"done":
                    break
                out.append((msg[2], msg[3]))
            return out
        finally:
            c.call("CONFIG", "SET", "notify-keyspace-events", "")
            sub.close()
            c.close()

    def run(port):
        c = RawClient(port)
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        return events(port)
    assert run(node_server.port) == run(redis_server.port)


def test_command_docs(diff):
    for name in ["XADD", "XRANGE", "XREVRANGE", "XLEN", "XDEL", "XTRIM", "XREAD", "XSETID"]:
        diff.check("COMMAND", "INFO", name)
    diff.check("COMMAND", "GETKEYS", "XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0")
    diff.check("COMMAND", "GETKEYS", "XREAD", "BLOCK", "0", "STREAMS", "streams", "0")
    diff.check("COMMAND", "GETKEYS", "XADD", "s", "*", "a", "b")


# -- random sequences: the node model behind approximate trimming ------------------------
def _random_ops(rnd, n):
    """XADD (IDs growing by random steps, fields like or unlike the node's
    master entry, values of every listpack size class, integers too),
    XDEL, exact and approximate XTRIM (LIMIT too), XADD with trimming."""
    ms, seq = 1, 0
    ops = []
    added = []
    values = ["v", "", "12345", "-7", "9223372036854775808", "007", "x" * 70, "y" * 300,
              "z" * 5000, "1" * 20]
    for _ in range(n):
        r = rnd.random()
        if r < 0.82 or not added:
            step = rnd.choice([0, 0, 1, 1, 2, 100, 70000, 1 << 33])
            if step:
                ms += step
                seq = rnd.choice([0, 0, 5, 200])
            else:
                seq += rnd.choice([1, 1, 300])
            eid = "%d-%d" % (ms, seq)
            nf = rnd.choice([1, 1, 2, 3])
            names = rnd.choice([["f"], ["f", "g"], ["a%d" % i for i in range(nf)]])
            fields = []
            for name in names:
                fields += [name, rnd.choice(values)]
            trim = []
            if rnd.random() < 0.05:
                trim = [rnd.choice(["MAXLEN", "MINID"]), rnd.choice(["~", "=", "~"])]
                trim.append(str(rnd.randrange(20, 300)) if trim[0] == "MAXLEN"
                            else rnd.choice(added[-300:] or [eid]))
                if trim[1] == "~" and rnd.random() < 0.3:
                    trim += ["LIMIT", str(rnd.randrange(0, 30))]
            ops.append(["XADD", "s"] + trim + [eid] + fields)
            added.append(eid)
        elif r < 0.9:
            ops.append(["XDEL", "s"] + [rnd.choice(added[-300:])
                                        for _ in range(rnd.randrange(1, 4))])
        elif r < 0.97:
            how = rnd.choice(["MAXLEN", "MINID"])
            op = ["XTRIM", "s", how]
            if rnd.random() < 0.7:
                op.append("~")
            if how == "MAXLEN":
                op.append(str(rnd.randrange(0, 300)))
            else:
                op.append(rnd.choice(added[-300:]))
            if op[3] == "~" and rnd.random() < 0.3:
                op += ["LIMIT", str(rnd.randrange(0, 50))]
            ops.append(op)
        else:
            ops.append(["XLEN", "s"])
    return ops


@pytest.mark.parametrize("seed", range(16))
def test_random_trimming_matches_redis(node_server, redis_server, seed):
    import random
    from difftools import Differ
    rnd = random.Random(seed)
    d = Differ(node_server.port, redis_server.port)
    settings = [("stream-node-max-entries", rnd.choice(["100", "10", "5", "1", "0"])),
                ("stream-node-max-bytes", rnd.choice(["4096", "500", "100", "0", "1mb"]))]
    try:
        d.check("FLUSHALL")
        for name, value in settings:
            d.check("CONFIG", "SET", name, value)
        for op in _random_ops(rnd, 700):
            d.check(*op)
            if op[0] != "XLEN" and rnd.random() < 0.2:
                d.check("XLEN", "s")
        d.check("XRANGE", "s", "-", "+", "COUNT", "3")
        d.check("XREVRANGE", "s", "+", "-", "COUNT", "3")
        d.check("XLEN", "s")
        # first/last IDs, counters and the node count (radix-tree-keys)
        d.check("XINFO", "STREAM", "s")
    finally:
        d.check("CONFIG", "SET", "stream-node-max-entries", "100")
        d.check("CONFIG", "SET", "stream-node-max-bytes", "4096")
        d.close()
