"""ACL, AUTH and NOPERM compared with a real redis-server 7.0.15.

Both servers run privately for this module.  NodeNsync uses
``--aclPasswordHash sha256`` here so that ``>password`` rules are stored as
Redis stores them and ACL LIST / GETUSER can be compared byte for byte (the
salted default is covered by tests/integration/test_acl.py).
"""
import os
import re

import pytest

from servers import NodeServer, RedisServer, RawClient


_ID_RE = re.compile(rb"id\r\n:\d+\r\n")


def _mk(port, user=None, password=None, protocol=2):
    c = RawClient(port)
    if protocol == 3:
        c.call("HELLO", "3")
    if user is not None:
        r = c.call("AUTH", user, password)
        assert r == b"OK", r
    return c


class Both:
    """One connection to each server, replies compared byte for byte."""

    def __init__(self, node_port, redis_port, user=None, password=None, protocol=2):
        self.node = _mk(node_port, user, password, protocol)
        self.ref = _mk(redis_port, user, password, protocol)

    def check(self, *args):
        a = self.node.call_raw(*args)
        b = self.ref.call_raw(*args)
        if str(args[0]).upper() == "HELLO":   # client ids differ
            a, b = (_ID_RE.sub(b"id\r\n:N\r\n", x) for x in (a, b))
        assert a == b, "%r:\n  nodensync: %r\n  redis:     %r" % (args, a, b)
        return a

    def both(self, *args):
        """Run on both, return (node reply, redis reply) parsed."""
        return self.node.call(*args), self.ref.call(*args)

    def close(self):
        self.node.close()
        self.ref.close()


@pytest.fixture(scope="module")
def servers():
    node = NodeServer("--aclPasswordHash", "sha256", "--authFailThreshold", "0")
    ref = RedisServer()
    yield node, ref
    node.cleanup()
    ref.cleanup()


def _reset(port):
    c = RawClient(port)
    users = c.call("ACL", "USERS")
    if isinstance(users, Exception):       # default user has a password
        c.call("AUTH", "default", "secret")
        users = c.call("ACL", "USERS")
    for u in users:
        if u != b"default":
            c.call("ACL", "DELUSER", u)
    assert c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all") == b"OK"
    c.call("ACL", "LOG", "RESET")
    c.call("FLUSHALL")
    c.close()


@pytest.fixture
def pair(servers):
    node, ref = servers
    _reset(node.port)
    _reset(ref.port)
    made = []

    def make(user=None, password=None, protocol=2):
        b = Both(node.port, ref.port, user, password, protocol)
        made.append(b)
        return b
    yield make
    for b in made:
        b.close()


@pytest.fixture
def both(pair):
    return pair()


def setuser(both, *args):
    both.check("ACL", "SETUSER", *args)


# -- AUTH / HELLO -----------------------------------------------------------------------
def test_auth_without_password_configured(both):
    both.check("AUTH", "x")
    both.check("AUTH", "default", "x")
    both.check("AUTH", "nobody", "x")
    both.check("AUTH", "a", "b", "c")
    both.check("AUTH")
    both.check("ACL", "WHOAMI")


@pytest.mark.parametrize("protocol", [2, 3])
def test_auth_flows(pair, protocol):
    admin = pair(protocol=protocol)
    admin.check("ACL", "SETUSER", "alice", "on", ">pw1", ">pw2", "~*", "&*", "+@all")
    admin.check("ACL", "SETUSER", "off_user", "off", ">pw", "+@all")
    admin.check("ACL", "SETUSER", "free", "on", "nopass", "+@all", "~*")
    c = pair(protocol=protocol)
    c.check("AUTH", "alice", "wrong")
    c.check("AUTH", "alice", "pw2")
    c.check("ACL", "WHOAMI")
    c.check("AUTH", "off_user", "pw")
    c.check("AUTH", "free", "anything")
    c.check("ACL", "WHOAMI")
    c.check("HELLO", "2", "AUTH", "alice", "nope")
    c.check("HELLO", str(protocol), "AUTH", "alice", "pw1")
    c.check("HELLO", "3", "AUTH", "alice")
    c.check("ACL", "WHOAMI")


def test_requirepass_like_default_user(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "default", "resetpass", ">secret")
    c = pair()
    c.check("GET", "k")
    c.check("ACL", "WHOAMI")
    c.check("HELLO")
    c.check("HELLO", "3")
    c.check("PING")
    c.check("AUTH", "wrong")
    c.check("AUTH", "default", "wrong")
    c.check("AUTH", "secret")
    c.check("GET", "k")
    c.check("RESET")
    c.check("GET", "k")
    c.check("HELLO", "3", "AUTH", "default", "secret", "SETNAME", "me")
    c.check("ACL", "WHOAMI")
    c.check("QUIT")


def test_disabled_default_user_requires_auth(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "root", "on", ">rootpw", "~*", "&*", "+@all")
    admin.check("ACL", "SETUSER", "default", "off")
    c = pair()
    c.check("PING")
    c.check("AUTH", "default", "x")
    c.check("AUTH", "root", "rootpw")
    c.check("PING")
    c.check("ACL", "SETUSER", "default", "on")


