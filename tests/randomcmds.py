"""Random Redis commands for differential tests, built from the
registry's own syntax strings (tests/differential/test_random_commands_diff.py,
tests/integration/test_propagation_random.py).

Each keyword of a command's syntax is taken now and then, each parameter
nearly always, with values from small pools (keys shared across types, so
WRONGTYPE paths and conversions get exercised; scores, ranges, numbers
including the int64 edges); sometimes an argument is dropped or inserted.
``sequence(seed, n, extended=True)`` adds keys of each type's own, fills
across the encoding limits (128/512 entries, 64-byte values) and
MULTI/EXEC blocks.  The same seed gives the same commands."""
import random
import re

import nodensync.commands  # noqa: F401
from nodensync.commands.registry import BLOCKING, all_specs
from difftools import _normalize

# Commands whose replies depend on time, randomness, the process or the
# server's configuration, that block or change the connection's mode, or
# that this test cannot replay in lockstep.
EXCLUDE = set("""
monitor shutdown debug save bgsave bgrewriteaof replicaof slaveof failover sync psync cluster
readonly readwrite asking wait waitaof client config acl auth hello reset quit info time lastsave
randomkey spop srandmember hrandfield zrandmember scan keys memory latency slowlog command help
multi exec discard watch unwatch subscribe unsubscribe psubscribe punsubscribe ssubscribe
sunsubscribe dump restore restore-asking migrate eval evalsha eval_ro evalsha_ro script function
fcall fcall_ro pfdebug pfselftest lolwut module role replconf flushall flushdb georadius
georadius_ro georadiusbymember georadiusbymember_ro
""".split())
UNORDERED = {"smembers", "sinter", "sunion", "sdiff", "hkeys", "hvals", "hgetall", "sscan"}
TTLS = {"ttl": 2, "pttl": 1500, "expiretime": 2, "pexpiretime": 1500}

KEYS = ["k1", "k2", "k3", "{k}a", "{k}b"]
MEMBERS = ["a", "b", "c", "1", "2", "10", "x", "-1", "1.5", ""]
NUMS = ["0", "1", "2", "3", "-1", "-2", "5", "10", "100", "1.5", "abc", "9223372036854775807",
        "-9223372036854775808", "9223372036854775808", "+1", " 1", "007"]
SCORES = ["0", "1", "-1", "1.5", "2", "inf", "-inf", "+inf", "(1", "(2.5", "nan", "abc", "10",
          "3", "1e3", "-0", "0x10"]
LEX = ["[a", "(b", "-", "+", "a", "[", "(", "[c"]
# Relative times long enough not to expire during the run; absolute ones
# in the past (the key goes at once) or far ahead.
SECONDS = ["1000", "100000", "-1", "0", "abc", "1.5", "99999999999999"]
MILLISECONDS = ["1000000", "100000000", "-1", "0", "abc", "1.5", "99999999999999"]
ABS_TIMES = ["1", "100", "9999999999", "-5", "abc"]
KEY_PARAMS = {"key", "dst", "src", "source", "destination", "newkey", "destkey", "sourcekey"}


def _value(name, rnd):
    n = name.lower()
    if n in KEY_PARAMS or n.endswith("key"):
        return rnd.choice(KEYS)
    if n in ("score", "increment") and rnd.random() < 0.8:
        return rnd.choice(SCORES)
    if n in ("min", "max"):
        return rnd.choice(SCORES + LEX)
    if n == "seconds":
        return rnd.choice(SECONDS)
    if n == "milliseconds":
        return rnd.choice(MILLISECONDS)
    if n.startswith("unix-time"):
        return rnd.choice(ABS_TIMES)
    if n == "cursor":
        return "0"          # (another cursor's meaning is the implementation's own)
    if n in ("member", "element", "value", "field", "pivot", "pattern", "message", "channel"):
        return rnd.choice(MEMBERS)
    if n == "longitude":
        return rnd.choice(["13.361389", "15.087269", "-200", "0", "abc"])
    if n == "latitude":
        return rnd.choice(["38.115556", "37.502669", "90", "0", "abc"])
    if n in ("db", "destination-db", "index1", "index2") and rnd.random() < 0.7:
        return rnd.choice(["0", "1", "2", "99", "abc", "-1"])
    return rnd.choice(NUMS + MEMBERS[:4])


def _tokens(syntax):
    return [t for t in re.split(r"[\s\[\]|]+", syntax.replace("...", " ")) if t]


_TTL_AT = {"expire": 1000, "setex": 1000, "pexpire": 1000000, "psetex": 1000000}


def _long_ttls(name, args):
    """No TTL short enough to run out during the test (a key expiring
    between the two servers' replies, or reclaimed at different times,
    would make them differ): a positive relative time below 1000 s is
    raised to it."""
    def fix(i, floor):
        if i < len(args) and args[i].isdigit() and 0 < int(args[i]) < floor:
            args[i] = str(floor)
    if name in _TTL_AT:
        fix(2, _TTL_AT[name])
    elif name in ("set", "getex"):
        for i, a in enumerate(args):
            if a.lower() in ("ex", "px"):
                fix(i + 1, 1000 if a.lower() == "ex" else 1000000)
    return args


