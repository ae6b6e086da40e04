"""RDB codec: CRC-64, LZF, every encoding written and read, legacy encodings
(ziplist, zipmap, quicklist with ziplist nodes) built by hand, and the
errors a corrupt stream gives (with byte offsets)."""
import io
import math
import random
import struct
from collections import deque

import pytest
from hypothesis import given, settings, strategies as st

from nodensync.storage import crc64, lzf, rdb
from nodensync.storage.keyspace import Keyspace
from nodensync.storage.zset import ZSet


# -- CRC-64 -------------------------------------------------------------------------
def test_crc64_check_value():
    assert crc64.crc64(b"123456789") == crc64.CHECK
    assert crc64.crc64_py(b"123456789") == crc64.CHECK


def test_crc64_continues_and_accepts_buffers():
    data = bytes(random.Random(1).randrange(256) for _ in range(5000))
    whole = crc64.crc64(data)
    part = crc64.crc64(data[:1234])
    assert crc64.crc64(memoryview(data)[1234:], part) == whole
    assert crc64.crc64(bytearray(data)) == whole
    assert crc64.crc64_py(data) == whole
    assert crc64.crc64(b"", 77) == 77


# -- LZF ----------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(st.binary(min_size=0, max_size=3000), st.sampled_from([b"ab", b"abc", b"0123456789", None]))
def test_lzf_roundtrip_and_redis_variant(data, alphabet):
    if alphabet is not None:
        rng = random.Random(len(data))
        data = bytes(rng.choice(alphabet) for _ in range(len(data)))
    limit = max(1, len(data) - 4)
    out = lzf.compress(data, limit)
    assert out == lzf.compress_py(data, limit)       # C fast path agrees with Redis's variant
    if out is not None:
        assert len(out) <= limit
        assert lzf.decompress(out, len(data)) == data
        assert lzf.decompress_py(out, len(data)) == data


def test_lzf_known_redis_output():
    # DUMP of SET k <'a' * 100> on Redis 7.0.15
    assert lzf.compress(b"a" * 100, 96) == b"\x01aa\xe0W\x00\x01aa"


def test_lzf_corrupt():
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\xe0\xff\xff", 50)
    with pytest.raises(lzf.LZFError):
        lzf.decompress_py(b"\x05ab", 6)
    with pytest.raises(lzf.LZFError):
        lzf.decompress(b"\x01aa\xe0W\x00\x01aa", 99)


# -- primitives ------------------------------------------------------------------------------
def test_length_encoding():
    for n in (0, 63, 64, 16383, 16384, 2 ** 32 - 1, 2 ** 32, 2 ** 40):
        p = rdb.RdbParser(rdb.encode_length(n))
        assert p.length() == (n, False)


@pytest.mark.parametrize("s,prefix", [
    (b"0", b"\xc0\x00"), (b"-1", b"\xc0\xff"), (b"127", b"\xc0\x7f"), (b"128", b"\xc1\x80\x00"),
    (b"-32768", b"\xc1\x00\x80"), (b"32768", b"\xc2\x00\x80\x00\x00"),
    (b"2147483647", b"\xc2\xff\xff\xff\x7f"), (b"2147483648", b"\x0a2147483648"),
    (b"007", b"\x03007"), (b"-0", b"\x02-0"), (b"+1", b"\x02+1"), (b"", b"\x00"),
])
def test_string_int_encoding(s, prefix):
    assert rdb.encode_string(s) == prefix
    assert rdb.RdbParser(prefix).string() == s


def test_string_lzf_threshold():
    assert rdb.encode_string(b"a" * 20) == b"\x14" + b"a" * 20      # 20 bytes: never compressed
    enc = rdb.encode_string(b"a" * 21)
    assert enc[0] == 0xC3
    assert rdb.RdbParser(enc).string() == b"a" * 21
    assert rdb.encode_string(b"a" * 21, compress=False) == b"\x15" + b"a" * 21


def test_d2string():
    assert rdb.d2string(1.0) == b"1"
    assert rdb.d2string(-0.0) == b"-0"
    assert rdb.d2string(0.1) == b"0.10000000000000001"
    assert rdb.d2string(math.inf) == b"inf"
    assert rdb.d2string(-math.inf) == b"-inf"
    assert rdb.d2string(1e20) == b"1e+20"
    assert rdb.d2string(4503599627370495.0) == b"4503599627370495"


# -- values ---------------------------------------------------------------------------------
_bin = st.binary(min_size=0, max_size=80)
_member = st.one_of(_bin, st.integers(-2 ** 63, 2 ** 63 - 1).map(lambda v: b"%d" % v))
_score = st.one_of(st.floats(allow_nan=False, width=64), st.integers(-10 ** 6, 10 ** 6).map(float))


