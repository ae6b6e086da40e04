"""RdbParser streaming (a diskless replica's load from the socket): the
payload given in windows of random sizes, the parser resuming at a record
boundary, gives exactly what a whole-buffer parse gives; the checksum runs
over the dropped bytes; a payload cut short or corrupt fails as a whole one
does; the window never holds much more than the record being read."""
import io
import random
from collections import deque

import pytest

from nodensync.storage import rdb
from nodensync.storage.keyspace import Keyspace
from nodensync.storage.zset import ZSet


def _payload(seed=1, big=200000):
    rng = random.Random(seed)
    ks = Keyspace(4)
    d0, d2 = ks.dbs[0], ks.dbs[2]
    for i in range(400):
        d0.data[b"s%d" % i] = bytes(rng.randrange(256) for _ in range(rng.randrange(80)))
        d0.data[b"i%d" % i] = rng.randrange(-10 ** 12, 10 ** 12)
        d0.data[b"h%d" % i] = {b"f%d" % j: b"v" * j for j in range(rng.randrange(1, 200))}
        d2.data[b"l%d" % i] = deque(b"e%d" % j for j in range(rng.randrange(1, 300)))
        d2.data[b"st%d" % i] = {b"%d" % j for j in range(rng.randrange(1, 40))}
        d2.data[b"z%d" % i] = ZSet([(b"m%d" % j, j / 7) for j in range(rng.randrange(1, 200))])
        if i % 5 == 0:
            d0.set_expire(b"s%d" % i, 4102444800000 + i)
    d0.data[b"big"] = bytes(rng.randrange(256) for _ in range(big))
    d2.data[b"biglist"] = deque(b"x" * 100 for _ in range(5000))
    out = io.BytesIO()
    w = rdb.RdbWriter(out.write, compress=True)
    rdb.write_keyspace(w, ks, rdb.aux_fields(1000))
    return out.getvalue()


def _whole(data):
    got = []
    aux = rdb.RdbParser(data).load(lambda db, k, v, e: got.append((db, k, v, e)), 16)
    return got, aux


def _streamed(data, rng, max_chunk=5000, track=None):
    pos = [0]

    def refill(parser, at):
        have = parser.n - at
        want = have * 2 if have else 1
        parts = [parser.d[at:parser.n]] if have else []
        got = have
        while got < want and pos[0] < len(data):
            k = rng.randrange(1, max_chunk)
            parts.append(data[pos[0]:pos[0] + k])
            got += len(parts[-1])
            pos[0] += k
        if got == have:
            return False
        parser.d = b"".join(parts)
        parser.base += at
        parser.p = 0
        parser.n = got
        if track is not None:
            track.append(got)
        return True

    got = []
    positions = []
    p = rdb.RdbParser(b"", refill=refill)
    aux = p.load(lambda db, k, v, e: got.append((db, k, v, e)), 16,
                 progress=positions.append, progress_every=50)
    return got, aux, p, positions


def _norm(items):
    out = []
    for db, k, v, e in items:
        if isinstance(v, ZSet):
            v = list(v.items())
        elif isinstance(v, (set, frozenset)):
            v = sorted(v)
        elif isinstance(v, deque):
            v = list(v)
        out.append((db, k, v, e))
    return out


@pytest.mark.parametrize("seed,max_chunk", [(1, 3), (2, 100), (3, 5000), (4, 300000)])
def test_streamed_parse_equals_whole_parse(seed, max_chunk):
    data = _payload(seed)
    want, aux = _whole(data)
    got, aux2, p, positions = _streamed(data, random.Random(seed), max_chunk)
    assert _norm(got) == _norm(want)
    assert aux2 == aux
    assert p.base + p.p == len(data)          # stopped right after the checksum
    assert positions == sorted(positions) and positions[-1] <= len(data)


def test_window_holds_about_one_record():
    data = _payload(5, big=300000)
    sizes = []
    _streamed(data, random.Random(5), 4000, track=sizes)
    # the biggest record (the 300 KB string) at most doubled, plus a read
    assert max(sizes) < 2 * 300000 + 2 * 4000 + 64
    assert len(data) > 2 * max(sizes)


def test_streamed_checksum_and_truncation():
    data = _payload(6)
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0x01          # inside some value: only the checksum sees it
    with pytest.raises(rdb.RdbError):
        _whole(bytes(bad))
    with pytest.raises(rdb.RdbError):
        _streamed(bytes(bad), random.Random(6), 2000)
    for cut in (5, len(data) // 3, len(data) - 9, len(data) - 1):
        with pytest.raises(rdb.RdbTruncated):
            _streamed(data[:cut], random.Random(cut), 2000)
    # no checksum (rdbchecksum no): 0 stored, accepted
    ks = Keyspace(1)
    ks.dbs[0].data[b"k"] = b"v"
    out = io.BytesIO()
    rdb.write_keyspace(rdb.RdbWriter(out.write, checksum=False), ks, rdb.aux_fields(0))
    got, _, _, _ = _streamed(out.getvalue(), random.Random(7), 3)
    assert got == [(0, b"k", b"v", None)]
