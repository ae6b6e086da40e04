"""REPLCONF rdb-filter-only: `redis-cli --functions-rdb` gets a snapshot
with the functions and no keys, `redis-cli --rdb` the whole one, from
NodeNsync as from redis-server; the files load into a real redis-server;
REPLCONF's errors compared with Redis's."""
import os
import shutil
import subprocess

import pytest

from servers import RawClient, RedisServer, temp_dir

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None or
                                shutil.which("redis-cli") is None,
                                reason="redis-server and redis-cli are needed")

LIB = "#!lua name=lib1\nredis.register_function('func1', function() return 123 end)"


def _fill(port):
    c = RawClient(port)
    try:
        c.call("FLUSHALL")
        c.call("FUNCTION", "FLUSH")
        assert c.call("DEBUG", "POPULATE", "1000", "key", "100") in (b"OK", "OK")
        assert c.call("FUNCTION", "LOAD", LIB) == b"lib1"
    finally:
        c.close()


def _dump(port, option, path):
    r = subprocess.run(["redis-cli", "-p", str(port), option, path], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "Transfer finished with success" in r.stdout + r.stderr, \
        r.stdout + r.stderr
    return path


def _loaded(path):
    """(DBSIZE, FUNCTION LIST's library names) of a redis-server started on
    the file."""
    d = temp_dir("rdbfilter-load-")
    shutil.copy(path, os.path.join(d, "dump.rdb"))
    s = RedisServer("--dbfilename", "dump.rdb", data_dir=d)
    try:
        c = RawClient(s.port)
        size = c.call("DBSIZE")
        libs = sorted(entry[1] for entry in c.call("FUNCTION", "LIST"))
        c.close()
        return size, libs
    finally:
        s.cleanup()
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("diskless", ["no", "yes"])
def test_functions_rdb_and_rdb_like_redis(server_factory, redis_factory, diskless):
    node = server_factory("--replDisklessSync", diskless, "--replDisklessSyncDelay", "0",
                          "--enable-debug-command", "yes")
    ref = redis_factory("--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0",
                        "--enable-debug-command", "yes")
    out = temp_dir("rdbfilter-")
    try:
        for name, server in (("node", node), ("ref", ref)):
            _fill(server.port)
            fn = _dump(server.port, "--functions-rdb", os.path.join(out, name + "-fn.rdb"))
            assert _loaded(fn) == (0, [b"lib1"]), name
            full = _dump(server.port, "--rdb", os.path.join(out, name + "-full.rdb"))
            assert _loaded(full) == (1000, [b"lib1"]), name
            # (the node stays a plain master: neither dump left a replica)
            c = RawClient(server.port)
            assert b"connected_slaves:0" in c.call("INFO", "replication")
            c.close()
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_replconf_rdb_filter_only_errors_like_redis(node_server, redis_server):
    for port in (node_server.port, redis_server.port):
        c = RawClient(port)
        try:
            got = [c.call_raw(*cmd) for cmd in [
                ("REPLCONF", "rdb-filter-only", "foo"),
                ("REPLCONF", "rdb-filter-only", "functions bar"),
                ("REPLCONF", "rdb-filter-only", "'functions"),
                ("REPLCONF", "rdb-filter-only", ""),
                ("REPLCONF", "rdb-filter-only", "FUNCTIONS"),
                ("REPLCONF", "rdb-filter-only"),
                ("PSYNC", "?", "-1"),      # filtered, without capa eof
            ]]
        finally:
            c.close()
        if port == node_server.port:
            node_got = got
        else:
            assert node_got == got
    assert node_got[0] == b"-ERR Unsupported rdb-filter-only option: foo\r\n"
    assert node_got[-1] == b"-ERR Filtered replica requires EOF capability\r\n"
