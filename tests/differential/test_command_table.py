"""The command registry against real Redis's COMMAND INFO: every command
NodeNsync shares with Redis 7.0 must have the same arity, key positions,
main flags and ACL categories, because clients (redis-py's cluster client,
redis-cli, ACL rules) rely on them."""
import pytest
import redis

from nodensync import commands  # noqa: F401  (registers every command)
from nodensync.commands import registry

# Flags whose meaning clients and ACL rules depend on.
CHECKED_FLAGS = {"write", "readonly", "denyoom", "admin", "pubsub", "noscript", "blocking",
                 "fast", "no_auth", "loading", "stale", "movablekeys"}
# NodeNsync-only commands (no Redis counterpart).
OURS_ONLY = {"help"}


def _redis_table(port):
    from servers import RawClient
    c = RawClient(port)      # raw replies: redis-py would reshape COMMAND's
    raw = c.call("COMMAND")
    c.close()
    table = {}

    def add(entry):
        name = entry[0].decode() if isinstance(entry[0], bytes) else entry[0]
        table[name] = entry
        for sub in entry[9] if len(entry) > 9 else []:
            add(sub)
    for e in raw:
        add(e)
    return table


def _specs():
    for spec in registry.all_specs(include_subcommands=True):
        if spec.name in OURS_ONLY:
            continue
        yield spec


@pytest.fixture(scope="module")
def redis_table(redis_server):
    return _redis_table(redis_server.port)


def _flags(entry):
    return {f.decode() if isinstance(f, bytes) else f for f in entry[2]} & CHECKED_FLAGS


def _cats(entry):
    return {c.decode() if isinstance(c, bytes) else c for c in entry[6]}


def test_every_spec_is_consistent():
    for spec in _specs():
        assert spec.arity != 0, spec.fullname
        assert spec.summary, "%s has no summary" % spec.fullname
        if spec.subcommands is None:
            assert spec.handler is not None, spec.fullname
        if spec.first_key:
            assert spec.key_step >= 1 and (spec.last_key < 0 or spec.last_key >= spec.first_key), spec.fullname
        for cat in spec.categories:
            assert cat in registry.ALL_CATEGORIES, (spec.fullname, cat)


def test_matches_redis_command_info(redis_table):
    mismatches = []
    for spec in _specs():
        entry = redis_table.get(spec.fullname)
        if entry is None:
            continue  # a command newer than Redis 7.0 (e.g. CLIENT SETINFO)
        ours = (spec.arity, spec.first_key, spec.last_key, spec.key_step)
        theirs = (entry[1], entry[3], entry[4], entry[5])
        if ours != theirs:
            mismatches.append("%s arity/keys ours %s redis %s" % (spec.fullname, ours, theirs))
        of = set(spec.flag_names()) & CHECKED_FLAGS
        if of != _flags(entry):
            mismatches.append("%s flags ours %s redis %s" % (spec.fullname, sorted(of),
                                                            sorted(_flags(entry))))
        oc = {"@" + c for c in spec.categories}
        if oc != _cats(entry):
            mismatches.append("%s categories ours %s redis %s" % (spec.fullname, sorted(oc),
                                                                 sorted(_cats(entry))))
    assert not mismatches, "\n".join(mismatches)


def test_command_getkeys_matches_redis(diff):
    cases = [["SET", "k", "v"], ["MSET", "a", "1", "b", "2"], ["GET", "x"], ["GET"],
             ["HSET", "h", "f", "v"], ["DEL", "a", "b", "c"], ["PING"], ["NOSUCH", "x"],
             ["ZUNIONSTORE", "d", "2", "a", "b"], ["LMPOP", "2", "a", "b", "LEFT"]]
    for argv in cases:
        diff.check("COMMAND", "GETKEYS", *argv)


