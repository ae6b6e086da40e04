"""Stream consumer groups compared with a real redis-server, byte for byte
(RESP2 and RESP3): XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM,
XINFO, their errors, entries-read and lag, and what each propagates.

Times differ between the two servers (idle times, delivery and seen
times): ``masked`` replaces them in both replies before comparing; where a
time matters XCLAIM's TIME option fixes it."""
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from servers import RawClient

_ABS_MS = re.compile(rb":1[0-9]{12}\r\n")                 # a unix time in ms
_IDLE = re.compile(rb"(\$4\r\nidle\r\n):[0-9]+\r\n")
# XPENDING's extended entries: id, consumer, idle, deliveries
_PENDING = re.compile(rb"(\*4\r\n\$[0-9]+\r\n[^\r]*\r\n\$[0-9]+\r\n[^\r]*\r\n):[0-9]+\r\n")


def _mask(raw):
    raw = _ABS_MS.sub(b":T\r\n", raw)
    raw = _IDLE.sub(rb"\1:I" + b"\r\n", raw)
    return _PENDING.sub(rb"\1:I" + b"\r\n", raw)


def masked(diff, *args):
    a = diff.node.call_raw(*args)
    b = diff.ref.call_raw(*args)
    assert _mask(a) == _mask(b), "%r:\n  nodensync: %r\n  redis:     %r" % (args, a, b)
    return a


def _fill(diff, key="s", n=5, start=1):
    for i in range(start, start + n):
        diff.check("XADD", key, "%d-0" % i, "f", "v%d" % i)


