"""List commands compared with a real redis-server, byte for byte (RESP2 and
RESP3), including every error reply and the non-blocking behaviour of the
blocking commands (keys ready, timeouts, MULTI)."""
import time

import pytest

from servers import RawClient


def test_push_pop(diff):
    diff.check("LPUSH", "l", "a", "b", "c")
    diff.check("RPUSH", "l", "d")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LPOP", "l")
    diff.check("RPOP", "l")
    diff.check("LLEN", "l")
    diff.check("LPUSHX", "nokey", "a")
    diff.check("RPUSHX", "nokey", "a", "b")
    diff.check("EXISTS", "nokey")
    diff.check("LPUSHX", "l", "x", "y")
    diff.check("RPUSHX", "l", "z")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LPOP", "nokey")
    diff.check("RPOP", "nokey")
    diff.check("LLEN", "nokey")
    diff.check("RPOP", "l")
    diff.check("RPOP", "l")
    diff.check("LPOP", "l")
    diff.check("LPOP", "l")
    diff.check("EXISTS", "l")          # the last pop deleted the key
    diff.check("LPUSH", "bin", "\x00\xff\r\n", "")
    diff.check("LRANGE", "bin", "0", "-1")


def test_pop_count(diff):
    diff.check("RPUSH", "l", "1", "2", "3", "4", "5")
    diff.check("LPOP", "l", "2")
    diff.check("RPOP", "l", "2")
    diff.check("LPOP", "l", "0")
    diff.check("RPOP", "l", "0")
    diff.check("LPOP", "l", "10")
    diff.check("EXISTS", "l")
    diff.check("LPOP", "nokey", "0")
    diff.check("LPOP", "nokey", "2")
    diff.check("RPOP", "nokey", "1")
    diff.check("RPUSH", "l", "1", "2", "3")
    diff.check("RPOP", "l", "3")
    diff.check("RPUSH", "l", "1")
    diff.check("LPOP", "l", "x")
    diff.check("LPOP", "l", "-1")
    diff.check("LPOP", "l", "1.5")
    diff.check("RPOP", "l", "9223372036854775808")
    diff.check("LPOP", "l", "9223372036854775807")
    diff.check("LPOP", "l", "1", "2")
    diff.check("LPOP")
    diff.check("RPOP", "nokey", "x")


def test_wrongtype(diff):
    diff.check("SET", "s", "v")
    for cmd in [("LPUSH", "s", "x"), ("RPUSH", "s", "x"), ("LPUSHX", "s", "x"),
                ("RPUSHX", "s", "x"), ("LPOP", "s"), ("RPOP", "s", "2"), ("LPOP", "s", "0"),
                ("LLEN", "s"), ("LRANGE", "s", "0", "1"), ("LINDEX", "s", "0"),
                ("LSET", "s", "0", "v"), ("LINSERT", "s", "BEFORE", "a", "b"),
                ("LREM", "s", "0", "a"), ("LTRIM", "s", "0", "1"), ("LPOS", "s", "a"),
                ("LMOVE", "s", "d", "LEFT", "LEFT"), ("RPOPLPUSH", "s", "d"),
                ("LMPOP", "1", "s", "LEFT"), ("BLPOP", "s", "0"), ("BRPOP", "nokey", "s", "0"),
                ("BLMOVE", "s", "d", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "s", "d", "0"),
                ("BLMPOP", "0", "2", "nokey", "s", "LEFT")]:
        diff.check(*cmd)
    # The destination's type is checked before anything moves.
    diff.check("RPUSH", "src", "a")
    diff.check("LMOVE", "src", "s", "LEFT", "RIGHT")
    diff.check("RPOPLPUSH", "src", "s")
    diff.check("BLMOVE", "src", "s", "LEFT", "RIGHT", "0")
    diff.check("LRANGE", "src", "0", "-1")
    # The first non-empty key decides; a wrong type after it is not looked at.
    diff.check("BLPOP", "src", "s", "0")
    diff.check("RPUSH", "src", "a")
    diff.check("LMPOP", "2", "src", "s", "LEFT")
    diff.check("GET", "s")


