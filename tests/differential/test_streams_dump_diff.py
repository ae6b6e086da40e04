"""Streams in Redis's serialisation, compared with a real redis-server.

redis-server builds streams (entries of every shape, tombstones, trimming,
consumer groups with PELs and consumers, XSETID's counters, extreme IDs);
NodeNsync's RDB reader parses its DUMP payloads into the stream model and
the writer encodes them again: the payload must be byte-identical to
redis-server's when the stream has no tombstones (the writer lays nodes out
as XADD does), and in every case RESTORE into redis-server gives the same
XRANGE and XINFO STREAM FULL (radix tree figures included).  The same payloads go through a NodeNsync
server (RESTORE, DUMP, COPY, DEBUG DIGEST-VALUE, OBJECT ENCODING, TYPE),
Redis 5.0-6.2's STREAM_LISTPACKS (type 15) payloads load as Redis 7.0 loads
them, the AOF rewrite's commands rebuild the stream in redis-server, and
damaged payloads are refused with RdbError, never another exception.
"""
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nodensync.storage import aof, rdb
from nodensync.storage.crc64 import crc64
from nodensync.storage.stream import Stream
from nodensync.commands.debug import _value_digest
from persistence_support import client, wait_for
from servers import NodeServer, RedisServer


@pytest.fixture(scope="module")
def redis_ref():
    s = RedisServer("--enable-debug-command", "yes")
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def node_srv():
    s = NodeServer("--enable-debug-command", "yes")
    yield s
    s.cleanup()


@pytest.fixture
def r(redis_ref):
    c = client(redis_ref.port)
    c.flushall()
    c.config_set("stream-node-max-bytes", 4096)
    c.config_set("stream-node-max-entries", 100)
    yield c
    c.close()


@pytest.fixture
def n(node_srv):
    c = client(node_srv.port)
    c.flushall()
    yield c
    c.close()


# -- streams built by redis-server ----------------------------------------------------
def _simple(c):
    c.xadd("s", {"a": "1", "b": "2"}, id="1-1")
    c.xadd("s", {"a": "3", "b": "4"}, id="1-2")
    c.xadd("s", {"c": "x" * 100}, id="2-0")


def _shapes(c):
    values = ["0", "127", "128", "-1", "4095", "4096", "-4097", "32767", "-32769",
              "8388607", "8388608", "2147483647", "-2147483649", "9223372036854775807",
              "-9223372036854775808", "9223372036854775808", "01", "+1", "1.5", "",
              "\x00\xff\r\n", "x" * 63, "y" * 64, "z" * 4095, "w" * 4096]
    for i, v in enumerate(values):
        c.xadd("s", {"f": v, v: "f"} if i % 2 else {"f": v})
    c.xadd("s", {"f%d" % i: i for i in range(100)})


def _many(c):
    rng = random.Random(7)
    for i in range(1500):
        if i % 11 == 0:
            fields = {"other": i}
        else:
            fields = {"f": i, "g": "v" * rng.randrange(0, 90), "n": -i}
        c.xadd("s", fields)


def _big_values(c):
    c.xadd("s", {"v": "x" * 10000})
    c.xadd("s", {"v": "".join(chr(65 + i % 26) for i in range(5000))})
    c.xadd("s", {"w": "small"})
    c.xadd("s", {"w": "0123456789" * 500})


def _groups(c):
    for i in range(250):
        c.xadd("s", {"f": i, "g": "v%d" % i})
    ids = [e[0] for e in c.xrange("s")]
    c.xgroup_create("s", "g1", id="0")
    c.xgroup_create("s", "g2", id="$")
    c.xgroup_create("s", "g3", id=ids[100])            # entries-read unknown
    c.xgroup_create("s", "g4", id=ids[0])
    c.execute_command("XGROUP", "CREATE", "s", "g5", ids[10], "ENTRIESREAD", "11")
    c.xreadgroup("g1", "alice", {"s": ">"}, count=30)
    c.xreadgroup("g1", "bob", {"s": ">"}, count=7)
    c.xreadgroup("g1", "alice", {"s": "0"}, count=5)     # redelivery: counts grow
    c.xack("s", "g1", *ids[3:9])
    c.xclaim("s", "g1", "carol", 0, ids[20:25])
    c.xgroup_createconsumer("s", "g1", "dave")
    c.xreadgroup("g3", "x" * 80, {"s": ">"}, count=3)
    c.xreadgroup("g2", "12345", {"s": ">"}, count=3)   # int-encoded consumer name


def _setid(c):
    c.execute_command("XADD", "s", "5-5", "a", "b")
    c.execute_command("XSETID", "s", "100-200", "ENTRIESADDED", "50", "MAXDELETEDID", "90-0")