def test_xgroup_create(diff):
    diff.check("XGROUP", "CREATE", "s", "g", "$")
    diff.check("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    diff.check("EXISTS", "s")
    diff.check("XGROUP", "CREATE", "s", "g", "$")
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g2", "$")
    diff.check("XGROUP", "CREATE", "s", "g3", "3")
    diff.check("XGROUP", "CREATE", "s", "g4", "3-1", "ENTRIESREAD", "2")
    diff.check("XGROUP", "CREATE", "s", "a", "0", "MKSTREAM", "ENTRIESREAD", "-1")
    diff.check("XGROUP", "CREATE", "s", "b", "-")
    diff.check("XGROUP", "CREATE", "s", "b", "+")
    diff.check("XGROUP", "CREATE", "s", "b", "x")
    diff.check("XGROUP", "CREATE", "s", "b", "1-x")
    diff.check("XGROUP", "CREATE", "s", "b", "0", "ENTRIESREAD", "-2")
    diff.check("XGROUP", "CREATE", "s", "b", "0", "ENTRIESREAD", "x")
    diff.check("XGROUP", "CREATE", "s", "b", "0", "ENTRIESREAD")
    diff.check("XGROUP", "CREATE", "s", "b", "0", "FOO")
    diff.check("XGROUP", "create", "s", "b", "0", "mkstream", "mkstream", "mkstream", "mkstream")
    diff.check("XGROUP", "CREATE", "s", "b")
    diff.check("XINFO", "GROUPS", "s")
    diff.check("SET", "str", "x")
    diff.check("XGROUP", "CREATE", "str", "g", "$")
    diff.check("XGROUP", "CREATE", "str", "g", "$", "MKSTREAM")
    diff.check("XGROUP", "CREATE", "new", "g", "5-5", "MKSTREAM")
    diff.check("XINFO", "GROUPS", "new")
    diff.check("XINFO", "STREAM", "new")


def test_xgroup_other_subcommands(diff):
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XGROUP", "SETID", "s", "g", "3")
    diff.check("XGROUP", "SETID", "s", "nog", "3")
    diff.check("XGROUP", "SETID", "nokey", "g", "3")
    diff.check("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "5")
    diff.check("XINFO", "GROUPS", "s")
    diff.check("XGROUP", "SETID", "s", "g", "+")
    diff.check("XGROUP", "SETID", "s", "g", "-")
    diff.check("XINFO", "GROUPS", "s")
    diff.check("XGROUP", "SETID", "s", "g", "0", "MKSTREAM")
    diff.check("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD")
    diff.check("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "1", "x")
    diff.check("XGROUP", "SETID", "s", "g", "bad")
    diff.check("XGROUP", "CREATECONSUMER", "s", "g", "alice")
    diff.check("XGROUP", "CREATECONSUMER", "s", "g", "alice")
    diff.check("XGROUP", "CREATECONSUMER", "s", "g", "bob")
    diff.check("XGROUP", "CREATECONSUMER", "s", "nog", "bob")
    diff.check("XGROUP", "CREATECONSUMER", "nokey", "g", "bob")
    diff.check("XGROUP", "CREATECONSUMER", "s", "g")
    masked(diff, "XINFO", "CONSUMERS", "s", "g")
    diff.check("XGROUP", "SETID", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XGROUP", "DELCONSUMER", "s", "g", "alice")
    diff.check("XGROUP", "DELCONSUMER", "s", "g", "alice")
    diff.check("XGROUP", "DELCONSUMER", "s", "nog", "alice")
    diff.check("XPENDING", "s", "g")
    diff.check("XGROUP", "DESTROY", "s", "g")
    diff.check("XGROUP", "DESTROY", "s", "g")
    diff.check("XGROUP", "DESTROY", "nokey", "g")
    diff.check("XGROUP", "DESTROY", "s", "g", "x")
    diff.check("XGROUP", "HELP")
    diff.check("XGROUP", "help")
    diff.check("XGROUP", "HELP", "x")
    diff.check("XGROUP", "FOO")
    diff.check("XGROUP", "FOO", "s", "g")
    diff.check("XGROUP")
    diff.check("SET", "str", "x")
    diff.check("XGROUP", "DESTROY", "str", "g")
    diff.check("XGROUP", "SETID", "str", "g", "0", "ENTRIESREAD", "x")


def test_xreadgroup(diff):
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "bob", "COUNT", "1", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "1")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", "0-0")
    diff.check("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0")
    diff.check("XREADGROUP", "GROUP", "g", "dave", "NOACK", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "dave", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "dave", "BLOCK", "10", "STREAMS", "s", "0")
    diff.check("XPENDING", "s", "g")
    masked(diff, "XINFO", "CONSUMERS", "s", "g")
    diff.check("XINFO", "GROUPS", "s")
    # deleted entries come back with null fields in a history read
    diff.check("XDEL", "s", "1-0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "-5", "STREAMS", "s", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "18446744073709551615-18446744073709551615")
    # several streams, a key given twice
    _fill(diff, "t", 3)
    diff.check("XGROUP", "CREATE", "t", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "erin", "COUNT", "1", "STREAMS", "t", "s", ">", ">")
    diff.check("XREADGROUP", "GROUP", "g", "erin", "STREAMS", "t", "t", "0", ">")
    diff.check("XREADGROUP", "GROUP", "g", "erin", "STREAMS", "t", "t", "0", "0")
    diff.check("XREADGROUP", "GROUP", "g", "erin", "STREAMS", "s", ">")
    diff.check("XINFO", "GROUPS", "t")


def test_xreadgroup_errors(diff):
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("SET", "str", "x")
    for args in (["GROUP", "g", "c", "STREAMS", "s", "$"],
                 ["GROUP", "g", "c", "STREAMS", "s", "-"],
                 ["GROUP", "g", "c", "STREAMS", "s", "+"],
                 ["GROUP", "g", "c", "STREAMS", "s", "x"],
                 ["GROUP", "g", "c", "STREAMS", "s", "s", ">"],
                 ["GROUP", "g", "c", "STREAMS", "s", "nokey", ">", ">"],
                 ["GROUP", "nog", "c", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "STREAMS", "str", ">"],
                 ["GROUP", "g", "c", "STREAMS", "nokey", ">"],
                 ["GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "BLOCK", "x", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "BLOCK", "1.5", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "FOO", "STREAMS", "s", ">"],
                 ["COUNT", "1", "BLOCK", "10", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "COUNT", "1", "NOACK", "s", ">"],
                 ["GROUP", "g", "STREAMS", "s", ">"],
                 ["GROUP", "g", "c", "STREAMS", "s", ">", "x"]):
        diff.check("XREADGROUP", *args)
    diff.check("XREADGROUP", "GROUP", "g")
    diff.check("XREAD", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("XREAD", "NOACK", "STREAMS", "s", "0")
    diff.check("XREAD", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "NOACK", "COUNT", "0", "STREAMS",
               "s", ">")


def test_xreadgroup_nothing_new(diff):
    diff.check("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "c", "BLOCK", "1", "STREAMS", "s", ">")
    diff.check("XADD", "s", "666", "f", "v")
    diff.check("XDEL", "s", "666")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0")
    diff.check("MULTI")
    diff.check("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    diff.check("EXEC")
    diff.check("XINFO", "GROUPS", "s")


def test_xack(diff):
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("XACK", "s", "g", "1-0")
    diff.check("XACK", "s", "g", "1-0")
    diff.check("XACK", "s", "g", "2", "3-0", "9-9")
    diff.check("XACK", "s", "g", "4-0", "x")
    diff.check("XACK", "s", "g", "4-0", "-")
    diff.check("XACK", "s", "nog", "x")
    diff.check("XACK", "nokey", "g", "x")
    diff.check("XACK", "s", "g")
    diff.check("XPENDING", "s", "g")
    diff.check("SET", "str", "x")
    diff.check("XACK", "str", "g", "1")


def test_xpending(diff):
    _fill(diff, n=8)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XPENDING", "s", "g")
    diff.check("XPENDING", "s", "g", "-", "+", "10")
    diff.check("XREADGROUP", "GROUP", "g", "bob", "COUNT", "3", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g", "carol", "COUNT", "0", "STREAMS", "s", "0")
    diff.check("XPENDING", "s", "g")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10")
    masked(diff, "XPENDING", "s", "g", "-", "+", "2")
    masked(diff, "XPENDING", "s", "g", "-", "+", "-1")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10", "alice")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10", "nobody")
    masked(diff, "XPENDING", "s", "g", "(2", "(5", "10")
    masked(diff, "XPENDING", "s", "g", "2", "5", "10")
    masked(diff, "XPENDING", "s", "g", "5", "2", "10")
    masked(diff, "XPENDING", "s", "g", "IDLE", "0", "-", "+", "10")
    masked(diff, "XPENDING", "s", "g", "IDLE", "1000000", "-", "+", "10")
    masked(diff, "XPENDING", "s", "g", "IDLE", "0", "-", "+", "10", "bob")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10", "bob", "x", "y")
    for args in (["-", "+"], ["-"], ["-", "+", "10", "c", "x", "y", "z"],
                 ["IDLE", "10", "-", "+"], ["IDLE", "x", "-", "+", "10"],
                 ["-", "+", "x"], ["x", "+", "10"], ["-", "x", "10"],
                 ["(-", "+", "10"], ["-", "(+", "10"], ["(", "+", "10"],
                 ["(18446744073709551615-18446744073709551615", "+", "10"],
                 ["-", "(0-0", "10"], ["IDLE", "-1", "-", "+", "10"]):
        masked(diff, "XPENDING", "s", "g", *args)
    diff.check("XPENDING", "s", "nog")
    diff.check("XPENDING", "nokey", "g")
    diff.check("XPENDING", "nokey", "g", "x", "+", "10")
    diff.check("SET", "str", "x")
    diff.check("XPENDING", "str", "g")


def test_xclaim(diff):
    _fill(diff)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
    diff.check("XCLAIM", "s", "g", "bob", "0", "1-0", "TIME", "1000")
    diff.check("XCLAIM", "s", "g", "bob", "0", "1-0", "2-0", "JUSTID", "TIME", "1000")
    diff.check("XCLAIM", "s", "g", "bob", "0", "1-0", "RETRYCOUNT", "7", "JUSTID", "TIME", "5")
    diff.check("XCLAIM", "s", "g", "bob", "3600000", "3-0", "JUSTID")
    diff.check("XCLAIM", "s", "g", "carol", "0", "4-0", "JUSTID")
    diff.check("XCLAIM", "s", "g", "carol", "0", "4-0", "FORCE", "JUSTID", "TIME", "1000")
    diff.check("XCLAIM", "s", "g", "carol", "0", "9-0", "FORCE", "JUSTID", "TIME", "1000")
    diff.check("XCLAIM", "s", "g", "carol", "0", "5-0", "LASTID", "5-0", "JUSTID", "TIME", "1")
    diff.check("XCLAIM", "s", "g", "carol", "0", "9-0", "LASTID", "7-0", "JUSTID")
    diff.check("XINFO", "GROUPS", "s")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10")
    diff.check("XCLAIM", "s", "g", "dave", "0", "1-0", "IDLE", "-5", "JUSTID")
    diff.check("XCLAIM", "s", "g", "dave", "-7", "1-0", "TIME", "99999999999999", "JUSTID")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10")
    diff.check("XDEL", "s", "2-0")
    diff.check("XCLAIM", "s", "g", "dave", "0", "2-0", "3-0", "TIME", "1")
    diff.check("XPENDING", "s", "g")
    for opts in (["IDLE"], ["IDLE", "x"], ["TIME", "x"], ["RETRYCOUNT", "x"], ["LASTID", "x"],
                 ["LASTID", "-"], ["FOO"], ["-"], ["+"], ["JUSTID", "1-0"]):
        diff.check("XCLAIM", "s", "g", "dave", "0", "1-0", *opts)
    diff.check("XCLAIM", "s", "g", "dave", "x", "1-0")
    diff.check("XCLAIM", "s", "g", "dave", "0", "x")
    diff.check("XCLAIM", "s", "nog", "dave", "x", "1-0")
    diff.check("XCLAIM", "nokey", "g", "dave", "0", "1-0")
    diff.check("SET", "str", "x")
    diff.check("XCLAIM", "str", "g", "dave", "0", "1-0")
    masked(diff, "XINFO", "CONSUMERS", "s", "g")


def test_xautoclaim(diff):
    _fill(diff, n=8)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "0", "0", "COUNT", "2", "JUSTID")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "0", "3-0", "COUNT", "2")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "0", "(3-0", "COUNT", "3")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "3600000", "0")
    diff.check("XDEL", "s", "2-0", "4-0", "5-0")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "-", "COUNT", "2", "JUSTID")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "-", "COUNT", "1")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "-")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "+")
    diff.check("XPENDING", "s", "g")
    for opts in (["COUNT", "0"], ["COUNT", "-1"], ["COUNT", "x"],
                 ["COUNT", "576460752303423488"], ["COUNT"], ["FOO"], ["JUSTID", "x"]):
        diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "0", *opts)
    diff.check("XAUTOCLAIM", "s", "g", "carol", "x", "0")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "x")
    diff.check("XAUTOCLAIM", "s", "g", "carol", "0", "(18446744073709551615-18446744073709551615")
    diff.check("XAUTOCLAIM", "s", "nog", "carol", "0", "0")
    diff.check("XAUTOCLAIM", "nokey", "g", "carol", "0", "0")
    diff.check("SET", "str", "x")
    diff.check("XAUTOCLAIM", "str", "g", "carol", "0", "0")


