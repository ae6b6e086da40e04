"""scripts/compat/redis_server_shim.py turns the redis.conf of Redis's test
framework into NodeNsync settings with Redis's meaning of the directives."""
import importlib.util
import os

from servers import ROOT

_spec = importlib.util.spec_from_file_location(
    "redis_server_shim", os.path.join(ROOT, "scripts", "compat", "redis_server_shim.py"))
shim = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(shim)


def _settings(lines, extra=()):
    found = [l.split() if l.split() else [l] for l in lines]
    found += shim.directives(None, list(extra))
    return dict(shim.translate(found)[0])


def test_save_lines_add_up_and_empty_resets():
    assert "save" not in _settings([])
    assert _settings(["save 900 1"])["save"] == "900 1"
    assert _settings(["save 900 1"], ["--save", "100", "100"])["save"] == "900 1 100 100"
    assert _settings(["save 900 1"], ["--save", ""])["save"] == ""


def test_port_and_bind_passed_with_redis_default():
    got = _settings(["port 7001"])
    assert got["port"] == "7001" and got["bind"] == "* -::*"
    got = _settings(["port 7001", "bind 127.0.0.1 -::1"])
    assert got["bind"] == "127.0.0.1 -::1"


def test_redis_behaviour_where_nodensync_departs_by_default():
    # NodeNsync closes the sessions of a disabled user by default; Redis's
    # suite expects them kept (unit/acl), so the shim asks for Redis's.
    assert _settings([])["aclDisabledUserSessions"] == "keep"
    got = _settings([], ["--aclDisabledUserSessions", "close"])
    assert got["aclDisabledUserSessions"] == "close"


def test_user_directives_become_acl_users():
    got = _settings(["user default on nopass ~* +@all"],
                    ["--user", "alice", "on", ">pw", "+@all"])
    assert got["aclUsers"] == "default on nopass ~* +@all; alice on >pw +@all"
    assert "aclUsers" not in _settings([])


def test_shim_without_config_file_reports_duplicate_users(tmp_path):
    # `redis-server --user foo --user foo`: no config file, every argument
    # an option; the server refuses to start, naming the duplicate.
    import subprocess
    import sys
    from servers import free_port
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "compat",
                                                     "redis_server_shim.py"),
                        "--port", str(free_port()), "--user", "foo", "--user", "foo"],
                       capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    assert r.returncode != 0
    assert "Duplicate user 'foo'" in r.stdout + r.stderr
    assert not any(n.endswith(".nodensync.conf") for n in os.listdir(str(tmp_path)))


def test_command_line_grouped_as_redis_server_groups_it():
    d = shim.directives
    assert d(None, ["--port", "7000", "--loglevel", "verbose"]) == [
        ["port", "7000"], ["loglevel", "verbose"]]
    # An option without an argument yet takes the next one, '--' or not.
    assert d(None, ["--replicaof", "--127.0.0.1", "abc"]) == [["replicaof", "--127.0.0.1", "abc"]]
    assert d(None, ["--port", "--bla", "--loglevel", "verbose"]) == [
        ["port", "--bla"], ["loglevel", "verbose"]]
    # Name and value in one argument.
    assert d(None, ["--maxmemory 700mb", "--maxmemory-policy volatile-lru"]) == [
        ["maxmemory", "700mb"], ["maxmemory-policy", "volatile-lru"]]
    # A bare --save before an option, or last, is save "".
    assert d(None, ["--save", "--port", "1"]) == [["save", ""], ["port", "1"]]
    assert d(None, ["--save"]) == [["save", ""]]


def test_missing_arguments_refused_before_start():
    # redis-server refuses these at start; the shim must not start a
    # server for them (the test that runs them would wait for it forever).
    for argv in (["--port"], ["--port", "6380", "--loglevel"], ["--port", "6379", "6380"],
                 ["--shutdown-on-sigint"], ["--replicaof", "--127.0.0.1", "--abc"]):
        err = shim.arity_error(shim.directives(None, argv))
        assert err and "wrong number of arguments" in err, argv
    assert shim.arity_error(shim.directives(None, ["--port", "7000", "--save", ""])) is None


def test_empty_save_and_bind_are_not_arity_errors():
    # overrides {save ""} is written as "save " in the config file.
    assert shim.arity_error(shim.directives(None, ["--save"])) is None
    assert shim.arity_error(shim.directives(None, ["--bind", "--port", "1"])) is None
    assert _settings(["save"])["save"] == ""