def _extreme_ids(c):
    c.execute_command("XADD", "s", "0-1", "a", "1")
    c.execute_command("XADD", "s", "5-18446744073709551615", "a", "1")
    c.execute_command("XADD", "s", "6-0", "a", "1")
    c.execute_command("XADD", "s", "18446744073709551615-18446744073709551614", "a", "1")


def _time_ids(c):
    for _ in range(300):
        c.xadd("s", {"k": "v"})


def _tombstones(c):
    for i in range(400):
        c.xadd("s", {"f": i})
    ids = [e[0] for e in c.xrange("s")]
    c.xdel("s", *ids[5:10], *ids[150:260], ids[-1])
    c.xgroup_create("s", "g", id="0")
    c.xreadgroup("g", "c", {"s": ">"}, count=20)


def _trimmed(c):
    for i in range(700):
        c.xadd("s", {"f": i, "x": "y" * (i % 40)})
    c.xtrim("s", maxlen=333, approximate=False)
    c.execute_command("XTRIM", "s", "MINID", "~", c.xrange("s", count=50)[-1][0])


def _emptied(c):
    c.xadd("s", {"x": "y"})
    c.xdel("s", c.xrange("s")[0][0])
    c.xgroup_create("s", "grp", "$")
    c.xgroup_createconsumer("s", "grp", "idle")


def _mkstream(c):
    c.xgroup_create("s", "g", "$", mkstream=True)


def _maxlen0(c):
    c.xadd("s", {"a": "b"}, maxlen=0)


BUILDERS = {"simple": _simple, "shapes": _shapes, "many": _many, "big_values": _big_values,
            "groups": _groups, "setid": _setid, "extreme_ids": _extreme_ids,
            "time_ids": _time_ids}
# Redis keeps deleted entries as flagged tombstones inside its nodes;
# NodeNsync keeps the nodes (storage/stream.py's node model) but not the
# deleted entries, so their payloads differ while the streams they restore
# are equal, node layout included.
WITH_TOMBSTONES = {"tombstones": _tombstones, "trimmed": _trimmed, "emptied": _emptied,
                   "mkstream": _mkstream, "maxlen0": _maxlen0}
ALL = dict(BUILDERS, **WITH_TOMBSTONES)
EMPTY = {"emptied", "mkstream", "maxlen0"}


def _full(c, key):
    return c.execute_command("XINFO", "STREAM", key, "FULL")


def _same_stream(c, a, b, layout=True):
    """XRANGE and XINFO STREAM FULL of two keys of redis-server agree
    (``layout``: the radix tree figures too)."""
    assert c.xrange(a) == c.xrange(b)
    fa, fb = _full(c, a), _full(c, b)
    if not layout:
        for f in (fa, fb):
            f.pop(b"radix-tree-keys")
            f.pop(b"radix-tree-nodes")
    assert fa == fb


@pytest.mark.parametrize("name", sorted(ALL))
def test_reencoded_payload_restores_identically(r, name):
    ALL[name](r)
    payload = r.dump("s")
    value = rdb.load_payload(payload)
    assert type(value) is Stream
    assert len(value) == r.xlen("s")
    mine = rdb.dump_payload(value)
    if name in BUILDERS:
        assert mine == payload
    r.restore("copy", 0, mine)
    _same_stream(r, "s", "copy", layout=True)
    assert r.dump("copy") == mine or name not in BUILDERS


@pytest.mark.parametrize("compress", [True, False])
def test_uncompressed_payload(r, compress):
    _big_values(r)
    r.config_set("rdbcompression", "yes" if compress else "no")
    try:
        payload = r.dump("s")
        value = rdb.load_payload(payload)
        assert rdb.dump_payload(value, compress=compress) == payload
    finally:
        r.config_set("rdbcompression", "yes")


@pytest.mark.parametrize("max_bytes,max_entries",
                         [(4096, 100), (100, 5), (0, 0), (2 ** 31, 1000), (1, 1), (65536, 0)])
def test_node_layout_follows_settings(r, max_bytes, max_entries):
    r.config_set("stream-node-max-bytes", max_bytes)
    r.config_set("stream-node-max-entries", max_entries)
    for i in range(500):
        fields = {"f": i, "g": "v%d" % i if i % 3 else "z" * (i % 70), 12: -5 - i}
        r.xadd("s", fields if i % 7 else {"q": i})
    payload = r.dump("s")
    value = rdb.load_payload(payload)
    limits = {"stream-node-max-bytes": max_bytes, "stream-node-max-entries": max_entries}
    assert rdb.dump_payload(value, limits=limits) == payload