def test_xautoclaim_attempts(diff):
    _fill(diff, n=30)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    # a min-idle no entry reaches: COUNT 1 gives 10 attempts, then a cursor
    diff.check("XAUTOCLAIM", "s", "g", "bob", "3600000", "0", "COUNT", "1")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "3600000", "11", "COUNT", "2")
    diff.check("XAUTOCLAIM", "s", "g", "bob", "3600000", "0", "COUNT", "3")


def test_xinfo(diff):
    diff.check("XINFO", "STREAM", "nokey")
    diff.check("XINFO", "GROUPS", "nokey")
    diff.check("XINFO", "CONSUMERS", "nokey", "g")
    _fill(diff)
    diff.check("XINFO", "STREAM", "s")
    diff.check("XINFO", "STREAM", "s", "FULL")
    diff.check("XINFO", "STREAM", "s", "full", "count", "2")
    diff.check("XINFO", "STREAM", "s", "FULL", "COUNT", "0")
    diff.check("XINFO", "STREAM", "s", "FULL", "COUNT", "-1")
    diff.check("XINFO", "STREAM", "s", "FULL", "COUNT", "x")
    diff.check("XINFO", "STREAM", "s", "FULL", "COUNT")
    diff.check("XINFO", "STREAM", "s", "FOO")
    diff.check("XINFO", "STREAM", "s", "FULL", "FOO", "1")
    diff.check("XGROUP", "CREATE", "s", "g2", "0")
    diff.check("XGROUP", "CREATE", "s", "g1", "$")
    diff.check("XGROUP", "CREATE", "s", "g10", "3")
    diff.check("XREADGROUP", "GROUP", "g2", "zed", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g2", "amy", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XREADGROUP", "GROUP", "g2", "amy", "NOACK", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XINFO", "GROUPS", "s")
    diff.check("XINFO", "STREAM", "s")
    masked(diff, "XINFO", "STREAM", "s", "FULL")
    masked(diff, "XINFO", "STREAM", "s", "FULL", "COUNT", "1")
    masked(diff, "XINFO", "CONSUMERS", "s", "g2")
    diff.check("XINFO", "CONSUMERS", "s", "nog")
    diff.check("XINFO", "CONSUMERS", "s")
    diff.check("XINFO", "GROUPS", "s", "x")
    diff.check("XINFO", "HELP")
    diff.check("XINFO", "help", "x")
    diff.check("XINFO", "FOO", "s")
    diff.check("XINFO")
    diff.check("XINFO", "STREAM")
    diff.check("SET", "str", "x")
    diff.check("XINFO", "STREAM", "str")
    diff.check("XINFO", "GROUPS", "str")


def test_entries_read_and_lag(diff):
    # Redis's stream-cgroups.tcl "Consumer group read counter and lag ..."
    diff.check("XGROUP", "CREATE", "x", "g1", "0", "MKSTREAM")
    diff.check("XINFO", "GROUPS", "x")
    for i in range(1, 6):
        diff.check("XADD", "x", "%d-0" % i, "data", "a")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g1", "c11", "COUNT", "1", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g1", "c12", "COUNT", "10", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XADD", "x", "6-0", "data", "f")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XDEL", "x", "3-0")
    diff.check("XGROUP", "CREATE", "x", "g2", "0")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g2", "c21", "COUNT", "1", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g2", "c22", "COUNT", "1", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g2", "c22", "COUNT", "10", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XTRIM", "x", "MAXLEN", "1")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XGROUP", "CREATE", "x", "g3", "0")
    diff.check("XGROUP", "CREATE", "x", "g4", "1-0")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XGROUP", "SETID", "x", "g4", "6-0")
    diff.check("XGROUP", "SETID", "x", "g3", "0", "ENTRIESREAD", "100")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XINFO", "STREAM", "x")
    diff.check("XSETID", "x", "9-0", "ENTRIESADDED", "20", "MAXDELETEDID", "8-0")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XREADGROUP", "GROUP", "g3", "c", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")
    diff.check("XADD", "x", "10-0", "data", "g")
    diff.check("XREADGROUP", "GROUP", "g1", "c", "STREAMS", "x", ">")
    diff.check("XINFO", "GROUPS", "x")