def test_arity(diff):
    for cmd in ["LPUSH", "RPUSH", "LPUSHX", "RPUSHX", "LLEN", "LRANGE", "LINDEX", "LSET",
                "LINSERT", "LREM", "LTRIM", "LPOS", "LMOVE", "RPOPLPUSH", "LMPOP", "BLPOP",
                "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP", "LPOP", "RPOP"]:
        diff.check(cmd)
        diff.check(cmd, "k")
    diff.check("LLEN", "a", "b")
    diff.check("LRANGE", "k", "0")
    diff.check("LINSERT", "k", "BEFORE", "a")
    diff.check("LMOVE", "a", "b", "LEFT")
    diff.check("BLMOVE", "a", "b", "LEFT", "LEFT")
    diff.check("BRPOPLPUSH", "a", "b")
    diff.check("LMPOP", "1", "k")
    diff.check("BLMPOP", "0", "1", "k")


def test_lrange_lindex(diff):
    diff.check("RPUSH", "l", *[str(i) for i in range(10)])
    for start, stop in [("0", "-1"), ("-100", "100"), ("3", "1"), ("9", "20"), ("10", "20"),
                        ("-2", "-1"), ("1", "-2"), ("-3", "-5"), ("0", "0"), ("-1", "-1"),
                        ("-20", "-11"), ("-20", "-10"), ("9223372036854775807", "0"),
                        ("-9223372036854775808", "9223372036854775807"),
                        ("9223372036854775808", "1"), ("x", "1"), ("1", "x"), ("", "1"),
                        ("01", "2"), ("+1", "2"), (" 1", "2"), ("-0", "1")]:
        diff.check("LRANGE", "l", start, stop)
    diff.check("LRANGE", "nokey", "0", "-1")
    diff.check("LRANGE", "nokey", "x", "-1")
    for index in ["0", "9", "10", "-1", "-10", "-11", "x", "9223372036854775807",
                  "-9223372036854775808", "99999999999999999999"]:
        diff.check("LINDEX", "l", index)
    diff.check("LINDEX", "nokey", "0")
    diff.check("LINDEX", "nokey", "x")


def test_lrange_long_list(diff):
    diff.check("RPUSH", "big", *[str(i) for i in range(600)])
    for start, stop in [("0", "99"), ("500", "599"), ("-100", "-1"), ("250", "349"),
                        ("590", "700"), ("-700", "5"), ("299", "300")]:
        diff.check("LRANGE", "big", start, stop)
    for index in ["0", "300", "599", "-300"]:
        diff.check("LINDEX", "big", index)


def test_lset(diff):
    diff.check("LSET", "nokey", "0", "v")
    diff.check("LSET", "nokey", "x", "v")
    diff.check("RPUSH", "l", "a", "b", "c")
    diff.check("LSET", "l", "0", "A")
    diff.check("LSET", "l", "-1", "C")
    diff.check("LSET", "l", "3", "x")
    diff.check("LSET", "l", "-4", "x")
    diff.check("LSET", "l", "x", "v")
    diff.check("LSET", "l", "1", "")
    diff.check("LRANGE", "l", "0", "-1")


def test_linsert(diff):
    diff.check("LINSERT", "nokey", "BEFORE", "a", "x")
    diff.check("LINSERT", "nokey", "FOO", "a", "x")
    diff.check("RPUSH", "l", "a", "b", "a")
    diff.check("LINSERT", "l", "BEFORE", "a", "x")
    diff.check("LINSERT", "l", "after", "a", "y")
    diff.check("LINSERT", "l", "AfTeR", "b", "z")
    diff.check("LINSERT", "l", "before", "nope", "z")
    diff.check("LINSERT", "l", "middle", "a", "z")
    diff.check("LINSERT", "l", "BEFORE\x00junk", "a", "n")
    diff.check("LRANGE", "l", "0", "-1")


