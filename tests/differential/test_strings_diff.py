"""String commands compared with a real redis-server, byte for byte (RESP2
and RESP3 through the ``diff`` fixture)."""
import random

import pytest

from servers import RawClient

BIN = b"a\x00b\r\nc\xff"          # binary-safe payload: NUL, CR LF, high byte
BIG = str(2 ** 63 - 1)
SMALL = str(-2 ** 63)


def test_set_basic_and_binary(diff):
    diff.check("SET", "k", "v")
    diff.check("GET", "k")
    diff.check("SET", BIN, BIN)
    diff.check("GET", BIN)
    diff.check("SET", "empty", "")
    diff.check("GET", "empty")
    diff.check("SET", "big", "x" * 5000)
    diff.check("GET", "big")
    diff.check("SET", "k")
    diff.check("GET")
    diff.check("GET", "a", "b")
    diff.check("HSET", "list", "f", "x")
    diff.check("GET", "list")
    diff.check("SET", "list", "now-a-string")
    diff.check("TYPE", "list")


def test_set_nx_xx_get(diff):
    diff.check("SET", "k", "v", "NX")
    diff.check("SET", "k", "v2", "NX")
    diff.check("SET", "k", "v3", "XX")
    diff.check("SET", "missing", "v", "XX")
    diff.check("EXISTS", "missing")
    diff.check("SET", "k", "v4", "GET")
    diff.check("SET", "new", "v", "GET")
    diff.check("SET", "k", "v5", "NX", "GET")
    diff.check("SET", "k", "v6", "XX", "GET")
    diff.check("SET", "nope", "v", "XX", "GET")
    diff.check("SET", "nope2", "v", "NX", "GET")
    diff.check("GET", "nope2")
    diff.check("SET", "k", "v", "NX", "XX")
    diff.check("SET", "k", "v", "XX", "NX")
    diff.check("SET", "k", "v", "NX", "NX")
    diff.check("SET", "k", "v", "GET", "GET")
    diff.check("SET", "k", "v", "nx", "get")
    diff.check("SET", "k", "v", "NX\x00junk")       # options end at NUL, as in C
    diff.check("SET", "k", "v", "GETX")
    diff.check("SET", "k", "v", "bogus")
    diff.check("INCR", "n")
    diff.check("SET", "n", "x", "GET")              # old value stored as an integer
    diff.check("HSET", "l", "f", "a")
    diff.check("SET", "l", "v", "GET")
    diff.check("SET", "l", "v", "GET", "NX")
    diff.check("SET", "l", "v", "NX")
    diff.check("SET", "l", "v", "GET", "EX", "0")   # expire checked before the type
    diff.check("TYPE", "l")