def _v1_payload(s):
    """The stream as Redis 5.0-6.2 wrote it (RDB_TYPE_STREAM_LISTPACKS, RDB 9):
    no first/max-deleted IDs, no entries-added, no entries-read."""
    enc = rdb.Encoder()
    nodes = enc.stream_nodes(s)
    out = [rdb.encode_length(len(nodes))]
    for master, lp in nodes:
        out += [b"\x10" + master.to_bytes(16, "big"), enc.string(lp)]
    out += [rdb.encode_length(len(s.entries)), rdb.encode_length(s.last_id >> 64),
            rdb.encode_length(s.last_id & rdb.U64), rdb.encode_length(len(s.groups))]
    for name in sorted(s.groups):
        g = s.groups[name]
        out += [enc.string(name), rdb.encode_length(g.last_id >> 64),
                rdb.encode_length(g.last_id & rdb.U64), rdb.encode_length(len(g.pel))]
        for i, pe in g.pel.items():
            out += [i.to_bytes(16, "big"), pe.delivery_time.to_bytes(8, "little"),
                    rdb.encode_length(pe.delivery_count)]
        out.append(rdb.encode_length(len(g.consumers)))
        for cn in sorted(g.consumers):
            c = g.consumers[cn]
            out += [enc.string(cn), c.seen_time.to_bytes(8, "little"),
                    rdb.encode_length(len(c.pel))]
            out += [i.to_bytes(16, "big") for i in c.pel]
    data = bytes([rdb.T_STREAM_LISTPACKS]) + b"".join(out) + (9).to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


@pytest.mark.parametrize("name", ["groups", "simple", "many"])
def test_redis_6_payload_loads_as_redis_7_loads_it(r, name):
    ALL[name](r)
    old = _v1_payload(rdb.load_payload(r.dump("s")))
    r.restore("old", 0, old)                 # what Redis 7.0 makes of it
    mine = rdb.load_payload(old)             # what NodeNsync makes of it
    r.restore("mine", 0, rdb.dump_payload(mine))
    _same_stream(r, "old", "mine")


@pytest.mark.parametrize("name", sorted(ALL))
def test_digest_value_as_redis(r, name):
    ALL[name](r)

    class _Db:
        expires = {}
    d = bytearray(20)
    _value_digest(_Db, b"s", rdb.load_payload(r.dump("s")), d)
    assert d.hex().encode() == r.execute_command("DEBUG", "DIGEST-VALUE", "s")[0]


@pytest.mark.parametrize("name", sorted(ALL))
def test_aof_rewrite_commands_rebuild_the_stream(r, name):
    ALL[name](r)
    value = rdb.load_payload(r.dump("s"))
    for argv in aof.stream_commands(b"rebuilt", value):
        r.execute_command(*argv)
    fa, fb = _full(r, "s"), _full(r, "rebuilt")
    # What Redis's own rewrite does not keep either: the node layout of a
    # stream with tombstones, and the consumers' seen-time (XCLAIM and
    # XGROUP CREATECONSUMER set it to the time of the replay).
    for f in (fa, fb):
        if name not in BUILDERS:
            f.pop(b"radix-tree-keys")
            f.pop(b"radix-tree-nodes")
        for g in f[b"groups"]:
            for cons in g[b"consumers"]:
                cons.pop(b"seen-time")
    assert fa == fb
    assert r.xrange("s") == r.xrange("rebuilt")


