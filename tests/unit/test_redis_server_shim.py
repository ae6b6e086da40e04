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


def test_unix_socket_source_addr_and_signal_settings_passed():
    """The framework's generated config names a unix socket in the test's
    directory; bind-source-addr and the multi-word shutdown-on-* values
    (quoted in the file, separate words on the command line) pass."""
    got = _settings(["unixsocket /tmp/server.1.2/socket", "unixsocketperm 700",
                     "bind-source-addr 127.0.0.2"],
                    ["--shutdown-on-sigint", "nosave", "force", "now",
                     "--shutdown-on-sigterm", "nosave force"])
    assert got["unixsocket"] == "/tmp/server.1.2/socket"
    assert got["unixsocketperm"] == "700"
    assert got["bindSourceAddr"] == "127.0.0.2"
    assert got["shutdownOnSigint"] == "nosave force now"
    assert got["shutdownOnSigterm"] == "nosave force"


def _fatal(argv):
    lines = shim.directive_lines(None, argv)
    bad = shim.check(lines)
    return None if bad is None else (bad[1].strip(), bad[2])


def test_command_line_options_as_redis_builds_them():
    """Redis's main(): '--name value' in one argument, a bare '--name'
    taking the next argument as its value even when it starts with '--',
    '--save' with nothing after it meaning save "" (introspection.tcl)."""
    assert _settings([], ["--maxmemory 700mb", "--maxmemory-policy volatile-lru"])[
        "maxmemory"] == "700mb"
    got = _settings([], ["loglevel", "verbose", "--maxmemory '700mb'"])
    assert got["logLevel"] == "verbose" and got["maxmemory"] == "700mb"
    assert _settings([], ["--save", "--loglevel", "verbose"])["save"] == ""
    assert _settings([], ["--loglevel", "verbose", "--save"])["save"] == ""
    assert _settings([], ["--logfile", "--my--log--file", "--loglevel", "debug"])[
        "logLevel"] == "debug"


def test_bad_command_line_gets_redis_fatal_error():
    assert _fatal(["--port"]) == ("port", "wrong number of arguments")
    assert _fatal(["--port", "6379", "6380"]) == ('port "6379" "6380"',
                                                  "wrong number of arguments")
    assert _fatal(["--port", "--bla", "--loglevel", "verbose"]) == (
        'port "--bla"', "argument couldn't be parsed into an integer")
    assert _fatal(["--shutdown-on-sigint", "now force", "--shutdown-on-sigterm"])[0] == \
        "shutdown-on-sigterm"
    assert _fatal(["--replicaof", "127.0.0.1", "abc"])[1] == "Invalid master port"
    assert _fatal(["--replicaof", "--127.0.0.1", "--abc"]) == (
        'replicaof "--127.0.0.1"', "wrong number of arguments")
    assert _fatal(["--port", "6380", "--save", "100", "10", "--bind", "127.0.0.1", "::1"]) is None


def test_rename_command_lines_become_one_setting():
    got = _settings(["rename-command flushdb badger", 'rename-command config ""'])
    assert got["renameCommand"] == 'flushdb badger; config ""'
