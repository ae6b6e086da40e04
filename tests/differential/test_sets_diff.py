"""Set commands compared with a real redis-server (RESP2 and RESP3)."""
import hiredis
import pytest


def _parse(raw):
    r = hiredis.Reader()
    r.feed(raw)
    return r.gets()


def _head(raw):
    """Type byte and length of a reply: what must match for replies whose
    content is random."""
    return raw.split(b"\r\n", 1)[0]


def check_random(diff, *args, pool=None):
    """Same reply shape on both servers; NodeNsync's elements from ``pool``."""
    a = diff.node.call_raw(*args)
    b = diff.ref.call_raw(*args)
    assert _head(a) == _head(b), (args, a, b)
    value = _parse(a)
    if pool is not None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None:
                assert item in pool, (args, item)
    return value


def test_sadd_srem_scard(diff):
    diff.check("SADD", "s", "a", "b", "c", "a")
    diff.check("SADD", "s", "a")
    diff.check("SADD", "s", "d", "e")
    diff.check("SCARD", "s")
    diff.check("SCARD", "nokey")
    diff.check("SREM", "s", "a", "x", "b")
    diff.check("SREM", "s", "zz")
    diff.check("SREM", "nokey", "a")
    diff.check("SMEMBERS", "s", unordered=True)
    diff.check("SREM", "s", "c", "d", "e")
    diff.check("EXISTS", "s")
    diff.check("SMEMBERS", "s")
    diff.check("SMEMBERS", "nokey")
    diff.check("SADD", "bin", "\x00\xff", "", "a b")
    diff.check("SISMEMBER", "bin", "")
    diff.check("SISMEMBER", "bin", "\x00\xff")
    diff.check("SMEMBERS", "bin", unordered=True)


def test_integer_sets(diff):
    diff.check("SADD", "i", "3", "1", "2", "-5", "10", "-9223372036854775808")
    diff.check("SSCAN", "i", "0")   # intset order: ascending integers
    diff.check("SADD", "i", "01", "1.0", "+1", "-0", "9223372036854775808")
    diff.check("SCARD", "i")
    diff.check("SMEMBERS", "i", unordered=True)
    diff.check("SSCAN", "i", "0", "COUNT", "100", unordered=True)


def test_ismember_mismember(diff):
    diff.check("SADD", "s", "a", "b")
    diff.check("SISMEMBER", "s", "a")
    diff.check("SISMEMBER", "s", "z")
    diff.check("SISMEMBER", "nokey", "a")
    diff.check("SMISMEMBER", "s", "a", "z", "b")
    diff.check("SMISMEMBER", "nokey", "a", "b")
    diff.check("SMISMEMBER", "s")


def test_wrongtype_and_arity(diff):
    diff.check("SET", "str", "x")
    for cmd in (["SADD", "str", "a"], ["SREM", "str", "a"], ["SMEMBERS", "str"],
                ["SISMEMBER", "str", "a"], ["SMISMEMBER", "str", "a"], ["SCARD", "str"],
                ["SPOP", "str"], ["SPOP", "str", "2"], ["SPOP", "str", "0"],
                ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"],
                ["SSCAN", "str", "0"], ["SINTER", "str"], ["SUNION", "str"], ["SDIFF", "str"],
                ["SINTERCARD", "1", "str"], ["SINTERSTORE", "d", "str"],
                ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "str"],
                ["SMOVE", "str", "d", "a"]):
        diff.check(*cmd)
    for cmd in (["SADD", "s"], ["SREM", "s"], ["SMEMBERS"], ["SISMEMBER", "s"],
                ["SMISMEMBER", "s"], ["SCARD"], ["SPOP"], ["SRANDMEMBER"], ["SMOVE", "a", "b"],
                ["SINTER"], ["SUNION"], ["SDIFF"], ["SINTERSTORE", "d"], ["SUNIONSTORE", "d"],
                ["SDIFFSTORE", "d"], ["SINTERCARD", "1"], ["SSCAN", "s"], ["SCARD", "a", "b"]):
        diff.check(*cmd)


