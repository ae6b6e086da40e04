"""Random sequences of generic key commands run against NodeNsync and a real
redis-server; every reply must match (RESP2 and RESP3).

TTL-style replies can differ by the time between the two calls, so they
are compared as "-2 / -1 / positive".  Relative expire times are kept at
least a second apart within a sequence so that GT/LT comparisons never
depend on which millisecond a command ran in.
"""
from hypothesis import HealthCheck, given, settings, strategies as st

from difftools import Mismatch, _normalize

KEYS = [b"a", b"b", b"c", b"bin\x00\xff\r\n"]
key = st.sampled_from(KEYS)
keylist = st.lists(key, min_size=1, max_size=4)
value = st.one_of(st.binary(max_size=6), st.integers(-20, 20000).map(lambda i: b"%d" % i),
                  st.sampled_from([b"x" * 44, b"x" * 45, b"-0", b"01"]))
options = st.sampled_from([[], [], [b"NX"], [b"XX"], [b"GT"], [b"LT"], [b"xx", b"gt"],
                           [b"XX", b"LT"], [b"NX", b"XX"], [b"GT", b"LT"], [b"bogus"]])
rel_seconds = st.integers(1000, 200000)
abs_seconds = st.integers(4102444800, 4102544800)     # far in the future
db = st.sampled_from([b"0", b"1"])

command = st.one_of(
    st.tuples(st.just(b"SET"), key, value),
    st.tuples(st.just(b"SET"), key, value, st.just(b"KEEPTTL")),
    st.tuples(st.just(b"GET"), key),
    st.tuples(st.just(b"INCR"), key),
    st.tuples(st.just(b"DEL"), keylist),
    st.tuples(st.just(b"UNLINK"), keylist),
    st.tuples(st.just(b"EXISTS"), keylist),
    st.tuples(st.just(b"TOUCH"), keylist),
    st.tuples(st.just(b"TYPE"), key),
    st.tuples(st.sampled_from([b"EXPIRE", b"PEXPIRE"]), key, rel_seconds, options),
    st.tuples(st.sampled_from([b"EXPIREAT", b"PEXPIREAT"]), key, abs_seconds, options),
    st.tuples(st.sampled_from([b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"]), key,
              st.sampled_from([-1, 0, 1]), options),
    st.tuples(st.just(b"PERSIST"), key),
    st.tuples(st.sampled_from([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"]), key),
    st.tuples(st.sampled_from([b"RENAME", b"RENAMENX"]), key, key),
    st.tuples(st.just(b"COPY"), key, key, st.sampled_from([[], [b"REPLACE"]]),
              st.sampled_from([[], [b"DB", b"0"], [b"DB", b"1"]])),
    st.tuples(st.just(b"MOVE"), key, db),
    st.tuples(st.just(b"SELECT"), db),
    st.tuples(st.sampled_from([b"KEYS", b"SCAN", b"DBSIZE", b"RANDOMKEY"])),
    st.tuples(st.just(b"OBJECT"), st.sampled_from([b"ENCODING", b"REFCOUNT"]), key),
)

TTL_LIKE = {b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME"}


def _category(reply):
    if isinstance(reply, int) and reply > 0:
        return "positive"
    return reply


def _to_argv(cmd, used):
    name = cmd[0]
    if name in (b"DEL", b"UNLINK", b"EXISTS", b"TOUCH"):
        return [name] + cmd[1]
    if name in (b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT"):
        t = cmd[2]
        if name in (b"EXPIRE", b"PEXPIRE") and t > 1:
            while t in used:          # keep relative times a second apart
                t += 1
            used.add(t)
        ms = name.startswith(b"P")
        return [name, cmd[1], b"%d" % (t * 1000 if ms else t)] + cmd[3]
    if name == b"COPY":
        return [name, cmd[1], cmd[2]] + cmd[3] + cmd[4]
    if name == b"KEYS":
        return [name, b"*"]
    if name == b"SCAN":
        return [name, b"0"]
    return list(cmd)


def _run(diff, argv):
    name = argv[0]
    if name in TTL_LIKE or name == b"RANDOMKEY" or name in (b"KEYS", b"SCAN"):
        a = diff.node.call(*argv)
        b = diff.ref.call(*argv)
        if name in TTL_LIKE:
            a, b = _category(a), _category(b)
        elif name == b"RANDOMKEY":
            a, b = a is None, b is None
        else:
            a, b = _normalize(a), _normalize(b)
        if a != b:
            raise Mismatch("%r:\n  nodensync: %r\n  redis:     %r" % (argv, a, b))
    else:
        diff.check(*argv)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(command, min_size=1, max_size=30))
def test_key_command_sequences(diff, commands):
    diff.check("FLUSHALL")
    diff.check("SELECT", "0")
    used = set()
    for cmd in commands:
        _run(diff, _to_argv(cmd, used))
    # final state of both databases
    for d in (b"0", b"1"):
        diff.check("SELECT", d)
        _run(diff, [b"KEYS", b"*"])
        for k in KEYS:
            diff.check("GET", k)
            diff.check("TYPE", k)
            _run(diff, [b"TTL", k])
