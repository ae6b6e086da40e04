"""Cases found by running redis-py's own test suite (tests/test_commands.py)
against NodeNsync: CONFIG GET of the encoding settings and their aliases,
COMMAND GETKEYSANDFLAGS and the exact COMMAND INFO entries (flag and
category order, key specs, tips), each compared with redis-server."""
import pytest

from servers import RawClient


def test_config_get_several_patterns_with_aliases(diff):
    # redis-py test_config_get_multi_params
    diff.check("CONFIG", "GET", "*max-*-entries*", "maxmemory", unordered=True)
    diff.check("CONFIG", "GET", "hash-max-*", unordered=True)
    diff.check("CONFIG", "GET", "*ziplist*", unordered=True)
    diff.check("CONFIG", "GET", "list-*", unordered=True)
    diff.check("CONFIG", "GET", "set-max-intset-entries")
    # Redis's test aids are hidden from patterns, shown by their exact name
    # (Redis's introspection.tcl "CONFIG GET hidden configs").
    diff.check("CONFIG", "GET", "*-delay", unordered=True)
    diff.check("CONFIG", "GET", "key-load-delay")
    diff.check("CONFIG", "GET", "rdb-key-save-delay")


def test_config_set_encoding_settings(diff):
    try:
        for name, value in [("hash-max-ziplist-entries", "10"), ("hash-max-listpack-value", "5"),
                            ("zset-max-ziplist-entries", "3"), ("zset-max-listpack-value", "7"),
                            ("set-max-intset-entries", "4"), ("list-max-ziplist-size", "5"),
                            ("list-compress-depth", "2")]:
            diff.check("CONFIG", "SET", name, value)
        diff.check("CONFIG", "GET", "*-max-l*", unordered=True)
        diff.check("CONFIG", "GET", "*-max-*-entries", unordered=True)
        diff.check("CONFIG", "GET", "list-compress-depth")
        for bad in [("hash-max-listpack-entries", "-1"), ("hash-max-ziplist-entries", "abc"),
                    ("list-max-listpack-size", "99999999999"), ("list-compress-depth", "-1"),
                    ("set-max-intset-entries", "1k"), ("zset-max-listpack-value", "+5"),
                    ("hash-max-listpack-value", " 5")]:
            diff.check("CONFIG", "SET", *bad)
        # OBJECT ENCODING follows the settings.
        diff.check("CONFIG", "SET", "hash-max-listpack-entries", "2")
        diff.check("HSET", "h", "a", "1", "b", "2")
        diff.check("OBJECT", "ENCODING", "h")
        diff.check("HSET", "h2", "a", "1", "b", "2", "c", "3")
        diff.check("OBJECT", "ENCODING", "h2")
        diff.check("CONFIG", "SET", "set-max-intset-entries", "2")
        diff.check("SADD", "s", "1", "2", "3")
        diff.check("OBJECT", "ENCODING", "s")
    finally:
        diff.check("CONFIG", "SET", "hash-max-listpack-entries", "512", "hash-max-listpack-value",
                   "64", "zset-max-listpack-entries", "128", "zset-max-listpack-value", "64",
                   "set-max-intset-entries", "512", "list-max-listpack-size", "-2",
                   "list-compress-depth", "0")


GETKEYS_CASES = [
    ["LMOVE", "mylist1", "mylist2", "left", "left"],    # redis-py test_command_getkeysandflags
    ["MSET", "a", "b", "c", "d", "e", "f"],             # redis-py test_command_getkeys
    ["SET", "k", "v"], ["SET", "k", "v", "GET"], ["SET", "k", "v", "get", "EX", "5"],
    ["GET", "k"], ["GETEX", "k"], ["DEL", "a", "b"], ["EXISTS", "a", "b"], ["COPY", "a", "b"],
    ["RENAME", "a", "b"], ["SMOVE", "a", "b", "m"], ["BLPOP", "a", "b", "0"],
    ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"], ["RPOPLPUSH", "a", "b"],
    ["LMPOP", "2", "a", "b", "LEFT"], ["LMPOP", "0", "a", "LEFT"], ["LMPOP", "5", "a", "LEFT"],
    ["LMPOP", "x", "a", "LEFT"], ["BLMPOP", "0", "2", "a", "b", "LEFT"],
    ["ZUNIONSTORE", "d", "2", "a", "b"], ["ZUNIONSTORE", "d", "0", "a"],
    ["ZUNIONSTORE", "d", "5", "a"], ["ZINTER", "2", "a", "b"], ["SINTERCARD", "2", "a", "b"],
    ["SINTERSTORE", "d", "a", "b"], ["ZRANGESTORE", "d", "s", "0", "-1"],
    ["MIGRATE", "h", "1", "k", "0", "5"], ["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a", "b"],
    ["MIGRATE", "h", "1", "", "0", "5", "AUTH", "keys", "KEYS", "a"],
    ["OBJECT", "ENCODING", "k"], ["MEMORY", "USAGE", "k"], ["HSET", "h", "f", "v"],
    ["SPUBLISH", "ch", "m"], ["PUBLISH", "ch", "m"],
    ["CONFIG", "GET", "x"], ["CONFIG", "NOSUCH", "x"], ["NOSUCH", "x"], ["GET"], ["PING"],
    ["GET", "a", "b"], ["WATCH", "a", "b"], ["TOUCH", "a"], ["UNLINK", "a"],
]


@pytest.mark.parametrize("argv", GETKEYS_CASES, ids=lambda a: " ".join(a)[:40])
def test_command_getkeys_and_flags(diff, argv):
    diff.check("COMMAND", "GETKEYS", *argv)
    diff.check("COMMAND", "GETKEYSANDFLAGS", *argv)


