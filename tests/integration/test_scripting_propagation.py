"""What scripts and functions propagate (Redis 7: their effects, not the
script): a NodeNsync master (AOF on) runs scripts with random and
non-deterministic writes, with a real redis-server replica and a NodeNsync
replica attached; both replicas, and the master restarted from its AOF,
must then hold exactly the master's dataset."""
from persistence_support import (assert_same, client, master_with_replicas, snapshot,
                                 wait_caught_up, wait_for)
from servers import RawClient

SCRIPTS = [
    # several writes: one MULTI/EXEC block
    ("redis.call('set', KEYS[1], ARGV[1]) redis.call('incr', KEYS[2]) "
     "redis.call('rpush', KEYS[3], 'a', 'b') return 1", ["s:a", "s:n", "s:l"], ["v1"]),
    # random values: the replicas get what the master wrote
    ("local v = math.random(1000000) redis.call('set', KEYS[1], v) "
     "redis.call('hset', KEYS[2], 'f', tostring(math.random())) return v",
     ["s:rand", "s:h"], []),
    # SPOP inside a script
    ("for i = 1, 50 do redis.call('sadd', KEYS[1], i) end "
     "redis.call('spop', KEYS[1], 10) return redis.call('spop', KEYS[1])", ["s:set"], []),
    # no writes: nothing propagated
    ("return redis.call('get', KEYS[1])", ["s:a"], []),
    # a failing command after a write: the write stays
    ("redis.call('set', KEYS[1], 'x') return redis.pcall('incr', KEYS[1])", ["s:x"], []),
    # SELECT inside a script: the rest of the script in db 3
    ("redis.call('set', KEYS[1], 'db0') redis.call('select', 3) "
     "redis.call('set', KEYS[1], 'db3') return 1", ["s:sel"], []),
    # relative expiry: propagated as an absolute time
    ("redis.call('set', KEYS[1], 'e', 'EX', 1000) redis.call('expire', KEYS[2], 500) "
     "return 1", ["s:ex", "s:a"], []),
    # a write kept from the AOF and the replicas by redis.set_repl
    ("redis.set_repl(redis.REPL_NONE) redis.call('set', KEYS[1], 'hidden') "
     "redis.set_repl(redis.REPL_ALL) redis.call('del', KEYS[1]) return 1", ["s:hidden"], []),
    # one write: alone
    ("return redis.call('lpush', KEYS[1], 'one')", ["s:one"], []),
    # shebang flags
    ("#!lua flags=allow-oom\nreturn redis.call('set', KEYS[1], 'flagged')", ["s:flag"], []),
]


def test_script_effects_reach_replicas_and_aof(server_factory, redis_factory):
    m, ref, rep = master_with_replicas(server_factory, redis_factory)
    c = RawClient(m.port)
    try:
        for body, keys, args in SCRIPTS:
            reply = c.call_raw("EVAL", body, str(len(keys)), *keys, *args)
            assert not reply.startswith(b"-") or b"not an integer" in reply, (body, reply)
        sha = c.call("SCRIPT", "LOAD", SCRIPTS[0][0])
        assert c.call_raw("EVALSHA", sha, "3", "t:a", "t:n", "t:l", "v2") == b":1\r\n"
        # A script inside MULTI: part of the transaction's block.
        c.call_raw("MULTI")
        c.call_raw("SET", "m:1", "x")
        c.call_raw("EVAL", SCRIPTS[0][0], "3", "m:a", "m:n", "m:l", "v3")
        c.call_raw("EVAL", SCRIPTS[1][0], "2", "m:rand", "m:h")
        assert c.call_raw("EXEC").startswith(b"*3\r\n")
        # A function (FUNCTION LOAD is propagated, its FCALL's effects too).
        lib = ("#!lua name=plib\nredis.register_function('bump', function(keys, args) "
               "redis.call('incrby', keys[1], args[1]) "
               "return redis.call('set', keys[2], math.random(1000)) end)")
        assert c.call("FUNCTION", "LOAD", lib) == b"plib"
        assert c.call_raw("FCALL", "bump", "2", "f:n", "f:r", "5") == b"+OK\r\n"
        assert c.call_raw("FCALL", "bump", "2", "f:n", "f:r", "7") == b"+OK\r\n"
    finally:
        c.close()
    wait_caught_up(m, (ref, rep))
    data = snapshot(m.port)
    assert data[0][b"s:a"][1] == b"v1" and data[3][b"s:sel"][1] == b"db3"
    assert b"s:hidden" not in data[0]
    assert_same(data, snapshot(ref.port))
    assert_same(data, snapshot(rep.port))
    for r in (ref, rep):      # the library reached both replicas
        libs = client(r.port).execute_command("FUNCTION", "LIST")
        assert len(libs) == 1, libs
    m.restart()
    assert_same(data, snapshot(m.port))
    assert len(client(m.port).execute_command("FUNCTION", "LIST")) == 1


def test_functions_in_a_full_resync(server_factory, redis_factory):
    """Libraries loaded before a replica attaches travel in the full resync's
    RDB, to a NodeNsync replica and a redis-server replica, and the other
    way from a redis-server master."""
    lib = ("#!lua name=synclib\nredis.register_function('twice', function(keys, args) "
           "return redis.call('set', keys[1], args[1] .. args[1]) end)")
    m = server_factory("--save", "")
    assert client(m.port).execute_command("FUNCTION", "LOAD", lib) == b"synclib"
    ref = redis_factory("--replicaof", "127.0.0.1", str(m.port))
    rep = server_factory("--replicaof", "127.0.0.1:%d" % m.port, "--save", "")
    for r in (ref, rep):
        wait_for(lambda: client(r.port).info("replication")["master_link_status"] == "up",
                 what="replica link")
        wait_for(lambda: len(client(r.port).execute_command("FUNCTION", "LIST")) == 1,
                 what="library on the replica")
    # and from a redis-server master to a NodeNsync replica
    rm = redis_factory()
    client(rm.port).execute_command("FUNCTION", "LOAD", lib)
    rep2 = server_factory("--replicaof", "127.0.0.1:%d" % rm.port, "--save", "")
    wait_for(lambda: client(rep2.port).info("replication")["master_link_status"] == "up",
             what="replica link")
    wait_for(lambda: len(client(rep2.port).execute_command("FUNCTION", "LIST")) == 1,
             what="library on the replica")
    client(rm.port).execute_command("FCALL", "twice", 1, "k", "ab")
    wait_for(lambda: client(rep2.port).get("k") == b"abab", what="FCALL's effect")