def test_pel_reassignment_after_setid(diff):
    _fill(diff, n=3)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">")
    diff.check("XGROUP", "SETID", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "c2", "COUNT", "2", "STREAMS", "s", ">")
    diff.check("XPENDING", "s", "g")
    masked(diff, "XPENDING", "s", "g", "-", "+", "10")
    diff.check("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0")


def test_writes_after_delete_and_type(diff):
    _fill(diff, n=2)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("DEL", "s")
    diff.check("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    diff.check("XPENDING", "s", "g")
    diff.check("TYPE", "s")


def test_binary_names(diff):
    _fill(diff, "k\r\n\x00", 2)
    diff.check("XGROUP", "CREATE", "k\r\n\x00", "g\x00\xff", "0")
    diff.check("XREADGROUP", "GROUP", "g\x00\xff", "c\r\n", "STREAMS", "k\r\n\x00", ">")
    diff.check("XPENDING", "k\r\n\x00", "g\x00\xff")
    diff.check("XGROUP", "CREATECONSUMER", "k\r\n\x00", "nogroup\r\n", "c")
    diff.check("XINFO", "GROUPS", "k\r\n\x00")


def test_scripts(diff):
    _fill(diff, n=2)
    diff.check("XGROUP", "CREATE", "s", "g", "0")
    diff.check("EVAL", "return redis.call('xreadgroup','group','g','c','block','0','streams',"
               "KEYS[1],'>')", "1", "s")
    diff.check("EVAL", "return redis.call('xreadgroup','group','g','c','streams',KEYS[1],'>')",
               "1", "s")
    diff.check("EVAL", "return redis.call('xreadgroup','group','g','c','streams',KEYS[1],'0')",
               "1", "s")
    diff.check("EVAL", "return redis.call('XINFO','GROUPS',KEYS[1])", "1", "s")


def test_notifications(node_server, redis_server):
    """The keyspace events of the group commands, in order."""
    got = []
    for port in (node_server.port, redis_server.port):
        c = RawClient(port)
        c.call("FLUSHALL")
        c.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub = RawClient(port)
        sub.call("PSUBSCRIBE", "__key*__:*")
        cmds = [["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
                ["XADD", "s", "1-0", "f", "v"],
                ["XGROUP", "CREATECONSUMER", "s", "g", "c"],
                ["XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">"],
                ["XCLAIM", "s", "g", "e", "0", "1-0"],
                ["XAUTOCLAIM", "s", "g", "f", "0", "0"],
                ["XACK", "s", "g", "1-0"],
                ["XGROUP", "SETID", "s", "g", "0"],
                ["XGROUP", "DELCONSUMER", "s", "g", "c"],
                ["XGROUP", "DESTROY", "s", "g"],
                ["SET", "end", "1"]]
        for cmd in cmds:
            c.call(*cmd)
        events = []
        for _ in range(200):
            msg = sub.read_reply()
            events.append(msg[2:])
            if msg[2].endswith(b"end"):
                break
        got.append(events)
        c.call("CONFIG", "SET", "notify-keyspace-events", "")
        c.close()
        sub.close()
    assert got[0] == got[1]


@pytest.mark.parametrize("cmd", ["xgroup", "xreadgroup", "xack", "xpending", "xclaim",
                                 "xautoclaim", "xinfo"])
def test_command_info(diff, cmd):
    diff.check("COMMAND", "INFO", cmd, unordered=True)   # (subcommands in hash order)
    diff.check("COMMAND", "DOCS", cmd, compare=False)


def test_getkeys(diff):
    diff.check("COMMAND", "GETKEYS", "XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", ">",
               ">")
    diff.check("COMMAND", "GETKEYS", "XREADGROUP", "GROUP", "streams", "c", "COUNT", "1",
               "STREAMS", "a", ">")
    diff.check("COMMAND", "GETKEYS", "XGROUP", "CREATE", "k", "g", "$")
    diff.check("COMMAND", "GETKEYS", "XINFO", "STREAM", "k")


def test_xinfo_radix_tree_figures(diff):
    """radix-tree-keys/-nodes follow Redis's listpack nodes and rax."""
    for i in range(1, 1200):
        diff.node.call("XADD", "big", "%d-%d" % (i * 7, i % 3), "f", "v" * (i % 50))
        diff.ref.call("XADD", "big", "%d-%d" % (i * 7, i % 3), "f", "v" * (i % 50))
    diff.check("XINFO", "STREAM", "big")
    diff.check("XDEL", "big", "7-1", "14-2", "700-1")
    diff.check("XINFO", "STREAM", "big")
    diff.check("XTRIM", "big", "MAXLEN", "~", "900")
    diff.check("XINFO", "STREAM", "big")
    diff.check("XTRIM", "big", "MINID", "5000")
    diff.check("XINFO", "STREAM", "big")
    for ms in (1, 256, 65536, 1 << 24, 1 << 32, 1 << 40):
        diff.check("XADD", "spread", "%d-0" % ms, "f", "v")
        diff.check("XADD", "spread", "%d-1" % ms, "f", "v")
    diff.check("CONFIG", "SET", "stream-node-max-entries", "1")
    try:
        for ms in (1, 256, 65536, 1 << 24, 1 << 32, 1 << 40):
            diff.check("XADD", "spread1", "%d-0" % ms, "f", "v")
            diff.check("XADD", "spread1", "%d-7" % ms, "f", "v")
        diff.check("XINFO", "STREAM", "spread1")
        diff.check("XDEL", "spread1", "256-0", "256-7")
        diff.check("XINFO", "STREAM", "spread1")
    finally:
        diff.check("CONFIG", "SET", "stream-node-max-entries", "100")
    diff.check("XINFO", "STREAM", "spread")


# -- random sequences ---------------------------------------------------------------------
_IDS = ["0", "1", "2-0", "3", "4-1", "5", "6-0", "9", "(2", "(4-1", "-", "+", "x"]
_GROUPS = ["g1", "g2", "nog"]
_CONSUMERS = ["a", "b", "c"]
_KEY = st.sampled_from(["s", "s", "s", "t"])
_ID = st.sampled_from(_IDS)
_GROUP = st.sampled_from(_GROUPS)
_CONSUMER = st.sampled_from(_CONSUMERS)
_COUNT = st.sampled_from(["0", "1", "2", "10", "-1"])
_MINIDLE = st.sampled_from(["0", "3600000"])


def _c(*parts):
    return st.tuples(*[p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts])


def _flat(t):
    out = []
    for part in t:
        out.extend(part) if isinstance(part, (list, tuple)) else out.append(part)
    return tuple(out)


_OPTS = st.lists(st.sampled_from([["JUSTID"], ["FORCE"], ["RETRYCOUNT", "3"], ["TIME", "1000"],
                                  ["IDLE", "5"], ["LASTID", "5-0"], ["LASTID", "1"]]),
                 max_size=3).map(lambda o: [w for x in o for w in x])
_GROUP_COMMANDS = st.one_of(
    _c("XADD", _KEY, "*", "f", st.sampled_from(["v", "w"])),
    _c("XADD", _KEY, "MAXLEN", st.sampled_from(["2", "4"]), "*", "f", "v"),
    _c("XDEL", _KEY, _ID),
    _c("XTRIM", _KEY, "MAXLEN", st.sampled_from(["0", "1", "3"])),
    _c("XGROUP", "CREATE", _KEY, _GROUP, st.sampled_from(["0", "$", "3", "7-0"]),
       st.sampled_from([[], ["MKSTREAM"], ["ENTRIESREAD", "2"]])).map(_flat),
    _c("XGROUP", "SETID", _KEY, _GROUP, st.sampled_from(["0", "$", "3", "7-0"]),
       st.sampled_from([[], ["ENTRIESREAD", "1"]])).map(_flat),
    _c("XGROUP", st.sampled_from(["CREATECONSUMER", "DELCONSUMER"]), _KEY, _GROUP, _CONSUMER),
    _c("XGROUP", "DESTROY", _KEY, _GROUP),
    _c("XREADGROUP", "GROUP", _GROUP, _CONSUMER, "COUNT", _COUNT,
       st.sampled_from([[], ["NOACK"]]), "STREAMS", _KEY, st.sampled_from([">", ">", "0", "3"])
       ).map(_flat),
    _c("XACK", _KEY, _GROUP, _ID, _ID),
    _c("XCLAIM", _KEY, _GROUP, _CONSUMER, _MINIDLE, _ID, _ID, _OPTS).map(_flat),
    _c("XAUTOCLAIM", _KEY, _GROUP, _CONSUMER, _MINIDLE, _ID, "COUNT", st.sampled_from(["1", "2", "5"]),
       st.sampled_from([[], ["JUSTID"]])).map(_flat),
    _c("XPENDING", _KEY, _GROUP),
    _c("XPENDING", _KEY, _GROUP, _ID, _ID, _COUNT, st.sampled_from([[], ["a"], ["b"]])).map(_flat),
    _c("XINFO", "GROUPS", _KEY),
    _c("XINFO", "CONSUMERS", _KEY, _GROUP),
    _c("XINFO", "STREAM", _KEY, st.sampled_from([[], ["FULL"]])).map(_flat),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_GROUP_COMMANDS, min_size=1, max_size=25))
def test_random_group_sequences(diff, commands):
    diff.check("FLUSHALL")
    for i in range(1, 8):                      # explicit IDs: both servers hold the same ones
        diff.check("XADD", "s", "%d-0" % i, "f", "v%d" % i)
        diff.check("XADD", "s", "%d-1" % i, "g", "w%d" % i)
    diff.check("XGROUP", "CREATE", "s", "g1", "0")
    for cmd in commands:
        if cmd[0] == "XADD" and "*" in cmd:
            # '*' would give each server its own clock's ID: take the node's
            node_reply = diff.node.call(*cmd)
            if isinstance(node_reply, bytes):
                cmd = tuple(node_reply.decode() if a == "*" else a for a in cmd)
                diff.ref.call(*cmd)
                continue
        masked(diff, *cmd)
    for k in ("s", "t"):
        masked(diff, "XINFO", "STREAM", k, "FULL")