def _names(port):
    c = RawClient(port)
    names = c.call("COMMAND", "LIST")
    c.close()
    return set(names)


def _info_mismatches(diff, names):
    mismatches = []
    for name in names:
        a = diff.node.call_raw("COMMAND", "INFO", name)
        b = diff.ref.call_raw("COMMAND", "INFO", name)
        if a != b:
            # A container lists its subcommands in Redis's (hash) order and
            # may lack some: compare its own fields; each subcommand is
            # compared on its own.
            pa, pb = diff.node.call("COMMAND", "INFO", name), diff.ref.call("COMMAND", "INFO", name)
            if pa[0][9] and pb[0][9] and pa[0][:9] == pb[0][:9]:
                continue
            mismatches.append("%s:\n  ours  %r\n  redis %r" % (name.decode(), a, b))
    return mismatches


def test_command_info_entries_are_byte_identical(diff, node_server, redis_server):
    """Every command both servers have: the same COMMAND INFO bytes (flags
    and categories in Redis's order, key specs with notes, tips,
    subcommands), in RESP2 and RESP3."""
    common = sorted(_names(node_server.port) & _names(redis_server.port))
    assert len(common) > 150
    mismatches = _info_mismatches(diff, common)
    assert not mismatches, "\n".join(mismatches[:20]) + "\n(%d in all)" % len(mismatches)


def _lines(reply):
    text = reply.decode() if isinstance(reply, bytes) else reply
    return text.split("\n")


def test_lolwut(diff):
    # redis-py test_lolwut; the art of versions 5 and 6 is random, so only
    # its shape and the fixed text are compared.
    diff.check("LOLWUT")
    diff.check("LOLWUT", "VERSION", "7")
    diff.check("LOLWUT", "VERSION", "1")
    diff.check("LOLWUT", "VERSION", "-5")
    diff.check("LOLWUT", "VERSION", "x")
    diff.check("LOLWUT", "VERSION", "5", "x")
    diff.check("LOLWUT", "VERSION", "6", "10", "x")
    diff.check("LOLWUT", "VERSION")
    diff.check("LOLWUT", "foo")
    for args in (["VERSION", "5"], ["VERSION", "5", "10", "3", "2"], ["VERSION", "5", "1", "1", "1"],
                 ["version", "4"], ["VERSION", "6"], ["VERSION", "6", "7", "3"]):
        a = diff.node.call("LOLWUT", *args)
        b = diff.ref.call("LOLWUT", *args)
        la, lb = _lines(a), _lines(b)
        assert len(la) == len(lb), args
        # cells per row: braille characters (5), colour escapes (6)
        cells = (lambda x: x.count("\033[") or len(x))
        assert [cells(x) for x in la[:-2]] == [cells(x) for x in lb[:-2]], args
        assert la[-2:] == lb[-2:], args


def test_module_command_without_modules(diff):
    # redis-py test_module_list: a server without modules lists none; loading
    # is refused as by Redis 7.0's default enable-module-command no.
    diff.check("MODULE", "LIST")
    diff.check("MODULE", "LIST", "x")
    diff.check("MODULE", "HELP")
    diff.check("MODULE", "LOAD", "/nonexistent.so")
    diff.check("MODULE", "LOADEX", "/nonexistent.so", "CONFIG", "a", "b")
    diff.check("MODULE", "UNLOAD", "foo")
    diff.check("MODULE", "UNLOAD")
    diff.check("MODULE", "BOGUS")
    diff.check("MODULE")
    diff.check("COMMAND", "DOCS", "MODULE|LIST")


def _buffer_fields(line):
    """CLIENT LIST's query-buffer figures that do not depend on the
    allocator (qbuf-free, rbs and tot-mem are capacities)."""
    fields = dict(f.split("=", 1) for f in line.decode().split())
    return {k: fields[k] for k in ("multi", "qbuf", "argv-mem", "multi-mem", "cmd")}


def _by_name(listing, name):
    return next(line for line in listing.split(b"\n") if b" name=%s " % name in line)


def test_client_list_query_buffer_figures(node_server, redis_server):
    """qbuf, argv-mem and multi-mem as Redis gives them: the running
    client's read is in its query buffer and its command's arguments in
    argv-mem (Redis's own tests expect qbuf=26 for CLIENT LIST); a client
    in MULTI holds its queued arguments plus a pointer each."""
    seen = []
    for port in (node_server.port, redis_server.port):
        a, b = RawClient(port), RawClient(port)
        try:
            a.call("CLIENT", "SETNAME", "a")
            b.call("CLIENT", "SETNAME", "b")
            own = [_buffer_fields(a.call("CLIENT", "INFO")),
                   _buffer_fields(_by_name(a.call("CLIENT", "LIST"), b"a"))]
            a.call("MULTI")
            a.call("SET", "k", "v" * 100)
            a.call("GET", "k")
            other = _buffer_fields(_by_name(b.call("CLIENT", "LIST"), b"a"))
            a.call("EXEC")
            # Two commands in one read: the whole read is in the buffer.
            a.send_raw(b"PING\r\n" + RawClient.encode(["CLIENT", "INFO"]))
            pipelined = [a.read_reply(), _buffer_fields(a.read_reply())]
            seen.append((own, other, pipelined))
        finally:
            a.close()
            b.close()
    assert seen[0] == seen[1]
    assert seen[0][0][0]["qbuf"] == "26"
