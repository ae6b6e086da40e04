"""Cases found by running Redis 7.0.15's Tcl suite (unit/type/string.tcl,
unit/other.tcl) against NodeNsync, compared with redis-server."""


def test_append_and_setrange_leave_raw_strings(diff):
    # string.tcl "SETRANGE against integer-encoded key": Redis keeps a string
    # that APPEND or SETRANGE changed "raw", whatever its length or content.
    diff.check("SET", "k", "1234")
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("SETRANGE", "k", "0", "2")
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("GET", "k")
    diff.check("SET", "k", "1234")          # a plain SET: int again
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("SETRANGE", "k", "4", "")    # no change: keeps its encoding
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("APPEND", "k", "5")
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("APPEND", "k", "")
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("INCR", "k")                 # INCR stores an integer again
    diff.check("OBJECT", "ENCODING", "k")
    diff.check("APPEND", "new", "12")       # APPEND creating the key: like SET
    diff.check("OBJECT", "ENCODING", "new")
    diff.check("APPEND", "new", "3")
    diff.check("OBJECT", "ENCODING", "new")
    diff.check("SETRANGE", "sr", "2", "ab")  # SETRANGE creating the key: raw
    diff.check("OBJECT", "ENCODING", "sr")
    diff.check("SET", "sr", "short")
    diff.check("OBJECT", "ENCODING", "sr")
    diff.check("SET", "e", "embstr")
    diff.check("APPEND", "e", "x")
    diff.check("OBJECT", "ENCODING", "e")
    diff.check("GETSET", "e", "y")
    diff.check("OBJECT", "ENCODING", "e")