def test_lrem(diff):
    diff.check("LREM", "nokey", "0", "a")
    diff.check("LREM", "nokey", "x", "a")
    diff.check("RPUSH", "l", "a", "b", "a", "c", "a", "b", "a")
    diff.check("LREM", "l", "x", "a")
    diff.check("LREM", "l", "1", "a")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LREM", "l", "-2", "a")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LREM", "l", "0", "b")
    diff.check("LREM", "l", "5", "zz")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LREM", "l", "0", "a")
    diff.check("LREM", "l", "-100", "c")
    diff.check("EXISTS", "l")
    diff.check("RPUSH", "l", "a", "a", "b", "a")
    diff.check("LREM", "l", "2", "a")
    diff.check("LREM", "l", "-9223372036854775808", "a")
    diff.check("LRANGE", "l", "0", "-1")


def test_ltrim(diff):
    diff.check("LTRIM", "nokey", "0", "1")
    diff.check("LTRIM", "nokey", "x", "1")
    diff.check("RPUSH", "l", *[str(i) for i in range(10)])
    diff.check("LTRIM", "l", "x", "1")
    diff.check("LTRIM", "l", "1", "x")
    diff.check("LTRIM", "l", "1", "-2")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LTRIM", "l", "-3", "-1")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LTRIM", "l", "0", "100")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LTRIM", "l", "2", "1")
    diff.check("EXISTS", "l")
    diff.check("RPUSH", "l", *[str(i) for i in range(100)])
    diff.check("LTRIM", "l", "40", "42")
    diff.check("LRANGE", "l", "0", "-1")
    diff.check("LTRIM", "l", "5", "10")
    diff.check("EXISTS", "l")


def test_lpos(diff):
    diff.check("RPUSH", "p", "a", "b", "c", "1", "2", "3", "c", "c")
    for opts in [(), ("RANK", "2"), ("RANK", "-1"), ("RANK", "-3"), ("RANK", "4"),
                 ("COUNT", "0"), ("COUNT", "2"), ("COUNT", "2", "RANK", "-1"),
                 ("RANK", "-2", "COUNT", "0"), ("MAXLEN", "2"), ("MAXLEN", "3", "COUNT", "0"),
                 ("MAXLEN", "0", "COUNT", "0"), ("RANK", "-1", "MAXLEN", "2", "COUNT", "0"),
                 ("rank", "1", "count", "1", "maxlen", "100"), ("COUNT", "1", "COUNT", "2"),
                 ("RANK", "0"), ("RANK", "x"), ("RANK", "-9223372036854775808"),
                 ("RANK", "9223372036854775807"), ("COUNT", "-1"), ("COUNT", "x"),
                 ("MAXLEN", "-1"), ("MAXLEN", "x"), ("FOO",), ("RANK",), ("COUNT", "1", "FOO"),
                 ("RANK", "0", "COUNT", "-1"), ("COUNT", "-1", "RANK", "0")]:
        diff.check("LPOS", "p", "c", *opts)
    diff.check("LPOS", "p", "zz")
    diff.check("LPOS", "p", "zz", "COUNT", "3")
    diff.check("LPOS", "nokey", "c")
    diff.check("LPOS", "nokey", "c", "COUNT", "1")
    diff.check("LPOS", "nokey", "c", "RANK", "0")


def test_lmove_rpoplpush(diff):
    diff.check("RPUSH", "src", "a", "b", "c")
    diff.check("LMOVE", "src", "dst", "LEFT", "RIGHT")
    diff.check("LMOVE", "src", "dst", "RIGHT", "LEFT")
    diff.check("LMOVE", "src", "dst", "left", "left")
    diff.check("LRANGE", "dst", "0", "-1")
    diff.check("EXISTS", "src")
    diff.check("LMOVE", "src", "dst", "LEFT", "RIGHT")
    diff.check("LMOVE", "dst", "dst", "LEFT", "RIGHT")
    diff.check("LRANGE", "dst", "0", "-1")
    diff.check("LMOVE", "dst", "dst", "x", "RIGHT")
    diff.check("LMOVE", "dst", "dst", "LEFT", "UP")
    diff.check("LMOVE", "nokey", "dst", "x", "RIGHT")
    diff.check("RPOPLPUSH", "dst", "other")
    diff.check("RPOPLPUSH", "nokey", "other")
    diff.check("RPUSH", "one", "x")
    diff.check("RPOPLPUSH", "one", "one")
    diff.check("LRANGE", "one", "0", "-1")
    diff.check("LMOVE", "one", "one2", "RIGHT", "RIGHT")
    diff.check("EXISTS", "one")


