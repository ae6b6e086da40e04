"""Settings: conf file, flags, environment, CONFIG GET/SET/REWRITE/RESETSTAT."""
import os
import subprocess
import sys

import pytest
import redis

from servers import ROOT, free_port


def run_server(args, env=None, timeout=15):
    """Start nodensync expecting it to refuse to start; return (code, output)."""
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "nodensync"] + args, capture_output=True,
                       text=True, timeout=timeout, env=e)
    return p.returncode, p.stdout + p.stderr


@pytest.mark.parametrize("args,needle", [
    (["--maxclients", "abc"], "maxclients"),
    (["--listenAddr", "localhost"], "listenAddr"),
    (["--listenAddr", "127.0.0.1:99999"], "listenAddr"),
    (["--timeout", "-5"], "timeout"),
    (["--logLevel", "loud"], "logLevel"),
    (["--databases", "0"], "databases"),
    (["--protoMaxBulkLen", "12zb"], "protoMaxBulkLen"),
])
def test_bad_flag_refuses_to_start(args, needle):
    code, out = run_server(args)
    assert code != 0
    assert needle in out


def test_bad_value_in_conf_file_refuses_to_start(tmp_path):
    conf = tmp_path / "n.conf"
    conf.write_text("# a comment\nmaxclients lots\n")
    code, out = run_server(["--config", str(conf), "--dataDir", str(tmp_path)])
    assert code != 0 and "maxclients" in out


def test_unknown_key_in_conf_file_refuses_to_start(tmp_path):
    conf = tmp_path / "n.conf"
    conf.write_text("nosuchsetting 5\n")
    code, out = run_server(["--config", str(conf), "--dataDir", str(tmp_path)])
    assert code != 0


def test_conf_file_env_and_flags_priority(tmp_path, server_factory):
    conf = tmp_path / "n.conf"
    conf.write_text("# test conf\nmaxclients 111\ntimeout 7\nhz 20\n")
    s = server_factory("--config", str(conf), "--hz", "30",
                       env={"NODENSYNC_TIMEOUT": "9"})
    c = redis.Redis(port=s.port)
    cfg = c.config_get("*")
    assert cfg["maxclients"] == "111"      # from the file
    assert cfg["timeout"] == "9"           # environment beats the file
    assert cfg["hz"] == "30"               # flag beats both
    c.close()


def test_config_get_set_resetstat_rewrite(tmp_path, server_factory):
    conf = tmp_path / "n.conf"
    conf.write_text("# keep this comment\nmaxclients 500\n# and this one\n")
    s = server_factory("--config", str(conf))
    c = redis.Redis(port=s.port, decode_responses=True)
    assert c.config_get("maxcl*") == {"maxclients": "500"}
    assert c.config_set("maxclients", "600") is True
    c.execute_command("CONFIG", "SET", "timeout", "30", "hz", "15")
    assert c.config_get("timeout")["timeout"] == "30"
    # all or nothing: the bad pair makes the good one not applied
    with pytest.raises(redis.ResponseError, match="maxclients"):
        c.execute_command("CONFIG", "SET", "timeout", "40", "maxclients", "x")
    assert c.config_get("timeout")["timeout"] == "30"
    c.set("a", 1)
    c.get("a")
    assert c.info("stats")["total_commands_processed"] > 0
    assert c.config_resetstat() is True
    assert "cmdstat_set" not in c.info("commandstats")
    assert c.config_rewrite() in (True, "OK")
    text = conf.read_text()
    assert "# keep this comment" in text and "# and this one" in text
    assert "maxclients 600" in text and "timeout 30" in text and "hz 15" in text
    c.close()
    s.restart()
    c = redis.Redis(port=s.port, decode_responses=True)
    assert c.config_get("maxclients")["maxclients"] == "600"
    c.close()


def test_config_errors_match_redis(diff):
    diff.check("CONFIG", "SET", "maxclients", "abc")
    diff.check("CONFIG", "SET", "nosuch", "1")
    diff.check("CONFIG", "SET", "databases", "3")
    diff.check("CONFIG", "SET", "maxclients", "5", "maxclients", "6")
    diff.check("CONFIG", "SET", "loglevel", "loud")
    diff.check("CONFIG", "SET", "timeout", "-1")
    diff.check("CONFIG", "SET", "maxclients")
    diff.check("CONFIG", "GET")
    diff.check("CONFIG", "GET", "timeout")
    diff.check("CONFIG", "GET", "nosuch*")
    diff.check("CONFIG", "SET", "timeout", "0")


def test_maxclients_refuses_extra_client(server_factory):
    s = server_factory("--maxclients", "2")
    a = redis.Redis(port=s.port)
    b = redis.Redis(port=s.port)
    a.ping()
    b.ping()
    c = redis.Redis(port=s.port)
    with pytest.raises(redis.ConnectionError, match="max number of clients"):
        c.ping()
    a.close()
    b.close()


def test_idle_timeout_closes_client(server_factory):
    import socket
    import time
    s = server_factory("--timeout", "1")
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    sock.sendall(b"PING\r\n")
    assert sock.recv(100) == b"+PONG\r\n"
    deadline = time.monotonic() + 6
    closed = False
    while time.monotonic() < deadline:
        if sock.recv(100) == b"":
            closed = True
            break
    assert closed


def test_sigterm_exits_cleanly(server_factory):
    s = server_factory()
    c = redis.Redis(port=s.port)
    c.set("x", "1")
    assert s.stop() == 0
    assert "Traceback" not in s.log()


