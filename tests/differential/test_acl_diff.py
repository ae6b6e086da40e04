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


def test_acl_load_errors_match(redis_factory, server_factory, tmp_path):
    good = tmp_path / "good.acl"
    good.write_text("user default on nopass ~* &* +@all\n")
    ref = redis_factory("--aclfile", str(good))
    node = server_factory("--aclFile", str(good))
    r, n = RawClient(ref.port), RawClient(node.port)
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
    for text in cases:
        good.write_text(text)
        a, b = n.call_raw("ACL", "LOAD"), r.call_raw("ACL", "LOAD")
        assert a == b, (text, a, b)
        assert n.call_raw("ACL", "LIST") == r.call_raw("ACL", "LIST"), text
        good.write_text("user default on nopass ~* &* +@all\n")
        assert n.call("ACL", "LOAD") == r.call("ACL", "LOAD") == b"OK"
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
