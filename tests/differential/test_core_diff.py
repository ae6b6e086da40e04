"""Core commands compared with a real redis-server, byte for byte."""


def test_ping_echo(diff):
    diff.check("PING")
    diff.check("PING", "hello")
    diff.check("ECHO", "x" * 2000)
    diff.check("PING", "a", "b")
    diff.check("ECHO")


def test_unknown_and_arity(diff):
    diff.check("NOSUCHCOMMAND", "a", "b")
    diff.check("nosuch")
    diff.check("GET")
    diff.check("SET", "k")
    diff.check("CONFIG")
    diff.check("CONFIG", "NOPE")
    diff.check("CLIENT", "nope")
    diff.check("CONFIG", "GET")


def test_get_set_incr(diff):
    diff.check("SET", "k", "v")
    diff.check("GET", "k")
    diff.check("GET", "missing")
    diff.check("INCR", "k")
    diff.check("SET", "n", "10")
    diff.check("INCR", "n")
    diff.check("INCRBY", "n", "-20")
    diff.check("DECRBY", "n", "abc")
    diff.check("GET", "n")
    diff.check("SET", "n", "9223372036854775807")
    diff.check("INCR", "n")
    diff.check("SET", "k", "v", "NX")
    diff.check("SET", "k", "v2", "XX", "GET")
    diff.check("SET", "k", "v", "EX", "0")
    diff.check("SET", "k", "v", "EX", "10", "PX", "100")
    diff.check("SET", "k", "v", "NX", "XX")
    diff.check("MSET", "a", "1", "b")
    diff.check("MSET", "a", "1", "b", "2")
    diff.check("MGET", "a", "b", "c")


def test_select_and_hello(diff):
    diff.check("SELECT", "20")
    diff.check("SELECT", "x")
    diff.check("SELECT", "1")
    diff.check("HELLO", "4")
    diff.check("HELLO", "x")
    diff.check("HELLO", "3", "FOO")
