"""Persistence end to end on real processes: SAVE/BGSAVE/AOF round trips
through restarts, command replies and error texts (checked against
redis-server where they can differ), loading, shutdown, save policy."""
import os
import signal
import subprocess
import time

import pytest
import redis

from persistence_support import (client, info, populate, snapshot, assert_same, wait_for,
                                 wait_idle, raw, children)


def _aofdir(s):
    return os.path.join(s.dir, "appendonlydir")


def _check_aof(s):
    out = subprocess.run(["redis-check-aof", os.path.join(_aofdir(s), "appendonly.aof.manifest")],
                         capture_output=True, text=True, timeout=60)
    assert "All AOF files and manifest are valid" in out.stdout, out.stdout + out.stderr


def _check_rdb(path):
    out = subprocess.run(["redis-check-rdb", path], capture_output=True, text=True, timeout=60)
    assert "RDB looks OK" in out.stdout, out.stdout + out.stderr


# -- round trips ------------------------------------------------------------------------
def test_save_then_restart_keeps_every_type(server_factory):
    s = server_factory("--save", "")
    populate(s.port)
    before = snapshot(s.port)
    assert client(s.port).save() is True
    _check_rdb(os.path.join(s.dir, "dump.rdb"))
    s.kill9()                                  # no shutdown save: the SAVE file is what loads
    s.start()
    assert_same(before, snapshot(s.port))
    i = info(s.port)
    assert i["rdb_changes_since_last_save"] == "0"
    assert int(i["rdb_last_load_keys_loaded"]) == sum(len(d) for d in before.values())


def test_bgsave_then_restart(server_factory):
    s = server_factory("--save", "")
    populate(s.port, seed=2)
    before = snapshot(s.port)
    c = client(s.port)
    last = c.lastsave()
    assert raw(s.port, "BGSAVE") == b"Background saving started"
    wait_idle(s.port)
    i = info(s.port)
    assert i["rdb_last_bgsave_status"] == "ok" and i["rdb_saves"] == "1"
    assert c.lastsave() >= last
    c.set("after-bgsave", "not in the snapshot")
    s.kill9()
    s.start()
    assert_same(before, snapshot(s.port))


