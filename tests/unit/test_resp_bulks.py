"""Bulk-string arrays (resp._encode_bulks, the Bulks reply type): the C-loop
encodings must give exactly the bytes of the element-by-element encoder."""
import pytest

from nodensync.protocol import resp
from nodensync.protocol.resp import Bulks, OK


def _one_by_one(items):
    return b"*%d\r\n" % len(items) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in items)


CASES = [
    [b"xxx"] * 100,                              # one length (LRANGE_100)
    [b""] * 3,
    [b"a", b"", b"bcd", b"ef"],                  # mixed lengths
    [b"x" * 1024] * 3,                           # the longest pre-built header
    [b"x" * 1025] * 2,                           # past the pre-built headers
    [b"a", b"x" * 5000, b"bc"],                  # mixed, one past them
    [b"x" * 5000, b"a"],
    [b"\r\n$3\r\n", b"ab", b"c\r\n$3\r\nd"],     # RESP-looking content
]


@pytest.mark.parametrize("items", CASES)
@pytest.mark.parametrize("resp3", [False, True])
def test_bulks_encode_like_one_by_one(items, resp3):
    want = _one_by_one(items)
    assert resp.encode(Bulks(items), resp3) == want
    assert resp.encode(list(items), resp3) == want
    # nested (EXEC's replies, arrays of arrays) goes through _encode_into
    out = []
    resp._encode_into([Bulks(items), OK], out, resp3)
    assert b"".join(out) == b"*2\r\n" + want + b"+OK\r\n"


def test_empty_bulks():
    assert resp.encode(Bulks(), False) == b"*0\r\n"
    assert resp.encode(Bulks(), True) == b"*0\r\n"
    out = []
    resp._encode_into(Bulks(), out, False)
    assert b"".join(out) == b"*0\r\n"


def test_bulk_sets_and_maps():
    # the same helper encodes SMEMBERS-like sets and HGETALL-like dicts
    s = {b"a", b"bb", b"x" * 2000}
    assert resp.encode(s, False) == b"*3\r\n" + b"".join(
        b"$%d\r\n%s\r\n" % (len(x), x) for x in s)
    d = {b"f1": b"v", b"f2": b"x" * 1500}
    assert resp.encode(d, True) == (b"%2\r\n$2\r\nf1\r\n$1\r\nv\r\n$2\r\nf2\r\n$1500\r\n"
                                    + b"x" * 1500 + b"\r\n")