def _value_strategy():
    return st.one_of(
        _bin.filter(lambda b: b),
        st.integers(-2 ** 63, 2 ** 63 - 1),
        st.binary(min_size=100, max_size=5000),
        st.dictionaries(_member, _bin, min_size=1, max_size=200),
        st.lists(_member, min_size=1, max_size=700).map(deque),
        st.sets(_member, min_size=1, max_size=600),
        st.dictionaries(_member, _score, min_size=1, max_size=200).map(
            lambda d: ZSet(d.items())),
    )


def _same(a, b):
    if isinstance(a, int) and not isinstance(a, bool):
        return (b"%d" % a) == (b if isinstance(b, bytes) else b"%d" % b)
    if isinstance(a, bytes) and isinstance(b, int):
        return a == b"%d" % b
    if isinstance(a, ZSet):
        return isinstance(b, ZSet) and list(a.items()) == list(b.items())
    return a == b and type(a) is type(b)


@settings(max_examples=30, deadline=None)
@given(_value_strategy(), st.booleans())
def test_value_roundtrip_dump_payload(value, compress):
    payload = rdb.dump_payload(value, compress=compress)
    assert rdb.verify_payload(payload)
    assert _same(value, rdb.load_payload(payload))


def test_payload_checks():
    p = rdb.dump_payload(b"hello")
    assert p == b"\x00\x05hello\x0a\x00" + p[-8:]
    bad = p[:-1] + bytes([p[-1] ^ 1])
    assert not rdb.verify_payload(bad)
    newer = p[:-10] + b"\x0b\x00" + crc64.crc64(p[:-10] + b"\x0b\x00").to_bytes(8, "little")
    assert not rdb.verify_payload(newer)
    assert not rdb.verify_payload(b"\x00")


def test_encodings_chosen():
    enc = rdb.Encoder()
    assert enc.value({b"f": b"v"})[0] == rdb.T_HASH_LISTPACK
    assert enc.value({b"f" * 65: b"v"})[0] == rdb.T_HASH
    assert enc.value({b"%d" % i: b"v" for i in range(129)})[0] == rdb.T_HASH
    assert enc.value({b"1", b"2"})[0] == rdb.T_SET_INTSET
    assert enc.value({b"1", b"a"})[0] == rdb.T_SET
    assert enc.value({b"%d" % i for i in range(513)})[0] == rdb.T_SET
    assert enc.value(ZSet([(b"a", 1.0)]))[0] == rdb.T_ZSET_LISTPACK
    assert enc.value(ZSet([(b"%d" % i, i) for i in range(129)]))[0] == rdb.T_ZSET_2
    assert enc.value(deque([b"a"]))[0] == rdb.T_LIST_QUICKLIST_2
    small = rdb.Encoder(limits={"hash-max-listpack-entries": 1})
    assert small.value({b"a": b"1", b"b": b"2"})[0] == rdb.T_HASH


def test_list_nodes_split_like_redis():
    """RPUSH fills a listpack node up to 8 KB (list-max-listpack-size -2)."""
    items = deque(b"x" * 1000 for _ in range(20))
    t, body = rdb.Encoder(compress=False).value(items)
    p = rdb.RdbParser(body)
    nodes = p.plain_length()
    assert nodes == 3                      # 8 + 8 + 4 elements of ~1 KB
    assert rdb.RdbParser(bytes([t]) + body).u8() == t
    back = rdb.RdbParser(body).read_object(t, b"k")
    assert back == items


def test_intset_widths():
    for values in ([1, 2, 3], [-40000, 5], [2 ** 40, -1]):
        blob = rdb.intset(values)
        assert rdb._intset_items(blob, 0) == [b"%d" % v for v in sorted(values)]
    assert rdb.intset([1, 2])[:4] == b"\x02\x00\x00\x00"
    assert rdb.intset([1, 70000])[:4] == b"\x04\x00\x00\x00"
    assert rdb.intset([1, 2 ** 33])[:4] == b"\x08\x00\x00\x00"


def test_listpack_entries_every_encoding():
    values = [b"0", b"127", b"128", b"-4096", b"4095", b"-32768", b"32767", b"8388607",
              b"-8388608", b"2147483647", b"-2147483648", b"9223372036854775807",
              b"-9223372036854775808", b"a" * 63, b"b" * 64, b"c" * 4095, b"d" * 4096,
              b"", b"-0", b"01", b"x" * 200]
    blob = rdb.listpack(b"".join(rdb.lp_entry(v) for v in values), len(values))
    assert rdb._listpack_items(blob, 0) == values