def test_truncated_payloads_are_refused(r):
    _groups(r)
    body = r.dump("s")[:-10]
    for cut in list(range(1, 64)) + list(range(64, len(body), 97)):
        data = body[:cut] + (10).to_bytes(2, "little")
        data += crc64(data).to_bytes(8, "little")
        with pytest.raises(rdb.RdbError):
            rdb.load_payload(data)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_payloads_never_crash_the_reader(r, data):
    if not r.exists("s"):
        _groups(r)
    body = bytearray(r.dump("s")[:-10])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(1, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    payload = bytes(body) + (10).to_bytes(2, "little")
    payload += crc64(payload).to_bytes(8, "little")
    try:
        value = rdb.load_payload(payload)
    except rdb.RdbError:
        return
    # What loads is a consistent stream: it encodes again and loads back.
    assert rdb.load_payload(rdb.dump_payload(value)).entries == value.entries


# -- through a NodeNsync server ---------------------------------------------------------
@pytest.mark.parametrize("name", sorted(set(ALL) - EMPTY))
def test_node_restores_and_dumps_redis_payloads(r, n, name):
    ALL[name](r)
    payload = r.dump("s")
    n.restore("s", 0, payload)
    assert n.type("s") == b"stream"
    assert n.object("encoding", "s") == b"stream"
    assert n.execute_command("DEBUG", "DIGEST-VALUE", "s") == \
        r.execute_command("DEBUG", "DIGEST-VALUE", "s")
    ours = n.dump("s")
    if name in BUILDERS:
        assert ours == payload
    r.restore("back", 0, ours)
    _same_stream(r, "s", "back", layout=True)
    # COPY is a deep copy: the copy dumps the same, and is its own value.
    assert n.copy("s", "c") == 1
    assert n.dump("c") == ours
    n.delete("s")
    assert n.dump("c") == ours
    assert isinstance(n.memory_usage("c"), int) and n.memory_usage("c") > 0


def test_node_digest_of_a_dataset_with_streams(r, n):
    for name, build in sorted(BUILDERS.items()):
        build(r)
        r.rename("s", "stream:" + name)
    r.set("str", "v")
    for k in r.keys():
        n.restore(k, 0, r.dump(k))
    assert n.execute_command("DEBUG", "DIGEST") == r.execute_command("DEBUG", "DIGEST")


def test_node_refuses_damaged_stream_payloads(r, n):
    _groups(r)
    body = r.dump("s")[:-10]
    for cut in (5, 40, len(body) // 2, len(body) - 3):
        data = body[:cut] + (10).to_bytes(2, "little")
        data += crc64(data).to_bytes(8, "little")
        with pytest.raises(Exception) as e:
            n.restore("bad", 0, data)
        assert "Bad data format" in str(e.value)
    assert n.ping() and n.exists("bad") == 0


def test_node_unlinks_a_big_stream_lazily(r, n):
    for i in range(3000):
        r.xadd("s", {"f": i})
    r.xgroup_create("s", "g", id="0")
    r.xreadgroup("g", "c", {"s": ">"}, count=2000)
    payload = r.dump("s")
    for i in range(4):
        n.restore("big%d" % i, 0, payload)
    freed = int(n.info("memory")["lazyfreed_objects"])
    assert n.unlink("big0", "big1") == 2
    wait_for(lambda: int(n.info("memory")["lazyfreed_objects"]) >= freed + 2,
             what="the unlinked streams freed in the background")
    assert n.dbsize() == 2
    n.flushall(asynchronous=True)
    assert n.dbsize() == 0
    n.restore("again", 0, payload)
    assert n.dump("again") == payload


def test_redis_7_2_stream_format_is_refused():
    """RDB_TYPE_STREAM_LISTPACKS_3 (Redis 7.2) is newer than Redis 7.0 reads."""
    data = bytes([rdb.T_STREAM_LISTPACKS_3]) + b"\x00" * 20 + (10).to_bytes(2, "little")
    data += crc64(data).to_bytes(8, "little")
    with pytest.raises(rdb.RdbError, match="stream") as e:
        rdb.load_payload(data)
    assert e.value.offset == 0


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_node_restores_empty_streams(r, n, name):
    ALL[name](r)
    payload = r.dump("s")
    assert r.restore("again", 0, payload) == b"OK"
    assert n.restore("s", 0, payload) == b"OK"
    assert n.dump("s") == payload


# -- the same commands to both servers ---------------------------------------------------
@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def both(request, redis_ref, node_srv):
    from difftools import Differ
    for port in (redis_ref.port, node_srv.port):
        c = client(port)
        c.flushall()
        c.config_set("stream-node-max-bytes", 4096)
        c.config_set("stream-node-max-entries", 100)
        c.close()
    d = Differ(node_srv.port, redis_ref.port, protocol=request.param)
    yield d
    d.close()


def _xadds(d, key, n, seed=3, start_ms=1000):
    rng = random.Random(seed)
    for i in range(n):
        ms = start_ms + i // 3
        if i % 9 == 0:
            fields = ["other", str(i)]
        else:
            fields = ["f", str(i), "g", "v" * rng.randrange(0, 120), "n", str(-i * 1000)]
        d.check("XADD", key, "%d-%d" % (ms, i % 3), *fields)


@pytest.mark.parametrize("max_bytes,max_entries", [(4096, 100), (200, 7), (0, 0)])
def test_stream_built_by_commands_dumps_as_redis(both, max_bytes, max_entries):
    both.check("CONFIG", "SET", "stream-node-max-bytes", str(max_bytes))
    both.check("CONFIG", "SET", "stream-node-max-entries", str(max_entries))
    _xadds(both, "s", 400)
    both.check("XSETID", "s", "999999-1", "ENTRIESADDED", "1000", "MAXDELETEDID", "5-0")
    both.check("XADD", "big", "1-1", "v", "x" * 9000)
    both.check("XADD", "big", "1-2", "v", "y" * 10)
    for key in ("s", "big"):
        both.check("DUMP", key)
        both.check("DEBUG", "DIGEST-VALUE", key)
        both.check("XINFO", "STREAM", key, "FULL")
    both.check("DEBUG", "DIGEST")


def test_deletions_and_trimming_through_debug_reload(both):
    """Redis keeps the nodes its deletions left (tombstones) through DEBUG
    RELOAD; NodeNsync keeps the same nodes (less the deleted entries), so
    XINFO's radix tree figures, XTRIM ~ and later XADDs agree."""
    both.check("CONFIG", "SET", "stream-node-max-entries", "10")
    _xadds(both, "s", 200)
    both.check("XDEL", "s", "1000-0", "1000-1", "1010-1", "1020-0", "1020-1", "1020-2")
    both.check("XTRIM", "s", "MAXLEN", "150")
    both.check("XGROUP", "CREATE", "s", "g", "0")
    both.check("XINFO", "STREAM", "s")
    both.check("DEBUG", "RELOAD")
    both.check("XINFO", "STREAM", "s")
    both.check("XINFO", "STREAM", "s", "FULL")
    both.check("XTRIM", "s", "MAXLEN", "~", "120")
    both.check("XINFO", "STREAM", "s")
    both.check("XADD", "s", "5000-0", "f", "v")
    both.check("DEBUG", "RELOAD")
    both.check("XINFO", "STREAM", "s", "FULL")
    both.check("XRANGE", "s", "-", "+")
    both.check("DEBUG", "DIGEST")


def test_groups_through_debug_reload(both):
    _xadds(both, "s", 60)
    both.check("XGROUP", "CREATE", "s", "g1", "0")
    both.check("XGROUP", "CREATE", "s", "g2", "1005-0", "ENTRIESREAD", "3")
    both.check("XGROUP", "CREATECONSUMER", "s", "g1", "idle")
    both.check("XCLAIM", "s", "g1", "alice", "0", "1001-0", "1002-1", "TIME", "1700000000000",
               "RETRYCOUNT", "4", "FORCE", "JUSTID")
    both.check("XCLAIM", "s", "g2", "bob", "0", "1003-0", "TIME", "1700000000001",
               "RETRYCOUNT", "1", "FORCE", "JUSTID")
    both.check("DEBUG", "RELOAD")
    both.check("XPENDING", "s", "g1")          # (the extended form shows idle times)
    both.check("XPENDING", "s", "g2")
    both.check("XINFO", "GROUPS", "s")
    both.check("XINFO", "CONSUMERS", "s", "g1", compare=False)     # (idle times)
    both.check("XRANGE", "s", "-", "+", "COUNT", "5")
    both.check("DEBUG", "DIGEST-VALUE", "s")
    both.check("OBJECT", "ENCODING", "s")
    both.check("COPY", "s", "s2")
    both.check("XPENDING", "s2", "g1")
    both.check("XINFO", "STREAM", "s2")
    both.check("XGROUP", "DESTROY", "s", "g1")
    both.check("XPENDING", "s2", "g1")         # the copy kept its own group
    both.check("XCLAIM", "s2", "g2", "carol", "0", "1003-0", "JUSTID")


def _lazyfreed(port):
    c = client(port)
    wait_for(lambda: int(c.info("memory")["lazyfree_pending_objects"]) == 0,
             what="lazy free done")
    return int(c.info("memory")["lazyfreed_objects"])


@pytest.mark.parametrize("case", ["one", "tiny_nodes", "many_nodes", "group_pel", "groups",
                                  "destroyed_group"])
def test_unlink_frees_in_background_when_redis_does(both, redis_ref, node_srv, case):
    """UNLINK frees a stream in the background exactly when Redis's free
    effort (radix tree nodes, groups times the first group's PEL) passes
    its threshold: INFO lazyfreed_objects agrees."""
    both.check("CONFIG", "SET", "stream-node-max-entries", "5" if case == "tiny_nodes" else "100")
    n = {"one": 1, "tiny_nodes": 400, "many_nodes": 7000, "group_pel": 100}.get(case, 50)
    _xadds(both, "s", n)
    if case == "group_pel":
        both.check("XGROUP", "CREATE", "s", "g", "0")
        both.check("XCLAIM", "s", "g", "c", "0", *["%d-%d" % (1000 + i // 3, i % 3)
                                                 for i in range(80)], "FORCE", "JUSTID",
                   "TIME", "1")
    if case == "groups":
        for i in range(70):
            both.check("XGROUP", "CREATE", "s", "g%d" % i, "$")
    if case == "destroyed_group":
        both.check("XGROUP", "CREATE", "s", "bla", "$")
        both.check("XGROUP", "DESTROY", "s", "bla")
    _lazyfreed(redis_ref.port)
    _lazyfreed(node_srv.port)
    both.check("CONFIG", "RESETSTAT")
    both.check("UNLINK", "s")
    assert _lazyfreed(node_srv.port) == _lazyfreed(redis_ref.port)


# Stream payloads from Redis 7.0.15's tests/integration/corrupt-dump.tcl (its fuzzer's
# findings): every one must be refused.
REDIS_CORRUPT_STREAMS = {
    'stream with duplicate consumers': bytes.fromhex(
        '0f0000000001076d7967726f757000000002046e616d652a4caa9a7d01000000046e616d652b4caa'
        '9a7d010000000a00cced8ca762eec7c8'
    ),
    'NPD in streamIteratorGetID': bytes.fromhex(
        '0f011000000173bd68487100000000000000004042420000001800030100010201846974656d0585'
        '76616c75650600010201000100010101000105010201000101010101825f31030501020100010201'
        '010102014801ff038100000173bd6848710201076d7967726f75708100000173bd68487100010000'
        '0173bd6848710000000000000000724868bd73010000010105416c696365724868bd730100000100'
        '000173bd6848710000000000000000090080cdb0d51aceff10'
    ),
    'stream bad lp_count': bytes.fromhex(
        '0f011000000173dedf7d9b00000000000000004042420000001800030100010201846974656d0585'
        '76616c75650600010201000100010101000156010201220100010101825f3103050102012c010001'
        '010102010501ff038100000173dedf7dc70001076d7967726f75708100000173dedf7d9b00010000'
        '0173dedf7d9b0000000000000000f97ddfde73010000010105416c696365eb7ddfde730100000100'
        '000173dedf7d9b00000000000000000900b2a8a75f1b6172d5'
    ),
    'stream integrity check issue': bytes.fromhex(
        '0f0210000001752da290670000000000000000c3404f405c185c0000002400050100014a01846974'
        '656d058576616c756506401000002001000120030005201c4009050101825f3103800d0002200d00'
        '02a0190003200b02825f33a0190004200d0004201900ff10000001752da290670000000000000005'
        'c34056406018600000002400050100010201846974656d058576616c756506401000002001060101'
        '825f350305201e400b0301010601800b0002200b02825f376019030101dffb20050008601a200c00'
        'fc200502825f39201b00ff0a81000001752da29068010009001d6fc0698adef792'
    ),
    'stream PEL without consumer': bytes.fromhex(
        '0f01100000017b08f0b2340000000000000000c33b40421942000000180002010101020184697465'
        '6d058576616c7565060020100000200100012003020501032005400004825f310305601980320205'
        '01ff02810000017b08f0b2340201076d7967726f7570810000017b08f0b23401010000017b08f0b2'
        '34000000000000000135b2f0087b010000010113416c69636535b2f0087b010000010000017b08f0'
        'b23400000000000000010900282fe0c504bba731'
    ),
    'stream with bad lpFirst': bytes.fromhex(
        '0f01100000017b0e52d2ec0000000000000000404242000000180002f701010201846974656d0585'
        '76616c75650600010201000100010101000105010301010100010101825f31030501020101010101'
        '010102010501ff02810000017b0e52d2ed0101076d7967726f7570810000017b0e52d2ed00010000'
        '017b0e52d2ed0000000000000000edd2520e7b010000010105416c696365edd2520e7b0100000100'
        '00017b0e52d2ed00000000000000000900ac05c9975d4580b3'
    ),
    'stream with non-integer entry id': bytes.fromhex(
        '0f03100000017b1334c3b20000000000000000c3404f405c185c0000002400050100010201846974'
        '656d058576616c756506401000802001000120030005201c4009050101825f3103800d0002200d00'
        '02a0190003200b02825f33a0190004200d0004201900ff100000017b1334c3b20000000000000005'
        'c34056406118610000002400050100010201846974656d058576616c756506401000002001060101'
        '825f350305201e400b0301010601400b030101dffb200502825f37601a200e00fc20050008c01b00'
        'fd200c02825f39201b00ff100000017b1334c3b30000000000000003c33d404a184a000000150002'
        '0100010201846974656d058576616c75650640100000200140000005600702dffd02c02309010186'
        '756e6971756507a02d020801ff0c810000017b1334c3b4000009009dbdd5b933c4c5ff'
    ),
    'stream double free listpack when insert dup node to rax returns 0': bytes.fromhex(
        '0f03100000017b605a23790000000000000000c3404f405c185c0000002400050100010201846974'
        '656d058576616c756506401000002001000120030005201c4009050101825f3103800d0002200d00'
        '02a0190003200b02825f33a0190004200d0004201900ff100000017b605a23790000000000000005'
        'c34051405e185e0000002400050100010201846974656d058576616c756506401000002001060101'
        '825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008a0190004200b0282'
        '5f39201900ff100000017b605a23790000000000000000c33b404918490000001500020100010201'
        '846974656d058576616c7565064010000020014000000520074009c02209010186756e6971756507'
        'a02c020801ff0c810000017b605a237a01000a009c8f1ebf2e055909'
    ),
    'streamLastValidID panic': bytes.fromhex(
        '13c010000001802048a0330000000000000000c3404f405c185c0000002400050100010201846974'
        '656d058576616c756506401000002001000120030005201c4009050101825f3103800d0002200d00'
        '02a0190003200b02825f336019402f02010104201900ff10000001802048a0340000000000000001'
        'c34051405e185e0000002400050100010201846974656d058576616c756506401000002001060101'
        '825f350305201e400b0301010601800b0002200b02825f37a0190003200d0008a0190004200b0282'
        '5f39201900ff10000001802048a0340000000000000006c33d404a184a0000001500020100010201'
        '846974656d058576616c75650640100000200140000005600702dffa02c02309010186756e697175'
        '6507a02d020801ff0c81000001802048a0350081000001802048a0330000000c000a00348b0e5b42'
        'cdd608'
    ),
}


@pytest.mark.parametrize("name", sorted(REDIS_CORRUPT_STREAMS))
def test_redis_fuzzer_stream_payloads_are_refused(n, name):
    body = REDIS_CORRUPT_STREAMS[name][:-8]
    with pytest.raises(rdb.RdbError):
        rdb.load_payload(body + crc64(body).to_bytes(8, "little"))
    with pytest.raises(Exception) as e:
        n.restore("bad", 0, body + crc64(body).to_bytes(8, "little"))
    assert "Bad data format" in str(e.value)
    assert n.ping() and n.exists("bad") == 0


# -- random histories -----------------------------------------------------------------------
def _model_of(payload):
    """What a stream DUMP payload holds, times left out (they are the
    servers' clocks): entries, counters, groups with their PELs and
    consumers."""
    s = rdb.load_payload(payload)
    groups = {}
    for name, g in s.groups.items():
        groups[name] = (g.last_id, g.entries_read,
                        [(i, pe.delivery_count, pe.consumer) for i, pe in g.pel.items()],
                        {c: list(cons.pel) for c, cons in g.consumers.items()})
    return (list(s.entries.items()), s.last_id, s.first_id, s.max_deleted_id,
            s.entries_added, groups)


_OPS = st.one_of(
    st.tuples(st.just("xadd"), st.integers(0, 3), st.integers(0, 2), st.integers(1, 3),
              st.sampled_from(["a", "b", "12", "-7", "", "x" * 70, "y" * 300])),
    st.tuples(st.just("xdel"), st.integers(0, 200)),
    st.tuples(st.just("trim"), st.sampled_from(["MAXLEN", "MINID"]), st.booleans(),
              st.integers(0, 60)),
    st.tuples(st.just("group"), st.integers(0, 3), st.sampled_from(["0", "$", "mid"])),
    st.tuples(st.just("claim"), st.integers(0, 3), st.integers(0, 2), st.integers(0, 200),
              st.integers(0, 5)),
    st.tuples(st.just("ack"), st.integers(0, 3), st.integers(0, 200)),
    st.tuples(st.just("consumer"), st.integers(0, 3), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("reload")),
)


@settings(max_examples=int(__import__("os").environ.get("E3_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(ops=st.lists(_OPS, min_size=1, max_size=int(__import__("os").environ.get("E3_OPS", "40"))),
       node_entries=st.sampled_from([3, 10, 100]))
def test_random_histories_persist_as_in_redis(both, redis_ref, node_srv, ops, node_entries):
    """Random stream histories on both servers (explicit IDs and times, so
    both hold the same), DEBUG RELOAD along the way: every reply agrees,
    and at the end the DUMP payloads hold the same stream, XINFO STREAM
    (node layout included) and the digests agree."""
    both.check("FLUSHALL")
    both.check("CONFIG", "SET", "stream-node-max-entries", str(node_entries))
    added = []
    ms = 1
    for op in ops:
        kind = op[0]
        if kind == "xadd":
            _, step, seq_step, nfields, value = op
            ms += step
            seq = 0 if step else (added[-1][1] + 1 + seq_step if added else seq_step)
            if added and (ms, seq) <= added[-1]:
                seq = added[-1][1] + 1
            fields = []
            for i in range(nfields):
                fields += ["f%d" % (i if value != "12" else i + 1), value]
            both.check("XADD", "s", "%d-%d" % (ms, seq), *fields)
            added.append((ms, seq))
        elif kind == "xdel" and added:
            both.check("XDEL", "s", "%d-%d" % added[op[1] % len(added)])
        elif kind == "trim":
            _, how, approx, n = op
            arg = str(n) if how == "MAXLEN" else "%d-0" % (n // 4)
            both.check("XTRIM", "s", how, *(["~"] if approx else []), arg)
        elif kind == "group":
            _, g, start = op
            if start == "mid":
                start = "%d-%d" % added[len(added) // 2] if added else "0"
            both.check("XGROUP", "CREATE", "s", "g%d" % g, start, "MKSTREAM")
        elif kind == "claim" and added:
            _, g, c, i, count = op
            both.check("XCLAIM", "s", "g%d" % g, "c%d" % c, "0", "%d-%d" % added[i % len(added)],
                       "TIME", "1000", "RETRYCOUNT", str(count), "FORCE", "JUSTID")
        elif kind == "ack" and added:
            both.check("XACK", "s", "g%d" % op[1], "%d-%d" % added[op[2] % len(added)])
        elif kind == "consumer":
            _, g, c, create = op
            both.check("XGROUP", "CREATECONSUMER" if create else "DELCONSUMER", "s", "g%d" % g,
                       "c%d" % c)
        elif kind == "reload":
            both.check("DEBUG", "RELOAD")
    both.check("EXISTS", "s")
    r, n = client(redis_ref.port), client(node_srv.port)
    if not r.exists("s"):
        return
    both.check("XINFO", "STREAM", "s")
    both.check("XRANGE", "s", "-", "+")
    both.check("DEBUG", "DIGEST-VALUE", "s")
    assert _model_of(n.dump("s")) == _model_of(r.dump("s"))
    both.check("DEBUG", "RELOAD")
    both.check("XINFO", "STREAM", "s")
    assert _model_of(n.dump("s")) == _model_of(r.dump("s"))
    # NodeNsync's payload in redis-server: the same stream, the same nodes.
    r.restore("from-node", 0, n.dump("s"))
    assert r.xinfo_stream("from-node") == r.xinfo_stream("s")
    r.xadd("from-node", {"z": 1}, id="99999-0")
    r.xadd("s", {"z": 1}, id="99999-0")
    assert r.xinfo_stream("from-node") == r.xinfo_stream("s")


def test_generic_key_commands_on_streams(both):
    both.check("XADD", "s", "1-1", "a", "b")
    both.check("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM")
    both.check("SET", "str", "v")
    both.check("TYPE", "s")
    both.check("TYPE", "e")
    both.check("OBJECT", "ENCODING", "e")
    both.check("SCAN", "0", "TYPE", "stream", "COUNT", "100", unordered=True)
    both.check("RENAME", "s", "s2")
    both.check("MOVE", "s2", "3")
    both.check("SELECT", "3")
    both.check("XRANGE", "s2", "-", "+")
    both.check("COPY", "s2", "s3", "DB", "0")
    both.check("SELECT", "0")
    both.check("XRANGE", "s3", "-", "+")
    both.check("COPY", "e", "s3")                      # no REPLACE: 0
    both.check("COPY", "e", "s3", "REPLACE")
    both.check("XINFO", "GROUPS", "s3")
    both.check("PEXPIRE", "s3", "100000")
    both.check("DEBUG", "RELOAD")
    both.check("PTTL", "s3", compare=False)
    both.check("XINFO", "STREAM", "s3")
    both.check("DEBUG", "DIGEST")
    both.check("SWAPDB", "0", "3")
    both.check("DEBUG", "DIGEST")
    both.check("FLUSHALL", "ASYNC")
    both.check("DBSIZE")


def test_redis_6_rdb_file_with_streams_loads(r, tmp_path):
    """A whole RDB file of Redis 6.2 (version 9, STREAM_LISTPACKS values):
    NodeNsync starts from it with the streams Redis 7.0 makes of the same
    values (their consumer groups' entries-read inferred)."""
    _groups(r)
    r.rename("s", "groups")
    _tombstones(r)
    r.rename("s", "tombstones")
    body = b""
    for key in (b"groups", b"tombstones"):
        payload = _v1_payload(rdb.load_payload(r.dump(key)))
        r.restore(b"v1:" + key, 0, payload)
        body += payload[:1] + rdb.encode_string(key) + payload[1:-10]
    data = b"REDIS0009" + b"\xfe\x00" + body + b"\xff"
    data += crc64(data).to_bytes(8, "little")
    (tmp_path / "dump.rdb").write_bytes(data)
    s = NodeServer("--save", "", "--dbfilename", "dump.rdb", data_dir=str(tmp_path))
    try:
        c = client(s.port)
        for key in (b"groups", b"tombstones"):
            r.restore(b"back:" + key, 0, c.dump(key))
            assert _full(r, b"back:" + key) == _full(r, b"v1:" + key)
    finally:
        s.cleanup()


def test_debug_object_serializedlength(both, redis_ref, node_srv):
    _xadds(both, "s", 300)
    both.check("XGROUP", "CREATE", "s", "g", "0")
    both.check("XCLAIM", "s", "g", "c", "0", "1000-0", "TIME", "5", "FORCE", "JUSTID")
    lines = [client(port).execute_command("DEBUG", "OBJECT", "s")
             for port in (node_srv.port, redis_ref.port)]
    fields = []
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode()
        if isinstance(line, dict):
            line = " ".join("%s:%s" % (k.decode() if isinstance(k, bytes) else k,
                                       v.decode() if isinstance(v, bytes) else v)
                            for k, v in line.items())
        fields.append(dict(kv.split(":", 1) for kv in line.split() if ":" in kv))
    assert fields[0]["encoding"] == fields[1]["encoding"] == "stream"
    assert fields[0]["serializedlength"] == fields[1]["serializedlength"]