def test_disabled_user_sessions_keep_is_redis_behaviour(pair, servers):
    """aclDisabledUserSessions keep: disabling a user refuses new logins
    only; its live sessions go on, with live permission changes, as in
    redis-server (unit/acl's "ACL GETUSER is able to translate back command
    permissions" disables the user it is logged in as)."""
    node, _ = servers
    cfg = RawClient(node.port)
    assert cfg.call("CONFIG", "SET", "aclDisabledUserSessions", "keep") == b"OK"
    try:
        admin = pair()
        admin.check("ACL", "SETUSER", "u", "on", ">pw", "~*", "&*", "+@all")
        c = pair("u", "pw")
        admin.check("ACL", "SETUSER", "u", "off")
        c.check("PING")
        c.check("SET", "k", "v")
        c.check("ACL", "WHOAMI")
        other = pair()
        other.check("AUTH", "u", "pw")
        other.check("ACL", "WHOAMI")
        admin.check("ACL", "SETUSER", "u", "-set")
        c.check("SET", "k", "v")
        c.check("GET", "k")
        # A session resetting its own user (reset includes off) goes on.
        c.check("ACL", "SETUSER", "u", "reset", "+@all", "~*", "-@string", "+incr")
        c.check("ACL", "GETUSER", "u")
        c.check("INCR", "n")
        c.check("GET", "k")
        admin.check("CLIENT", "KILL", "USER", "u")
        assert c.node.recv_all(2.0) == b"" and c.ref.recv_all(2.0) == b""
        # The default user's sessions are kept under both values.
        admin.check("ACL", "SETUSER", "default", "off")
        admin.check("PING")
        admin.check("ACL", "SETUSER", "default", "on")
    finally:
        assert cfg.call("CONFIG", "SET", "aclDisabledUserSessions", "close") == b"OK"
        cfg.close()


def test_disabled_default_user_sessions_kept_under_close(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "default", "off")
    admin.check("PING")
    admin.check("ACL", "WHOAMI")
    admin.check("ACL", "SETUSER", "default", "on")


# -- SETUSER rules and their errors ----------------------------------------------------------
BAD_RULES = ["%", "%RR~x", "%X~x", "+", "-", "+@", "+@foo", "+config|x", "+config|get|x",
             "-select|0", "+select|", "foo", "#abc", "#" + "A" * 64, "<nope", "!" + "0" * 64,
             "!short", "~a b", "&a b", "-@nosuch", "+nosuchcmd", "-nosuchcmd"]


@pytest.mark.parametrize("rule", BAD_RULES)
def test_setuser_errors(both, rule):
    both.check("ACL", "SETUSER", "t1", rule)
    both.check("ACL", "USERS")


def test_setuser_error_is_all_or_nothing(both):
    setuser(both, "t2", "on", ">p", "~a*")
    both.check("ACL", "SETUSER", "t2", "off", "~b*", "+@nosuch")
    both.check("ACL", "GETUSER", "t2")
    both.check("ACL", "SETUSER", "t3", "on", "foo")
    both.check("ACL", "GETUSER", "t3")


def test_rules_for_commands_only_redis_has(both):
    # ACL files written for Redis often deny DEBUG, EVAL, SCRIPT ... (found by
    # a random ACL differential run).  NodeNsync accepts such rules, which have
    # nothing to allow or deny here; the rest of the rules apply as in Redis.
    setuser(both, "r1", "on", "nopass", "~*", "+@all", "-debug", "-eval", "-script|kill",
            "+xadd", "-function|load", "+fcall_ro")
    setuser(both, "r2", "on", "nopass", "~*", "-@all", "+get", "+debug", "+eval|x")
    for user in ("r1", "r2"):
        for cmd in (["get", "k"], ["set", "k", "v"], ["config", "get", "x"]):
            both.check("ACL", "DRYRUN", user, *cmd)
    both.check("ACL", "SETUSER", "r3", "-debugx")
    both.check("ACL", "SETUSER", "r3", "+nosuch|x")
    both.check("ACL", "USERS")


def test_rules_for_commands_redis_had_first(both):
    # Commands once missing here (FAILOVER, the stream commands) are real
    # rules now: `+xadd` / `+failover` allow them as in Redis.
    setuser(both, "r4", "on", "nopass", "~*", "-@all", "+xadd", "+failover",
            "+xgroup|create")
    for cmd in (["xadd", "s", "*", "a", "1"], ["failover"], ["xgroup", "create", "s", "g", "$"],
                ["xlen", "s"]):
        both.check("ACL", "DRYRUN", "r4", *cmd)


def test_setuser_misc_errors(both):
    both.check("ACL", "SETUSER", "a b")
    both.check("ACL", "SETUSER", "a\x00b")
    both.check("ACL", "SETUSER", "u", "(~x")
    both.check("ACL", "SETUSER", "u", "on", "(~x", "+get")
    both.check("ACL", "SETUSER", "u2", "~*", "~x")
    both.check("ACL", "SETUSER", "u3", "allkeys", "%R~x")
    both.check("ACL", "SETUSER", "u4", "&*", "&x")
    both.check("ACL", "SETUSER", "u5", "allchannels", "&x")


DESCRIBE_CASES = [
    [],
    ["on"],
    ["on", "nopass"],
    ["on", ">pw", "~*", "&*", "+@all"],
    ["on", "#" + "a" * 64, ">x", ">x"],
    ["~foo*", "%R~r*", "%W~w*", "%RW~rw*", "~foo*"],
    ["%W~x", "%R~x", "~y", "%R~y"],
    ["%R", "%W~", "~"],
    ["&ch*", "&other", "&ch*"],
    ["allchannels"],
    ["resetchannels", "&a"],
    ["+@read"],
    ["+@all", "-@admin"],
    ["+@all", "-@dangerous"],
    ["+@all", "-get"],
    ["-@all", "+get"],
    ["+get", "-get"],
    ["+@all", "-@all"],
    ["allcommands"],
    ["nocommands", "+@string"],
    ["+@hash"],
    ["+@string", "-get"],
    ["+@all", "-@string"],
    ["+config|get"],
    ["+@all", "-config|set"],
    ["+@all", "-config"],
    # (Cases mixing a category with single commands are left out when the best
    # fit depends on how many commands each category has: NodeNsync's table
    # is not Redis's, e.g. "+client -client|kill" may describe as +@connection.)
    ["+select|0", "+select|1"],
    ["+select|0", "+select"],
    ["-@all", "+acl|whoami"],
    ["on", ">a", "resetpass"],
    ["on", ">a", "nopass"],
    ["on", "nopass", ">a"],
    ["on", ">a", ">b", "<a"],
    ["on", ">a", "!" + "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb"],
    ["reset"],
    ["on", ">a", "~*", "+@all", "reset"],
    ["sanitize-payload"],
    ["skip-sanitize-payload"],
    ["clearselectors"],
    ["on", "", "~k"],
    ["allkeys", "resetkeys", "~a"],
]


