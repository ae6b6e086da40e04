"""Bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO) compared with a real redis-server, byte for byte.  Found
missing by redis-py's own suite (test_bitcount*, test_bitpos*, test_bitop*,
test_bitfield*, test_get_set_bit, test_pipeline_with_bitfield)."""
import random

BIN = b"\x00\xff\xf0\x0f\xaa\x55\x80\x01"


def test_setbit_getbit(diff):
    for args in [("k", "7", "1"), ("k", "7", "1"), ("k", "7", "0"), ("k", "0", "1"),
                 ("k", "100", "1"), ("k", "-1", "1"), ("k", "x", "1"), ("k", "1", "2"),
                 ("k", "1", "-1"), ("k", "1", "x"), ("k", "4294967296", "1"),
                 ("k", "+1", "1"), ("k", "01", "1"), ("k", "1", " 1")]:
        diff.check("SETBIT", *args)
    diff.check("GET", "k")
    diff.check("STRLEN", "k")
    for off in ["0", "1", "7", "100", "101", "99999", "-1", "x"]:
        diff.check("GETBIT", "k", off)
    diff.check("GETBIT", "missing", "3")
    diff.check("SETBIT", "k")
    diff.check("GETBIT", "k")
    diff.check("RPUSH", "l", "a")
    diff.check("SETBIT", "l", "0", "1")
    diff.check("GETBIT", "l", "0")
    # An integer-valued string becomes a raw string of its digits.
    diff.check("SET", "n", "12")
    diff.check("SETBIT", "n", "6", "0")
    diff.check("GET", "n")
    diff.check("OBJECT", "ENCODING", "n")
    diff.check("INCR", "i")
    diff.check("GETBIT", "i", "7")


def test_setbit_keeps_ttl_and_no_change_is_no_write(diff):
    diff.check("SET", "k", "a", "EX", "100")
    diff.check("SETBIT", "k", "0", "1")
    diff.check("TTL", "k")
    # Same bit, same length: no change, so a WATCH on the key still holds.
    diff.check("WATCH", "k")
    diff.check("SETBIT", "k", "0", "1")
    diff.check("MULTI")
    diff.check("GET", "k")
    diff.check("EXEC")
    diff.check("WATCH", "k")
    diff.check("SETBIT", "k", "1", "1")
    diff.check("MULTI")
    diff.check("GET", "k")
    diff.check("EXEC")


def test_bitcount(diff):
    diff.check("SET", "k", BIN)
    diff.check("BITCOUNT", "k")
    for rng in [("0", "0"), ("1", "1"), ("0", "-1"), ("-2", "-1"), ("-1", "-2"), ("2", "1"),
                ("-100", "100"), ("5", "100"), ("0", "0", "BIT"), ("1", "6", "BIT"),
                ("5", "30", "bit"), ("-5", "-1", "BIT"), ("9", "9", "BIT"), ("0", "63", "BIT"),
                ("1", "1", "BYTE"), ("0", "1", "bogus"), ("-1", "-2", "bogus"), ("a", "1"),
                ("0", "b"), ("0",), ("0", "1", "BIT", "x")]:
        diff.check("BITCOUNT", "k", *rng)
    # A missing key answers 0 before the range is parsed (Redis 7.0).
    diff.check("BITCOUNT", "missing", "a", "b")
    diff.check("BITCOUNT", "missing", "0")
    diff.check("SET", "empty", "")
    diff.check("BITCOUNT", "empty")
    diff.check("BITCOUNT", "empty", "0", "-1")
    diff.check("INCR", "n")
    diff.check("BITCOUNT", "n")
    diff.check("HSET", "h", "f", "v")
    diff.check("BITCOUNT", "h")


def test_bitpos(diff):
    diff.check("SET", "k", b"\xff\xf0\x00")
    for args in [("1",), ("0",), ("1", "1"), ("0", "1"), ("1", "2"), ("0", "0", "0"),
                 ("1", "2", "-1"), ("0", "0", "-1"), ("1", "7", "15", "BIT"),
                 ("0", "7", "15", "BIT"), ("0", "0", "11", "bit"), ("0", "0", "12", "BIT"),
                 ("1", "12", "-1", "BIT"), ("1", "-3", "-1", "byte"), ("0", "5", "1"),
                 ("2",), ("x",), ("1", "x"), ("1", "0", "x"), ("1", "0", "1", "bogus"),
                 ("1", "0", "1", "BIT", "x"), ("0", "-100", "100")]:
        diff.check("BITPOS", "k", *args)
    diff.check("SET", "ones", b"\xff\xff")
    diff.check("BITPOS", "ones", "0")
    diff.check("BITPOS", "ones", "0", "0")
    diff.check("BITPOS", "ones", "0", "0", "-1")
    diff.check("BITPOS", "ones", "0", "3", "9", "BIT")
    diff.check("SET", "zeros", bytes(300))
    diff.check("BITPOS", "zeros", "1")
    diff.check("BITPOS", "zeros", "0", "10")
    diff.check("BITPOS", "missing", "1")
    diff.check("BITPOS", "missing", "0")
    diff.check("BITPOS", "missing", "0", "a")
    diff.check("SET", "empty", "")
    diff.check("BITPOS", "empty", "0")
    diff.check("BITPOS", "empty", "1")
    diff.check("LPUSH", "l", "a")
    diff.check("BITPOS", "l", "1")