@pytest.mark.parametrize("opt", ["EX", "PX", "EXAT", "PXAT"])
def test_set_expire_errors(diff, opt):
    for bad in ["0", "-1", "abc", "1.5", " 1", "", "9223372036854775808", SMALL]:
        diff.check("SET", "k", "v", opt, bad)
    diff.check("SET", "k", "v", opt)
    diff.check("SET", "k", "v", opt, "10", "KEEPTTL")
    diff.check("SET", "k", "v", "KEEPTTL", opt, "10")
    diff.check("SET", "k", "v", opt, "abc", "NX", "XX")   # syntax error wins
    diff.check("SET", "k", "v", opt, "100000000000", opt, "200000000000")
    diff.check("EXISTS", "k")
    diff.check("SET", "k", "v", opt, BIG)
    diff.check("SET", "k", "v", opt, str(2 ** 63 // 1000))
    diff.check("SET", "k", "v", opt, str(2 ** 63 // 1000 + 1))


def test_set_expire_options(diff):
    diff.check("SET", "k", "v", "EX", "100")
    diff.check("TTL", "k")
    diff.check("SET", "k", "v", "PX", "200000")
    diff.check("TTL", "k")
    diff.check("SET", "k", "v", "EXAT", "4000000000")
    diff.check("EXPIRETIME", "k")
    diff.check("SET", "k", "v", "PXAT", "4000000000123")
    diff.check("PEXPIRETIME", "k")
    diff.check("SET", "k", "v2", "KEEPTTL")
    diff.check("PEXPIRETIME", "k")
    diff.check("SET", "k", "v3", "KEEPTTL", "KEEPTTL", "GET")
    diff.check("PEXPIRETIME", "k")
    diff.check("SET", "k", "v4")
    diff.check("TTL", "k")
    diff.check("SET", "k", "v", "EXAT", "1")             # already in the past
    diff.check("GET", "k")
    diff.check("EXISTS", "k")
    diff.check("SET", "k", "v", "PXAT", "1", "GET")
    diff.check("SET", "k", "v", "ex", "100", "nx")
    diff.check("SET", "k", "v", "ex", "100", "xx", "get")
    diff.check("TTL", "k")
    diff.check("SET", "k", "v", "EX", "100", "EX", "50")  # the same option twice: the last wins
    diff.check("TTL", "k")
    diff.check("SET", "k", "v", "EX", "10", "PX", "100")
    diff.check("SET", "k", "v", "PXAT", "10", "EXAT", "100")


def test_setnx_setex_psetex(diff):
    diff.check("SETNX", "k", "v")
    diff.check("SETNX", "k", "v2")
    diff.check("GET", "k")
    diff.check("SETNX", "k")
    diff.check("SETEX", "k", "100", "v")
    diff.check("TTL", "k")
    diff.check("GET", "k")
    diff.check("PSETEX", "k", "100000", "v2")
    diff.check("TTL", "k")
    diff.check("SETEX", "k", "0", "v")
    diff.check("SETEX", "k", "-5", "v")
    diff.check("SETEX", "k", "abc", "v")
    diff.check("SETEX", "k", "9223372036854775", "v")
    diff.check("SETEX", "k", BIG, "v")
    diff.check("PSETEX", "k", "0", "v")
    diff.check("PSETEX", "k", "-1", "v")
    diff.check("PSETEX", "k", "1.5", "v")
    diff.check("PSETEX", "k", BIG, "v")
    diff.check("SETEX", "k", "10")
    diff.check("PSETEX", "k", "10", "v", "x")
    diff.check("HSET", "h", "f", "v")
    diff.check("SETEX", "h", "100", BIN)
    diff.check("GET", "h")
    diff.check("SETNX", "h", "x")


def test_getset_getdel(diff):
    diff.check("GETSET", "k", "v")
    diff.check("GETSET", "k", "v2")
    diff.check("GET", "k")
    diff.check("SET", "k", "v", "EX", "100")
    diff.check("GETSET", "k", BIN)
    diff.check("TTL", "k")
    diff.check("INCR", "n")
    diff.check("GETSET", "n", "x")
    diff.check("HSET", "s", "f", "m")
    diff.check("GETSET", "s", "x")
    diff.check("GETSET", "k")
    diff.check("GETDEL", "k")
    diff.check("GETDEL", "k")
    diff.check("EXISTS", "k")
    diff.check("GETDEL", "s")
    diff.check("INCRBY", "n", "41")
    diff.check("GETDEL", "n")
    diff.check("GETDEL")
    diff.check("GETDEL", "a", "b")


def test_getex(diff):
    diff.check("GETEX", "missing")
    diff.check("GETEX", "missing", "EX", "abc")        # missing key: no validation
    diff.check("GETEX", "missing", "bogus")
    diff.check("SET", "k", BIN)
    diff.check("GETEX", "k")
    diff.check("TTL", "k")
    diff.check("GETEX", "k", "EX", "100")
    diff.check("TTL", "k")
    diff.check("GETEX", "k", "PX", "200000")
    diff.check("TTL", "k")
    diff.check("GETEX", "k", "EXAT", "4000000000")
    diff.check("EXPIRETIME", "k")
    diff.check("GETEX", "k", "PXAT", "4000000000555")
    diff.check("PEXPIRETIME", "k")
    diff.check("GETEX", "k", "PERSIST")
    diff.check("TTL", "k")
    diff.check("GETEX", "k", "PERSIST", "PERSIST")
    diff.check("GETEX", "k", "EX", "10", "EX", "20")
    diff.check("TTL", "k")
    for bad in (["EX", "0"], ["EX", "-1"], ["PX", "abc"], ["EXAT", "1.5"],
                ["EX", BIG], ["PX", BIG], ["EX", "10", "PX", "10"],
                ["PERSIST", "EX", "10"], ["EX", "10", "PERSIST"], ["KEEPTTL"], ["NX"],
                ["XX"], ["GET"], ["EX"], ["PXAT"], ["bogus"]):
        diff.check("GETEX", "k", *bad)
    diff.check("GETEX", "k", "ex", "100")
    diff.check("GETEX", "k", "persist")
    diff.check("INCR", "n")
    diff.check("GETEX", "n", "EX", "100")
    diff.check("TTL", "n")
    diff.check("HSET", "l", "f", "a")
    diff.check("GETEX", "l")
    diff.check("GETEX", "l", "EX", "abc")              # type checked before the time
    diff.check("GETEX", "l", "bogus")                  # syntax checked before the type
    diff.check("GETEX", "k", "EXAT", "1")              # past absolute time deletes
    diff.check("EXISTS", "k")
    diff.check("SET", "k", "v")
    diff.check("GETEX", "k", "PXAT", "1")
    diff.check("GET", "k")
    diff.check("GETEX")


def test_mget_mset_msetnx(diff):
    diff.check("MSET", "a", "1", "b", "2", BIN, BIN)
    diff.check("MGET", "a", "b", BIN, "nope")
    diff.check("MSET", "a")
    diff.check("MSET", "a", "1", "b")
    diff.check("MSET")
    diff.check("HSET", "l", "f", "x")
    diff.check("INCR", "n")
    diff.check("MGET", "a", "l", "n", "missing")
    diff.check("MSET", "a", "x", "a", "y")
    diff.check("GET", "a")
    diff.check("SET", "t", "v", "EX", "100")
    diff.check("MSET", "t", "w")
    diff.check("TTL", "t")
    diff.check("MSETNX", "a", "1", "c", "2")
    diff.check("EXISTS", "c")
    diff.check("MSETNX", "c", "1", "d", "2")
    diff.check("MGET", "c", "d")
    diff.check("MSETNX", "e", "1", "e", "2")
    diff.check("GET", "e")
    diff.check("MSETNX", "f", "1", "g")
    diff.check("MSETNX", "f")
    diff.check("MSETNX", "l", "1")
    diff.check("MGET")


def test_append_strlen(diff):
    diff.check("APPEND", "k", "hello")
    diff.check("APPEND", "k", BIN)
    diff.check("GET", "k")
    diff.check("STRLEN", "k")
    diff.check("APPEND", "k", "")
    diff.check("APPEND", "new", "")
    diff.check("EXISTS", "new")
    diff.check("STRLEN", "new")
    diff.check("STRLEN", "missing")
    diff.check("INCR", "n")
    diff.check("APPEND", "n", "5")
    diff.check("GET", "n")
    diff.check("INCR", "n")
    diff.check("STRLEN", "n")
    diff.check("SET", "neg", "-123")
    diff.check("STRLEN", "neg")
    diff.check("SET", "t", "v", "EX", "100")
    diff.check("APPEND", "t", "w")
    diff.check("TTL", "t")
    diff.check("HSET", "h", "f", "v")
    diff.check("APPEND", "h", "x")
    diff.check("STRLEN", "h")
    diff.check("APPEND", "k")
    diff.check("STRLEN")


def test_getrange_substr(diff):
    diff.check("SET", "s", "Hello, World")
    for start, end in [(0, 3), (0, -1), (-3, -1), (5, 2), (-100, 100), (-10, -20),
                       (-1, -5), (0, 0), (11, 11), (12, 20), (100, 200), (-1, 0),
                       (3, -100), (0, 2 ** 63 - 1), (-2 ** 63, -1), (-2 ** 63, 2 ** 63 - 1)]:
        diff.check("GETRANGE", "s", str(start), str(end))
        diff.check("SUBSTR", "s", str(start), str(end))
    diff.check("GETRANGE", "missing", "0", "-1")
    diff.check("SET", "e", "")
    diff.check("GETRANGE", "e", "0", "-1")
    diff.check("GETRANGE", "e", "0", "0")
    diff.check("GETRANGE", "e", "-1", "-1")
    diff.check("SET", "n", "-12345")
    diff.check("INCR", "n")
    diff.check("GETRANGE", "n", "0", "2")
    diff.check("GETRANGE", "n", "-2", "-1")
    diff.check("SET", "b", BIN)
    diff.check("GETRANGE", "b", "1", "4")
    diff.check("GETRANGE", "s", "a", "1")
    diff.check("GETRANGE", "s", "1", "1.5")
    diff.check("GETRANGE", "s", "0", "9223372036854775808")
    diff.check("GETRANGE", "missing", "x", "1")
    diff.check("HSET", "l", "f", "x")
    diff.check("GETRANGE", "l", "0", "1")
    diff.check("SUBSTR", "l", "0", "1")
    diff.check("GETRANGE", "s", "0")
    diff.check("SUBSTR", "s", "0", "1", "2")


def test_setrange(diff):
    diff.check("SETRANGE", "k", "0", "hello")
    diff.check("SETRANGE", "k", "3", "LO world")
    diff.check("GET", "k")
    diff.check("SETRANGE", "k", "20", BIN)
    diff.check("GET", "k")
    diff.check("SETRANGE", "k", "1", "")
    diff.check("SETRANGE", "k", "100", "")
    diff.check("STRLEN", "k")
    diff.check("SETRANGE", "new", "5", "")
    diff.check("EXISTS", "new")
    diff.check("SETRANGE", "new", "5", "x")
    diff.check("GET", "new")
    diff.check("SETRANGE", "k", "-1", "x")
    diff.check("SETRANGE", "k", "abc", "x")
    diff.check("SETRANGE", "k", "1.0", "x")
    diff.check("SETRANGE", "k", "536870912", "x")     # over proto-max-bulk-len (512mb)
    diff.check("SETRANGE", "k", "536870911", "xy")
    diff.check("SETRANGE", "k", BIG, "x")
    diff.check("SETRANGE", "missing", "536870912", "x")
    diff.check("SETRANGE", "missing", "536870912", "")
    diff.check("EXISTS", "missing")
    diff.check("INCR", "n")
    diff.check("SETRANGE", "n", "0", "9")
    diff.check("GET", "n")
    diff.check("INCR", "n")
    diff.check("SET", "t", "v", "EX", "100")
    diff.check("SETRANGE", "t", "3", "w")
    diff.check("TTL", "t")
    diff.check("GET", "t")
    diff.check("HSET", "l", "f", "x")
    diff.check("SETRANGE", "l", "0", "x")
    diff.check("SETRANGE", "l", "0", "")
    diff.check("SETRANGE", "l", "-1", "x")           # the offset is checked first
    diff.check("SETRANGE", "k", "0")


def test_incr_decr_family(diff):
    for cmd in (["INCR", "k"], ["DECR", "k"], ["INCRBY", "k", "5"], ["DECRBY", "k", "7"]):
        diff.check(*cmd)
    diff.check("GET", "k")
    diff.check("INCRBY", "k", "-9223372036854775800")
    diff.check("INCRBY", "k", "-100")
    diff.check("SET", "k", BIG)
    diff.check("INCR", "k")
    diff.check("INCRBY", "k", "0")
    diff.check("SET", "k", SMALL)
    diff.check("DECR", "k")
    diff.check("DECRBY", "k", "1")
    diff.check("DECRBY", "k", SMALL)
    diff.check("DECRBY", "k", "-1")
    diff.check("SET", "z", "0")
    diff.check("DECRBY", "z", SMALL)
    diff.check("INCRBY", "z", SMALL)
    diff.check("GET", "z")
    for bad in ["abc", "1.5", " 1", "1 ", "+1", "01", "-0", "", "9223372036854775808",
                "1e3", "0x10", BIN]:
        diff.check("SET", "b", bad)
        diff.check("INCR", "b")
        diff.check("DECR", "b")
        diff.check("INCRBY", "ok", bad)
        diff.check("DECRBY", "ok", bad)
    diff.check("SET", "t", "10", "EX", "100")
    diff.check("INCR", "t")
    diff.check("TTL", "t")
    diff.check("SET", "big", "1" * 30)
    diff.check("INCR", "big")
    diff.check("HSET", "h", "f", "1")
    diff.check("INCR", "h")
    diff.check("INCRBY", "h", "x")                   # the increment is parsed first
    diff.check("INCR")
    diff.check("INCRBY", "k")
    diff.check("DECRBY", "k", "1", "2")


def test_incrbyfloat(diff):
    diff.check("INCRBYFLOAT", "f", "10.5")
    diff.check("INCRBYFLOAT", "f", "0.1")
    diff.check("INCRBYFLOAT", "f", "-5")
    diff.check("INCRBYFLOAT", "f", "5.0e3")
    diff.check("INCRBYFLOAT", "f", "2.0e-3")
    diff.check("INCRBYFLOAT", "f", "0x10")
    diff.check("INCRBYFLOAT", "f", "0x1p-3")
    diff.check("INCRBYFLOAT", "f", "+1.5")
    diff.check("INCRBYFLOAT", "f", ".5")
    diff.check("INCRBYFLOAT", "f", "5.")
    diff.check("GET", "f")
    diff.check("SET", "g", "0.1")
    diff.check("INCRBYFLOAT", "g", "0.2")
    diff.check("SET", "g", "1e-30")
    diff.check("INCRBYFLOAT", "g", "0")
    diff.check("INCRBYFLOAT", "g", "-1e-29")
    diff.check("SET", "g", "3")
    diff.check("INCRBYFLOAT", "g", "-3")
    diff.check("INCRBYFLOAT", "g", "-0.0")
    diff.check("INCR", "i")
    diff.check("INCRBYFLOAT", "i", "1.25")
    diff.check("SET", "i", BIG)
    diff.check("INCRBYFLOAT", "i", "1")
    diff.check("SET", "i", SMALL)
    diff.check("INCRBYFLOAT", "i", "-1")
    diff.check("INCRBYFLOAT", "huge", "1e300")
    diff.check("INCRBYFLOAT", "huge", "1e300")
    diff.check("INCRBYFLOAT", "h2", "1.18e4932")
    diff.check("INCRBYFLOAT", "h2", "1.18e4932")
    diff.check("INCRBYFLOAT", "h3", "1.19e4932")
    diff.check("INCRBYFLOAT", "tiny", "1e-4940")      # subnormal: accepted
    diff.check("INCRBYFLOAT", "tiny", "1e-5000")      # underflow to zero: refused
    diff.check("INCRBYFLOAT", "tiny", "1e5000")
    for bad in ["abc", " 1", "1 ", "1\x00", "", "nan", "-nan", "NaN", "1e", "e5",
                "--1", "1.2.3", "0x", "inf1", "1" * 5200]:
        diff.check("INCRBYFLOAT", "f", bad)
    for inf in ["inf", "-inf", "+inf", "Infinity", "INF"]:
        diff.check("INCRBYFLOAT", "f", inf)
    diff.check("GET", "f")
    for stored in ["abc", "1 ", "nan", "inf", "", "1" * 5200, "0x1A", "1e2"]:
        diff.check("SET", "s", stored)
        diff.check("INCRBYFLOAT", "s", "1")
        diff.check("INCRBYFLOAT", "s", "x")           # stored value checked first
    diff.check("SET", "t", "1", "EX", "100")
    diff.check("INCRBYFLOAT", "t", "1.5")
    diff.check("TTL", "t")
    diff.check("HSET", "l", "f", "x")
    diff.check("INCRBYFLOAT", "l", "1")
    diff.check("INCRBYFLOAT", "l", "x")
    diff.check("INCRBYFLOAT", "f")


def test_incrbyfloat_random_sums(diff):
    rnd = random.Random(7)
    for i in range(120):
        kind = rnd.random()
        if kind < 0.4:
            v = "%.*f" % (rnd.randint(0, 20), rnd.uniform(-1e6, 1e6))
        elif kind < 0.7:
            v = "%.17g" % rnd.uniform(-1, 1)
        elif kind < 0.85:
            v = "%de%d" % (rnd.randint(-99, 99), rnd.randint(-30, 30))
        else:
            v = str(rnd.randint(-10 ** 12, 10 ** 12))
        diff.check("INCRBYFLOAT", "acc%d" % (i % 4), v)


def test_lcs(diff):
    diff.check("MSET", "a", "ohmytext", "b", "mynewtext")
    diff.check("LCS", "a", "b")
    diff.check("LCS", "a", "b", "LEN")
    diff.check("LCS", "a", "b", "IDX")
    diff.check("LCS", "a", "b", "IDX", "MINMATCHLEN", "4")
    diff.check("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    diff.check("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    diff.check("LCS", "a", "b", "idx", "minmatchlen", "-5", "withmatchlen")
    diff.check("LCS", "a", "b", "MINMATCHLEN", "2")
    diff.check("LCS", "a", "b", "LEN", "LEN")
    diff.check("LCS", "a", "b", "IDX", "LEN")
    diff.check("LCS", "a", "b", "LEN", "IDX")
    diff.check("LCS", "a", "b", "MINMATCHLEN")
    diff.check("LCS", "a", "b", "MINMATCHLEN", "x")
    diff.check("LCS", "a", "b", "MINMATCHLEN", "x", "IDX", "LEN")
    diff.check("LCS", "a", "b", "BOGUS", "IDX", "LEN")
    diff.check("LCS", "a", "b", "IDX", "LEN", "BOGUS")
    diff.check("LCS", "a", "missing")
    diff.check("LCS", "missing", "missing2", "IDX")
    diff.check("LCS", "missing", "missing2", "LEN")
    diff.check("LCS", "a", "a", "IDX", "WITHMATCHLEN")
    diff.check("SET", "c", BIN + b"xyz" + BIN)
    diff.check("LCS", "c", "a", "IDX", "WITHMATCHLEN")
    diff.check("SET", "bin", b"\r\n\x00" + BIN)
    diff.check("LCS", "c", "bin", "IDX", "WITHMATCHLEN")
    diff.check("LCS", "c", "bin")
    diff.check("INCRBY", "n1", "12345")
    diff.check("INCRBY", "n2", "2345")
    diff.check("LCS", "n1", "n2", "IDX")
    diff.check("HSET", "l", "f", "x")
    diff.check("LCS", "a", "l")
    diff.check("LCS", "l", "missing")
    diff.check("LCS", "l", "a", "BOGUS")              # the type is checked first
    diff.check("LCS", "a")


def test_lcs_random(diff):
    rnd = random.Random(11)
    for _ in range(40):
        alpha = rnd.choice(["ab", "ACGT", "abcdefghij"])
        a = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 60)))
        b = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 60)))
        diff.check("MSET", "x", a, "y", b)
        diff.check("LCS", "x", "y")
        diff.check("LCS", "x", "y", "IDX", "MINMATCHLEN", str(rnd.randint(0, 3)),
                   "WITHMATCHLEN")
        diff.check("LCS", "y", "x", "LEN")
    a = "".join(rnd.choice("ACGT") for _ in range(1500))
    b = "".join(rnd.choice("ACGT") for _ in range(900))
    diff.check("MSET", "x", a, "y", b)
    diff.check("LCS", "x", "y")
    diff.check("LCS", "y", "x", "IDX", "WITHMATCHLEN", "MINMATCHLEN", "3")