def test_lmpop(diff):
    diff.check("RPUSH", "k", "a", "b", "c")
    for args in [("0", "k", "LEFT"), ("-1", "k", "LEFT"), ("x", "k", "LEFT"), ("2", "k", "LEFT"),
                 ("1", "k", "MIDDLE"), ("1", "k", "LEFT", "COUNT"),
                 ("1", "k", "LEFT", "COUNT", "0"), ("1", "k", "LEFT", "COUNT", "-1"),
                 ("1", "k", "LEFT", "COUNT", "x"), ("1", "k", "LEFT", "COUNT", "1", "COUNT", "2"),
                 ("1", "k", "LEFT", "FOO"), ("1", "k", "LEFT", "COUNT", "1", "x"),
                 ("2", "a", "b"), ("3", "a", "b", "LEFT"), ("2147483648", "k", "LEFT"),
                 ("1", "k", "LEFT", "COUNT", "9223372036854775808"),
                 ("2", "nokey", "k", "RIGHT", "COUNT", "2"), ("1", "k", "left", "count", "10"),
                 ("1", "k", "LEFT"), ("2", "k", "k", "LEFT")]:
        diff.check("LMPOP", *args)
    diff.check("EXISTS", "k")
    diff.check("RPUSH", "k2", "1", "2")
    diff.check("RPUSH", "k3", "3")
    diff.check("LMPOP", "3", "k", "k3", "k2", "RIGHT", "COUNT", "5")
    diff.check("LMPOP", "2", "k", "k2", "LEFT", "COUNT", "2147483648")


def test_blocking_commands_served_at_once(diff):
    diff.check("RPUSH", "q", "1", "2", "3", "4", "5", "6")
    diff.check("BLPOP", "nokey", "q", "0")
    diff.check("BRPOP", "q", "nokey", "1")
    diff.check("BLPOP", "q", "q", "0.5")
    diff.check("BLMOVE", "q", "d", "LEFT", "LEFT", "0")
    diff.check("BLMOVE", "q", "d", "right", "right", "0")
    diff.check("BRPOPLPUSH", "d", "d2", "0")
    diff.check("BLMPOP", "0", "2", "x", "d", "RIGHT", "COUNT", "3")
    diff.check("BLMPOP", "1", "2", "x", "q", "LEFT")
    diff.check("LRANGE", "d2", "0", "-1")
    diff.check("EXISTS", "d")


def test_blocking_timeouts_and_errors(diff):
    for timeout in ["0.01", "0.001", "1e-3", "0x1p-7", ".01", "+0.01", "1e-400", "0.0001"]:
        diff.check("BLPOP", "a", timeout)
    diff.check("BRPOP", "a", "b", "0.01")
    diff.check("BLMOVE", "a", "b", "LEFT", "LEFT", "0.01")
    diff.check("BRPOPLPUSH", "a", "b", "0.01")
    diff.check("BLMPOP", "0.01", "1", "a", "LEFT")
    for timeout in ["x", "-1", "-0.0011", "inf", "-inf", "nan", "1e20", "1e400", "1e5000",
                    "1e-5000", " 1", "1 ", "", "0x", "1e", "Infinity", "9223372036854775.808",
                    "1,5"]:
        diff.check("BLPOP", "a", timeout)
    diff.check("BLMOVE", "a", "b", "UP", "LEFT", "x")
    diff.check("BLMOVE", "a", "b", "LEFT", "LEFT", "x")
    diff.check("BLMOVE", "a", "b", "LEFT", "LEFT", "-1")
    diff.check("BRPOPLPUSH", "a", "b", "-1")
    for args in [("x", "0", "k", "LEFT"), ("x", "1", "k", "FOO"), ("x", "1", "k", "LEFT"),
                 ("-1", "1", "k", "LEFT", "COUNT", "0"), ("0", "0", "k", "LEFT"),
                 ("0.1", "3", "k", "LEFT"), ("-1", "1", "k", "LEFT")]:
        diff.check("BLMPOP", *args)