def test_aof_restart_replays_every_write(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    populate(s.port, seed=3, big=False)
    c = client(s.port)
    c.incrbyfloat("flt", 1.5)
    c.lpush("lst", "x", "y")
    c.rpop("lst")
    c.zincrby("zs", 2, "m")
    c.expire("db0:str", 5000)
    c.persist("db0:ttl")
    c.delete("db0:hbig")
    c.select(5) if hasattr(c, "select") else None
    client(s.port, 5).set("five", "5")
    client(s.port, 5).flushdb()
    client(s.port, 6).set("six", "6")
    before = snapshot(s.port)
    s.kill9()
    _check_aof(s)
    s.start()
    assert_same(before, snapshot(s.port))
    assert info(s.port)["aof_enabled"] == "1"


def test_aof_rewrite_with_writes_during_it(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes", "--rdbKeySaveDelay", "200")
    populate(s.port, seed=4, big=False)
    c = client(s.port)
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    assert info(s.port)["aof_rewrite_in_progress"] == "1"
    assert raw(s.port, "BGREWRITEAOF") == (
        "ERR Background append only file rewriting already in progress")
    for i in range(200):
        c.set("during:%d" % i, i)
        c.incr("during-counter")
    wait_idle(s.port, timeout=120)
    i = info(s.port)
    assert i["aof_last_bgrewrite_status"] == "ok" and i["aof_rewrites"] == "1"
    names = sorted(os.listdir(_aofdir(s)))
    assert names == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof",
                     "appendonly.aof.manifest"], names
    before = snapshot(s.port)
    s.kill9()
    _check_aof(s)
    s.start()
    assert_same(before, snapshot(s.port))
    assert client(s.port).get("during-counter") == b"200"


def test_aof_rewrite_without_rdb_preamble(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes", "--aofUseRdbPreamble", "no")
    populate(s.port, seed=5, big=False)
    raw(s.port, "BGREWRITEAOF")
    wait_idle(s.port)
    assert "appendonly.aof.2.base.aof" in os.listdir(_aofdir(s))
    before = snapshot(s.port)
    s.kill9()
    _check_aof(s)
    s.start()
    assert_same(before, snapshot(s.port))


def test_appendonly_turned_on_at_run_time(server_factory):
    s = server_factory("--save", "")
    populate(s.port, seed=6, big=False)
    c = client(s.port)
    assert c.config_set("appendonly", "yes")
    c.set("while-enabling", "1")
    wait_for(lambda: info(s.port)["aof_enabled"] == "1" and
             info(s.port)["aof_rewrite_in_progress"] == "0", what="AOF on")
    wait_idle(s.port)
    c.set("after-enabling", "2")
    before = snapshot(s.port)
    s.kill9()
    _check_aof(s)
    s.args = ["--save", "", "--appendonly", "yes"]
    s.start()
    assert_same(before, snapshot(s.port))
    client(s.port).config_set("appendonly", "no")
    assert info(s.port)["aof_enabled"] == "0"


def test_aof_preferred_over_rdb_and_rdb_used_when_no_aof_yet(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    c.set("k", "from-rdb")
    c.save()
    s.kill9()
    s.args = ["--save", "", "--appendonly", "yes"]
    s.start()                                  # no AOF yet: the RDB is loaded, a base is made
    c = client(s.port)
    assert c.get("k") == b"from-rdb"
    c.set("k", "from-aof")
    s.kill9()
    s.start()
    assert client(s.port).get("k") == b"from-aof"


# -- replies --------------------------------------------------------------------------------
def test_background_command_replies(server_factory):
    s = server_factory("--save", "", "--rdbKeySaveDelay", "2000")
    c = client(s.port)
    c.mset({"k%d" % i: i for i in range(300)})
    assert raw(s.port, "BGSAVE") == b"Background saving started"
    busy = "ERR Background save already in progress"
    assert raw(s.port, "BGSAVE") == busy
    assert raw(s.port, "BGSAVE", "SCHEDULE") == busy
    assert raw(s.port, "SAVE") == busy
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting scheduled"
    i = info(s.port)
    assert i["rdb_bgsave_in_progress"] == "1" and i["aof_rewrite_scheduled"] == "1"
    assert int(i["rdb_current_bgsave_time_sec"]) >= 0
    c.config_set("rdb-key-save-delay", 0)
    os.kill(int(_child_pid(s)), signal.SIGUSR1)      # Redis's way to stop a save: not an error
    wait_for(lambda: info(s.port)["aof_rewrite_in_progress"] == "1"
             or info(s.port)["aof_rewrites"] == "1", what="scheduled rewrite to start")
    wait_idle(s.port)
    c = client(s.port)
    assert info(s.port)["rdb_last_bgsave_status"] == "ok"
    assert raw(s.port, "BGSAVE", "NOW") == "ERR syntax error"
    assert raw(s.port, "SAVE") == b"OK"


def _child_pid(s):
    return wait_for(lambda: children(s.pid), what="save child")[0]


def test_bgsave_schedule_while_rewriting(server_factory):
    s = server_factory("--save", "", "--rdbKeySaveDelay", "1000")
    c = client(s.port)
    c.mset({"k%d" % i: i for i in range(500)})
    assert raw(s.port, "BGREWRITEAOF") == b"Background append only file rewriting started"
    assert raw(s.port, "BGSAVE") == (
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE "
        "SCHEDULE in order to schedule a BGSAVE whenever possible.")
    assert raw(s.port, "BGSAVE", "SCHEDULE") == b"Background saving scheduled"
    c.config_set("rdb-key-save-delay", 0)
    wait_for(lambda: info(s.port)["rdb_saves"] == "1", timeout=60, what="scheduled BGSAVE")
    assert os.path.exists(os.path.join(s.dir, "dump.rdb"))


def test_info_persistence_fields_match_redis(server_factory, redis_server):
    s = server_factory("--save", "")
    ours = list(info(s.port))
    theirs = list(info(redis_server.port))
    assert ours == theirs
    client(s.port).config_set("appendonly", "yes")
    wait_idle(s.port)
    ref = client(redis_server.port)
    ref.config_set("appendonly", "yes")
    try:
        wait_for(lambda: info(redis_server.port)["aof_rewrite_in_progress"] == "0", what="redis aof")
        assert list(info(s.port)) == list(info(redis_server.port))
    finally:
        ref.config_set("appendonly", "no")


def test_settings_like_redis(server_factory, redis_server):
    s = server_factory()
    c, ref = client(s.port), client(redis_server.port)
    assert c.config_get("save") == {"save": "3600 1 300 100 60 10000"}
    for name in ("appendonly", "appendfsync", "appendfilename", "appenddirname", "dbfilename",
                 "rdbcompression", "rdbchecksum", "stop-writes-on-bgsave-error",
                 "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
                 "aof-load-truncated", "aof-use-rdb-preamble"):
        assert c.config_get(name) == ref.config_get(name), name
    for bad in ("1", "a 1", "-1 5"):
        with pytest.raises(redis.ResponseError) as a:
            c.config_set("save", bad)
        with pytest.raises(redis.ResponseError) as b:
            ref.config_set("save", bad)
        assert str(a.value) == str(b.value)
    assert c.config_set("save", "") and c.config_get("save") == {"save": ""}
    assert c.config_set("save", "100 1 10 5") and c.config_get("save") == {"save": "100 1 10 5"}


@pytest.mark.parametrize("args", [
    ("RESTORE", "k", "0", "garbage"), ("RESTORE", "k", "-1", "x"), ("RESTORE", "k", "x", "x"),
    ("RESTORE", "k", "0", "x", "FOO"), ("RESTORE", "k", "0", "x", "IDLETIME", "-1"),
    ("RESTORE", "k", "0", "x", "FREQ", "256"), ("RESTORE", "k", "0", "x", "FREQ", "1", "IDLETIME", "1"),
    ("RESTORE", "k"), ("DUMP", "nokey"), ("DUMP",), ("LASTSAVE", "x"), ("SAVE", "x"),
    ("BGREWRITEAOF", "x"),
])
def test_error_replies_match_redis(diff, args):
    diff.check(*args)


def test_dump_restore_semantics_match_redis(diff):
    diff.check("SET", "s", "hello world hello world hello world")
    diff.check("RPUSH", "l", "a", "1", "b")
    diff.check("HSET", "h", "f", "v", "n", "12")
    diff.check("ZADD", "z", "1.5", "a", "2", "b")
    diff.check("SADD", "si", "1", "2", "3")
    for key in ("s", "l", "h", "z", "si"):
        payload = diff.check("DUMP", key)            # byte-identical payloads
        body = diff.node.call("DUMP", key)
        diff.check("RESTORE", key, "0", body)        # BUSYKEY
        diff.check("RESTORE", key + "2", "0", body)
        diff.check("RESTORE", key + "2", "0", body, "REPLACE", "IDLETIME", "5")
        diff.check("RESTORE", key + "3", "1", body, "ABSTTL")   # expired on arrival
        diff.check("EXISTS", key + "3")
        diff.check("RESTORE", key + "4", "100000", body, "FREQ", "3")
        assert 0 < diff.node.call("PTTL", key + "4") <= 100000
        assert payload
    diff.check("LRANGE", "l2", "0", "-1")
    diff.check("ZRANGE", "z2", "0", "-1", "WITHSCORES")
    diff.check("HGETALL", "h2")
    diff.check("RESTORE", "h", "0", diff.node.call("DUMP", "s"), "REPLACE")
    diff.check("TYPE", "h")


def test_restore_propagates_absolute_ttl(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    c.set("src", "v")
    payload = c.dump("src")
    c.restore("dst", 50000, payload)
    ttl_before = c.pttl("dst")
    time.sleep(1.2)
    s.kill9()
    s.start()
    ttl_after = client(s.port).pttl("dst")
    assert 0 < ttl_after <= ttl_before - 1000      # absolute time was logged, not "50000"


def test_a_write_logged_before_the_aof_was_on_is_not_logged_later(server_factory):
    """SET ... EX asks to be logged as SET ... PXAT.  Run by the client
    loop while nothing is logged, that request is left unread; the same
    client's next write, once the AOF is on, must be logged as itself
    (here SWAPDB, which asks nothing), not as the SET."""
    from servers import RawClient
    s = server_factory("--save", "")
    a = RawClient(s.port)
    assert a.call("SET", "k", "v", "EX", "1000") == b"OK"
    admin = client(s.port)
    assert admin.config_set("appendonly", "yes")
    wait_for(lambda: info(s.port)["aof_enabled"] == "1" and
             info(s.port)["aof_rewrite_in_progress"] == "0", what="AOF on")
    wait_idle(s.port)
    assert a.call("SWAPDB", "0", "1") == b"OK"
    before = snapshot(s.port)
    a.close()
    s.kill9()
    s.args = ["--save", "", "--appendonly", "yes"]
    s.start()
    assert_same(before, snapshot(s.port))
    assert client(s.port, db=1).get("k") == b"v"


# -- loading, shutdown, policy -------------------------------------------------------------
def test_loading_replies_while_loading(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    c.mset({"k%d" % i: i for i in range(1500)})
    c.save()
    s.stop()
    s.args = ["--save", "", "--keyLoadDelay", "1000"]
    s.start(wait=False)
    raw = wait_for(lambda: _raw_conn(s.port), what="connection")
    try:
        raw.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert raw.recv(200) == b"-LOADING Redis is loading the dataset in memory\r\n"
        raw.sendall(b"*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n")
        data = b""
        deadline = time.monotonic() + 10
        while b"loading_eta_seconds" not in data and time.monotonic() < deadline:
            data += raw.recv(65536)
        assert b"loading:1" in data and b"loading_loaded_perc" in data
    finally:
        raw.close()
    wait_for(lambda: client(s.port).ping(), timeout=60, what="end of loading")
    assert client(s.port).dbsize() == 1500


def _raw_conn(port):
    import socket
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def test_shutdown_save_nosave_and_sigterm(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    c.set("a", "1")
    c.shutdown(nosave=True)
    s.proc.wait(10)
    assert not os.path.exists(os.path.join(s.dir, "dump.rdb"))
    s.start()
    assert client(s.port).dbsize() == 0
    client(s.port).set("a", "2")
    client(s.port).shutdown(save=True)
    s.proc.wait(10)
    s.args = []                                # default save points: SIGTERM saves
    s.start()
    assert client(s.port).get("a") == b"2"
    client(s.port).set("a", "3")
    assert s.stop(signal.SIGTERM) == 0
    s.start()
    assert client(s.port).get("a") == b"3"


def test_shutdown_refused_when_the_final_save_fails(server_factory):
    s = server_factory()
    c = client(s.port)
    c.set("a", "1")
    c.config_set("dbfilename", "no-such-dir-x")
    os.mkdir(os.path.join(s.dir, "no-such-dir-x"))   # a directory where the file should go
    with pytest.raises(redis.ResponseError, match="^Errors trying to SHUTDOWN. Check logs.$"):
        c.shutdown()
    assert c.ping()
    assert raw(s.port, "SAVE") == "ERR"
    c.config_set("dbfilename", "dump.rdb")
    c.shutdown()
    assert s.proc.wait(10) == 0


def test_expired_keys_are_deleted_in_the_aof(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    c.set("gone", "x", px=100)
    c.set("stays", "y")
    wait_for(lambda: c.exists("gone") == 0 and info(s.port, "stats")["expired_keys"] == "1")
    incr = [n for n in os.listdir(_aofdir(s)) if n.endswith(".incr.aof")][0]
    with open(os.path.join(_aofdir(s), incr), "rb") as f:
        data = f.read()
    assert b"*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n" in data
    s.kill9()
    s.start()
    c = client(s.port)
    assert c.exists("gone") == 0 and c.get("stays") == b"y"


def test_corrupt_rdb_stops_the_start(server_factory):
    s = server_factory("--save", "")
    c = client(s.port)
    c.mset({"k%d" % i: "v" * 50 for i in range(100)})
    c.save()
    s.kill9()
    path = os.path.join(s.dir, "dump.rdb")
    with open(path, "r+b") as f:
        f.seek(200)
        f.write(b"\xee\xee\xee\xee")
    with pytest.raises(RuntimeError, match="did not start"):
        s.start()
    log = s.log()
    assert "dump.rdb" in log and "offset" in log
    assert s.proc.returncode == 1
    with open(path, "r+b") as f:                        # truncated file: also refused
        f.truncate(100)
    with pytest.raises(RuntimeError):
        s.start()


def test_truncated_aof_tail(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    for i in range(50):
        c.set("k%d" % i, "v%d" % i)
    s.kill9()
    incr = os.path.join(_aofdir(s), "appendonly.aof.1.incr.aof")
    size = os.path.getsize(incr)
    with open(incr, "r+b") as f:
        f.truncate(size - 5)                           # the last SET is cut
    s.args = ["--save", "", "--appendonly", "yes", "--aofLoadTruncated", "no"]
    with pytest.raises(RuntimeError, match="did not start"):
        s.start()
    assert "aof-load-truncated" in s.log()
    s.args = ["--save", "", "--appendonly", "yes"]
    s.start()
    c = client(s.port)
    assert c.dbsize() == 49 and c.get("k48") == b"v48"
    assert "short read" in s.log()
    c.set("k49", "again")
    s.kill9()
    _check_aof(s)
    s.start()
    assert client(s.port).get("k49") == b"again"


def test_flushall_saves_the_empty_dataset(server_factory):
    s = server_factory()
    c = client(s.port)
    c.set("a", "1")
    c.save()
    c.flushall()
    assert info(s.port)["rdb_changes_since_last_save"] == "0"   # as Redis 7.0
    s.kill9()
    s.start()
    assert client(s.port).dbsize() == 0


def test_save_points_and_snapshot_interval(server_factory):
    s = server_factory("--save", "1 1")
    c = client(s.port)
    c.set("a", "1")
    wait_for(lambda: info(s.port)["rdb_saves"] == "1", timeout=10, what="save point BGSAVE")
    t = server_factory("--save", "", "--snapshotInterval", "1")
    c = client(t.port)
    time.sleep(1.5)
    assert info(t.port)["rdb_saves"] == "0"          # nothing changed: no snapshot
    c.set("b", "2")
    wait_for(lambda: info(t.port)["rdb_saves"] == "1", timeout=10, what="interval snapshot")
    assert os.path.exists(os.path.join(t.dir, "dump.rdb"))


# -- ops scripts ------------------------------------------------------------------------------
_SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "scripts")


def _script(name, *args):
    import sys
    return subprocess.run([sys.executable, os.path.join(_SCRIPTS, name)] + list(args),
                          capture_output=True, text=True, timeout=120)


def test_nodensync_save_script(server_factory):
    import resource
    s = server_factory("--save", "")
    c = client(s.port)
    c.mset({"k%d" % i: os.urandom(500) for i in range(200)})
    r = _script("nodensync-save", "-p", str(s.port), "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(s.dir, "dump.rdb")) and info(s.port)["rdb_saves"] == "1"
    assert _script("nodensync-save", "-p", str(s.port), "--foreground").returncode == 0
    assert _script("nodensync-save", "--help").returncode == 0
    assert _script("nodensync-save", "--nope").returncode == 1
    free = s.port + 1 if s.port < 65535 else s.port - 1
    assert _script("nodensync-save", "-p", str(free), "--io-timeout", "2").returncode == 2
    soft, hard = resource.prlimit(s.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(s.pid, resource.RLIMIT_FSIZE, (10000, hard))
    try:
        r = _script("nodensync-save", "-p", str(s.port), "--timeout", "60")
        assert r.returncode == 3, r.stderr
        assert _script("nodensync-save", "-p", str(s.port), "--foreground").returncode == 3
    finally:
        resource.prlimit(s.pid, resource.RLIMIT_FSIZE, (soft, hard))
    c.config_set("rdb-key-save-delay", 100000)
    r = _script("nodensync-save", "-p", str(s.port), "--timeout", "1")
    assert r.returncode == 4, r.stderr
    c.config_set("rdb-key-save-delay", 0)


def test_nodensync_backup_script(server_factory, tmp_path):
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    c.set("a", "1")
    dest = str(tmp_path / "backups")
    assert _script("nodensync-backup", "--data-dir", s.dir, "--dest", dest).returncode == 2
    c.save()
    for _ in range(3):
        r = _script("nodensync-backup", "--data-dir", s.dir, "--dest", dest, "--keep", "2",
                    "--aof", "--verify", "full")
        assert r.returncode == 0, r.stderr
        time.sleep(0.01)
    names = sorted(os.listdir(dest))
    assert len([n for n in names if n.endswith(".rdb")]) == 2
    assert len([n for n in names if n.endswith("-aof")]) == 2
    assert not [n for n in names if n.startswith(".")]
    newest = [n for n in names if n.endswith(".rdb")][-1]
    _check_rdb(os.path.join(dest, newest))
    aof_copy = os.path.join(dest, [n for n in names if n.endswith("-aof")][-1])
    out = subprocess.run(["redis-check-aof", os.path.join(aof_copy, "appendonly.aof.manifest")],
                         capture_output=True, text=True, timeout=60)
    assert "All AOF files and manifest are valid" in out.stdout, out.stdout
    with open(os.path.join(s.dir, "dump.rdb"), "r+b") as f:
        f.seek(30)
        f.write(b"\x00\x01\x02")
    r = _script("nodensync-backup", "--data-dir", s.dir, "--dest", dest)
    assert r.returncode == 3 and "checksum" in r.stderr
    assert len(os.listdir(dest)) == 4


def test_appendonly_enabled_while_a_bgsave_runs(server_factory):
    s = server_factory("--save", "", "--rdbKeySaveDelay", "2000")
    c = client(s.port)
    c.mset({"k%d" % i: i for i in range(300)})
    assert raw(s.port, "BGSAVE") == b"Background saving started"
    assert c.config_set("appendonly", "yes")               # the rewrite waits for the BGSAVE
    i = info(s.port)
    assert i["aof_enabled"] == "1" and i["aof_rewrite_scheduled"] == "1"
    for n in range(50):
        c.incr("waiting")                                    # in the base the rewrite writes
    c.config_set("rdb-key-save-delay", 0)
    wait_for(lambda: info(s.port)["aof_rewrites"] == "1", timeout=60, what="the first rewrite")
    wait_idle(s.port)
    c.incr("waiting")
    s.kill9()
    _check_aof(s)
    s.args = ["--save", "", "--appendonly", "yes"]
    s.start()
    c = client(s.port)
    assert c.get("waiting") == b"51" and c.dbsize() == 301


def test_automatic_aof_rewrite_on_growth(server_factory):
    s = server_factory("--save", "", "--appendonly", "yes", "--autoAofRewriteMinSize", "16kb",
                       "--autoAofRewritePercentage", "100")
    c = client(s.port)
    for i in range(400):
        c.set("k%d" % (i % 50), "x" * 100)              # the AOF grows, the data does not
    wait_for(lambda: int(info(s.port)["aof_rewrites"]) >= 1, timeout=20, what="automatic rewrite")
    # (the last writes may have grown the file past the threshold again: the
    # cron starts another rewrite, which a loaded machine runs later)
    wait_for(lambda: int(info(s.port)["aof_current_size"]) < 16 * 1024, timeout=20,
             what="the AOF rewritten under the threshold")
    wait_idle(s.port)
    i = info(s.port)
    assert int(i["aof_current_size"]) < 16 * 1024 and i["aof_last_bgrewrite_status"] == "ok"
    before = snapshot(s.port)
    s.kill9()
    _check_aof(s)
    s.start()
    assert_same(before, snapshot(s.port))


@pytest.mark.parametrize("garbage,word", [
    (b"*1\r\n$7\r\nNOTACMD\r\n", "Unknown command 'NOTACMD'"),
    (b"+OK\r\n", "Bad file format"),
])
def test_bad_aof_stops_the_start(server_factory, garbage, word):
    s = server_factory("--save", "", "--appendonly", "yes")
    client(s.port).set("a", "1")
    s.kill9()
    incr = os.path.join(_aofdir(s), "appendonly.aof.1.incr.aof")
    good = os.path.getsize(incr)
    with open(incr, "ab") as f:
        f.write(garbage)
    with pytest.raises(RuntimeError, match="did not start"):
        s.start()
    log = s.log()
    assert word in log and "appendonly.aof.1.incr.aof" in log and "offset %d" % good in log
    # the error is the last line, as Redis's (its tests and log watchers read that one)
    assert word in log.strip().splitlines()[-1]


def test_checksum_error_names_the_crc(server_factory):
    """A snapshot whose CRC-64 does not match: Redis's 'RDB CRC error', on
    the last line."""
    s = server_factory("--save", "")
    c = client(s.port)
    c.set("k", "v")
    c.save()
    s.kill9()
    with open(os.path.join(s.dir, "dump.rdb"), "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"foobar00")
    with pytest.raises(RuntimeError, match="did not start"):
        s.start()
    assert "RDB CRC error" in s.log().strip().splitlines()[-1]


def test_nodensync_save_script_tls_and_auth(server_factory, tmp_path):
    from servers import free_port
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    tls_port = free_port()
    s = server_factory("--save", "", "--enableTLS", "--tlsPort", str(tls_port), "--tlsCert", cert,
                       "--tlsKey", key, "--tlsAuthClients", "no", "--requirepass", "s3cret",
                       wait=False)
    wait_for(lambda: redis.Redis(port=s.port, password="s3cret", socket_timeout=5).ping(),
             timeout=30, what="server with requirepass")
    env = dict(os.environ, NODENSYNC_PASSWORD="s3cret")
    import sys
    run = [sys.executable, os.path.join(_SCRIPTS, "nodensync-save"), "-p", str(tls_port),
           "--tls", "--cacert", cert, "--timeout", "60"]
    r = subprocess.run(run, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(run + ["-a", "wrong"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "WRONGPASS" in r.stderr
    assert os.path.exists(os.path.join(s.dir, "dump.rdb"))


def test_aof_timestamp_annotations(server_factory):
    """aof-timestamp-enabled: '#TS:<time>' before the writes (once a second)
    and at the start of a base in AOF format; such a file loads, and
    redis-check-aof --truncate-to-timestamp cuts it (Redis 7.0)."""
    s = server_factory("--save", "", "--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    c = client(s.port)
    c.config_set("aof-timestamp-enabled", "yes")
    before = int(time.time())
    c.set("foo", "bar")
    c.set("foo2", "bar2")
    incr = os.path.join(_aofdir(s), "appendonly.aof.1.incr.aof")
    with open(incr, "rb") as f:
        data = f.read()
    assert data.startswith(b"#TS:") and data.count(b"#TS:") == 1
    assert int(data[4:data.index(b"\r\n")]) >= before
    c.bgrewriteaof()
    wait_idle(s.port)
    base = os.path.join(_aofdir(s), "appendonly.aof.2.base.aof")
    wait_for(lambda: os.path.exists(base), 10, what="the new base")
    with open(base, "rb") as f:
        assert f.read(4) == b"#TS:"
    c.set("after", "1")
    s.stop()
    s.start()
    c = client(s.port)
    assert c.get("foo") == b"bar" and c.get("after") == b"1"


def _start_on(server_factory, layout, manifest):
    """A NodeNsync on a data dir holding ``layout`` {relative path: bytes}
    and the manifest text; returns the server (started or not) and whether
    it started."""
    from servers import temp_dir
    d = temp_dir("nodensync-manifest-")
    os.makedirs(os.path.join(d, "appendonlydir"))
    for rel, data in layout.items():
        with open(os.path.join(d, rel), "wb") as f:
            f.write(data)
    if manifest is not None:
        with open(os.path.join(d, "appendonlydir", "appendonly.aof.manifest"), "w") as f:
            f.write(manifest)
    try:
        s = server_factory("--save", "", "--appendonly", "yes", data_dir=d)
        return s, True
    except RuntimeError as e:
        return str(e), False


_SET = b"*3\r\n$3\r\nset\r\n$2\r\nk%d\r\n$2\r\nv%d\r\n"


@pytest.mark.parametrize("manifest,error", [
    ("file appendonly.aof.1.incr.aof seq 1 type i\n\nfile appendonly.aof.2.incr.aof seq 2 type i\n",
     "Invalid AOF manifest file format"),
    ("file appendonly.aof.1.incr.aof seq 1 type i newkey\n", "Invalid AOF manifest file format"),
    ("file appendonly.aof.1.incr.aof type i\n", "Invalid AOF manifest file format"),
    ("file appendonly.aof.1.incr.aof seq 1 type i" + " x y" * 300 + "\n",
     "The AOF manifest file contains too long line"),
    ("file appendonly.aof.1.incr.aof seq 1 type i", "The AOF manifest file contains too long line"),
    ("file appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n",
     "appendonly.aof.3.incr.aof length. stat: No such file or directory"),
])
def test_manifest_errors_as_redis(server_factory, manifest, error):
    """Redis 7.0's manifest rules (aofLoadManifestFromFile) and its texts;
    a file the manifest names but the disk lacks stops the start before
    anything loads."""
    layout = {"appendonlydir/appendonly.aof.%d.incr.aof" % i: _SET % (i, i) for i in (1, 2)}
    s, started = _start_on(server_factory, layout, manifest)
    assert not started and error in s.strip().splitlines()[-1]
    assert "DB loaded" not in s


def test_interrupted_upgrade_of_an_old_aof_goes_on(server_factory):
    """A manifest naming the old single-file AOF as its base while that file
    is still in dataDir (an upgrade stopped before the rename): Redis 7.0
    finishes the upgrade and loads it."""
    s, started = _start_on(server_factory, {"appendonly.aof": _SET % (1, 1) + _SET % (2, 2)},
                           "file appendonly.aof seq 1 type b\n")
    assert started, s
    c = client(s.port)
    assert c.get("k1") == b"v1" and c.get("k2") == b"v2"
    assert not os.path.exists(os.path.join(s.dir, "appendonly.aof"))
    with open(os.path.join(_aofdir(s), "appendonly.aof.manifest")) as f:
        assert f.read().splitlines() == ["file appendonly.aof seq 1 type b",
                                         "file appendonly.aof.1.incr.aof seq 1 type i"]


def test_aof_disable_auto_gc(server_factory):
    """aof-disable-auto-gc yes keeps the history files (type h, newest
    first, as Redis lists them); turning it off removes them."""
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    c.config_set("aof-disable-auto-gc", "yes")
    for _ in range(2):
        c.set("k", "v")
        c.bgrewriteaof()
        wait_idle(s.port)
    manifest = os.path.join(_aofdir(s), "appendonly.aof.manifest")
    with open(manifest) as f:
        lines = f.read().splitlines()
    assert lines == ["file appendonly.aof.3.base.rdb seq 3 type b",
                     "file appendonly.aof.2.incr.aof seq 2 type h",
                     "file appendonly.aof.2.base.rdb seq 2 type h",
                     "file appendonly.aof.1.incr.aof seq 1 type h",
                     "file appendonly.aof.1.base.rdb seq 1 type h",
                     "file appendonly.aof.3.incr.aof seq 3 type i"]
    assert os.path.exists(os.path.join(_aofdir(s), "appendonly.aof.1.base.rdb"))
    c.config_set("aof-disable-auto-gc", "no")
    with open(manifest) as f:
        assert f.read().splitlines() == ["file appendonly.aof.3.base.rdb seq 3 type b",
                                         "file appendonly.aof.3.incr.aof seq 3 type i"]
    assert sorted(os.listdir(_aofdir(s))) == ["appendonly.aof.3.base.rdb",
                                             "appendonly.aof.3.incr.aof",
                                             "appendonly.aof.manifest"]


def test_bgsave_reports_its_progress(server_factory):
    """INFO current_save_keys_processed / _total / current_fork_perc while a
    BGSAVE child runs (the child's count, every 1024 keys, as Redis)."""
    s = server_factory("--save", "")
    c = client(s.port)
    c.mset({"k%d" % i: "v" for i in range(3000)})
    i = info(s.port)
    assert (i["current_save_keys_total"], i["current_save_keys_processed"],
            float(i["current_fork_perc"])) == ("0", "0", 0.0)
    c.config_set("rdb-key-save-delay", 1000)
    c.bgsave()
    seen = []

    def progressed():
        i = info(s.port)
        seen.append(i)
        return i["rdb_bgsave_in_progress"] == "1" and int(i["current_save_keys_processed"]) > 0
    wait_for(progressed, 15, 0.05, what="the child's progress")
    i = seen[-1]
    assert i["current_save_keys_total"] == "3000"
    assert float(i["current_fork_perc"]) == round(
        int(i["current_save_keys_processed"]) * 100 / 3000, 2)
    c.config_set("rdb-key-save-delay", 0)
    wait_idle(s.port)


def test_aof_rewrite_limit_after_repeated_failures(server_factory):
    """Three failed rewrites in a row: an automatic rewrite is not started
    but put off (Redis's aofRewriteLimited: 1 minute, then 2, 4 ... 60, with
    its log line); BGREWRITEAOF still runs at once."""
    s = server_factory("--save", "", "--appendonly", "yes")
    c = client(s.port)
    c.config_set("rdb-key-save-delay", 10000000)
    c.config_set("auto-aof-rewrite-percentage", 1)
    c.config_set("auto-aof-rewrite-min-size", "1kb")
    c.set("k", "v")
    for _ in range(3):
        c.bgrewriteaof()
        wait_for(lambda: children(s.pid), 10, what="the rewrite child")
        for pid in children(s.pid):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: info(s.port)["aof_rewrite_in_progress"] == "0", 10, what="the end")
    assert info(s.port)["aof_rewrites_consecutive_failures"] == "3"
    c.set("x", "x" * 1024)
    wait_for(lambda: "triggered the limit, will retry in 1 minutes" in s.log(), 10,
             what="the limit's log line")
    time.sleep(0.3)
    assert info(s.port)["aof_rewrite_in_progress"] == "0"
    c.config_set("auto-aof-rewrite-percentage", 0)
    c.config_set("rdb-key-save-delay", 0)
    c.bgrewriteaof()
    wait_idle(s.port)
    assert info(s.port)["aof_rewrites_consecutive_failures"] == "0"


def test_failed_initial_rewrite_removes_its_temp_incr(server_factory):
    """CONFIG SET appendonly yes whose first rewrite dies: Redis's log line
    for the temp incr file removed, no manifest yet, a new attempt; the one
    that succeeds makes base 1 and incr 1."""
    s = server_factory("--save", "")
    c = client(s.port)
    c.set("k", "v")
    c.config_set("rdb-key-save-delay", 10000000)
    c.config_set("appendonly", "yes")
    wait_for(lambda: children(s.pid), 10, what="the rewrite child")
    for pid in children(s.pid):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: s.log().count("Removing the temp incr aof file temp-appendonly.aof.incr")
             == 1, 10, what="the log line")
    assert not os.path.exists(os.path.join(_aofdir(s), "appendonly.aof.manifest"))
    c.config_set("rdb-key-save-delay", 0)
    wait_for(lambda: info(s.port)["aof_enabled"] == "1" and os.path.exists(
        os.path.join(_aofdir(s), "appendonly.aof.manifest")), 20, what="the AOF on")
    with open(os.path.join(_aofdir(s), "appendonly.aof.manifest")) as f:
        assert f.read().splitlines() == ["file appendonly.aof.1.base.rdb seq 1 type b",
                                         "file appendonly.aof.1.incr.aof seq 1 type i"]


def test_appendfilename_with_whitespace_and_newlines(server_factory):
    """An appendfilename with spaces and newlines: the manifest quotes it as
    Redis's sdscatrepr does (one line per file) and it loads back."""
    name = " file seq \n\n.aof "
    s = server_factory("--save", "", "--appendonly", "yes", "--appendFilename", name,
                       "--enable-debug-command", "yes")
    c = client(s.port)
    c.set("k1", "v1")
    c.bgrewriteaof()
    wait_idle(s.port)
    with open(os.path.join(_aofdir(s), name + ".manifest")) as f:
        assert f.read() == ('file " file seq \\n\\n.aof .2.base.rdb" seq 2 type b\n'
                            'file " file seq \\n\\n.aof .2.incr.aof" seq 2 type i\n')
    c.set("k2", "v2")
    assert c.execute_command("DEBUG", "LOADAOF")
    assert c.get("k1") == b"v1" and c.get("k2") == b"v2"
