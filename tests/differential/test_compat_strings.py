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


_EMPTY_STRING_DUMP = b"\x00\x00\n\x00]\x9b\\@\x0f\x7f\xa2\xda"    # DUMP of ""


def test_append_of_nothing_to_an_empty_string_leaves_it_raw(diff):
    # Found by the random command generator (its seeds 1842, 2513, 3542, 3642):
    # APPEND to an existing empty string unshares it (raw) even when nothing
    # is appended.  CPython has a single b"", so the encoding mark must go
    # when anything else stores "" at the key or the database is emptied.
    steps = [
        [("SET", "e", ""), ("APPEND", "e", "")],
        [("SET", "e", "")],                         # embstr again
        [("APPEND", "e", ""), ("EXPIRE", "e", "1000")],
        [("MSET", "e", "", "o", "")],
        [("APPEND", "e", ""), ("RENAME", "e", "r")],
        [("SET", "e", ""), ("RENAME", "e", "r")],   # the new value's encoding
        [("APPEND", "r", ""), ("COPY", "r", "c")],
        [("SETEX", "r", "1000", "")],
        [("APPEND", "r", ""), ("RESTORE", "r", "0", _EMPTY_STRING_DUMP, "REPLACE")],
        [("APPEND", "r", ""), ("GETSET", "r", "")],
        [("APPEND", "r", ""), ("FLUSHDB",), ("SET", "r", "")],
        [("APPEND", "new", "")],                    # APPEND creating the key: like SET
        [("APPEND", "new", ""), ("MULTI",), ("APPEND", "new", ""), ("SET", "new", ""),
         ("EXEC",)],
    ]
    for commands in steps:
        for c in commands:
            diff.check(*c)
        for key in ("e", "r", "c", "o", "new"):
            diff.check("OBJECT", "ENCODING", key)


# (commands, then the key whose OBJECT ENCODING and REFCOUNT are compared)
_ENCODING_STEPS = [
    ([("INCRBYFLOAT", "f", "3")], "f"),
    ([("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "1.5")], "f"),
    ([("INCRBYFLOAT", "f", "1e40")], "f"),
    ([("SET", "f", "3")], "f"),
    ([("SET", "i", "10")], "i"),
    ([("COPY", "i", "c")], "c"),
    ([("RENAME", "c", "r")], "r"),
    ([("COPY", "i", "d1", "DB", "1"), ("SELECT", "1")], "d1"),
    ([("SELECT", "0"), ("SET", "a", "1"), ("APPEND", "a", "2")], "a"),
    ([("MOVE", "a", "2"), ("SELECT", "2")], "a"),
    ([("SELECT", "0"), ("INCR", "n"), ("COPY", "n", "n2")], "n2"),
    ([("INCR", "n2")], "n2"),
    # A TTL change keeps the object; a SET of the same byte replaces it.
    ([("SETRANGE", "s", "3", "1"), ("EXPIRE", "s", "1000")], "s"),
    ([("INCRBYFLOAT", "one", "1"), ("PERSIST", "one")], "one"),
    ([("SET", "one", "1")], "one"),
    ([("APPEND", "one", "")], "one"),
    ([("INCRBYFLOAT", "x", "-1"), ("BITOP", "XOR", "b", "x", "b"),
      ("EXPIRE", "b", "100000", "NX")], "b"),
]


def test_encodings_bytes_do_not_tell(diff):
    # Found by a random cross-type differential run.  INCRBYFLOAT stores its
    # printed result without trying the int encoding (embstr, or raw past 44
    # bytes), COPY gives the copy the source's encoding in an object of its
    # own (never a shared integer: REFCOUNT 1), RENAME and MOVE keep the
    # object as it is.
    for commands, key in _ENCODING_STEPS:
        for c in commands:
            diff.check(*c)
        diff.check("OBJECT", "ENCODING", key)
        diff.check("OBJECT", "REFCOUNT", key)