# -- legacy encodings built by hand --------------------------------------------------------------
def _zl_entry(prev_len, value):
    prev = bytes([prev_len]) if prev_len < 254 else b"\xfe" + struct.pack("<I", prev_len)
    v = rdb.canonical_int(value)
    if v is not None and len(value) <= 20:
        if 0 <= v <= 12:
            enc = bytes([0xF1 + v])
        elif -128 <= v <= 127:
            enc = b"\xfe" + struct.pack("<b", v)
        elif -32768 <= v <= 32767:
            enc = b"\xc0" + struct.pack("<h", v)
        elif -(1 << 23) <= v < (1 << 23):
            enc = b"\xf0" + (v & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= v < (1 << 31):
            enc = b"\xd0" + struct.pack("<i", v)
        else:
            enc = b"\xe0" + struct.pack("<q", v)
    else:
        n = len(value)
        if n < 64:
            enc = bytes([n]) + value
        elif n < 16384:
            enc = bytes([0x40 | (n >> 8), n & 0xFF]) + value
        else:
            enc = b"\x80" + struct.pack(">I", n) + value
    return prev + enc


def ziplist(values):
    body = b""
    prev = 0
    tail = 10
    for v in values:
        e = _zl_entry(prev, v)
        tail = 10 + len(body)
        body += e
        prev = len(e)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, tail, min(len(values), 0xFFFF)) + body + b"\xff"


def zipmap(pairs):
    out = bytes([len(pairs)])
    for k, v in pairs:
        out += bytes([len(k)]) + k + bytes([len(v)]) + b"\x00" + v
    return out + b"\xff"


ZL_VALUES = [b"a", b"0", b"12", b"13", b"-1", b"300", b"-70000", b"8000000", b"3000000000",
             b"x" * 70, b"y" * 300, b"", b"hello"]


def _file(body):
    data = b"REDIS0009" + body + b"\xff"
    return data + crc64.crc64(data).to_bytes(8, "little")


def _load(data, databases=16):
    got = []
    aux = rdb.RdbParser(data).load(lambda db, k, v, e: got.append((db, k, v, e)), databases)
    return got, aux


def test_legacy_encodings():
    s = rdb.encode_string
    body = b""
    body += bytes([rdb.T_LIST_ZIPLIST]) + s(b"zl") + s(ziplist(ZL_VALUES), False)
    body += bytes([rdb.T_HASH_ZIPLIST]) + s(b"hz") + s(ziplist([b"f1", b"v1", b"f2", b"2"]), False)
    body += bytes([rdb.T_ZSET_ZIPLIST]) + s(b"zz") + s(ziplist([b"m1", b"1.5", b"m2", b"-3"]), False)
    body += bytes([rdb.T_HASH_ZIPMAP]) + s(b"zm") + s(zipmap([(b"k1", b"v1"), (b"k2", b"")]), False)
    body += (bytes([rdb.T_LIST_QUICKLIST]) + s(b"ql") + rdb.encode_length(2)
             + s(ziplist([b"a", b"b"])) + s(ziplist([b"1", b"c"])))
    body += bytes([rdb.T_LIST]) + s(b"pl") + rdb.encode_length(2) + s(b"p") + s(b"q")
    body += (bytes([rdb.T_ZSET]) + s(b"oz") + rdb.encode_length(3) + s(b"a") + b"\x031.5"
             + s(b"b") + b"\xfe" + s(b"c") + b"\xff")
    body += b"\xfd" + struct.pack("<i", 2000000000) + bytes([rdb.T_STRING]) + s(b"exs") + s(b"v")
    body += b"\xf8\x05\xf9\x07" + bytes([rdb.T_STRING]) + s(b"lru") + s(b"1")
    got, _ = _load(_file(body))
    vals = {k: (v, e) for _, k, v, e in got}
    assert vals[b"zl"][0] == deque(ZL_VALUES)
    assert vals[b"hz"][0] == {b"f1": b"v1", b"f2": b"2"}
    assert list(vals[b"zz"][0].items()) == [(b"m2", -3.0), (b"m1", 1.5)]
    assert vals[b"zm"][0] == {b"k1": b"v1", b"k2": b""}
    assert vals[b"ql"][0] == deque([b"a", b"b", b"1", b"c"])
    assert vals[b"pl"][0] == deque([b"p", b"q"])
    assert list(vals[b"oz"][0].items()) == [(b"c", -math.inf), (b"a", 1.5), (b"b", math.inf)]
    assert vals[b"exs"] == (b"v", 2000000000 * 1000)
    assert vals[b"lru"][0] == 1


def test_set_listpack_from_72():
    s = rdb.encode_string
    blob = rdb.listpack(b"".join(rdb.lp_entry(v) for v in [b"a", b"1"]), 2)
    got, _ = _load(_file(bytes([rdb.T_SET_LISTPACK]) + s(b"sl") + s(blob)))
    assert got[0][2] == {b"a", b"1"}


