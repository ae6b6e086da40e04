"""HyperLogLog (PFADD, PFCOUNT, PFMERGE) compared with a real redis-server,
byte for byte: the replies and the HLL strings themselves (sparse opcodes,
promotion to dense, cached cardinality), so values move between the two.
Found missing by redis-py's own suite (test_pfadd, test_pfcount,
test_pfmerge)."""
import random

import pytest


def test_pfadd_pfcount_small(diff):
    diff.check("PFADD", "h", "a", "b", "c")
    diff.check("PFADD", "h", "a")
    diff.check("PFADD", "h")
    diff.check("PFADD", "new")
    diff.check("GET", "h")
    diff.check("PFCOUNT", "h")
    diff.check("GET", "h")                 # the cached count is now stored
    diff.check("PFCOUNT", "h")
    diff.check("PFCOUNT", "missing")
    diff.check("PFCOUNT", "h", "missing", "new")
    diff.check("PFADD", "h", "")
    diff.check("PFADD", "h", "x" * 100, b"\x00\xff")
    diff.check("GET", "h")
    diff.check("SET", "s", "not an hll")
    diff.check("PFADD", "s", "a")
    diff.check("PFCOUNT", "s")
    diff.check("PFCOUNT", "h", "s")
    diff.check("PFMERGE", "s", "h")
    diff.check("LPUSH", "l", "a")
    diff.check("PFADD", "l", "a")
    diff.check("PFCOUNT", "l")
    diff.check("SET", "fake", b"HYLL\x00" + b"\x00" * 11)    # dense of the wrong length
    diff.check("PFCOUNT", "fake")


def test_pfadd_grows_to_dense_and_counts(diff):
    rng = random.Random(5)
    for batch in range(12):
        members = ["m%d" % rng.randrange(10 ** 6) for _ in range(150)]
        diff.check("PFADD", "big", *members)
        diff.check("PFCOUNT", "big")
        if batch % 4 == 0:
            diff.check("GET", "big")
    diff.check("STRLEN", "big")
    diff.check("GET", "big")


def test_pfmerge(diff):
    diff.check("PFADD", "a", *["a%d" % i for i in range(50)])
    diff.check("PFADD", "b", *["b%d" % i for i in range(40)] + ["a1", "a2"])
    diff.check("PFMERGE", "dst", "a", "b")
    diff.check("GET", "dst")
    diff.check("PFCOUNT", "dst")
    diff.check("PFCOUNT", "a", "b")
    diff.check("PFMERGE", "a", "b", "missing")
    diff.check("GET", "a")
    diff.check("PFMERGE", "empty")
    diff.check("GET", "empty")
    diff.check("PFADD", "d", *["d%d" % i for i in range(3000)])
    diff.check("PFMERGE", "dst2", "a", "d")
    diff.check("STRLEN", "dst2")
    diff.check("GET", "dst2")
    diff.check("PFCOUNT", "dst2", "a", "d")
    diff.check("SET", "ttl", "x", "EX", "100")
    diff.check("DEL", "ttl")


def test_hll_sparse_max_bytes(diff):
    diff.check("CONFIG", "GET", "hll-sparse-max-bytes")
    try:
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "60")
        diff.check("CONFIG", "GET", "hll*")
        diff.check("PFADD", "h", *["e%d" % i for i in range(8)])
        diff.check("STRLEN", "h")
        diff.check("PFADD", "h", *["f%d" % i for i in range(30)])
        diff.check("STRLEN", "h")                  # promoted to dense past 60 bytes
        diff.check("PFCOUNT", "h")
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "1kb")
        diff.check("CONFIG", "GET", "hll-sparse-max-bytes")
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "-1")
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "x")
    finally:
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_sparse_hll_with_trailing_bytes(diff):
    # Found by a random cross-type differential run: APPEND leaves a sparse
    # HLL whose last opcode is an XZERO cut short.  Redis reads the string's
    # NUL terminator as its second byte, so the registers no longer add up
    # to 16384 and merging or counting reports a corrupted HLL.
    for tail in ("a", "\x7f", "\x80", "\x00"):
        diff.check("DEL", "t", "o")
        diff.check("PFADD", "t", "", "2")
        diff.check("PFADD", "o", "x")
        diff.check("APPEND", "t", tail)
        diff.check("PFMERGE", "t", "t", "o")
        diff.check("PFCOUNT", "t")
        diff.check("PFCOUNT", "t", "o")
        diff.check("PFADD", "t", "zz")
        diff.check("GET", "t")


def test_pfdebug(diff):
    """PFDEBUG (Redis's own HLL tests use it): ENCODING, DECODE of the
    sparse opcodes, GETREG and TODENSE converting to dense (the stored
    bytes then equal Redis's), errors in Redis's order."""
    diff.check("PFADD", "h", *["e%d" % i for i in range(40)])
    for sub in ("ENCODING", "DECODE", "getreg", "DECODE", "ENCODING", "TODENSE"):
        diff.check("PFDEBUG", sub, "h")
    diff.check("GET", "h")
    diff.check("PFADD", "h2", "a", "b")
    diff.check("PFDEBUG", "TODENSE", "h2")
    diff.check("PFDEBUG", "TODENSE", "h2")
    diff.check("GET", "h2")
    diff.check("PFCOUNT", "h2")
    diff.check("PFDEBUG", "NOSUCH", "h2")
    diff.check("PFDEBUG", "NOSUCH", "missing")
    diff.check("PFDEBUG", "GETREG", "missing")
    diff.check("SET", "s", "x")
    diff.check("PFDEBUG", "NOSUCH", "s")
    diff.check("PFDEBUG", "GETREG")
    # A sparse HLL whose opcodes cover too few registers: corrupted.
    diff.check("SET", "bad", b"HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x40\x10")
    diff.check("PFDEBUG", "DECODE", "bad")
    diff.check("PFDEBUG", "TODENSE", "bad")
    diff.check("PFDEBUG", "ENCODING", "bad")


@pytest.mark.parametrize("sparse_max", ["3000", "400", "10000"])
def test_batches_are_byte_identical(diff, sparse_max):
    """Batches of every size (one PFADD of 3000 elements, small ones, a
    PFMERGE into a sparse HLL) take the batch path (_Sparse: bisection over
    the opcodes instead of a walk per element); the bytes must still be
    Redis's after each, across the promotion to dense."""
    rng = random.Random(int(sparse_max))
    try:
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", sparse_max)
        diff.check("PFADD", "one", *["x%d" % rng.randrange(10 ** 9) for _ in range(3000)])
        diff.check("GET", "one")
        for size in (1, 2, 7, 40, 200, 600):
            diff.check("PFADD", "steps", *["s%d" % rng.randrange(10 ** 9) for _ in range(size)])
            diff.check("GET", "steps")
        diff.check("PFADD", "few", *["f%d" % i for i in range(30)])
        diff.check("PFMERGE", "few", "steps")
        diff.check("GET", "few")
        diff.check("PFCOUNT", "one", "steps", "few")
    finally:
        diff.check("CONFIG", "SET", "hll-sparse-max-bytes", "3000")
