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


def test_encodings_bytes_do_not_tell(diff):
    # Found by a random cross-type differential run.  INCRBYFLOAT stores its
    # printed result without trying the int encoding (embstr, or raw past 44
    # bytes), COPY gives the copy the source's encoding in an object of its
    # own (never a shared integer: REFCOUNT 1), RENAME and MOVE keep the
    # object as it is.
    def both(key):
        diff.check("OBJECT", "ENCODING", key)
        diff.check("OBJECT", "REFCOUNT", key)

    diff.check("INCRBYFLOAT", "f", "3")
    both("f")
    diff.check("INCRBYFLOAT", "f", "1.5")
    diff.check("INCRBYFLOAT", "f", "1.5")
    both("f")
    diff.check("INCRBYFLOAT", "f", "1e40")
    both("f")
    diff.check("SET", "f", "3")
    both("f")
    diff.check("SET", "i", "10")
    both("i")
    diff.check("COPY", "i", "c")
    both("c")
    diff.check("RENAME", "c", "r")
    both("r")
    diff.check("COPY", "i", "d1", "DB", "1")
    diff.check("SELECT", "1")
    both("d1")
    diff.check("SELECT", "0")
    diff.check("SET", "a", "1")
    diff.check("APPEND", "a", "2")
    both("a")
    diff.check("MOVE", "a", "2")
    diff.check("SELECT", "2")
    both("a")
    diff.check("SELECT", "0")
    diff.check("INCR", "n")
    diff.check("COPY", "n", "n2")
    both("n2")
    diff.check("INCR", "n2")
    both("n2")
    # A TTL change keeps the object; a SET of the same byte replaces it.
    diff.check("SETRANGE", "s", "3", "1")
    diff.check("EXPIRE", "s", "1000")
    both("s")
    diff.check("INCRBYFLOAT", "one", "1")
    diff.check("PERSIST", "one")
    both("one")
    diff.check("SET", "one", "1")
    both("one")
    diff.check("APPEND", "one", "")
    both("one")
    diff.check("INCRBYFLOAT", "x", "-1")
    diff.check("BITOP", "XOR", "b", "x", "b")
    diff.check("EXPIRE", "b", "100000", "NX")
    both("b")