def test_lcs_memory_limit(diff):
    # (alen+1)*(blen+1)*4 over proto-max-bulk-len (512mb) is refused
    # before any work; strings of 12k bytes each stay just under it.
    diff.check("SET", "a", "x" * 12000)
    diff.check("SET", "b", "y" * 12000)
    diff.check("LCS", "a", "b", "LEN")
    diff.check("SET", "a", "x" * 11000)
    diff.check("SET", "b", "y" * 11000)
    diff.check("LCS", "a", "b", "LEN")


def test_arity_errors(diff):
    for cmd in ["GET", "SET", "GETDEL", "GETEX", "GETSET", "MGET", "MSET", "MSETNX",
                "SETNX", "SETEX", "PSETEX", "APPEND", "STRLEN", "INCR", "DECR", "INCRBY",
                "DECRBY", "INCRBYFLOAT", "GETRANGE", "SUBSTR", "SETRANGE", "LCS"]:
        diff.check(cmd)
        diff.check(cmd.lower(), "k", "a", "b", "c", "d", "e")


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


STRING_EVENT_COMMANDS = [
    ("SET", "k", "v"), ("SET", "k", "v", "NX"), ("SET", "k", "v2", "XX", "EX", "100"),
    ("SET", "k", "v3", "KEEPTTL", "GET"), ("SETNX", "k", "x"), ("SETNX", "n", "1"),
    ("SETEX", "k", "100", "v"), ("PSETEX", "k", "100000", "v"), ("MSET", "a", "1", "b", "2"),
    ("MSETNX", "a", "1", "c", "2"), ("MSETNX", "c", "1", "d", "2"), ("GETSET", "a", "9"),
    ("GETDEL", "b"), ("GETDEL", "b"), ("GETEX", "a", "EX", "100"), ("GETEX", "a", "PERSIST"),
    ("GETEX", "a", "PERSIST"), ("GETEX", "a"), ("GETEX", "c", "EXAT", "1"),
    ("APPEND", "k", "x"), ("APPEND", "new", "x"), ("SETRANGE", "k", "1", "yy"),
    ("SETRANGE", "k", "1", ""), ("SETRANGE", "z", "2", "q"), ("INCR", "n"), ("DECR", "n"),
    ("INCRBY", "n", "5"), ("DECRBY", "n", "2"), ("INCRBYFLOAT", "n", "1.5"),
    ("INCR", "k"), ("SET", "e", "v", "EXAT", "1"), ("GET", "e"),
]