def test_bitop(diff):
    diff.check("SET", "a", b"\xff\x0f\x01")
    diff.check("SET", "b", b"\xf0")
    for op in ["AND", "or", "XOR"]:
        diff.check("BITOP", op, "dest", "a", "b")
        diff.check("GET", "dest")
        diff.check("BITOP", op, "dest", "a", "b", "missing")
        diff.check("GET", "dest")
    diff.check("BITOP", "NOT", "dest", "a")
    diff.check("GET", "dest")
    diff.check("BITOP", "NOT", "a", "a")
    diff.check("GET", "a")
    diff.check("BITOP", "NOT", "dest", "a", "b")
    diff.check("BITOP", "NAND", "dest", "a", "b")
    diff.check("SET", "dest", "x", "EX", "100")
    diff.check("BITOP", "AND", "dest", "a")
    diff.check("TTL", "dest")
    diff.check("BITOP", "AND", "dest", "missing", "missing2")
    diff.check("EXISTS", "dest")
    diff.check("SET", "empty", "")
    diff.check("BITOP", "NOT", "dest", "empty")
    diff.check("INCR", "n")
    diff.check("BITOP", "OR", "dest", "n", "b")
    diff.check("GET", "dest")
    diff.check("SADD", "s", "m")
    diff.check("BITOP", "OR", "dest", "a", "s")
    diff.check("BITOP", "AND", "dest")


def test_bitfield(diff):
    diff.check("BITFIELD", "k", "SET", "u8", "8", "255", "GET", "u8", "0", "GET", "u4", "8",
               "GET", "u4", "12", "GET", "u4", "13")
    diff.check("BITFIELD", "k", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY",
               "u2", "102", "1")
    diff.check("GET", "k")
    diff.check("BITFIELD", "k", "GET", "i8", "0", "GET", "i64", "0", "GET", "u63", "1")
    for kind in ["WRAP", "SAT", "FAIL"]:
        diff.check("BITFIELD", "k", "OVERFLOW", kind, "INCRBY", "i8", "0", "200",
                   "INCRBY", "u8", "8", "-300", "SET", "u4", "20", "-1", "SET", "i4", "24", "9",
                   "INCRBY", "i64", "64", "9223372036854775807",
                   "INCRBY", "i64", "64", "9223372036854775807")
    diff.check("BITFIELD", "k", "SET", "i8", "#2", "-5", "GET", "i8", "#2", "GET", "u8", "16")
    diff.check("BITFIELD", "k")
    diff.check("BITFIELD", "missing", "GET", "u8", "0")
    diff.check("EXISTS", "missing")
    for bad in [("GET", "u64", "0"), ("GET", "i65", "0"), ("GET", "x8", "0"), ("GET", "U8", "0"),
                ("GET", "i0", "0"), ("GET", "u8", "-1"), ("GET", "u8", "x"), ("GET", "u8"),
                ("SET", "u8", "0"), ("SET", "u8", "0", "x"), ("OVERFLOW", "BOGUS"),
                ("OVERFLOW",), ("FOO", "u8", "0"), ("GET", "u8", "#x"),
                ("GET", "u8", "4294967296")]:
        diff.check("BITFIELD", "k", *bad)
    diff.check("BITFIELD_RO", "k", "GET", "u8", "0", "GET", "i4", "4")
    diff.check("BITFIELD_RO", "k", "SET", "u8", "0", "1")
    diff.check("BITFIELD_RO", "k", "GET", "u8", "0", "INCRBY", "u8", "0", "1")
    diff.check("BITFIELD_RO", "k", "GET", "u64", "0")
    diff.check("BITFIELD_RO", "k")
    diff.check("HSET", "h", "f", "v")
    diff.check("BITFIELD", "h", "GET", "u8", "0")
    diff.check("BITFIELD_RO", "h", "GET", "u8", "0")
    diff.check("BITFIELD", "h", "SET", "u8", "0", "1")
    # A FAIL on a missing key still creates the (zero) string, as Redis does.
    diff.check("BITFIELD", "new", "OVERFLOW", "FAIL", "SET", "u2", "0", "7")
    diff.check("GET", "new")


def test_bitmaps_random_against_redis(diff):
    rng = random.Random(7)
    for _ in range(300):
        op = rng.choice(["setbit", "bitcount", "bitpos", "bitop", "bitfield", "getbit"])
        off = str(rng.randrange(-3, 90))
        a, b = str(rng.randrange(-12, 14)), str(rng.randrange(-12, 14))
        if op == "setbit":
            diff.check("SETBIT", rng.choice("xy"), str(rng.randrange(0, 90)), str(rng.randrange(2)))
        elif op == "getbit":
            diff.check("GETBIT", rng.choice("xyz"), off)
        elif op == "bitcount":
            diff.check("BITCOUNT", rng.choice("xyz"), a, b, *rng.choice([(), ("BIT",), ("BYTE",)]))
        elif op == "bitpos":
            args = rng.choice([(), (a,), (a, b), (a, b, "BIT")])
            diff.check("BITPOS", rng.choice("xyz"), str(rng.randrange(2)), *args)
        elif op == "bitop":
            diff.check("BITOP", rng.choice(["AND", "OR", "XOR"]), "z", "x", "y")
        else:
            t = rng.choice("iu") + str(rng.randrange(1, 64))
            diff.check("BITFIELD", rng.choice("xy"), "OVERFLOW", rng.choice(["WRAP", "SAT", "FAIL"]),
                       rng.choice(["INCRBY", "SET"]), t, str(rng.randrange(0, 80)),
                       str(rng.randrange(-2 ** 40, 2 ** 40)), "GET", t, off if off[0] != "-" else "0")
    diff.check("GET", "x")
    diff.check("GET", "y")
    diff.check("GET", "z")