def test_smove(diff):
    diff.check("SADD", "a", "1", "2", "3")
    diff.check("SADD", "b", "3", "4")
    diff.check("SET", "str", "x")
    diff.check("SMOVE", "a", "b", "1")
    diff.check("SMOVE", "a", "b", "3")
    diff.check("SMOVE", "a", "b", "9")
    diff.check("SMOVE", "a", "a", "2")
    diff.check("SMOVE", "a", "a", "9")
    diff.check("SMOVE", "nokey", "b", "1")
    diff.check("SMOVE", "nokey", "str", "1")
    diff.check("SMOVE", "a", "str", "2")
    diff.check("SMOVE", "str", "a", "2")
    diff.check("SMOVE", "a", "new", "2")
    diff.check("EXISTS", "a")
    diff.check("SMEMBERS", "new")
    diff.check("SMEMBERS", "b", unordered=True)


def test_algebra(diff):
    diff.check("SADD", "a", "1", "2", "3", "x")
    diff.check("SADD", "b", "2", "3", "4", "y")
    diff.check("SADD", "c", "3", "x", "y", "z")
    for cmd in ("SINTER", "SUNION", "SDIFF"):
        diff.check(cmd, "a", "b", unordered=True)
        diff.check(cmd, "a", "b", "c", unordered=True)
        diff.check(cmd, "c", "a", unordered=True)
        diff.check(cmd, "a", unordered=True)
        diff.check(cmd, "a", "a", unordered=True)
        diff.check(cmd, "a", "nokey", unordered=True)
        diff.check(cmd, "nokey", "a", unordered=True)
        diff.check(cmd, "nokey")
    diff.check("SET", "str", "v")
    diff.check("SINTER", "nokey", "str")
    diff.check("SINTER", "a", "str")
    diff.check("SUNION", "str", "nokey")
    diff.check("SDIFF", "nokey", "str")
    diff.check("SDIFF", "a", "str")


def test_algebra_store(diff):
    diff.check("SADD", "a", "1", "2", "3")
    diff.check("SADD", "b", "2", "3", "4")
    diff.check("SET", "str", "v")
    diff.check("SINTERSTORE", "d", "a", "b")
    diff.check("SMEMBERS", "d", unordered=True)
    diff.check("SUNIONSTORE", "d", "a", "b")
    diff.check("SMEMBERS", "d", unordered=True)
    diff.check("SDIFFSTORE", "d", "a", "b")
    diff.check("SMEMBERS", "d", unordered=True)
    # Store into the source itself.
    diff.check("SDIFFSTORE", "a", "a", "b")
    diff.check("SMEMBERS", "a", unordered=True)
    # Empty result deletes the destination, whatever its type.
    diff.check("SINTERSTORE", "str", "a", "nokey")
    diff.check("EXISTS", "str")
    diff.check("SET", "str", "v")
    diff.check("SUNIONSTORE", "str", "b")
    diff.check("TYPE", "str")
    diff.check("SDIFFSTORE", "d", "b", "b")
    diff.check("EXISTS", "d")
    diff.check("SDIFFSTORE", "d", "nokey")
    diff.check("SET", "str", "v")
    diff.check("SINTERSTORE", "d", "nokey", "str")
    # A stored result loses the destination's TTL.
    diff.check("SET", "t", "v", "EX", "100")
    diff.check("SUNIONSTORE", "t", "b")
    diff.check("TTL", "t")