def test_keyspace_events(server_factory, redis_factory):
    node, ref = server_factory(), redis_factory()
    assert keyspace_events(node.port, STRING_EVENT_COMMANDS) == \
        keyspace_events(ref.port, STRING_EVENT_COMMANDS)


def test_size_limits_follow_proto_max_bulk_len(server_factory, redis_factory):
    """APPEND, SETRANGE and LCS obey a proto-max-bulk-len lowered at run time."""
    from difftools import Differ
    node, ref = server_factory(), redis_factory()
    d = Differ(node.port, ref.port)
    try:
        d.check("CONFIG", "SET", "proto-max-bulk-len", "1mb")
        d.check("SET", "k", "x" * 600000)
        d.check("APPEND", "k", "y" * 448576)             # exactly 1mb: allowed
        d.check("APPEND", "k", "z")
        d.check("STRLEN", "k")
        d.check("APPEND", "new", "q" * 1000)
        d.check("SETRANGE", "s", str(1048575), "x")
        d.check("SETRANGE", "s", str(1048575), "xy")
        d.check("SETRANGE", "t", str(1048576), "x")
        d.check("SETRANGE", "s", "0", "")
        d.check("STRLEN", "s")
        d.check("MSET", "a", "x" * 600, "b", "y" * 600)
        d.check("LCS", "a", "b")
        d.check("MSET", "a", "x" * 400, "b", "y" * 400)
        d.check("LCS", "a", "b", "LEN")
        d.check("LCS", "a", "b", "LEN", "IDX")           # option errors come first
    finally:
        d.close()
