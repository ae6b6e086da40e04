"""Functions survive restarts (RDB and AOF, with and without the RDB
preamble) and travel in RDB files both ways between NodeNsync and
redis-server 7.0.15 (RDB_OPCODE_FUNCTION2 records)."""
import os
import shutil

import pytest

from persistence_support import client

LIB = ("#!lua name=plib\n"
       "local function bump(k, by) return redis.call('incrby', k, by) end\n"
       "redis.register_function('bump', function(keys, args) return bump(keys[1], args[1]) end)\n"
       "redis.register_function{function_name='peek', callback=function(keys) "
       "return redis.call('get', keys[1]) end, flags={'no-writes'}, description='read it'}\n"
       "-- a long comment, so that the library is LZF-compressed in the RDB file ........\n")


def _libraries(port):
    """FUNCTION LIST WITHCODE, libraries and functions sorted by name (their
    order is a hash table's in Redis)."""
    libs = client(port).execute_command("FUNCTION", "LIST", "WITHCODE")
    for lib in libs:
        lib[b"functions"] = sorted(lib[b"functions"], key=lambda f: f[b"name"])
    return sorted(libs, key=lambda lib: lib[b"library_name"])


def _exercise(port):
    c = client(port)
    assert c.execute_command("FCALL", "bump", 1, "n", 5) == 5
    assert c.execute_command("FCALL_RO", "peek", 1, "n") == b"5"


@pytest.mark.parametrize("mode", ["rdb", "aof-preamble", "aof-plain"])
def test_functions_survive_restart(server_factory, mode):
    args = {"rdb": ["--save", ""],
            "aof-preamble": ["--save", "", "--appendonly", "yes"],
            "aof-plain": ["--save", "", "--appendonly", "yes", "--aof-use-rdb-preamble", "no"]}
    s = server_factory(*args[mode])
    c = client(s.port)
    assert c.execute_command("FUNCTION", "LOAD", LIB) == b"plib"
    if mode == "rdb":
        c.save()
    else:
        c.execute_command("BGREWRITEAOF")      # the base then holds the library
        import time
        for _ in range(200):
            if client(s.port).info("persistence")["aof_rewrite_in_progress"] == 0:
                break
            time.sleep(0.05)
    before = _libraries(s.port)
    s.restart()
    assert _libraries(s.port) == before
    _exercise(s.port)


def test_redis_loads_our_functions(server_factory, redis_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.set("k", "v")
    c.save()
    d = os.path.join(s.dir, "for-redis")
    os.makedirs(d)
    shutil.copy2(os.path.join(s.dir, "dump.rdb"), os.path.join(d, "dump.rdb"))
    r = redis_factory("--dbfilename", "dump.rdb", data_dir=d)
    assert _libraries(r.port) == _libraries(s.port)
    assert client(r.port).get("k") == b"v"
    _exercise(r.port)


def test_we_load_redis_functions(server_factory, redis_factory):
    r = redis_factory()
    c = client(r.port)
    c.execute_command("FUNCTION", "LOAD", LIB)
    c.execute_command("FUNCTION", "LOAD", "#!lua name=other\n"
                      "redis.register_function('one', function() return 1 end)")
    c.save()
    node_dir = os.path.join(r.dir, "node")
    os.makedirs(node_dir)
    shutil.copy2(os.path.join(r.dir, "dump.rdb"), os.path.join(node_dir, "dump.rdb"))
    s = server_factory("--save", "", data_dir=node_dir)
    assert _libraries(s.port) == _libraries(r.port)
    _exercise(s.port)
    assert client(s.port).execute_command("FCALL", "one", 0) == 1