def test_sintercard(diff):
    diff.check("SADD", "a", "1", "2", "3", "4")
    diff.check("SADD", "b", "2", "3", "4", "5")
    diff.check("SET", "str", "v")
    diff.check("SINTERCARD", "2", "a", "b")
    diff.check("SINTERCARD", "1", "a")
    diff.check("SINTERCARD", "2", "a", "b", "LIMIT", "2")
    diff.check("SINTERCARD", "2", "a", "b", "limit", "0")
    diff.check("SINTERCARD", "2", "a", "b", "LIMIT", "10")
    diff.check("SINTERCARD", "2", "a", "b", "LIMIT", "1", "LIMIT", "3")
    diff.check("SINTERCARD", "2", "a", "nokey")
    diff.check("SINTERCARD", "2", "nokey", "str")
    diff.check("SINTERCARD", "0", "a")
    diff.check("SINTERCARD", "-1", "a")
    diff.check("SINTERCARD", "x", "a")
    diff.check("SINTERCARD", "3", "a", "b")
    diff.check("SINTERCARD", "1", "a", "LIMIT", "-1")
    diff.check("SINTERCARD", "1", "a", "LIMIT", "x")
    diff.check("SINTERCARD", "1", "a", "LIMIT")
    diff.check("SINTERCARD", "1", "a", "FOO", "1")
    diff.check("SINTERCARD", "1", "a", "b")


def test_spop(diff):
    members = {b"a", b"b", b"c", b"d", b"e"}
    diff.check("SADD", "s", *sorted(members))
    check_random(diff, "SPOP", "s", pool=members)
    diff.check("SCARD", "s")
    check_random(diff, "SPOP", "s", "2", pool=members)
    diff.check("SCARD", "s")
    check_random(diff, "SPOP", "s", "0")
    diff.check("SCARD", "s")
    check_random(diff, "SPOP", "s", "10", pool=members)
    diff.check("EXISTS", "s")
    diff.check("SPOP", "s")
    diff.check("SPOP", "s", "3")
    diff.check("SPOP", "s", "0")
    diff.check("SADD", "s", "a")
    diff.check("SPOP", "s", "-1")
    diff.check("SPOP", "s", "x")
    diff.check("SPOP", "s", "1", "2")
    diff.check("SPOP", "nokey", "x")
    diff.check("SPOP", "s")
    diff.check("EXISTS", "s")
    diff.check("SADD", "i", "3", "1", "2")
    diff.check("SPOP", "i", "3", unordered=True)


def test_srandmember(diff):
    members = {b"a", b"b", b"c", b"1", b"2"}
    diff.check("SADD", "s", *sorted(members))
    check_random(diff, "SRANDMEMBER", "s", pool=members)
    for count in ("1", "3", "5", "-3", "-10", "0"):
        value = check_random(diff, "SRANDMEMBER", "s", count, pool=members)
        if not count.startswith("-"):
            assert len(set(value)) == len(value)
    diff.check("SRANDMEMBER", "s", "5", unordered=True)
    diff.check("SRANDMEMBER", "s", "100", unordered=True)
    diff.check("SCARD", "s")
    diff.check("SRANDMEMBER", "nokey")
    diff.check("SRANDMEMBER", "nokey", "5")
    diff.check("SRANDMEMBER", "nokey", "-5")
    diff.check("SRANDMEMBER", "nokey", "x")
    diff.check("SRANDMEMBER", "s", "x")
    diff.check("SRANDMEMBER", "s", "1", "2")
    diff.check("SRANDMEMBER", "s", "-9223372036854775808")
    diff.check("SRANDMEMBER", "s", "9223372036854775808")
    diff.check("SADD", "i", "30", "1", "2")
    diff.check("SRANDMEMBER", "i", "3")