@pytest.mark.parametrize("rules", DESCRIBE_CASES, ids=lambda r: " ".join(r) or "empty")
@pytest.mark.parametrize("protocol", [2, 3])
def test_describe(pair, rules, protocol):
    both = pair(protocol=protocol)
    both.check("ACL", "SETUSER", "d", *rules)
    both.check("ACL", "GETUSER", "d")
    both.check("ACL", "LIST")
    both.check("ACL", "USERS")


def test_getuser_missing_and_default(pair):
    for protocol in (2, 3):
        both = pair(protocol=protocol)
        both.check("ACL", "GETUSER", "nope")
        both.check("ACL", "GETUSER", "default")
        both.check("ACL", "LIST")


def test_deluser(both):
    setuser(both, "a")
    setuser(both, "b")
    both.check("ACL", "DELUSER", "a", "nope", "b")
    both.check("ACL", "DELUSER", "default")
    both.check("ACL", "DELUSER", "x", "default")
    both.check("ACL", "USERS")
    both.check("ACL", "DELUSER")


def test_deluser_disconnects_its_clients(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    victim = pair("gone", "pw")
    victim.check("PING")
    admin.check("ACL", "DELUSER", "gone")
    for c in (victim.node, victim.ref):
        assert c.recv_all(1.0) == b""


# -- categories, help, genpass, misc ---------------------------------------------------------
def test_cat_list_help(both):
    both.check("ACL", "CAT")
    both.check("ACL", "CAT", "nocat")
    both.check("ACL", "CAT", "read", "extra")
    both.check("ACL", "HELP")
    both.check("ACL", "help")
    both.check("ACL", "NOSUCH")
    both.check("ACL")
    both.check("ACL", "WHOAMI", "extra")
    both.check("ACL", "LIST", "extra")
    both.check("ACL", "USERS", "x")
    both.check("ACL", "GETUSER")
    both.check("ACL", "LOAD")
    both.check("ACL", "SAVE")


def test_genpass(both):
    for bits in ("0", "-1", "4097", "abc", "1.5", "99999999999999999999"):
        both.check("ACL", "GENPASS", bits)
    both.check("ACL", "GENPASS", "1", "2")
    for bits, length in ((None, 64), ("1", 1), ("5", 2), ("8", 2), ("9", 3), ("4096", 1024)):
        args = ("ACL", "GENPASS") + ((bits,) if bits else ())
        a, b = both.both(*args)
        assert len(a) == len(b) == length
        int(a, 16)


def test_log_arguments(both):
    both.check("ACL", "LOG", "abc")
    both.check("ACL", "LOG", "-1")
    both.check("ACL", "LOG", "0")
    both.check("ACL", "LOG", "1", "2")
    both.check("ACL", "LOG", "RESET")
    both.check("ACL", "LOG")


# -- permission checks -------------------------------------------------------------------------
def test_noperm_command_key_channel(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "alice", "on", ">pw", "%R~r*", "%W~w*", "~x*", "&ch*",
                "+@read", "-get", "+set", "+publish", "+subscribe", "+psubscribe",
                "+lpush", "+incr", "+mset", "+del", "+smove", "+rpoplpush")
    c = pair("alice", "pw")
    c.check("GET", "x1")
    c.check("get", "x1")
    c.check("SET", "r1", "v")
    c.check("SET", "w1", "v")
    c.check("SET", "w1", "v", "GET")
    c.check("SET", "x1", "v", "GET")
    c.check("INCR", "w2")
    c.check("INCR", "x2")
    c.check("STRLEN", "w1")
    c.check("EXISTS", "w1", "r1", "nope")
    c.check("MSET", "w1", "a", "x1", "b")
    c.check("MSET", "w1", "a", "zz", "b")
    c.check("DEL", "w1", "r1")
    c.check("LPUSH", "w3", "a")
    c.check("LRANGE", "r3", "0", "-1")
    c.check("LRANGE", "w3", "0", "-1")
    c.check("SMOVE", "x5", "w5", "m")
    c.check("SMOVE", "w5", "x5", "m")
    c.check("RPOPLPUSH", "r6", "w6")
    c.check("RPOPLPUSH", "x6", "w6")
    c.check("PUBLISH", "ch1", "m")
    c.check("PUBLISH", "other", "m")
    c.check("FLUSHALL")
    c.check("CONFIG", "GET", "maxmemory")
    c.check("ACL", "WHOAMI")
    c.check("ACL", "SETUSER", "x")


def test_noperm_channels_on_subscribe(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "sub", "on", ">pw", "resetchannels", "&news.*", "&lit*",
                "+@all", "~*")
    c = pair("sub", "pw")
    c.check("SUBSCRIBE", "other")
    c.check("PSUBSCRIBE", "news.*x")
    c.check("PSUBSCRIBE", "lit")
    c.check("PUBLISH", "nope", "x")
    c.check("PUBLISH", "news.a", "x")


def test_noperm_in_multi(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "m", "on", ">pw", "~k*", "+multi", "+exec", "+set",
                "+discard")
    c = pair("m", "pw")
    c.check("MULTI")
    c.check("SET", "k1", "v")
    c.check("GET", "k1")
    c.check("SET", "z1", "v")
    c.check("EXEC")


def test_firstarg_rules(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "fa", "on", ">pw", "~*", "-@all", "+select|0", "+config|get",
                "+ping")
    c = pair("fa", "pw")
    c.check("SELECT", "0")
    c.check("SELECT", "1")
    c.check("CONFIG", "GET", "maxclients")
    c.check("CONFIG", "SET", "maxclients", "10")
    c.check("PING")


def test_no_auth_commands_always_allowed(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "none", "on", ">pw", "-@all")
    c = pair("none", "pw")
    c.check("PING")
    c.check("AUTH", "none", "pw")
    c.check("HELLO", "2")
    c.check("ECHO", "x")
    c.check("RESET")
    c.check("ACL", "WHOAMI")


DRYRUN_CASES = [
    ["nope", "get", "x"],
    ["default", "nocmd", "x"],
    ["default", "config", "x"],
    ["default", "config", "get"],
    ["default", "config"],
    ["default", "client"],
    ["default", "get"],
    ["default", "GET", "k"],
    ["dr", "get", "r1"],
    ["dr", "get", "w1"],
    ["dr", "set", "w1", "v"],
    ["dr", "set", "w1", "v", "get"],
    ["dr", "set", "r1", "v"],
    ["dr", "publish", "ch", "x"],
    ["dr", "publish", "zz", "x"],
    ["dr", "subscribe", "ch", "zz"],
    ["dr", "psubscribe", "ch*"],
    ["dr", "psubscribe", "c*"],
    ["dr", "flushall"],
    ["dr", "config", "get", "x"],
    ["dr", "mget", "r1", "w1"],
    ["dr", "bitfield", "r1", "get", "u8", "0"],
    ["dr", "bitfield", "r1", "set", "u8", "0", "1"],
    ["dr", "bitfield", "w1", "get", "u8", "0"],
    ["dr", "incr", "w1"],
    ["dr", "lpush", "w1", "x"],
    ["dr", "lmove", "r1", "w1", "left", "right"],
    ["dr", "exists", "r1", "w1", "other"],
    ["dr", "zunionstore", "w1", "2", "r1", "r2"],
    ["dr", "zunionstore", "w1", "1", "r1"],
    ["dr", "copy", "r1", "w1"],
]


def test_dryrun(both):
    setuser(both, "dr", "on", "%R~r*", "%W~w*", "&ch", "&ch*", "+@all", "-@dangerous",
            "-config|get")
    for case in DRYRUN_CASES:
        if case[0] == "dr" and both.node.call("COMMAND", "INFO", case[1]) == [None]:
            continue      # not implemented (yet) by NodeNsync
        both.check("ACL", "DRYRUN", *case)
    both.check("ACL", "DRYRUN", "dr")


def test_acl_log_entries(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "lg", "on", ">pw", "~k*", "&c*", "+get", "+publish",
                "+multi", "+discard")
    c = pair("lg", "pw")
    c.check("SET", "k", "v")
    c.check("SET", "k", "v")
    c.check("GET", "zz")
    c.check("PUBLISH", "x", "m")
    c.check("AUTH", "lg", "wrong")
    c.check("auth", "nobody", "wrong")
    c.check("HELLO", "2", "AUTH", "lg", "bad")
    c.check("MULTI")
    c.check("GET", "zz")
    c.check("DISCARD")
    a, b = admin.both("ACL", "LOG")
    assert len(a) == len(b) == 7

    def strip(entries):
        out = []
        for e in entries:
            d = dict(zip(e[::2], e[1::2]))
            assert isinstance(d.pop(b"age-seconds"), bytes)
            info = d.pop(b"client-info")
            assert b"user=" in info and b"addr=127.0.0.1" in info
            out.append(d)
        return out
    assert strip(a) == strip(b)
    a, b = admin.both("ACL", "LOG", "2")
    assert strip(a) == strip(b)
    admin.check("ACL", "LOG", "RESET")
    admin.check("ACL", "LOG")


def test_acl_log_max_len(pair):
    admin = pair()
    admin.check("CONFIG", "SET", "acllog-max-len", "2")
    admin.check("ACL", "SETUSER", "lg", "on", ">pw", "+@all", "resetkeys")
    c = pair("lg", "pw")
    for k in ("a", "b", "c"):
        c.check("GET", k)
    a, b = admin.both("ACL", "LOG")
    assert len(a) == len(b) == 2
    admin.check("CONFIG", "GET", "acllog-max-len")
    admin.check("CONFIG", "SET", "acllog-max-len", "128")


# -- ACL files --------------------------------------------------------------------------------
def test_acl_file_written_by_redis_loads_as_is(redis_factory, server_factory, tmp_path):
    path = str(tmp_path / "users.acl")
    open(path, "w").close()
    ref = redis_factory("--aclfile", path)
    r = RawClient(ref.port)
    for args in (["alice", "on", ">alicepw", "~*", "&*", "+@all", "-@dangerous"],
                 ["bob", "on", ">bobpw", "%R~b*", "resetchannels", "&news", "+@read", "-get"],
                 ["carol", "off", "nopass", "~c*", "+select|0", "+config|get"],
                 ["dave", "on", "#" + "b" * 64, "allkeys", "allchannels", "+@all", "-flushall"],
                 ["default", "on", ">defaultpw", "~*", "&*", "+@all"]):
        assert r.call("ACL", "SETUSER", *args) == b"OK"
    assert r.call("AUTH", "defaultpw") == b"OK"
    assert r.call("ACL", "SAVE") == b"OK"
    ref_list = r.call("ACL", "LIST")
    r.close()
    written = open(path, "rb").read()
    node = server_factory("--aclFile", path, "--aclPasswordHash", "sha256", wait=False)
    _wait_auth(node.port, "default", "defaultpw")
    n = RawClient(node.port)
    assert n.call("AUTH", "default", "defaultpw") == b"OK"
    assert _same_rules(n.call("ACL", "LIST"), ref_list)
    assert n.call("AUTH", "alice", "alicepw") == b"OK"
    assert n.call("AUTH", "bob", "bobpw") == b"OK"
    # Saving again gives the same file, which real Redis loads.
    assert n.call("AUTH", "default", "defaultpw") == b"OK"
    assert n.call("ACL", "SAVE") == b"OK"
    assert _same_rules(open(path, "rb").read().splitlines(), written.splitlines())
    n.close()
    ref2 = redis_factory("--aclfile", path, wait=False)
    _wait_auth(ref2.port, "default", "defaultpw")
    r2 = RawClient(ref2.port)
    assert r2.call("AUTH", "default", "defaultpw") == b"OK"
    assert _same_rules(r2.call("ACL", "LIST"), ref_list)
    r2.close()


def _same_rules(a, b):
    """ACL LIST lines equal up to the order of single-command rules, which
    Redis emits in its command table's hash order (seeded per process)."""
    def norm(line):
        words = line.split()
        head = [w for w in words if not w[:1] in (b"+", b"-")]
        cmds = [w for w in words if w[:1] in (b"+", b"-")]
        return head, cmds[:1], sorted(cmds[1:])
    return [norm(x) for x in a] == [norm(x) for x in b]


def _wait_auth(port, user, password, timeout=15.0):
    import time
    from servers import HOST
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = RawClient(port, timeout=2)
            if c.call("AUTH", user, password) == b"OK":
                c.close()
                return
            c.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("server on %s:%d not ready" % (HOST, port))


_GOOD_ACL = "user default on nopass ~* &* +@all\n"


def _acl_file_pair(redis_factory, server_factory, tmp_path):
    """(the ACL file both servers load, raw clients to NodeNsync and Redis)."""
    good = tmp_path / "good.acl"
    good.write_text(_GOOD_ACL)
    ref = redis_factory("--aclfile", str(good))
    node = server_factory("--aclFile", str(good))
    return good, RawClient(node.port), RawClient(ref.port)


def _check_acl_loads(good, n, r, cases):
    """ACL LOAD of each file text answers (and leaves ACL LIST) the same on
    both servers; a good file loads again after each."""
    for text in cases:
        good.write_text(text)
        a, b = n.call_raw("ACL", "LOAD"), r.call_raw("ACL", "LOAD")
        assert a == b, (text, a, b)
        assert n.call_raw("ACL", "LIST") == r.call_raw("ACL", "LIST"), text
        good.write_text(_GOOD_ACL)
        assert n.call("ACL", "LOAD") == r.call("ACL", "LOAD") == b"OK"


def test_acl_load_errors_match(redis_factory, server_factory, tmp_path):
    good, n, r = _acl_file_pair(redis_factory, server_factory, tmp_path)
    cases = [
        "# a comment\n",
        "user\n",
        "notuser x\n",
        "user x on +@nosuch\n",
        "user x on\nuser x off\n",
        "user a b c\n",
        "user x on #abc\n",
        "\n\n  \nuser x on ~* +@all\n",
        "user y on   ~*  +get\n",
    ]
    _check_acl_loads(good, n, r, cases)
    os.unlink(str(good))
    a, b = n.call_raw("ACL", "LOAD"), r.call_raw("ACL", "LOAD")
    assert a == b
    r.close()
    n.close()


def test_example_users_file_loads_in_both(redis_factory, server_factory, tmp_path):
    """conf/users.acl (the shipped example) is valid for Redis and NodeNsync
    and describes the same users."""
    import shutil
    from servers import ROOT
    path = str(tmp_path / "users.acl")
    shutil.copy(os.path.join(ROOT, "conf", "users.acl"), path)
    ref = redis_factory("--aclfile", path, wait=False)
    node = server_factory("--aclFile", path, wait=False)
    _wait_auth(ref.port, "admin", "change-me-admin")
    _wait_auth(node.port, "admin", "change-me-admin")
    lists = []
    for port in (ref.port, node.port):
        c = RawClient(port)
        assert c.call("AUTH", "admin", "change-me-admin") == b"OK"
        lists.append(c.call("ACL", "LIST"))
        d = RawClient(port)
        assert str(d.call("GET", "x")).startswith("NOAUTH")
        assert d.call("AUTH", "app", "change-me-app") == b"OK"
        assert str(d.call("GET", "x")).startswith("NOPERM")
        assert d.call("SET", "app:x", "1") == b"OK"
        assert d.call("AUTH", "reporting", "change-me-reporting") == b"OK"
        assert d.call("GET", "app:x") == b"1"
        assert str(d.call("SET", "app:x", "2")).startswith("NOPERM")
        c.close()
        d.close()
    # The reporting role's description lists single commands Redis has and
    # NodeNsync may not (sort_ro ...): compare the other users exactly.
    assert _same_rules([x for x in lists[0] if b"reporting" not in x],
                       [x for x in lists[1] if b"reporting" not in x])
    for lst in lists:
        line = [x for x in lst if x.startswith(b"user reporting ")][0]
        assert b" ~* resetchannels -@all +@read +@connection " in line


# -- selectors -----------------------------------------------------------------------------------
# Selectors (`(...)` rules) as Redis 7.0.15: a command runs when the root
# selector or one added selector allows it together with all its keys and
# channels.  (Selectors list at most one single command each where the
# order of several would be Redis's per-process hash order.)
SELECTOR_CASES = [
    ["on", "nopass", "-@all", "resetkeys", "(+@write ~write::*)", "(+@read ~read::*)"],
    ["reset", "()"],
    ["on", "(~added-selector)"],
    ["(~key1 +get )", "( ~key2 +get )", "( ~key3 +get)", "(~key4 +get)"],
    ["(~key5", "+get", ")", "(", "~key6", "+get", ")", "(", "~key7", "+get)"],
    ["-@all", "+get", "resetchannels", "&channel1", "%R~foo1", "%W~bar1", "~baz1",
     "(-@all +set resetchannels &channel2 %R~foo2 %W~bar2 ~baz2)"],
    ["(%R~foo %W~foo %RW~bar)", "(~* &* +@all)", "(allkeys allchannels allcommands)"],
    ["(resetkeys ~a allkeys resetchannels &x allchannels nocommands +@hash)"],
    ["(+@all -@dangerous ~app:*)", "(+select|0 ~*)", "(+config|get)"],
    ['(~a "~b" \'&c\' "+get")', '(~a "~b)', '(~k "")x)'],
    ["on", ">pw", "(+get ~x)", "clearselectors", "(+set ~y)"],
    ["on", ">pw", "~*", "+@all", "(+get ~x)", "reset"],
]


@pytest.mark.parametrize("rules", SELECTOR_CASES, ids=lambda r: " ".join(r))
@pytest.mark.parametrize("protocol", [2, 3])
def test_selectors_setuser_getuser_list(pair, rules, protocol):
    both = pair(protocol=protocol)
    both.check("ACL", "SETUSER", "s", *rules)
    both.check("ACL", "GETUSER", "s")
    both.check("ACL", "LIST")
    both.check("ACL", "SETUSER", "s", *rules)       # selectors add up
    both.check("ACL", "GETUSER", "s")
    both.check("ACL", "SETUSER", "s", "clearselectors")
    both.check("ACL", "GETUSER", "s")


def test_selectors_with_acl_pubsub_default_allchannels(both):
    both.check("CONFIG", "SET", "acl-pubsub-default", "allchannels")
    try:
        setuser(both, "p", "on", "nopass", "(~a +get)", "resetchannels", "(&x +publish)")
        both.check("ACL", "GETUSER", "p")
        both.check("ACL", "LIST")
        setuser(both, "p", "reset")
        both.check("ACL", "GETUSER", "p")
    finally:
        both.check("CONFIG", "SET", "acl-pubsub-default", "resetchannels")


SELECTOR_ERRORS = [
    ["on", "(this-is-invalid)"],
    ["on", "(&* &fail)"],
    ["on", "(~* ~a)"],
    ["on", "(allkeys %R~a)"],
    ["(+nosuch ~a)"],
    ["(+@nosuch)"],
    ["(-@nosuch)"],
    ["(%X~a)"],
    ["(~a b)"],
    ['(~"a b")'],
    ["(+config|get|x)"],
    ["(on)"],
    ["(>pw)"],
    ["(nopass)"],
    ["(#abc)"],
    ["(reset)"],
    ["(clearselectors)"],
    ["((~a))"],
    ['(~k "" +get)'],
    [" () "],
    ["("],
    [")"],
    ["(~a", "+get"],
    ["on", "(~a)", "(~b"],
    ["(~a", "(+get x)", "(y"],
    ["(~a) (~b)x"],
    ["(~a"],
]


@pytest.mark.parametrize("rules", SELECTOR_ERRORS, ids=lambda r: " ".join(r))
def test_selector_errors(both, rules):
    both.check("ACL", "SETUSER", "bad", *rules)
    both.check("ACL", "GETUSER", "bad")
    setuser(both, "good", "on", "(~a +get)")
    both.check("ACL", "SETUSER", "good", "(~b +set)", *rules)   # all or nothing
    both.check("ACL", "GETUSER", "good")


def test_commands_allowed_only_by_a_selector(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "s1", "on", ">pw", "-@all", "resetkeys",
                "(+@write ~write::*)", "(+@read ~read::*)")
    c = pair("s1", "pw")
    c.check("PING")
    c.check("SET", "write::foo", "bar")
    c.check("GET", "read::foo")
    c.check("GET", "write::foo")
    c.check("SET", "read::foo", "bar")
    c.check("MGET", "read::a", "read::b")
    c.check("MGET", "read::a", "write::b")
    c.check("CONFIG", "GET", "maxmemory")
    admin.check("ACL", "SETUSER", "s1", "clearselectors")
    c.check("GET", "read::foo")
    c.check("SET", "write::foo", "bar")
    admin.check("ACL", "SETUSER", "s1", "(+get +select|0 ~*)")
    c.check("GET", "anything")
    c.check("SELECT", "0")
    c.check("SELECT", "1")


def test_selector_checks_keys_and_channels_together(pair):
    admin = pair()
    # Read and write patterns of different selectors do not add up.
    admin.check("ACL", "SETUSER", "rw", "on", ">pw", "(%R~read* +@all)", "(%W~write* +@all)")
    c = pair("rw", "pw")
    c.check("LPUSH", "writelist", "10")
    c.check("GET", "writestr")
    c.check("LPUSH", "notwrite", "10")
    c.check("SET", "readstr", "bar")
    c.check("GET", "readstr")
    c.check("GET", "notread")
    c.check("COPY", "read", "write")
    c.check("COPY", "write", "read")
    c.check("SET", "writestr", "x", "GET")
    c.check("BITFIELD", "readstr", "GET", "u4", "0")
    c.check("BITFIELD", "writestr", "SET", "u4", "0", "1")
    # A selector allows keys and channels only for its own commands.
    admin.check("ACL", "SETUSER", "kc", "on", ">pw", "resetchannels", "+publish", "~*",
                "(&a* +publish ~k)", "(&b* +publish +get)")
    d = pair("kc", "pw")
    d.check("PUBLISH", "a1", "x")
    d.check("PUBLISH", "b1", "x")
    d.check("PUBLISH", "c1", "x")
    d.check("GET", "k")
    d.check("GET", "z")
    d.check("SET", "k", "v")
    admin.check("ACL", "SETUSER", "sub", "on", ">pw", "resetchannels", "-@all",
                "(+subscribe +psubscribe &news.*)", "(+subscribe &lit)")
    e = pair("sub", "pw")
    e.check("SUBSCRIBE", "x", "lit")
    e.check("SUBSCRIBE", "news.1", "lit")
    e.check("PSUBSCRIBE", "news.1")
    e.check("PSUBSCRIBE", "news.*")
    e.check("UNSUBSCRIBE")
    e.check("PUNSUBSCRIBE")


def test_selectors_in_multi(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "m", "on", ">pw", "-@all", "(+multi +exec ~*)",
                "(+set ~k*)", "(+get ~g*)")
    c = pair("m", "pw")
    c.check("MULTI")
    c.check("SET", "k1", "v")
    c.check("GET", "g1")
    c.check("GET", "k1")
    c.check("EXEC")
    c.check("MULTI")
    c.check("SET", "k1", "v")
    c.check("GET", "g1")
    admin.check("ACL", "SETUSER", "m", "clearselectors", "(+multi +exec)", "(+set ~k*)")
    c.check("EXEC")


SELECTOR_DRYRUN = [
    ["p5", "COPY", "b1", "a1"],
    ["p5", "COPY", "b1", "c1"],
    ["p5", "COPY", "a1", "b1"],
    ["p5", "MSET", "c1", "x", "d1", "y", "a1", "z"],
    ["p5", "MSET", "a1", "x", "c1", "y", "zz", "z"],
    ["p5", "MSET", "zz", "x", "c1", "y"],
    ["p5", "GET", "b1"],
    ["p5", "SET", "b1", "x"],
    ["p5", "EVAL", "", "2", "a1", "c1"],
    ["p5", "PUBLISH", "ch", "x"],
    ["lg", "GET", "key"],
    ["lg", "MGET", "otherkey", "someotherkey"],
    ["lg", "MGET", "key", "otherkey", "someotherkey"],
    ["lg", "MGET", "zz", "key"],
    ["ch", "PUBLISH", "a1", "x"],
    ["ch", "PUBLISH", "c1", "x"],
    ["ch", "GET", "z"],
    ["ch", "SET", "z", "1"],
    ["ch", "SUBSCRIBE", "b1", "a1"],
    ["ch", "PING"],
    ["ch", "AUTH", "a", "b"],
    ["ch", "SELECT", "0"],
    ["ch", "SELECT", "1"],
    ["ch", "SET", "z"],
]


def test_dryrun_with_selectors(both):
    setuser(both, "p5", "on", "nopass", "+@all", "resetkeys", "(~a* %R~b*)", "(%W~c*)")
    setuser(both, "lg", "on", "nopass", "+mget", "~key", "(+mget ~key ~otherkey)")
    setuser(both, "ch", "on", "nopass", "resetchannels", "+publish", "~*",
            "(&a* +publish ~k)", "(&b* +publish +get)", "(+subscribe &b*)", "(+select|0)")
    for case in SELECTOR_DRYRUN:
        both.check("ACL", "DRYRUN", *case)


def _log_entries(entries):
    out = []
    for e in entries:
        d = dict(zip(e[::2], e[1::2]))
        d.pop(b"age-seconds")
        assert b"user=" in d.pop(b"client-info")
        out.append(d)
    return out


def test_acl_log_with_selectors(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "lg", "on", ">pw", "+mget", "~key", "(+mget ~key ~otherkey)",
                "resetchannels", "(+publish &a* ~k)", "(+publish +get &b*)", "+multi")
    c = pair("lg", "pw")
    c.check("GET", "key")
    c.check("MGET", "otherkey", "someotherkey")
    c.check("MGET", "key", "otherkey", "someotherkey")
    c.check("PUBLISH", "c1", "x")
    c.check("GET", "zz")
    c.check("MULTI")
    c.check("MGET", "nope")
    a, b = admin.both("ACL", "LOG")
    assert len(a) == len(b) == 5       # the second MGET's entry counts twice
    assert _log_entries(a) == _log_entries(b)


def test_script_calls_checked_by_selectors(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "lu", "on", ">pw", "-@all", "(+eval ~*)", "(+get ~x)",
                "(+set ~y)")
    c = pair("lu", "pw")
    c.check("EVAL", "return redis.call('get','x')", "0")
    c.check("EVAL", "return redis.call('set','y','1')", "0")
    c.check("EVAL", "return redis.call('get','y')", "0")
    c.check("EVAL", "return redis.pcall('get','y')", "0")
    c.check("EVAL", "return redis.call('del','x')", "0")
    a, b = admin.both("ACL", "LOG")
    assert _log_entries(a) == _log_entries(b)       # context "lua"
    assert [e[e.index(b"client-info") + 1].split(b" cmd=")[1].split()[0] for e in a] == \
        [b"eval", b"eval"]


def test_sort_by_and_get_need_a_selector_with_full_read_access(pair):
    admin = pair()
    admin.check("SET", "v1", "1")
    admin.check("LPUSH", "mylist", "1")
    admin.check("ACL", "SETUSER", "srt", "on", ">pw", "(+sort ~mylist)")
    c = pair("srt", "pw")
    c.check("SORT", "mylist", "BY", "v*")
    c.check("SORT", "mylist", "GET", "v*")
    c.check("SORT", "mylist")
    for sel in ("(+sort ~mylist ~v*)", "(+sort ~mylist %W~*)", "(+sort ~mylist %R~*)"):
        admin.check("ACL", "SETUSER", "srt", sel)
        c.check("SORT", "mylist", "BY", "v*")
        c.check("SORT", "mylist", "GET", "v*", "GET", "#")
    admin.check("ACL", "SETUSER", "srt2", "on", ">pw", "+sort", "~*", "(+sort_ro %R~*)")
    d = pair("srt2", "pw")
    d.check("SORT_RO", "mylist", "BY", "v*")
    d.check("SORT", "mylist", "BY", "v*")


def test_pubsub_clients_killed_when_a_selector_loses_the_channel(pair):
    admin = pair()
    admin.check("ACL", "SETUSER", "ps", "on", ">pw", "resetchannels", "-@all",
                "(+subscribe &news)")
    c = pair("ps", "pw")
    c.check("SUBSCRIBE", "news")
    admin.check("ACL", "SETUSER", "ps", "(+get ~x)")         # still allowed: kept
    c.check("PING")
    admin.check("ACL", "SETUSER", "ps", "clearselectors", "(+subscribe &other)")
    for conn in (c.node, c.ref):
        assert conn.recv_all(1.0) == b""


def _norm_acl_lines(lines):
    """ACL LIST / file lines, single-command rules of each selector sorted
    (Redis emits several in its per-process hash order)."""
    out = []
    for line in lines:
        line = line.decode() if isinstance(line, bytes) else line
        parts = re.split(r"(\([^)]*\))", line)
        norm = []
        for p in parts:
            words = p.strip(" ()").split()
            cmds = [w for w in words if w[:1] in "+-" and w[1:2] != "@"]
            norm.append(([w for w in words if w not in cmds], sorted(cmds)))
        out.append(norm)
    return out


SELECTOR_USERS = [
    ["alice", "on", ">alicepw", "(+get ~rw*)"],
    ["bob", "on", ">bobpw", "(+set %W~w*)", "(+get %R~r*)"],
    ["carol", "off", "nopass", "~c*", "resetchannels", "&ch", "+@read", "-@all",
     "(+@hash ~app:* &app:*)", "(+select|0 +get ~*)"],
    ["dave", "on", "nopass", "()"],
    ["default", "on", ">defaultpw", "~*", "&*", "+@all", "(~x +get)"],
]


def test_acl_save_load_round_trip_with_selectors(redis_factory, server_factory, tmp_path):
    paths = {kind: str(tmp_path / ("%s.acl" % kind)) for kind in ("node", "redis")}
    for p in paths.values():
        open(p, "w").close()
    ref = redis_factory("--aclfile", paths["redis"])
    node = server_factory("--aclFile", paths["node"], "--aclPasswordHash", "sha256")
    lists = {}
    for kind, port in (("node", node.port), ("redis", ref.port)):
        c = RawClient(port)
        for args in SELECTOR_USERS:
            assert c.call("ACL", "SETUSER", *args) == b"OK", (kind, args)
        assert c.call("AUTH", "defaultpw") == b"OK"
        lists[kind] = c.call("ACL", "LIST")
        assert c.call("ACL", "SAVE") == b"OK"
        c.call("ACL", "SETUSER", "alice", "clearselectors")
        c.call("ACL", "DELUSER", "bob")
        assert c.call("ACL", "LOAD") == b"OK"
        assert c.call("AUTH", "defaultpw") == b"OK"
        assert c.call("ACL", "LIST") == lists[kind], kind
        assert c.call("AUTH", "bob", "bobpw") == b"OK"
        assert c.call("GET", "r1") is None
        assert str(c.call("GET", "w1")).startswith("NOPERM")
        assert c.call("SET", "w1", "v") == b"OK"
        c.close()
    assert _norm_acl_lines(lists["node"]) == _norm_acl_lines(lists["redis"])
    files = {k: open(p, "rb").read().splitlines() for k, p in paths.items()}
    assert _norm_acl_lines(files["node"]) == _norm_acl_lines(files["redis"])
    # Each server loads the file the other one saved.
    ref2 = redis_factory("--aclfile", paths["node"], wait=False)
    node2 = server_factory("--aclFile", paths["redis"], "--aclPasswordHash", "sha256",
                           wait=False)
    for kind, server in (("node", node2), ("redis", ref2)):
        _wait_auth(server.port, "default", "defaultpw")
        c = RawClient(server.port)
        assert c.call("AUTH", "default", "defaultpw") == b"OK"
        assert _norm_acl_lines(c.call("ACL", "LIST")) == _norm_acl_lines(lists[kind])
        for user in ("alice", "bob", "carol", "dave"):
            a = c.call("ACL", "GETUSER", user)
            assert a[a.index(b"selectors") + 1] != [] or user == "dave", (kind, user, a)
        c.close()


def test_acl_load_selector_errors_match(redis_factory, server_factory, tmp_path):
    good, n, r = _acl_file_pair(redis_factory, server_factory, tmp_path)
    cases = [
        "user x on (~a +get)\n",
        "user x on (~a  +get) (  ~b +set )\n",
        "user x on (+get ~rw*) ()\n",
        "user x (~a +get\n",
        "user x (~a\nuser y (~b\n",
        "user x on (+nosuch ~a) (+get ~b)\n",
        "user x on (this-is-invalid) (&* &x)\n",
        "user x on (on) (-@nosuch)\n",
        "user x on (~a +get) clearselectors (~b +set)\n",
        "user x on (~a)\r\n",
        "user x on\tx (~a\t+get)\n",
    ]
    _check_acl_loads(good, n, r, cases)
    r.close()
    n.close()