def _command(spec, rnd):
    """Arguments following the syntax string: each keyword taken now and
    then, each parameter nearly always; sometimes one argument dropped,
    one inserted or a pair appended (arity and syntax errors)."""
    args = [spec.parent.name, spec.name] if spec.parent is not None else [spec.name]
    for t in _tokens(spec.syntax or ""):
        if t.upper() == t and any(c.isalpha() for c in t):
            if rnd.random() < 0.3:
                args.append(t if rnd.random() < 0.8 else t.lower())
        elif rnd.random() < 0.92:
            args.append(_value(t, rnd))
    r = rnd.random()
    if r < 0.08 and len(args) > 1:
        del args[rnd.randrange(1, len(args))]
    elif r < 0.16:
        args.insert(rnd.randrange(1, len(args) + 1), rnd.choice(NUMS + MEMBERS + KEYS))
    elif r < 0.22:
        args += [_value("member", rnd), _value("score", rnd)]
    return _long_ttls(spec.name, args)


def specs(exclude=EXCLUDE):
    """The commands to draw from: the registry's, less ``exclude``, OBJECT's
    time-dependent subcommands and the blocking commands."""
    out = []
    for s in all_specs(include_subcommands=True):
        top = s.parent.name if s.parent is not None else s.name
        if s.handler is None or s.subcommands or top in exclude or s.name in exclude:
            continue
        if s.parent is not None and top == "object" and s.name != "encoding":
            continue        # (IDLETIME, FREQ: access times)
        if s.flags & BLOCKING:
            continue        # blocking pops, XREAD/XREADGROUP (BLOCK 0 would wait for ever)
        out.append(s)
    return sorted(out, key=lambda s: s.fullname)


def same(name, a, b, parse):
    """Replies ``a`` and ``b`` of command ``name`` agree: byte for byte, or
    as sets for set-like replies, or within a second for TTLs."""
    if a == b:
        return True
    if name in UNORDERED:
        return _normalize(parse(a)) == _normalize(parse(b))
    if name in TTLS:
        pa, pb = parse(a), parse(b)
        return type(pa) is int and type(pb) is int and abs(pa - pb) <= TTLS[name]
    return False


GROUP_KEYS = {g: ["%s:1" % g[:2], "%s:2" % g[:2]]
              for g in ("string", "hash", "list", "set", "sorted_set", "geo", "hyperloglog",
                        "bitmap", "generic")}


def _fill(rnd):
    """One command filling a collection past (or up to) an encoding limit."""
    n = rnd.choice([100, 127, 128, 129, 200, 513, 600])
    kind = rnd.choice(["list", "set", "intset", "zset", "hash"])
    if kind == "list":
        return ["RPUSH", rnd.choice(GROUP_KEYS["list"])] + ["e%d" % i for i in range(n)]
    if kind == "set":
        return ["SADD", rnd.choice(GROUP_KEYS["set"])] + ["m%d" % i for i in range(n)]
    if kind == "intset":
        return ["SADD", rnd.choice(GROUP_KEYS["set"])] + ["%d" % i for i in range(n)]
    args = ["ZADD" if kind == "zset" else "HSET",
            rnd.choice(GROUP_KEYS["sorted_set" if kind == "zset" else "hash"])]
    for i in range(n):
        args += (["%d" % rnd.randrange(50), "z%d" % i] if kind == "zset"
                 else ["f%d" % i, "v%d" % i])
    return args


# The extended run leaves out what is each implementation's own over big
# collections (SCAN cursors) and a -0 score (docs/compatibility.md: kept by
# Redis in a skiplist-encoded sorted set, printed as 0 by NodeNsync).
EXTENDED_EXCLUDE = EXCLUDE | {"sscan", "hscan", "zscan"}
_EXTENDED_SCORES = [x for x in SCORES if x != "-0"]


def _extended_command(spec, rnd):
    global KEYS, MEMBERS, SCORES
    keys, members, scores = KEYS, MEMBERS, SCORES
    try:
        SCORES = _EXTENDED_SCORES
        if rnd.random() < 0.7:
            KEYS = GROUP_KEYS.get(spec.group, keys) + keys
        if rnd.random() < 0.1:
            MEMBERS = members + ["L" * rnd.choice([44, 45, 64, 65, 100])]
        return _command(spec, rnd)
    finally:
        KEYS, MEMBERS, SCORES = keys, members, scores


def sequence(seed, n, extended=False, exclude=None):
    """[(args, spec name or None)] of ``n`` commands; the name is None for
    the extended run's own commands (fills, MULTI, EXEC, DISCARD) and the
    commands queued in a MULTI block."""
    rnd = random.Random(seed)
    table = specs(exclude if exclude is not None
                  else EXTENDED_EXCLUDE if extended else EXCLUDE)
    out = []
    in_multi = 0
    for _ in range(n):
        r = rnd.random() if extended else 1.0
        if in_multi == 1:
            out.append((["EXEC"] if rnd.random() < 0.8 else ["DISCARD"], None))
            in_multi = 0
        elif in_multi == 0 and r < 0.03:
            out.append((["MULTI"], None))
            in_multi = rnd.randint(2, 6)
        elif r < 0.06:
            out.append((_fill(rnd), None))
        else:
            spec = rnd.choice(table)
            args = _extended_command(spec, rnd) if extended else _command(spec, rnd)
            out.append((args, None if in_multi else spec.name))
            if in_multi:
                in_multi -= 1
    return out