# Redis 7.0's immutable and protected settings, as its own "CONFIG sanity"
# test (tests/unit/introspection.tcl) skips them.
_REDIS_IMMUTABLE = set("""
rdbchecksum daemonize io-threads-do-reads tcp-backlog always-show-logo syslog-enabled
cluster-enabled disable-thp aclfile unixsocket pidfile syslog-ident appendfilename
appenddirname supervised syslog-facility databases io-threads logfile unixsocketperm
replicaof slaveof requirepass server_cpulist bio_cpulist aof_rewrite_cpulist
bgsave_cpulist set-proc-title cluster-config-file cluster-port oom-score-adj
oom-score-adj-values enable-protected-configs enable-debug-command enable-module-command
dbfilename dir socket-mark-id tls-port
""".split())


def test_config_get_all_then_set_every_value_back(server_factory):
    """What config sync tools and Redis's "CONFIG sanity" test do: CONFIG
    GET *, then CONFIG SET of every pair to the value it has, and the same
    values read back.  NodeNsync's own immutable settings (listenAddr ...)
    take their current value as a no-op; another value is refused."""
    s = server_factory()
    c = redis.Redis(host="127.0.0.1", port=s.port, decode_responses=True)
    try:
        before = {k: v for k, v in c.config_get("*").items() if k not in _REDIS_IMMUTABLE}
        assert "listenAddr" in before and len(before) > 100
        for k, v in before.items():
            assert c.config_set(k, v), k
        after = {k: v for k, v in c.config_get("*").items() if k not in _REDIS_IMMUTABLE}
        assert after == before
        with pytest.raises(redis.ResponseError, match="can't set immutable config"):
            c.config_set("listenAddr", "127.0.0.1:1")
        with pytest.raises(redis.ResponseError, match="can't set immutable config"):
            c.config_set("databases", "16")                 # (a Redis setting: as Redis)
    finally:
        c.close()


def test_debug_config_rewrite_force_all_round_trips(tmp_path, server_factory):
    """DEBUG CONFIG-REWRITE-FORCE-ALL writes every setting, defaults
    included, and the server starts from that file with the same values
    (Redis's "CONFIG REWRITE sanity" test)."""
    conf = tmp_path / "n.conf"
    conf.write_text("# comment\nmaxclients 500\n")
    s = server_factory("--config", str(conf), "--enable-debug-command", "yes")
    c = redis.Redis(port=s.port, decode_responses=True)
    before = c.config_get("*")
    assert c.execute_command("DEBUG", "CONFIG-REWRITE-FORCE-ALL") in (True, "OK")
    text = conf.read_text()
    assert "# comment" in text and "maxclients 500" in text
    assert "\nhz 10\n" in text and "\nmaxmemory-policy noeviction\n" in text.replace(
        "maxmemoryPolicy", "maxmemory-policy")
    c.close()
    s.restart()
    c = redis.Redis(port=s.port, decode_responses=True)
    assert c.config_get("*") == before
    c.close()


@pytest.mark.parametrize("value,starts", [("127.0.0.1 0", True), ("127.0.0.1 65536", False),
                                          ("127.0.0.1 -1", False)])
def test_replicaof_port_range_at_start(server_factory, redis_factory, value, starts):
    """Redis's config file takes a master port 0..65535 (0: a master that
    never answers, which Redis's aof.tcl uses to start a read-only replica)."""
    if not starts:
        code, out = run_server(["--listenAddr", "127.0.0.1:%d" % free_port(),
                                "--replicaof", value])
        assert code != 0 and "Invalid master port" in out
        return
    for s in (server_factory("--replicaof", value), redis_factory("--replicaof", *value.split())):
        c = redis.Redis(host="127.0.0.1", port=s.port)
        try:
            info = c.info("replication")
            assert info["role"] == "slave" and info["master_port"] == 0
        finally:
            c.close()


REPEATED = """save 900 1
save 300 10
client-output-buffer-limit normal 1mb 0 0
client-output-buffer-limit replica 256mb 64mb 60
rename-command FLUSHALL ""
rename-command DBSIZE keycount
logfile ""
"""


def test_repeated_conf_lines_add_up_like_redis(tmp_path, server_factory, redis_factory):
    """Redis reads several save, client-output-buffer-limit and
    rename-command lines as one setting each (the last line does not
    win), and `name ""` as an empty value."""
    node_conf = tmp_path / "node.conf"
    node_conf.write_text(REPEATED)
    node = server_factory("--config", str(node_conf))
    # (redis-server takes the same lines as repeated options: a config file
    # would have to come first on its command line)
    ref = redis_factory("--save", "900 1", "--save", "300 10",
                        "--client-output-buffer-limit", "normal 1mb 0 0",
                        "--client-output-buffer-limit", "replica 256mb 64mb 60",
                        "--rename-command", "FLUSHALL", "", "--rename-command", "DBSIZE", "keycount")
    for s in (node, ref):
        c = redis.Redis(port=s.port)
        assert c.config_get("save") == {"save": "900 1 300 10"}
        assert c.config_get("client-output-buffer-limit")["client-output-buffer-limit"] == (
            "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        with pytest.raises(redis.ResponseError, match="unknown command"):
            c.flushall()
        assert c.execute_command("KEYCOUNT") == 0
        c.close()
    assert not os.path.exists(os.path.join(node.dir, "true"))    # (logfile "": stderr)
    assert "Ready to accept connections" in node.log()


def test_repeated_rename_command_flags_add_up(server_factory):
    node = server_factory("--rename-command", "flushall x1", "--rename-command", "dbsize x2")
    c = redis.Redis(port=node.port)
    for old in ("flushall", "dbsize"):
        with pytest.raises(redis.ResponseError, match="unknown command"):
            c.execute_command(old)
    assert c.execute_command("X2") == 0
    c.close()