# Found by a random COMMAND GETKEYS differential run: where a key spec fails
# (a key count string2ll refuses, an incomplete spec, variable flags) Redis
# falls back to its getkeys procedures, which read the count with atoi().
GETKEYS_PROC_CASES = [
    ["ZUNION", "1.5", "a", "b"], ["ZINTER", " 1", "a", "WITHSCORES"], ["ZDIFF", "+2", "a", "b"],
    ["ZUNIONSTORE", "d", "1.5", "a", "b"], ["ZINTERSTORE", "d", "+1", "a", "-2"],
    ["ZDIFFSTORE", "d", " 2", "a", "b"], ["ZDIFFSTORE", "d", "0", "a"],
    ["ZDIFFSTORE", "d", "3", "a"], ["ZDIFFSTORE", "d", "4294967297", "a"],
    ["SINTERCARD", " 1", "a", "b"], ["ZINTERCARD", "1x", "a"], ["LMPOP", " 1", "a", "LEFT"],
    ["ZMPOP", "1.9", "a", "MIN"], ["BLMPOP", "0", " 1", "a", "LEFT"],
    ["BZMPOP", "0", "2.5", "a", "b", "MAX"], ["ZUNION", "abc", "a"],
    ["BITFIELD", "k", "GET", "u8", "0"], ["BITFIELD", "k", "GET", "u8"],
    ["BITFIELD", "k", "OVERFLOW", "SAT", "GET", "i4", "1"],
    ["BITFIELD", "k", "SET", "u8", "0", "1"], ["BITFIELD", "k", "FOO"], ["BITFIELD", "k"],
    ["MIGRATE", "h", "1", "k", "0", "5"], ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"],
    ["MIGRATE", "h", "1", "k", "0", "5", "KEYS", "a"],
    ["MIGRATE", "h", "1", "", "0", "5", "AUTH", "keys", "KEYS", "a"],
    ["MIGRATE", "h", "1", "", "0", "5", "AUTH2", "u", "keys", "COPY", "KEYS", "a"],
    ["MIGRATE", "h", "1", "", "0", "5", "REPLACE"],
]


@pytest.mark.parametrize("argv", GETKEYS_PROC_CASES, ids=lambda a: " ".join(a)[:40])
def test_getkeys_procedures_match_redis(diff, argv):
    diff.check("COMMAND", "GETKEYS", *argv)
    diff.check("COMMAND", "GETKEYSANDFLAGS", *argv)


def test_command_docs_summary_and_group_match_redis(node_server, redis_server):
    """COMMAND DOCS (redis-cli reads it at start-up): same summary, since and
    group as Redis for the commands both have."""
    from servers import RawClient

    def docs(port):
        client = RawClient(port)
        raw = client.call("COMMAND", "DOCS", "GET", "ZADD", "HSET", "LPUSH", "SADD",
                          "SUBSCRIBE", "MULTI", "EXPIRE", "CLIENT")
        client.close()
        if isinstance(raw, list):  # RESP2: flat name/doc pairs
            raw = dict(zip(raw[::2], raw[1::2]))
        out = {}
        for name, doc in raw.items():
            if isinstance(doc, list):
                doc = dict(zip(doc[::2], doc[1::2]))
            out[name] = {k: doc[k] for k in (b"summary", b"since", b"group") if k in doc}
        return out
    assert docs(node_server.port) == docs(redis_server.port)


def test_every_summary_matches_redis(redis_server):
    """COMMAND DOCS summaries (shown by redis-cli's help) are Redis's, for every
    command both servers have."""
    from servers import RawClient
    c = RawClient(redis_server.port)
    raw = c.call("COMMAND", "DOCS")
    c.close()
    ref = {}

    def walk(d):
        for name, doc in d.items():
            doc = dict(zip(doc[::2], doc[1::2])) if isinstance(doc, list) else doc
            ref[name.decode()] = doc.get(b"summary", b"").decode()
            subs = doc.get(b"subcommands")
            if subs:
                walk(dict(zip(subs[::2], subs[1::2])) if isinstance(subs, list) else subs)
    walk(dict(zip(raw[::2], raw[1::2])))
    bad = [(s.fullname, s.summary, ref[s.fullname]) for s in _specs()
           if s.fullname in ref and ref[s.fullname] != s.summary]
    assert not bad, "\n".join(map(repr, bad))