def test_sscan(diff):
    diff.check("SADD", "i", "5", "3", "1", "10", "-2")
    diff.check("SSCAN", "i", "0")
    diff.check("SSCAN", "i", "0", "COUNT", "2")
    diff.check("SSCAN", "i", "0", "MATCH", "1*")
    diff.check("SSCAN", "i", "0", "match", "*", "count", "100")
    diff.check("SSCAN", "i", "-1")
    diff.check("SSCAN", "i", "18446744073709551615")
    diff.check("SADD", "s", "apple", "banana", "cherry")
    diff.check("SSCAN", "s", "0", unordered=True)
    diff.check("SSCAN", "s", "0", "MATCH", "b*", unordered=True)
    diff.check("SSCAN", "s", "0", "MATCH", "[ac]*", "COUNT", "1000", unordered=True)
    for bad in (["SSCAN", "s", "x"], ["SSCAN", "s", " 1"], ["SSCAN", "s", "1 "],
                ["SSCAN", "s", "18446744073709551616"], ["SSCAN", "s", "0", "COUNT", "0"],
                ["SSCAN", "s", "0", "COUNT", "-1"], ["SSCAN", "s", "0", "COUNT", "x"],
                ["SSCAN", "s", "0", "TYPE", "string"], ["SSCAN", "s", "0", "MATCH"],
                ["SSCAN", "s", "0", "FOO", "1"]):
        diff.check(*bad)
    # Missing key: options are not even parsed, the cursor is.
    diff.check("SSCAN", "nokey", "0", "COUNT", "0")
    diff.check("SSCAN", "nokey", "x")
    diff.check("SSCAN", "nokey", "")
    diff.check("SSCAN", "nokey", "+1")


def test_sscan_large_iteration(node):
    members = {b"m:%d" % i for i in range(3000)}
    node.sadd("big", *members)
    seen = set()
    cursor = 0
    for _ in range(1000):
        cursor, items = node.sscan("big", cursor, count=100)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == members
    # MATCH filters each page; deleting members during the scan is fine.
    cursor, seen = 0, set()
    first = True
    for _ in range(1000):
        cursor, items = node.sscan("big", cursor, match="m:1*", count=200)
        seen.update(items)
        if first:
            node.srem("big", "m:2999")
            first = False
        if cursor == 0:
            break
    assert seen == {m for m in members if m.startswith(b"m:1")}


@pytest.mark.parametrize("size", [10, 5000])
def test_random_on_sizes(node, size):
    members = {b"%d" % i for i in range(size)}
    node.sadd("s", *members)
    got = node.srandmember("s", 20)
    assert len(got) == len(set(got)) == min(20, size) and set(got) <= members
    got = node.srandmember("s", -30)
    assert len(got) == 30 and set(got) <= members
    popped = node.spop("s", 7)
    assert len(popped) == 7 and set(popped) <= members
    assert node.scard("s") == size - 7
    one = node.spop("s")
    assert one in members and not node.sismember("s", one)
    assert len(node.spop("s", size)) == size - 8
    assert not node.exists("s")


def test_transaction_snapshot(diff):
    # A reply queued in MULTI is the state at that command, not at EXEC's end.
    diff.check("SADD", "s", "a")
    diff.check("MULTI")
    diff.check("SMEMBERS", "s")
    diff.check("SADD", "s", "b")
    diff.check("SUNION", "s")
    diff.check("EXEC", unordered=True)


def test_large_sets(diff):
    # Past Redis's intset limit (512 integers) and with strings: hashtables.
    diff.check("SADD", "ints", *[str(i * 3) for i in range(700)])
    diff.check("SADD", "strs", *["m%d" % (i * 2) for i in range(600)] + [str(i) for i in range(0, 900, 5)])
    for cmd in (["SINTER", "ints", "strs"], ["SUNION", "ints", "strs"], ["SDIFF", "strs", "ints"]):
        diff.check(*cmd, unordered=True)
    diff.check("SINTERCARD", "2", "ints", "strs")
    diff.check("SINTERCARD", "2", "ints", "strs", "LIMIT", "7")
    diff.check("SINTERSTORE", "d", "ints", "strs")
    diff.check("SCARD", "d")
    diff.check("SMISMEMBER", "ints", "0", "3", "4", "2097")
    diff.check("SRANDMEMBER", "ints", "5000", unordered=True)
    diff.check("SPOP", "ints", "100000", unordered=True)
    diff.check("EXISTS", "ints")