# -- whole files -----------------------------------------------------------------------------------
def _keyspace():
    ks = Keyspace(4)
    d0 = ks.dbs[0]
    d0.data[b"s"] = b"v"
    d0.data[b"i"] = 12345
    d0.data[b"h"] = {b"f": b"1"}
    d0.data[b"l"] = deque([b"a", b"b"])
    d0.data[b"st"] = {b"x", b"1"}
    d0.data[b"z"] = ZSet([(b"m", 2.5)])
    d0.set_expire(b"s", 4102444800000)
    ks.dbs[3].data[b"\x00bin\xff"] = b"\xff" * 300
    return ks


def _write(ks, **kw):
    out = io.BytesIO()
    w = rdb.RdbWriter(out.write, **kw)
    rdb.write_keyspace(w, ks, rdb.aux_fields(1000))
    return out.getvalue()


def test_file_roundtrip():
    ks = _keyspace()
    data = _write(ks)
    assert data.startswith(b"REDIS0010\xfa\x09redis-ver\x067.0.15")
    got, aux = _load(data)
    assert aux["redis-ver"] == b"7.0.15" and aux["aof-base"] == b"0"
    assert aux["keys"] == 7
    by = {(db, k): (v, e) for db, k, v, e in got}
    assert by[(0, b"s")] == (b"v", 4102444800000)
    assert by[(0, b"i")][0] == 12345
    assert by[(3, b"\x00bin\xff")][0] == b"\xff" * 300
    assert by[(0, b"st")][0] == {b"x", b"1"}


def test_checksum_off_and_verification():
    ks = _keyspace()
    data = _write(ks, checksum=False)
    assert data[-8:] == b"\x00" * 8
    _load(data)                                     # 0 = no checksum, accepted
    good = _write(ks)
    bad = bytearray(good)
    bad[-3] ^= 0x55
    with pytest.raises(rdb.RdbError) as e:
        _load(bytes(bad))
    assert "checksum" in str(e.value) and e.value.offset == len(good) - 8


def test_corrupt_files_name_the_offset():
    good = _write(_keyspace())
    with pytest.raises(rdb.RdbError) as e:
        _load(good[:60])
    assert e.value.offset is not None and e.value.offset <= 60
    assert "offset" in str(e.value)
    with pytest.raises(rdb.RdbError, match="Wrong signature"):
        _load(b"RODIS0010" + good[9:])
    with pytest.raises(rdb.RdbError, match="version 99"):
        _load(b"REDIS0099" + good[9:])
    with pytest.raises(rdb.RdbError, match="more than 2 databases"):
        _load(good, databases=2)


@pytest.mark.parametrize("t,word", [(rdb.T_STREAM_LISTPACKS_3, "stream"),
                                    (rdb.T_MODULE_2, "module"), (42, "Unknown RDB value type")])
def test_refused_types(t, word):
    data = _file(bytes([t]) + rdb.encode_string(b"key") + b"\x00" * 20)
    with pytest.raises(rdb.RdbError, match=word) as e:
        _load(data)
    assert e.value.offset == 9


def test_module_aux_refused():
    with pytest.raises(rdb.RdbError, match="module AUX"):
        _load(_file(b"\xf7" + b"\x00" * 10))


def test_duplicate_members_refused():
    s = rdb.encode_string
    body = bytes([rdb.T_SET]) + s(b"k") + rdb.encode_length(2) + s(b"a") + s(b"a")
    with pytest.raises(rdb.RdbError, match="Duplicate"):
        _load(_file(body))


def test_functions_kept_in_aux():
    body = b"\xf5" + rdb.encode_string(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    _, aux = _load(_file(body))
    assert aux["functions"][0].startswith(b"#!lua")


@settings(max_examples=30, deadline=None)
@given(_value_strategy(), st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 255)),
                                   min_size=1, max_size=4))
def test_mutated_payloads_fail_cleanly(value, edits):
    """A damaged payload (with a recomputed checksum, so it gets past the
    footer check as RESTORE would see it) gives RdbError or a value, never
    another exception."""
    body = bytearray(rdb.dump_payload(value)[:-10])
    for pos, byte in edits:
        body[pos % len(body)] = byte
    payload = bytes(body) + b"\x0a\x00"
    payload += crc64.crc64(payload).to_bytes(8, "little")
    assert rdb.verify_payload(payload)
    try:
        rdb.load_payload(payload)
    except rdb.RdbError:
        pass


def test_lzf_length_bomb_refused():
    payload = b"\x00\xc3\x05\x81" + (1 << 40).to_bytes(8, "big") + b"\x01aa\xe0W"
    with pytest.raises(rdb.RdbError, match="LZF"):
        rdb.RdbParser(payload[1:]).string()
