"""Small hashes and sets are stored packed (storage/compact.py): they must
come back from an RDB (SAVE + restart), an AOF rewrite and a replica's full
sync with the same content, TTL and OBJECT ENCODING."""
import shutil

from servers import temp_dir
from persistence_support import client, snapshot, assert_same, wait_for, wait_idle, raw


def _fill(c):
    c.hset("h:small", mapping={"a": "1", "b": "2", "\x00": "\xff"})
    c.hset("h:long", mapping={"f": "v" * 65})                  # past hash-max-listpack-value
    c.hset("h:many", mapping={"f%d" % i: i for i in range(600)})
    c.hset("h:mid", mapping={"f%d" % i: i for i in range(200)})  # a dict, listpack to Redis
    c.sadd("s:int", 1, -2, 9223372036854775807, -9223372036854775808)
    c.sadd("s:str", "a", "b", "\x00")
    c.sadd("s:mixed", 1, 2, "x")
    c.sadd("s:bigint", *range(600))
    c.hset("h:ttl", "f", "v")
    c.sadd("s:ttl", 5)
    c.pexpire("h:ttl", 3600 * 1000)
    c.pexpire("s:ttl", 3600 * 1000)


KEYS = ["h:small", "h:long", "h:many", "h:mid", "s:int", "s:str", "s:mixed", "s:bigint",
        "h:ttl", "s:ttl"]


def _encodings(port):
    c = client(port)
    out = {k: c.object("encoding", k) for k in KEYS}
    c.close()
    return out


def test_packed_values_survive_save_and_restart(server_factory):
    s = server_factory("--save", "")
    _fill(client(s.port))
    before, enc = snapshot(s.port), _encodings(s.port)
    assert enc["h:small"] == b"listpack" and enc["s:int"] == b"intset"
    assert enc["h:many"] == b"hashtable" and enc["s:bigint"] == b"hashtable"
    assert client(s.port).save() is True
    s.kill9()
    s.start()
    assert_same(before, snapshot(s.port))
    assert _encodings(s.port) == enc


def test_packed_values_survive_an_aof_rewrite(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    _fill(client(s.port))
    before, enc = snapshot(s.port), _encodings(s.port)
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    wait_idle(s.port)
    client(s.port).sadd("s:int", 7)                # after the rewrite: in the incr file
    before = snapshot(s.port)
    s.kill9()
    s.start()
    assert_same(before, snapshot(s.port))
    assert _encodings(s.port) == enc


def test_rdb_of_packed_values_loads_in_redis(server_factory, redis_factory):
    """The RDB written from packed values is one redis-server loads, with
    the same encodings."""
    s = server_factory("--save", "")
    _fill(client(s.port))
    before, enc = snapshot(s.port), _encodings(s.port)
    assert client(s.port).save() is True
    d = temp_dir("compact-rdb-")
    try:
        shutil.copy(s.dir + "/dump.rdb", d)
        r = redis_factory("--dbfilename", "dump.rdb", data_dir=d)
        assert_same(before, snapshot(r.port))
        # h:mid is a dict here (past the packed form's 128-field cap) but
        # within Redis's 512: both say listpack.
        assert _encodings(r.port) == enc
        r.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_packed_values_reach_a_replica_by_full_sync(server_factory):
    m = server_factory("--save", "", "--repl-diskless-sync-delay", "0")
    _fill(client(m.port))
    before, enc = snapshot(m.port), _encodings(m.port)
    r = server_factory("--save", "", "--replicaof", "127.0.0.1 %d" % m.port)
    wait_for(lambda: client(r.port).info("replication")["master_link_status"] == "up",
             what="replica link up")
    assert_same(before, snapshot(r.port))
    assert _encodings(r.port) == enc
    client(m.port).hset("h:small", "c", "3")        # the stream re-packs on the replica
    client(m.port).srem("s:int", 1)
    wait_for(lambda: client(r.port).hget("h:small", "c") == b"3", what="replicated HSET")
    wait_for(lambda: not client(r.port).sismember("s:int", 1), what="replicated SREM")
    assert _encodings(r.port) == enc