def _require(client, name):
    """The test needs ``name``: fail (not skip) when NodeNsync lacks it."""
    assert client.call("COMMAND", "INFO", name) != [None], "%s is missing" % name


def test_blocking_inside_multi(diff):
    _require(diff.node, "MULTI")
    diff.check("MULTI")
    diff.check("BLPOP", "a", "0")
    diff.check("BRPOP", "a", "b", "0")
    diff.check("BLMOVE", "a", "b", "LEFT", "RIGHT", "0")
    diff.check("BRPOPLPUSH", "a", "b", "0")
    diff.check("BLMPOP", "0", "1", "a", "LEFT")
    diff.check("BLPOP", "a", "-1")
    diff.check("RPUSH", "a", "x")
    diff.check("BLPOP", "a", "0")
    diff.check("EXEC")


def test_client_unblock_errors(diff):
    for args in [("x",), ("99999",), ("-1",), ("0", "error"), ("1", "FOO"), ("x", "FOO"),
                 ("1", "TIMEOUT", "x"), ("1", "timeout"), ("01",)]:
        diff.check("CLIENT", "UNBLOCK", *args)
    diff.check("CLIENT", "UNBLOCK")
    diff.check("client", "unblock", "1", "timeout", "x")


def test_lists_across_databases_and_expiry(diff):
    diff.check("RPUSH", "l", "a")
    diff.check("PEXPIRE", "l", "20")
    time.sleep(0.05)
    diff.check("LLEN", "l")
    diff.check("RPUSHX", "l", "x")
    diff.check("LPUSH", "l", "fresh")
    diff.check("TTL", "l")
    diff.check("SELECT", "3")
    diff.check("LLEN", "l")
    diff.check("SELECT", "0")
    diff.check("LRANGE", "l", "0", "-1")


def _events(port, commands):
    """Keyspace events (in order) that ``commands`` produce on one server."""
    setup = RawClient(port)
    setup.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub = RawClient(port)
    sub.call("PSUBSCRIBE", "__keyevent@0__:*")
    for c in commands:
        setup.call(*c)
    setup.call("PUBLISH", "__keyevent@0__:zzend", "x")
    got = []
    for _ in range(200):
        msg = sub.read_reply()
        if msg[2] == b"__keyevent@0__:zzend":
            break
        got.append((msg[2], msg[3]))
    setup.close()
    sub.close()
    return got


@pytest.mark.parametrize("commands", [
    [("RPUSH", "l", "a", "b"), ("LPUSH", "l", "c"), ("LPOP", "l"), ("RPOP", "l", "5")],
    [("RPUSH", "s", "a"), ("LMOVE", "s", "d", "LEFT", "RIGHT"), ("RPOPLPUSH", "d", "d"),
     ("LSET", "d", "0", "x"), ("LINSERT", "d", "BEFORE", "x", "y"), ("LREM", "d", "1", "x"),
     ("LTRIM", "d", "0", "0"), ("LTRIM", "d", "1", "0"), ("RPUSHX", "d", "q")],
    [("RPUSH", "k", "1", "2", "3"), ("LMPOP", "1", "k", "RIGHT", "COUNT", "3"),
     ("RPUSH", "k", "1"), ("BLPOP", "k", "0"), ("RPUSH", "k", "1", "2"),
     ("BLMOVE", "k", "j", "RIGHT", "LEFT", "0"), ("BLMPOP", "0", "1", "k", "LEFT"),
     ("LTRIM", "j", "0", "-1"), ("LREM", "j", "0", "nope")],
], ids=["push-pop", "move-edit", "mpop-blocking"])
def test_keyspace_events(server_factory, redis_factory, commands):
    node = server_factory()
    ref = redis_factory()
    assert _events(node.port, commands) == _events(ref.port, commands)
