"""Users, roles, passwords at rest, tokens, throttling and protected mode,
against real NodeNsync processes (differential checks against redis-server
are in tests/differential/test_acl_diff.py)."""
import os
import socket
import time

import pytest

from servers import HOST, RawClient

PROTECTED_DENIED = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user.")


def wait_ready(port, user=None, password=None, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            c = RawClient(port, timeout=5)
            try:
                if password is not None:
                    args = ("AUTH", user, password) if user else ("AUTH", password)
                    last = c.call(*args)
                else:
                    last = c.call("PING")
                if last in (b"OK", b"PONG"):
                    return
            finally:
                c.close()
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise RuntimeError("server on %d not ready: %r" % (port, last))


def client(port, user=None, password=None, source=None, timeout=10.0):
    """A RawClient, optionally from another loopback source address."""
    c = RawClient.__new__(RawClient)
    import hiredis
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    s.connect((HOST, port))
    c.sock = s
    c.reader = hiredis.Reader()
    c.pending = b""
    if password is not None:
        r = c.call(*(("AUTH", user, password) if user else ("AUTH", password)))
        assert r == b"OK", r
    return c


def err(reply):
    assert isinstance(reply, Exception), reply
    return str(reply)


@pytest.fixture(scope="module")
def acl_server():
    from servers import NodeServer
    s = NodeServer("--authFailThreshold", "0")
    yield s
    s.cleanup()


@pytest.fixture
def admin(acl_server):
    c = RawClient(acl_server.port)
    for u in c.call("ACL", "USERS"):
        if u != b"default":
            c.call("ACL", "DELUSER", u)
    c.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
    c.call("ACL", "LOG", "RESET")
    c.call("FLUSHALL")
    yield c
    c.close()


# -- passwords at rest ---------------------------------------------------------------------
def test_passwords_are_salted_slow_hashes(admin, acl_server):
    assert admin.call("ACL", "SETUSER", "u1", "on", ">hunter2", "~*", "+@all") == b"OK"
    assert admin.call("ACL", "SETUSER", "u2", "on", ">hunter2", "~*", "+@all") == b"OK"
    g1 = dict(zip(*[iter(admin.call("ACL", "GETUSER", "u1"))] * 2))
    g2 = dict(zip(*[iter(admin.call("ACL", "GETUSER", "u2"))] * 2))
    p1, p2 = g1[b"passwords"][0], g2[b"passwords"][0]
    assert p1.startswith(b"scrypt$") and p2.startswith(b"scrypt$")
    assert p1 != p2                       # salted
    listing = b" ".join(admin.call("ACL", "LIST"))
    assert b"hunter2" not in listing
    c = client(acl_server.port, "u1", "hunter2")
    assert c.call("ACL", "WHOAMI") == b"u1"
    assert err(client(acl_server.port).call("AUTH", "u1", "hunter3")).startswith("WRONGPASS")
    # Redis's #<sha256> form is accepted and compared as SHA-256.
    import hashlib
    h = hashlib.sha256(b"legacy").hexdigest()
    assert admin.call("ACL", "SETUSER", "u3", "on", "#" + h, "+@all") == b"OK"
    assert client(acl_server.port).call("AUTH", "u3", "legacy") == b"OK"
    # Removing by plaintext works with salted entries; re-adding is idempotent.
    assert admin.call("ACL", "SETUSER", "u1", ">hunter2", ">other") == b"OK"
    g1 = dict(zip(*[iter(admin.call("ACL", "GETUSER", "u1"))] * 2))
    assert len(g1[b"passwords"]) == 2
    assert admin.call("ACL", "SETUSER", "u1", "<hunter2") == b"OK"
    assert err(client(acl_server.port).call("AUTH", "u1", "hunter2")).startswith("WRONGPASS")
    assert client(acl_server.port).call("AUTH", "u1", "other") == b"OK"
    c.close()


def test_login_does_not_stall_other_clients(admin, acl_server):
    """Slow hashing runs in the thread pool: a PING client keeps its latency
    while many logins are being verified."""
    admin.call("ACL", "SETUSER", "slow", "on", ">right", "+@all")
    import threading
    stop = threading.Event()

    def hammer(i):
        while not stop.is_set():
            c = client(acl_server.port)
            c.call("AUTH", "slow", "wrong-%d-%f" % (i, time.time()))
            c.close()
    threads = [threading.Thread(target=hammer, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.2)
        pinger = client(acl_server.port)
        lat = []
        for _ in range(40):
            t0 = time.perf_counter()
            assert pinger.call("PING") == b"PONG"
            lat.append(time.perf_counter() - t0)
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    # One scrypt takes ~45 ms here: a loop blocked by hashing would make
    # most PINGs wait for one (median ~20+ ms); 2 shared cores add noise.
    lat.sort()
    assert lat[len(lat) // 2] < 0.01, lat
    assert lat[-1] < 0.2, lat


# -- roles against every category ----------------------------------------------------------------
def _command_table(c):
    """name -> (arity, set of categories) from COMMAND."""
    table = {}

    def walk(entry):
        name = entry[0].decode()
        cats = {x.decode().lstrip("@") for x in entry[6]}
        if not entry[9] or entry[1] != -2:      # a pure container is never run alone
            table[name] = (entry[1], cats)
        for sub in entry[9]:
            walk(sub)
    for e in c.call("COMMAND"):
        walk(e)
    return table


def role_allows(role, cats):
    if role == "admin":
        return True
    if role == "user":
        return not cats & {"admin", "dangerous"}
    if role == "readonly":
        return bool(cats & {"read", "connection"}) and not cats & {"admin", "dangerous"}
    raise ValueError(role)


ROLES = ("admin", "user", "readonly")
# A harmless invocation per category (used when the command exists).
SAMPLES = {
    "keyspace": [["EXISTS", "k"], ["TYPE", "k"], ["DEL", "nokey"]],
    "read": [["GET", "k"], ["STRLEN", "k"], ["LRANGE", "l", "0", "-1"]],
    "write": [["SET", "k", "v"], ["DEL", "nokey"], ["LPUSH", "l", "a"]],
    "set": [["SADD", "s", "m"], ["SMEMBERS", "s"]],
    "sortedset": [["ZADD", "z", "1", "m"], ["ZRANGE", "z", "0", "-1"]],
    "list": [["LPUSH", "l", "a"], ["LLEN", "l"]],
    "hash": [["HSET", "h", "f", "v"], ["HGET", "h", "f"]],
    "string": [["APPEND", "k2", "x"], ["GET", "k"]],
    "bitmap": [["SETBIT", "b", "1", "1"], ["GETBIT", "b", "1"]],
    "hyperloglog": [["PFADD", "hll", "a"]],
    "geo": [["GEOADD", "g", "1", "1", "m"]],
    "stream": [["XLEN", "st"]],
    "pubsub": [["PUBLISH", "ch", "m"], ["PUBSUB", "CHANNELS"]],
    "admin": [["CONFIG", "GET", "maxclients"], ["CLIENT", "LIST"], ["ACL", "LIST"],
              ["SLOWLOG", "LEN"]],
    "fast": [["PING"], ["GET", "k"]],
    "slow": [["ECHO", "x"], ["DBSIZE"], ["INFO", "server"]],
    "blocking": [["BLPOP", "nolist", "0.01"]],
    "dangerous": [["FLUSHDB"], ["KEYS", "nomatch*"], ["CONFIG", "GET", "maxclients"]],
    "connection": [["ECHO", "x"], ["PING"], ["CLIENT", "ID"], ["SELECT", "0"]],
    "transaction": [["WATCH", "k"], ["UNWATCH"]],
    "scripting": [["SCRIPT", "EXISTS", "x"]],
}


def _spec_name(c, args, table):
    name = args[0].lower()
    if len(args) > 1 and (name + "|" + args[1].lower()) in table:
        return name + "|" + args[1].lower()
    return name


def test_every_role_against_every_category(admin, acl_server):
    table = _command_table(admin)
    for role in ROLES:
        assert admin.call("ACL", "SETUSER", "r_" + role, "on", ">pw", "role:" + role) == b"OK"
    # ACL DRYRUN over every command and subcommand, for each role.
    checked = 0
    for name, (arity, cats) in table.items():
        argv = name.split("|")
        need = abs(arity)
        argv += ["x"] * max(0, need - len(argv))
        for role in ROLES:
            r = admin.call("ACL", "DRYRUN", "r_" + role, *argv)
            allowed = role_allows(role, cats)
            if allowed:
                assert r == b"OK", (role, name, cats, r)
            else:
                assert r == ("This user has no permissions to run the '%s' command"
                             % name).encode(), (role, name, cats, r)
            checked += 1
    assert checked > 150 * 3
    # Real commands, one connection per role, for every category.
    conns = {role: client(acl_server.port, "r_" + role, "pw") for role in ROLES}
    seen_categories = set()
    for category, samples in SAMPLES.items():
        for args in samples:
            name = _spec_name(admin, args, table)
            if name not in table or category not in table[name][1]:
                continue
            seen_categories.add(category)
            cats = table[name][1]
            for role in ROLES:
                r = conns[role].call(*args)
                if role_allows(role, cats):
                    assert not (isinstance(r, Exception) and str(r).startswith("NOPERM")), \
                        (role, args, r)
                else:
                    assert err(r) == ("NOPERM this user has no permissions to run the '%s' "
                                      "command" % name), (role, args, r)
    assert {"read", "write", "admin", "dangerous", "connection", "keyspace", "string",
            "hash", "fast", "slow"} <= seen_categories
    for c in conns.values():
        c.close()


def test_roles_describe_as_plain_redis_rules(admin):
    admin.call("ACL", "SETUSER", "ro", "on", "nopass", "role:readonly")
    line = [x for x in admin.call("ACL", "LIST") if x.startswith(b"user ro ")][0]
    assert b"role:" not in line
    assert b"~* resetchannels -@all" in line
    assert err(admin.call("ACL", "SETUSER", "x", "role:nosuch")) == (
        "ERR Error in ACL SETUSER modifier 'role:nosuch': Unknown role (known roles: admin, "
        "user, readonly)")


def test_key_and_channel_patterns(admin, acl_server):
    admin.call("ACL", "SETUSER", "app", "on", ">pw", "~app:*", "%R~shared:*", "&news.*",
               "+@all")
    c = client(acl_server.port, "app", "pw")
    assert c.call("SET", "app:1", "v") == b"OK"
    assert err(c.call("SET", "other", "v")).startswith("NOPERM")
    assert err(c.call("SET", "shared:1", "v")).startswith("NOPERM")
    assert c.call("GET", "shared:1") is None
    assert err(c.call("MGET", "app:1", "other")).startswith("NOPERM")
    assert c.call("PUBLISH", "news.sport", "x") == 0
    assert err(c.call("PUBLISH", "weather", "x")).endswith("channels used as arguments")
    sub = client(acl_server.port, "app", "pw")
    assert sub.call("SUBSCRIBE", "news.a") == [b"subscribe", b"news.a", 1]
    # Narrowing the channels disconnects subscribers that lost access (Redis).
    admin.call("ACL", "SETUSER", "app", "resetchannels", "&other")
    assert sub.recv_all(2.0) == b""
    c.close()


def test_disable_and_delete_end_sessions(admin, acl_server):
    admin.call("ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*")
    s1 = client(acl_server.port, "temp", "pw")
    s2 = client(acl_server.port, "temp", "pw")
    assert s1.call("PING") == b"PONG"
    admin.call("ACL", "SETUSER", "temp", "off")
    assert s1.recv_all(2.0) == b""
    assert s2.recv_all(0.5) == b""
    admin.call("ACL", "SETUSER", "temp", "on")
    s3 = client(acl_server.port, "temp", "pw")
    admin.call("ACL", "DELUSER", "temp")
    assert s3.recv_all(2.0) == b""
    # Restricting a user applies to its live sessions at once.
    admin.call("ACL", "SETUSER", "live", "on", ">pw", "+@all", "~*")
    s4 = client(acl_server.port, "live", "pw")
    assert s4.call("SET", "k", "v") == b"OK"
    admin.call("ACL", "SETUSER", "live", "-set")
    assert err(s4.call("SET", "k", "v")).startswith("NOPERM")


def test_disabled_user_sessions_setting(admin, acl_server):
    """close (the default) ends a disabled user's sessions; keep (Redis's
    behaviour) only refuses new logins; a bad value is refused."""
    port = acl_server.port
    assert admin.call("CONFIG", "GET", "aclDisabledUserSessions") == [
        b"aclDisabledUserSessions", b"close"]
    assert err(admin.call("CONFIG", "SET", "aclDisabledUserSessions", "drop")).startswith(
        "ERR CONFIG SET failed (possibly related to argument 'aclDisabledUserSessions')")
    admin.call("ACL", "SETUSER", "temp", "on", ">pw", "+@all", "~*")
    assert admin.call("CONFIG", "SET", "aclDisabledUserSessions", "keep") == b"OK"
    try:
        s1 = client(port, "temp", "pw")
        # reset includes off: the user ends the call disabled.
        assert s1.call("ACL", "SETUSER", "temp", "reset", "+@all", "~*") == b"OK"
        assert s1.call("PING") == b"PONG"
        assert s1.call("ACL", "WHOAMI") == b"temp"
        assert err(client(port).call("AUTH", "temp", "pw")).startswith("WRONGPASS")
        # Turned on again, then off under close: the session ends.
        admin.call("ACL", "SETUSER", "temp", "on", ">pw")
        assert admin.call("CONFIG", "SET", "aclDisabledUserSessions", "close") == b"OK"
        admin.call("ACL", "SETUSER", "temp", "off")
        assert s1.recv_all(2.0) == b""
        # ... but reset followed by on in the same call disables nothing.
        admin.call("ACL", "SETUSER", "temp", "on")
        s2 = client(port, "temp", "pw")
        admin.call("ACL", "SETUSER", "temp", "reset", "on", ">pw", "+@all", "~*")
        assert s2.call("PING") == b"PONG"
        s2.close()
    finally:
        admin.call("CONFIG", "SET", "aclDisabledUserSessions", "close")


def test_default_user_restricted_applies_to_new_clients(admin, acl_server):
    admin.call("ACL", "SETUSER", "root", "on", ">rootpw", "+@all", "~*", "&*")
    admin.call("ACL", "SETUSER", "default", "resetkeys", "~pub:*", "-@all", "+get", "+ping")
    try:
        c = client(acl_server.port)
        assert c.call("PING") == b"PONG"
        assert err(c.call("GET", "secret")).startswith("NOPERM")
        assert c.call("GET", "pub:x") is None
        assert err(c.call("SET", "pub:x", "v")).startswith("NOPERM")
        c.close()
    finally:
        r = client(acl_server.port, "root", "rootpw")
        r.call("ACL", "SETUSER", "default", "reset", "on", "nopass", "~*", "&*", "+@all")
        r.close()


# -- tokens ---------------------------------------------------------------------------------------
def test_tokens_use_list_revoke(admin, acl_server):
    admin.call("ACL", "SETUSER", "tok", "on", ">pw", "role:user")
    admin.call("ACL", "SETUSER", "other", "on", ">pw2", "role:user")
    owner = client(acl_server.port, "tok", "pw")
    token = owner.call("ACL", "TOKEN", "CREATE", "60")
    assert isinstance(token, bytes) and b"." in token and len(token) > 40
    tid = token.split(b".")[0]
    s1 = client(acl_server.port, "tok", token.decode())
    assert s1.call("ACL", "WHOAMI") == b"tok"
    s2 = client(acl_server.port)
    assert s2.call("HELLO", "3", "AUTH", "tok", token)[b"proto"] == 3
    # A token only works for its user, and is not a password.
    assert err(client(acl_server.port).call("AUTH", "other", token)).startswith("WRONGPASS")
    assert err(client(acl_server.port).call("AUTH", "tok", token[:-1] + b"x")).startswith(
        "WRONGPASS")
    # Listing: the owner sees its own; admins see all; never the secret.
    mine = owner.call("ACL", "TOKEN", "LIST")
    assert len(mine) == 1 and mine[0][1] == tid
    other = client(acl_server.port, "other", "pw2")
    assert other.call("ACL", "TOKEN", "LIST") == []
    assert other.call("ACL", "TOKEN", "REVOKE", tid) == 0     # not its token
    everything = admin.call("ACL", "TOKEN", "LIST")
    assert any(e[1] == tid for e in everything)
    assert token.split(b".")[1] not in repr(everything).encode()
    assert b"".join(admin.call("ACL", "LIST")).find(token) < 0
    # Revoking ends both live sessions, and the token no longer works.
    assert owner.call("ACL", "TOKEN", "REVOKE", tid) == 1
    assert s1.recv_all(2.0) == b""
    assert s2.recv_all(0.5) == b""
    assert owner.call("PING") == b"PONG"           # the password session survives
    assert err(client(acl_server.port).call("AUTH", "tok", token)).startswith("WRONGPASS")
    assert owner.call("ACL", "TOKEN", "REVOKE", tid) == 0
    # Errors.
    assert err(owner.call("ACL", "TOKEN", "CREATE", "0")).startswith("ERR invalid expire")
    assert err(owner.call("ACL", "TOKEN", "CREATE", "x")) == \
        "ERR value is not an integer or out of range"
    assert err(owner.call("ACL", "TOKEN", "NOPE")) == "ERR syntax error"
    assert err(owner.call("ACL", "TOKEN")) == \
        "ERR wrong number of arguments for 'acl|token' command"


def test_token_expiry_and_user_deletion(admin, acl_server):
    admin.call("ACL", "SETUSER", "exp", "on", ">pw", "role:user")
    owner = client(acl_server.port, "exp", "pw")
    short = owner.call("ACL", "TOKEN", "CREATE", "1")
    s = client(acl_server.port, "exp", short.decode())
    assert s.call("PING") == b"PONG"
    assert s.recv_all(3.5) == b""                  # expired: the session is closed
    assert err(client(acl_server.port).call("AUTH", "exp", short)).startswith("WRONGPASS")
    long = owner.call("ACL", "TOKEN", "CREATE", "600")
    s = client(acl_server.port, "exp", long.decode())
    admin.call("ACL", "DELUSER", "exp")
    assert s.recv_all(2.0) == b""
    assert admin.call("ACL", "TOKEN", "LIST") == []


def test_nopass_user_cannot_create_token(admin):
    assert err(admin.call("ACL", "TOKEN", "CREATE")).startswith("ERR tokens are only")


# -- no plaintext secret anywhere ------------------------------------------------------------------
def test_no_plaintext_password_anywhere(server_factory, tmp_path):
    secret = "Pl41nT3xt-S3cret"
    conf = tmp_path / "nodensync.conf"
    conf.write_text("requirepass %s\n" % secret)
    aclfile = tmp_path / "users.acl"
    aclfile.write_text("user default on nopass ~* &* +@all\n")
    s = server_factory("--config", str(conf), "--aclFile", str(aclfile),
                       "--slowlogLogSlowerThan", "0", "--logLevel", "debug", wait=False)
    # (the ACL file's default user wins over requirepass, as in Redis)
    wait_ready(s.port)
    c = client(s.port)
    assert c.call("CONFIG", "SET", "requirepass", secret) == b"OK"
    got = c.call("CONFIG", "GET", "requirepass")
    assert got[0] == b"requirepass" and got[1].startswith(b"#scrypt$")
    assert secret.encode() not in got[1]
    mon = client(s.port, password=secret)
    assert mon.call("MONITOR") == b"OK"
    user_secret = "Us3r-S3cret-V4lue"
    a = client(s.port, password=secret)
    assert a.call("ACL", "SETUSER", "bob", "on", ">" + user_secret, "role:user") == b"OK"
    b = client(s.port, "bob", user_secret)
    token = b.call("ACL", "TOKEN", "CREATE")
    t = client(s.port, "bob", token.decode())
    assert t.call("HELLO", "2", "AUTH", "bob", user_secret)[0] == b"server"
    assert err(client(s.port).call("AUTH", "bob", user_secret + "x")).startswith("WRONGPASS")
    assert a.call("ACL", "SAVE") == b"OK"
    assert a.call("CONFIG", "REWRITE") == b"OK"
    time.sleep(0.3)
    seen = mon.recv_all(0.5)
    texts = {
        "monitor": seen,
        "info": a.call("INFO", "everything"),
        "client list": a.call("CLIENT", "LIST"),
        "slowlog": repr(a.call("SLOWLOG", "GET", "1000")).encode(),
        "acl list": b"\n".join(a.call("ACL", "LIST")),
        "acl log": repr(a.call("ACL", "LOG")).encode(),
        "config get": repr(a.call("CONFIG", "GET", "*")).encode(),
        "acl file": aclfile.read_bytes(),
        "conf file": conf.read_bytes(),
        "token list": repr(a.call("ACL", "TOKEN", "LIST")).encode(),
    }
    assert b"AUTH" in seen.upper() or b"auth" in seen     # MONITOR did see the logins
    s.stop()
    texts["server log"] = open(s.log_path, "rb").read()
    for where, text in texts.items():
        for word in (secret, user_secret, token.decode().split(".")[1]):
            assert word.encode() not in text, (where, word)
    assert b"#scrypt$" in texts["conf file"]
    # The rewritten conf and the ACL file still work.
    s.start(wait=False)
    wait_ready(s.port, password=secret)    # the saved ACL file has the new default
    assert client(s.port).call("AUTH", "bob", user_secret) == b"OK"


def test_requirepass_config_set_and_get(server_factory):
    s = server_factory("--requirepass", "first", wait=False)
    wait_ready(s.port, password="first")
    c = client(s.port, password="first")
    v = c.call("CONFIG", "GET", "requirepass")[1]
    assert v.startswith(b"#scrypt$") and b"first" not in v
    assert c.call("CONFIG", "SET", "requirepass", "second") == b"OK"
    assert err(client(s.port).call("AUTH", "first")).startswith("WRONGPASS")
    assert client(s.port).call("AUTH", "second") == b"OK"
    # A hashed value set back (e.g. from CONFIG GET) keeps working.
    v2 = c.call("CONFIG", "GET", "requirepass")[1]
    assert c.call("CONFIG", "SET", "requirepass", v2) == b"OK"
    assert client(s.port).call("AUTH", "second") == b"OK"
    assert c.call("CONFIG", "SET", "requirepass", "") == b"OK"
    assert client(s.port).call("GET", "k") is None
    assert err(client(s.port).call("AUTH", "x")).startswith("ERR AUTH <password> called")
    # sha256 mode stores Redis's form.
    assert c.call("CONFIG", "SET", "aclPasswordHash", "sha256") == b"OK"
    assert c.call("CONFIG", "SET", "requirepass", "third") == b"OK"
    import hashlib
    assert c.call("CONFIG", "GET", "requirepass")[1] == \
        b"#" + hashlib.sha256(b"third").hexdigest().encode()


def test_unauthenticated_request_limits(server_factory):
    s = server_factory("--requirepass", "pw", wait=False)
    wait_ready(s.port, password="pw")
    c = client(s.port)
    c.send_raw(b"*20\r\n")
    assert c.recv_all(2.0) == b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    c = client(s.port)
    c.send_raw(b"*1\r\n$20000\r\n")
    assert c.recv_all(2.0) == b"-ERR Protocol error: unauthenticated bulk length\r\n"
    c = client(s.port, password="pw")
    c.send_raw(b"*20\r\n" + b"$1\r\nx\r\n" * 20)
    assert c.read_reply().args[0].startswith("ERR unknown command")


# -- throttling -----------------------------------------------------------------------------------
def test_failed_login_throttling_per_address(server_factory):
    # (sha256 storage: verifying costs nothing, so the timings are the delays)
    s = server_factory("--requirepass", "pw", "--authFailThreshold", "3",
                       "--authFailDelay", "200", "--authFailMaxDelay", "800",
                       "--aclPasswordHash", "sha256", wait=False)
    wait_ready(s.port, password="pw")
    bad = client(s.port, source="127.0.0.2")
    times = []
    for i in range(7):
        t0 = time.monotonic()
        assert err(bad.call("AUTH", "wrong%d" % i)).startswith("WRONGPASS")
        times.append(time.monotonic() - t0)
    # 3 free failures, then each attempt waits: 0.2, 0.4, 0.8, 0.8 s.
    assert max(times[:3]) < 0.1, times
    for got, want in zip(times[3:], (0.2, 0.4, 0.8, 0.8)):
        assert want - 0.03 <= got <= want + 0.25, times
    # Parallel connections from the same address do not get more attempts.
    others = [client(s.port, source="127.0.0.2") for _ in range(3)]
    t0 = time.monotonic()
    for o in others:
        o.send_raw(RawClient.encode(["AUTH", "again"]))
    for o in others:
        assert err(o.read_reply()).startswith("WRONGPASS")
    assert time.monotonic() - t0 >= 3 * 0.8 - 0.05
    # Another address is not delayed, nor are authenticated clients.
    t0 = time.monotonic()
    assert err(client(s.port, source="127.0.0.3").call("AUTH", "nope")).startswith("WRONGPASS")
    ok = client(s.port, password="pw")
    assert ok.call("PING") == b"PONG"
    assert time.monotonic() - t0 < 0.3
    # A success (after its wait) clears the address.
    assert bad.call("AUTH", "pw") == b"OK"
    t0 = time.monotonic()
    assert err(bad.call("AUTH", "wrong")).startswith("WRONGPASS")
    assert time.monotonic() - t0 < 0.15


# -- protected mode -------------------------------------------------------------------------------
def test_protected_mode(server_factory):
    # 127.0.0.2 plays a remote client: only 127.0.0.1 is declared local.
    s = server_factory("--localNetworks", "127.0.0.1/32")
    remote = client(s.port, source="127.0.0.2")
    data = remote.recv_all(2.0)
    assert data.startswith(PROTECTED_DENIED) and data.endswith(
        b"in order for the server to start accepting connections from the outside.\r\n")
    local = client(s.port)
    assert local.call("PING") == b"PONG"
    assert local.call("CONFIG", "SET", "requirepass", "pw") == b"OK"
    remote = client(s.port, source="127.0.0.2")
    assert err(remote.call("PING")) == "NOAUTH Authentication required."
    assert remote.call("AUTH", "pw") == b"OK"
    assert local.call("CONFIG", "SET", "requirepass", "") == b"OK"
    assert local.call("CONFIG", "SET", "protected-mode", "no") == b"OK"
    assert client(s.port, source="127.0.0.2").call("PING") == b"PONG"
    assert local.call("CONFIG", "GET", "protected-mode") == [b"protected-mode", b"no"]


# -- users from the conf and from files -------------------------------------------------------------
def test_users_from_conf_and_both_sources_refused(server_factory, tmp_path):
    s = server_factory("--aclUsers", "alice on >apw role:user; ro on nopass role:readonly; "
                       "default on nopass ~* &* +@all")
    c = client(s.port)
    assert sorted(c.call("ACL", "USERS")) == [b"alice", b"default", b"ro"]
    a = client(s.port, "alice", "apw")
    assert err(a.call("CONFIG", "GET", "x")).startswith("NOPERM")
    r = client(s.port, "ro", "x")
    assert err(r.call("SET", "k", "v")).startswith("NOPERM")
    f = tmp_path / "u.acl"
    f.write_text("user default on nopass ~* &* +@all\n")
    bad = server_factory("--aclUsers", "x on", "--aclFile", str(f), wait=False)
    assert bad.proc.wait(20) == 1
    assert "define either an ACL file or declare users" in bad.log()
    bad2 = server_factory("--aclFile", str(tmp_path / "missing.acl"), wait=False)
    assert bad2.proc.wait(20) == 1
    assert "Aborting Redis startup because of ACL errors" in bad2.log()


def test_acl_save_load_round_trip(server_factory, tmp_path):
    f = tmp_path / "users.acl"
    f.write_text("user default on nopass ~* &* +@all\n")
    s = server_factory("--aclFile", str(f))
    c = client(s.port)
    c.call("ACL", "SETUSER", "alice", "on", ">apw", "%R~r:*", "&ch", "+@read", "+set")
    c.call("ACL", "SETUSER", "bob", "off", "nopass", "+@all", "-flushall", "~*")
    before = c.call("ACL", "LIST")
    assert c.call("ACL", "SAVE") == b"OK"
    assert oct(os.stat(str(f)).st_mode & 0o777) == "0o600"
    sess = client(s.port, "alice", "apw")
    assert c.call("ACL", "LOAD") == b"OK"
    assert c.call("ACL", "LIST") == before
    assert sess.recv_all(2.0) == b""     # ACL LOAD replaced alice: its clients go (Redis)
    s.restart(wait=True)
    c = client(s.port)
    assert c.call("ACL", "LIST") == before
    a = client(s.port, "alice", "apw")
    # SIGHUP (log rotation, systemctl reload): the unchanged file is not
    # reloaded, so sessions survive; a changed file is loaded.
    import signal
    os.kill(s.pid, signal.SIGHUP)
    time.sleep(0.5)
    assert a.call("GET", "r:1") is None
    with open(str(f), "a") as fh:
        fh.write("user carol on nopass ~* +@all\n")
    os.kill(s.pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while b"carol" not in c.call("ACL", "USERS") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"carol" in c.call("ACL", "USERS")
