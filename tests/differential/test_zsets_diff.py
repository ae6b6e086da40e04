"""Sorted set commands compared with a real redis-server (RESP2 and RESP3),
including the blocking pops with a second client."""
import time

import hiredis
import pytest

from servers import RawClient


def _parse(raw):
    r = hiredis.Reader()
    r.feed(raw)
    return r.gets()


def _head(raw):
    return raw.split(b"\r\n", 1)[0]


def run(diff, text):
    """One command per line, words split on spaces."""
    for line in text.strip().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            diff.check(*line.split(" "))


def test_zadd_options_and_errors(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c
        ZADD z 1 a
        ZADD z CH 5 a 2 b 9 d
        ZADD z NX 100 a 4 e
        ZADD z XX 100 a 100 zz
        ZADD z XX CH 7 a
        ZADD z GT 1 a
        ZADD z GT CH 8 a
        ZADD z LT CH 1 a 0 new
        ZADD z XX GT CH 0 a 50 b
        ZADD z nx xx 1 a
        ZADD z NX GT 1 a
        ZADD z NX LT 1 a
        ZADD z GT LT 1 a
        ZADD z INCR 1 a 2 b
        ZADD z 1 a 2
        ZADD z NX 1
        ZADD z XX NX 1
        ZADD z abc a
        ZADD z 1e400 a
        ZADD z -1e400 a
        ZADD z 1e-400 a
        ZADD z nan a
        ZADD z 1 a NX
        ZADD z FOO 1 a
        ZADD z
        ZADD z 1
        ZADD nokey XX 1 a
        ZADD nokey XX INCR 1 a
        EXISTS nokey
        ZRANGE z 0 -1 WITHSCORES
    """)
    for score in ("1e-310", "0x10", "0X1P-3", "+.5", "-5.", "1E3", "inf", "-inf", "+inf",
                  "Infinity", "-INF", "3.0000000000000004", "12345678901234567890"):
        diff.check("ZADD", "f", score, "m")
        diff.check("ZSCORE", "f", "m")
    for bad in (" 1", "1 ", "", "0x", "1e", ".", "- 1", "1_0", "nan(1)", "\x001", "1\x00"):
        diff.check("ZADD", "f", bad, "m")
    diff.check("SET", "str", "x")
    diff.check("ZADD", "str", "1", "a")
    diff.check("ZADD", "str", "nan", "a")


def test_zadd_single_member_form(diff):
    # ZADD key score member (no options) has its own fast path: same
    # replies, scores and order as the general form.
    run(diff, """
        ZADD s 0 m
        ZADD s 0 m
        ZADD s -0 m
        ZSCORE s m
        ZADD s -0 n
        ZSCORE s n
        ZADD s 2 m
        ZADD s 1.5 m
        ZADD s inf top
        ZADD s -inf bottom
        ZADD s nx m
        ZADD s incr m
        ZRANGE s 0 -1 WITHSCORES
        ZPOPMAX s
        ZPOPMIN s
        ZRANGE s 0 -1 WITHSCORES
    """)


def test_zadd_incr_and_zincrby(diff):
    run(diff, """
        ZADD z INCR 1 a
        ZADD z INCR 2.5 a
        ZADD z INCR NX 1 a
        ZADD z INCR XX 1 nokey
        ZADD z INCR GT -1 a
        ZADD z INCR LT -1 a
        ZADD z INCR LT 1 a
        ZADD z INCR CH 1 a
        ZINCRBY z 1 a
        ZINCRBY z -0.5 b
        ZINCRBY z inf a
        ZINCRBY z -inf a
        ZINCRBY z abc a
        ZINCRBY z nx a
        ZINCRBY z incr a
        ZINCRBY nokey 3 m
        ZINCRBY z 1
        ZINCRBY z 1 a b
        ZINCRBY z 1e400 a
        ZADD n 1 m
        ZINCRBY n -1 m
        ZINCRBY n -0 m
        ZINCRBY new -0 m
        ZINCRBY new -0 m
        ZADD z INCR -inf b
        ZADD z INCR +inf b
        ZRANGE z 0 -1 WITHSCORES
    """)
    diff.check("SET", "str", "x")
    diff.check("ZINCRBY", "str", "1", "a")


def test_score_formatting(diff):
    scores = ["0.1", "1.5", "-2", "100", "1e20", "1.7976931348623157e308", "5e-324",
              "0.30000000000000004", "123456789.123456789", "-0", "-0.0", "1e-5", "2.5e-7",
              "9007199254740993", "4503599627370496", "-4503599627370495.5"]
    args = []
    for i, s in enumerate(scores):
        args += [s, "m%02d" % i]
    diff.check("ZADD", "z", *args)
    diff.check("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff.check("ZREVRANGE", "z", "0", "-1", "WITHSCORES")
    diff.check("ZSCAN", "z", "0")
    for i in range(len(scores)):
        diff.check("ZSCORE", "z", "m%02d" % i)
    diff.check("ZMSCORE", "z", "m00", "nope", "m05")


def test_equal_scores_and_binary_members(diff):
    diff.check("ZADD", "z", "1", "b", "1", "a", "1", "ab", "1", "", "1", "\x00", "1", "B",
               "0", "zz", "2", "aa", "1", "a\x00")
    diff.check("ZRANGE", "z", "0", "-1", "WITHSCORES")
    diff.check("ZREVRANGE", "z", "0", "-1")
    diff.check("ZRANK", "z", "ab")
    diff.check("ZREVRANK", "z", "ab")
    diff.check("ZRANGEBYSCORE", "z", "1", "1")
    diff.check("ZREVRANGEBYSCORE", "z", "1", "1", "LIMIT", "1", "3")


def test_simple_reads(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZCARD z
        ZCARD nokey
        ZSCORE z c
        ZSCORE z nope
        ZSCORE nokey a
        ZMSCORE z a nope e
        ZMSCORE nokey a b
        ZMSCORE z
        ZRANK z c
        ZRANK z nope
        ZRANK nokey a
        ZREVRANK z c
        ZREVRANK z a
        ZREVRANK z nope
        ZRANK z a b
        ZSCORE z
        SET str x
        ZCARD str
        ZSCORE str a
        ZMSCORE str a
        ZRANK str a
        ZREVRANK str a
    """)


def test_zrem_and_remrange(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f 7 g
        ZREM z a x b
        ZREM z x
        ZREM nokey a
        ZREM z
        ZREMRANGEBYRANK z 0 0
        ZREMRANGEBYRANK z -1 -1
        ZREMRANGEBYRANK z 10 20
        ZREMRANGEBYRANK z 2 1
        ZREMRANGEBYRANK z x 1
        ZREMRANGEBYRANK nokey 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZREMRANGEBYSCORE z (4 5
        ZREMRANGEBYSCORE z x 5
        ZREMRANGEBYSCORE nokey x 5
        ZREMRANGEBYSCORE nokey 0 5
        ZREMRANGEBYSCORE z 10 1
        ZRANGE z 0 -1 WITHSCORES
        ZREMRANGEBYSCORE z -inf +inf
        EXISTS z
        ZADD l 0 a 0 b 0 c 0 d 0 e
        ZREMRANGEBYLEX l (a [c
        ZREMRANGEBYLEX l a c
        ZREMRANGEBYLEX nokey a c
        ZREMRANGEBYLEX l + -
        ZRANGE l 0 -1
        ZREMRANGEBYLEX l - +
        EXISTS l
        ZADD r 1 a 2 b 3 c
        ZREMRANGEBYRANK r 0 -1
        EXISTS r
        ZADD r 1 a 2 b
        ZREM r a b
        EXISTS r
        SET str x
        ZREM str a
        ZREMRANGEBYRANK str 0 1
        ZREMRANGEBYSCORE str 0 1
        ZREMRANGEBYLEX str - +
    """)


def test_zcount_zlexcount(diff):
    run(diff, """
        ZADD z -inf ninf 1 a 2 b 3 c 4 d inf pinf
        ZCOUNT z 2 4
        ZCOUNT z (2 (4
        ZCOUNT z -inf +inf
        ZCOUNT z (-inf (+inf
        ZCOUNT z inf inf
        ZCOUNT z -inf -inf
        ZCOUNT z 5 1
        ZCOUNT z (3 3
        ZCOUNT z 3 (3
        ZCOUNT z 3 3
        ZCOUNT z x 1
        ZCOUNT z 1 nan
        ZCOUNT z ( (
        ZCOUNT nokey 1 2
        ZADD l 0 a 0 b 0 c 0 d 0 e
        ZLEXCOUNT l - +
        ZLEXCOUNT l [b [d
        ZLEXCOUNT l (b (d
        ZLEXCOUNT l [b (b
        ZLEXCOUNT l [b [b
        ZLEXCOUNT l + -
        ZLEXCOUNT l - -
        ZLEXCOUNT l + +
        ZLEXCOUNT l [z +
        ZLEXCOUNT l - [
        ZLEXCOUNT l [ +
        ZLEXCOUNT l a +
        ZLEXCOUNT l - b
        ZLEXCOUNT l +a -
        ZLEXCOUNT nokey - +
        SET str x
        ZCOUNT str 0 1
        ZLEXCOUNT str - +
    """)
    diff.check("ZCOUNT", "z", " 1", "3")
    diff.check("ZCOUNT", "z", "", "")
    diff.check("ZCOUNT", "z", "1 ", "3")
    diff.check("ZCOUNT", "z", "1e400", "inf")
    diff.check("ZCOUNT", "z", "-1e400", "0x2")
    diff.check("ZCOUNT", "z", "(\t2", "+3")


def test_zrange_by_rank(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d 5 e
        ZRANGE z 0 -1
        ZRANGE z 0 -1 WITHSCORES
        ZRANGE z 1 3 withscores
        ZRANGE z -2 -1
        ZRANGE z -100 100
        ZRANGE z 3 1
        ZRANGE z 5 10
        ZRANGE z 0 -1 REV
        ZRANGE z 0 1 REV WITHSCORES
        ZREVRANGE z 0 -1
        ZREVRANGE z 1 2 WITHSCORES
        ZREVRANGE z -2 -1
        ZREVRANGE z 0 -1 LIMIT 0 1
        ZREVRANGE z 0 -1 REV
        ZRANGE z 0 -1 LIMIT 0 1
        ZRANGE z 0 -1 LIMIT 0 -1
        ZRANGE z 0 -1 LIMIT 0 -2
        ZRANGE z 0 -1 LIMIT 0
        ZRANGE z x 1
        ZRANGE z 0 1.5
        ZRANGE z 0 -1 WITHSCORES WITHSCORES
        ZRANGE z 0 -1 REV REV
        ZRANGE z 0 -1 FOO
        ZRANGE nokey 0 -1
        ZRANGE nokey 0 -1 WITHSCORES
        ZRANGE z 0
        SET str x
        ZRANGE str 0 -1
        ZREVRANGE str 0 -1
    """)


def test_zrange_by_score(diff):
    run(diff, """
        ZADD z -inf ninf 1 a 2 b 2 bb 3 c 4 d inf pinf
        ZRANGEBYSCORE z -inf +inf
        ZRANGEBYSCORE z -inf +inf WITHSCORES
        ZRANGEBYSCORE z (1 3
        ZRANGEBYSCORE z 1 (3 WITHSCORES
        ZRANGEBYSCORE z 3 1
        ZRANGEBYSCORE z 2 2
        ZRANGEBYSCORE z (2 2
        ZRANGEBYSCORE z inf inf
        ZRANGEBYSCORE z -inf -inf
        ZRANGEBYSCORE z (-inf (inf
        ZRANGEBYSCORE z -inf +inf LIMIT 1 2
        ZRANGEBYSCORE z -inf +inf LIMIT 1 -1
        ZRANGEBYSCORE z -inf +inf LIMIT 1 -5
        ZRANGEBYSCORE z -inf +inf LIMIT 0 0
        ZRANGEBYSCORE z -inf +inf LIMIT -1 2
        ZRANGEBYSCORE z -inf +inf LIMIT 7 2
        ZRANGEBYSCORE z -inf +inf LIMIT 8 2
        ZRANGEBYSCORE z -inf +inf LIMIT 2 3 WITHSCORES
        ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 2 3 WITHSCORES
        ZRANGEBYSCORE z 1 2 LIMIT x 1
        ZRANGEBYSCORE z 1 2 LIMIT 1
        ZRANGEBYSCORE z 1 2 REV
        ZRANGEBYSCORE z 1 2 BYSCORE
        ZRANGEBYSCORE z a 2
        ZRANGEBYSCORE z 1 nan
        ZRANGEBYSCORE z (a 2
        ZREVRANGEBYSCORE z +inf -inf
        ZREVRANGEBYSCORE z 3 1 WITHSCORES
        ZREVRANGEBYSCORE z (3 (1
        ZREVRANGEBYSCORE z 1 3
        ZREVRANGEBYSCORE z +inf -inf LIMIT 1 3
        ZREVRANGEBYSCORE z +inf -inf LIMIT 2 -1 WITHSCORES
        ZREVRANGEBYSCORE z +inf -inf LIMIT -2 1
        ZRANGE z 1 3 BYSCORE
        ZRANGE z 3 1 BYSCORE REV
        ZRANGE z 3 1 BYSCORE REV LIMIT 1 1 WITHSCORES
        ZRANGE z (1 +inf BYSCORE LIMIT 0 -1
        ZRANGE z 1 3 BYSCORE BYLEX
        ZRANGE z 1 3 BYSCORE BYSCORE
        ZRANGEBYSCORE nokey 1 2
        ZRANGEBYSCORE nokey a 2
        SET str x
        ZRANGEBYSCORE str 1 2
    """)
    for lo, hi in (("", ""), (" 1", "+inf"), ("1 ", "+inf"), ("(", "+inf"), ("1e400", "inf"),
                   ("0", "1e400"), ("-1e400", "(0x2"), ("\t(1", "3"), ("(\t1", "3"), ("1\x00x", "3"),
                   ("+", "3"), ("1e", "3"), ("0x1p1", "3")):
        diff.check("ZRANGEBYSCORE", "z", lo, hi)


def test_zrange_by_lex(diff):
    run(diff, """
        ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 aa 0 ab
        ZRANGEBYLEX l - +
        ZRANGEBYLEX l [b (f
        ZRANGEBYLEX l (b [f LIMIT 1 2
        ZRANGEBYLEX l [a (b
        ZRANGEBYLEX l (a (b
        ZRANGEBYLEX l [aa [ab
        ZRANGEBYLEX l - [c
        ZRANGEBYLEX l (c +
        ZRANGEBYLEX l + -
        ZRANGEBYLEX l - -
        ZRANGEBYLEX l + +
        ZRANGEBYLEX l [c [c
        ZRANGEBYLEX l [c (c
        ZRANGEBYLEX l [d [c
        ZRANGEBYLEX l - + LIMIT -1 2
        ZRANGEBYLEX l - + LIMIT 10 2
        ZRANGEBYLEX l - + LIMIT 0 0
        ZRANGEBYLEX l - + LIMIT 3 -1
        ZRANGEBYLEX l a b
        ZRANGEBYLEX l [a +x
        ZRANGEBYLEX l -a +
        ZRANGEBYLEX l - + WITHSCORES
        ZRANGEBYLEX l - + REV
        ZREVRANGEBYLEX l + -
        ZREVRANGEBYLEX l [f [b
        ZREVRANGEBYLEX l [f [b LIMIT 1 2
        ZREVRANGEBYLEX l [f [b LIMIT 1 -1
        ZREVRANGEBYLEX l (f (b
        ZREVRANGEBYLEX l - +
        ZRANGE l [c + BYLEX
        ZRANGE l + [c BYLEX REV LIMIT 0 3
        ZRANGE l - + BYLEX WITHSCORES
        ZRANGE l - + BYLEX LIMIT 2 2
        ZRANGEBYLEX nokey - +
        ZRANGEBYLEX nokey a b
        SET str x
        ZRANGEBYLEX str - +
    """)
    diff.check("ZRANGEBYLEX", "l", "[", "+")
    diff.check("ZRANGEBYLEX", "l", "(", "+")
    diff.check("ZRANGEBYLEX", "l", "", "+")
    diff.check("ZRANGEBYLEX", "l", "-", "+\x00x")


def test_lex_with_mixed_scores(diff):
    # Undefined in Redis, but deterministic for small (listpack) sorted sets.
    diff.check("ZADD", "m", "1", "a", "2", "z", "3", "b", "4", "y", "5", "c")
    for lo, hi in (("-", "+"), ("[a", "[c"), ("[b", "[y"), ("(a", "(z"), ("[c", "+"), ("-", "[b")):
        diff.check("ZRANGEBYLEX", "m", lo, hi)
        diff.check("ZREVRANGEBYLEX", "m", hi, lo)
        diff.check("ZLEXCOUNT", "m", lo, hi)
        diff.check("ZRANGEBYLEX", "m", lo, hi, "LIMIT", "2", "2")
        diff.check("ZREVRANGEBYLEX", "m", hi, lo, "LIMIT", "1", "3")


def test_zrangestore(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d
        ZRANGESTORE d z 0 -1
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z 1 2 REV
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z (1 +inf BYSCORE LIMIT 1 2
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z + [b BYLEX REV
        ZRANGE d 0 -1 WITHSCORES
        ZRANGESTORE d z 0 -1 WITHSCORES
        ZRANGESTORE d z 0 -1 LIMIT 0 1
        ZRANGESTORE d z a b BYSCORE
        ZRANGESTORE d z 5 10
        EXISTS d
        ZADD d 1 x
        ZRANGESTORE d nokey 0 -1
        EXISTS d
        SET str x
        ZRANGESTORE str z 0 0
        TYPE str
        ZRANGESTORE d str 0 0
        ZRANGESTORE z z 1 2
        ZRANGE z 0 -1 WITHSCORES
        ZRANGESTORE d z
    """)


def test_pops(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d 5 e 6 f
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z 2
        ZPOPMAX z 1
        ZPOPMIN z 0
        ZPOPMIN z 10
        EXISTS z
        ZPOPMIN z
        ZPOPMIN z 3
        ZPOPMAX nokey 0
        ZADD z 1 a
        ZPOPMIN z -1
        ZPOPMIN z x
        ZPOPMIN z 1 2
        ZPOPMIN nokey x
        SET str x
        ZPOPMIN str
        ZPOPMIN str 0
        ZPOPMIN str x
        ZPOPMAX str
    """)


def test_single_pops_scores_and_ends(diff):
    # ZPOPMIN/ZPOPMAX key encode their [member, score] reply themselves:
    # scores of every shape, pops from both ends down to an empty key, and
    # inside MULTI.
    run(diff, """
        ZADD z -inf a -2.25 b 0 c 1.5 d 1e300 e 3 f 0.1 g inf h -0 i 123456789012345678 j
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z
        ZPOPMAX z
        ZPOPMIN z
        ZPOPMAX z
        EXISTS z
        ZPOPMIN z
        ZPOPMAX z
        ZADD m 1 onlyone
        MULTI
        ZPOPMAX m
        ZPOPMIN m
        ZADD m 2 x 3 y
        ZPOPMIN m
        EXEC
        ZPOPMAX m
        EXISTS m
    """)


def test_zmpop(diff):
    run(diff, """
        ZADD z 1 a 2 b 3 c 4 d
        ZADD y 10 x
        ZMPOP 1 z MIN
        ZMPOP 1 z MAX
        ZMPOP 2 nokey z min COUNT 10
        EXISTS z
        ZMPOP 2 nokey z MIN
        ZMPOP 3 nokey z y max count 1
        ZMPOP 1 nokey MIN
        ZADD z 1 a 2 b
        ZMPOP 1 z MIN COUNT 0
        ZMPOP 1 z MIN COUNT -1
        ZMPOP 1 z MIN COUNT x
        ZMPOP 1 z MIN COUNT 1 COUNT 1
        ZMPOP 1 z MIN COUNT
        ZMPOP 1 z FOO
        ZMPOP 1 z
        ZMPOP 2 z
        ZMPOP 2 z MIN
        ZMPOP 0 z MIN
        ZMPOP -1 z MIN
        ZMPOP x z MIN
        SET str x
        ZMPOP 1 str MIN
        ZMPOP 2 z str MIN
        ZMPOP 2 nokey str MIN
    """)


def test_zrandmember(diff):
    diff.check("ZADD", "z", "3", "a", "2", "b", "1", "c", "5", "d", "1.5", "e")
    pool = {b"a", b"b", b"c", b"d", b"e"}
    # Whole set: deterministic order (descending).
    for args in (["5"], ["10"], ["5", "WITHSCORES"], ["100", "withscores"]):
        diff.check("ZRANDMEMBER", "z", *args)
    for args in ([], ["1"], ["3"], ["-3"], ["-8"], ["2", "WITHSCORES"], ["-4", "WITHSCORES"]):
        a = diff.node.call_raw("ZRANDMEMBER", "z", *args)
        b = diff.ref.call_raw("ZRANDMEMBER", "z", *args)
        assert _head(a) == _head(b), (args, a, b)
        value = _parse(a)
        items = value if isinstance(value, list) else [value]
        if "WITHSCORES" in args:
            items = [p[0] for p in items] if diff.protocol == 3 else items[::2]
        assert set(items) <= pool
        if args and not args[0].startswith("-"):
            assert len(set(items)) == len(items)
    run(diff, """
        ZRANDMEMBER z 0
        ZRANDMEMBER z 0 WITHSCORES
        ZRANDMEMBER nokey
        ZRANDMEMBER nokey 2
        ZRANDMEMBER nokey 2 WITHSCORES
        ZRANDMEMBER nokey x
        ZRANDMEMBER z x
        ZRANDMEMBER z 1 foo
        ZRANDMEMBER nokey 1 foo
        ZRANDMEMBER z 1 WITHSCORES x
        ZRANDMEMBER z 2 withscore
        ZRANDMEMBER z -9223372036854775808
        ZRANDMEMBER z 9223372036854775808
        ZRANDMEMBER z 4611686018427387904 WITHSCORES
        ZRANDMEMBER z -4611686018427387904 WITHSCORES
        ZRANDMEMBER z 4611686018427387903 WITHSCORES
        SET str x
        ZRANDMEMBER str
        ZRANDMEMBER str 1
        ZRANDMEMBER str x
    """)


def test_zscan(diff):
    run(diff, """
        ZADD z 3 c 1 a 2 b -inf ninf inf pinf 0.1 x
        ZSCAN z 0
        ZSCAN z 0 COUNT 1
        ZSCAN z 0 MATCH *
        ZSCAN z 0 MATCH ?
        ZSCAN z 0 MATCH [ab] COUNT 100
        ZSCAN z 123
        ZSCAN z -1
        ZSCAN z x
        ZSCAN z 0 COUNT 0
        ZSCAN z 0 COUNT x
        ZSCAN z 0 TYPE zset
        ZSCAN z 0 MATCH
        ZSCAN nokey 0 COUNT 0
        ZSCAN nokey x
        SET str x
        ZSCAN str 0
    """)


def test_zscan_large_iteration(node):
    mapping = {b"m:%d" % i: i * 0.5 for i in range(2000)}
    node.zadd("big", mapping)
    seen = {}
    cursor = 0
    for _ in range(1000):
        cursor, items = node.zscan("big", cursor, count=150)
        seen.update(items)
        if cursor == 0:
            break
    assert seen == mapping


def test_union_inter_diff(diff):
    run(diff, """
        ZADD a 1 x 2 y 3 z
        ZADD b 10 y 20 z 30 w
        SADD s x w v
        ZUNION 2 a b
        ZUNION 2 a b WITHSCORES
        ZUNION 2 a b WEIGHTS 2 0.5 WITHSCORES
        ZUNION 2 a b AGGREGATE MIN WITHSCORES
        ZUNION 2 a b AGGREGATE max WITHSCORES
        ZUNION 3 a b s WITHSCORES
        ZUNION 2 a nokey WITHSCORES
        ZUNION 1 nokey
        ZINTER 2 a b WITHSCORES
        ZINTER 2 a b WEIGHTS 1 -1 AGGREGATE SUM WITHSCORES
        ZINTER 2 a b AGGREGATE MIN WITHSCORES
        ZINTER 2 a s WITHSCORES
        ZINTER 2 a a WITHSCORES
        ZINTER 2 a a WEIGHTS 1 2 WITHSCORES
        ZINTER 2 a nokey
        ZDIFF 2 a b
        ZDIFF 2 a b WITHSCORES
        ZDIFF 2 b s WITHSCORES
        ZDIFF 1 a WITHSCORES
        ZDIFF 2 a a
        ZDIFF 2 nokey a
        ZDIFF 2 s a WITHSCORES
        ZINTERCARD 2 a b
        ZINTERCARD 2 a b LIMIT 1
        ZINTERCARD 2 a b LIMIT 0
        ZINTERCARD 2 a s
        ZINTERCARD 1 a LIMIT 2
        ZINTERCARD 2 a nokey
        ZUNION 1 a WITHSCORES WITHSCORES
        ZUNION 2 a b WEIGHTS 1 2 WEIGHTS 3 4 WITHSCORES
        ZUNION 2 a b AGGREGATE MIN AGGREGATE MAX WITHSCORES
    """)


def test_union_inter_diff_errors(diff):
    run(diff, """
        ZADD a 1 x
        SET str v
        ZUNION 2 a a WEIGHTS 1
        ZUNION 2 a a WEIGHTS 1 x
        ZUNION 2 a a WEIGHTS 1 nan
        ZUNION 2 a a WEIGHTS 1 1e400
        ZUNION 2 a a AGGREGATE foo
        ZUNION 2 a a AGGREGATE
        ZUNION 0 a
        ZUNION -1 a
        ZUNION x a
        ZUNION 3 a a
        ZUNION 1 a FOO
        ZUNION 2 str a
        ZUNION 2 nokey str
        ZUNION 1 str WEIGHTS x
        ZINTER 2 str nokey
        ZINTER 2 nokey str
        ZDIFF 2 nokey str
        ZDIFF 2 a str
        ZDIFF 1 a WEIGHTS 1
        ZDIFF 1 a AGGREGATE SUM
        ZDIFF 0 a
        ZINTERCARD 0 a
        ZINTERCARD x a
        ZINTERCARD 2 a
        ZINTERCARD 1 a LIMIT -1
        ZINTERCARD 1 a LIMIT x
        ZINTERCARD 1 a LIMIT
        ZINTERCARD 1 a WITHSCORES
        ZINTERCARD 1 a WEIGHTS 1
        ZINTERCARD 1 str
        ZUNIONSTORE d 0 a
        ZUNIONSTORE d x a
        ZUNIONSTORE d 3 a
        ZUNIONSTORE d 1 a WITHSCORES
        ZINTERSTORE d 0 a
        ZDIFFSTORE d 0 a
        ZDIFFSTORE d 1 a WEIGHTS 1
        ZUNIONSTORE d 1 str
        ZUNION 1
        ZUNIONSTORE d 1
    """)


def test_aggregate_edge_values(diff):
    run(diff, """
        ZADD i inf a -inf b 0 c
        ZADD j -inf a inf b 5 c
        ZUNION 2 i j WITHSCORES
        ZINTER 2 i j WITHSCORES
        ZUNION 2 i i WEIGHTS 1 -1 WITHSCORES
        ZUNION 2 i i WEIGHTS 0 0 WITHSCORES
        ZINTER 2 i j WEIGHTS 0 1 WITHSCORES
        ZINTER 2 i j WEIGHTS 1 0 WITHSCORES
        ZINTER 2 i j WEIGHTS 1 0 AGGREGATE MIN WITHSCORES
        ZINTER 2 i j WEIGHTS 1 0 AGGREGATE MAX WITHSCORES
        ZUNION 2 i j WEIGHTS 1 0 AGGREGATE MIN WITHSCORES
        ZUNION 1 i WEIGHTS -1 WITHSCORES
        ZUNIONSTORE d 2 i j
        ZRANGE d 0 -1 WITHSCORES
        ZUNIONSTORE d 1 i WEIGHTS -0
        ZRANGE d 0 -1 WITHSCORES
        ZADD p 0.1 m
        ZADD q 0.2 m
        ZADD r 0.3 m
        ZUNION 3 p q r WITHSCORES
        ZUNION 3 r q p WITHSCORES
        ZUNION 3 q r p WITHSCORES
        ZINTER 3 p q r WITHSCORES
        ZINTER 3 r p q WITHSCORES
        ZADD big 0.3 m 1 x 2 y
        ZUNION 3 big p q WITHSCORES
        ZUNION 3 p big q WITHSCORES
        ZINTER 3 big q p WITHSCORES
    """)


def test_store_variants(diff):
    run(diff, """
        ZADD a 1 x 2 y
        ZADD b 3 y 4 z
        SADD s x
        SET str v
        ZUNIONSTORE d 2 a b
        ZRANGE d 0 -1 WITHSCORES
        ZINTERSTORE d 2 a b WEIGHTS 2 3
        ZRANGE d 0 -1 WITHSCORES
        ZDIFFSTORE d 2 a b
        ZRANGE d 0 -1 WITHSCORES
        ZINTERSTORE str 2 a s
        TYPE str
        ZRANGE str 0 -1 WITHSCORES
        ZINTERSTORE d 2 a nokey
        EXISTS d
        ZDIFFSTORE a 2 a a
        EXISTS a
        ZUNIONSTORE b 2 b b
        ZRANGE b 0 -1 WITHSCORES
        SET t v EX 100
        ZUNIONSTORE t 1 b
        TTL t
    """)


# -- blocking pops ------------------------------------------------------------------
def test_blocking_immediate_and_errors(diff):
    run(diff, """
        SET str x
        BZPOPMIN str 0
        BZPOPMIN nokey str 0
        BZPOPMIN z x
        BZPOPMIN z -1
        BZPOPMIN z 1e400
        BZPOPMIN z nan
        BZPOPMIN z
        BZMPOP x 1 z MIN
        BZMPOP 0 0 z MIN
        BZMPOP 1 1 nokey FOO
        BZMPOP x 0 z MIN
        BZMPOP -1 1 z FOO
        BZMPOP 1 1 z MIN COUNT 0
        BZMPOP x 1 z MIN COUNT 0
        BZMPOP 0 1 str MIN
        BZMPOP 0 1 z
        ZADD z 1 a 2 b 3 c
        BZPOPMIN nokey z 0
        BZPOPMAX nokey z 0
        BZMPOP 0 2 nokey z MAX COUNT 5
        EXISTS z
        ZADD z 1 a 2 b 3 c
        BZMPOP 0 2 nokey z MIN
        BZPOPMIN nokey 0.01
        BZPOPMAX nokey nokey2 0.01
        BZMPOP 0.01 1 nokey MIN
        MULTI
        BZPOPMIN nokey 0
        BZMPOP 0 1 nokey MIN
        ZADD z 5 x
        BZPOPMIN z 0
        EXEC
    """)


def _blocked_pair(port, protocol, blocked_cmd, then_cmds):
    """Client A runs a blocking command; once it waits, client B runs
    ``then_cmds``; returns A's reply bytes."""
    a = RawClient(port)
    b = RawClient(port)
    try:
        if protocol == 3:
            a.call("HELLO", "3")
        a.send_raw(RawClient.encode(blocked_cmd))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            info = b.call("CLIENT", "LIST")
            if b"cmd=" + blocked_cmd[0].lower().encode() in info and b"flags=b" in info:
                break
            time.sleep(0.01)
        for cmd in then_cmds:
            b.call(*cmd)
        return a.read_reply_bytes()
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("blocked,then", [
    (["BZPOPMIN", "z1", "z2", "0"], [["ZADD", "z2", "5", "m", "3", "n"]]),
    (["BZPOPMAX", "z1", "z2", "5"], [["ZADD", "z1", "5", "m", "3", "n"]]),
    (["BZMPOP", "0", "2", "z1", "z2", "MAX", "COUNT", "2"], [["ZADD", "z2", "5", "m", "3", "n", "9", "o"]]),
    (["BZMPOP", "0", "1", "z1", "MIN"], [["ZINCRBY", "z1", "2.5", "m"]]),
    (["BZPOPMIN", "z1", "0"], [["ZADD", "src", "1", "a"], ["ZUNIONSTORE", "z1", "1", "src"]]),
    (["BZPOPMIN", "z1", "0"], [["ZADD", "src", "1", "a"], ["ZRANGESTORE", "z1", "src", "0", "-1"]]),
    (["BZPOPMIN", "z1", "0"], [["SET", "z1", "x"], ["DEL", "z1"], ["ZADD", "z1", "7", "q"]]),
])
def test_blocked_client_served(node_server, redis_server, blocked, then):
    for protocol in (2, 3):
        replies = []
        for port in (node_server.port, redis_server.port):
            c = RawClient(port)
            c.call("FLUSHALL")
            c.close()
            replies.append(_blocked_pair(port, protocol, blocked, then))
        assert replies[0] == replies[1], (protocol, replies)


def test_blocked_client_times_out(node_server, redis_server):
    for protocol in (2, 3):
        replies = []
        for port in (node_server.port, redis_server.port):
            c = RawClient(port)
            if protocol == 3:
                c.call("HELLO", "3")
            started = time.monotonic()
            replies.append((c.call_raw("BZPOPMIN", "nokey", "0.2"),
                            c.call_raw("BZMPOP", "0.2", "1", "nokey", "MIN")))
            assert time.monotonic() - started >= 0.3
            c.close()
        assert replies[0] == replies[1]


def test_blocked_clients_fifo(node):
    import threading
    port = node.connection_pool.connection_kwargs["port"]
    results = {}

    def waiter(name):
        c = RawClient(port)
        results[name] = c.call("BZPOPMIN", "q", "5")
        c.close()

    threads = []
    for name in ("first", "second"):
        t = threading.Thread(target=waiter, args=(name,))
        t.start()
        threads.append(t)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if node.client_list().__len__() and sum(
                    1 for c in node.client_list() if c.get("cmd") == "bzpopmin") == len(threads):
                break
            time.sleep(0.01)
    node.zadd("q", {"a": 1, "b": 2})
    for t in threads:
        t.join(10)
    assert results == {"first": [b"q", b"a", b"1"], "second": [b"q", b"b", b"2"]}


# -- keyspace notifications ------------------------------------------------------------
def keyspace_events(port, commands):
    """The keyevent notifications ``commands`` produce on the server at
    ``port``, in order: [(event, key), ...]."""
    sub = RawClient(port)
    cli = RawClient(port)
    try:
        cli.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        sub.call("SUBSCRIBE", "sentinel")
        for cmd in commands:
            cli.call(*cmd)
        cli.call("PUBLISH", "sentinel", "end")
        out = []
        for _ in range(1000):
            msg = sub.read_reply()
            if msg[0] == b"message":
                break
            out.append((msg[2].split(b":", 1)[1], msg[3]))
        return out
    finally:
        cli.call("CONFIG", "SET", "notify-keyspace-events", "")
        sub.close()
        cli.close()


EVENT_SCRIPT = [
    ["FLUSHALL"],
    ["SADD", "s", "a", "b", "c"], ["SADD", "s", "a"], ["SREM", "s", "a", "x"], ["SREM", "s", "zz"],
    ["SMOVE", "s", "t", "b"], ["SMOVE", "s", "t", "c"], ["SMOVE", "t", "t", "b"],
    ["SADD", "u", "1", "2"], ["SINTERSTORE", "d", "t", "u"], ["SUNIONSTORE", "d", "t", "u"],
    ["SDIFFSTORE", "d", "t", "u"], ["SDIFFSTORE", "d", "t", "t"], ["SPOP", "u", "5"],
    ["SADD", "u", "1"], ["SPOP", "u"], ["SPOP", "nokey"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["ZADD", "z", "1", "a"],
    ["ZADD", "z", "XX", "CH", "5", "a"], ["ZADD", "z", "INCR", "1", "a"], ["ZINCRBY", "z", "1", "b"],
    ["ZREM", "z", "a", "nope"], ["ZREM", "z", "nope"], ["ZREMRANGEBYRANK", "z", "0", "0"],
    ["ZREMRANGEBYSCORE", "z", "100", "200"], ["ZADD", "z", "0", "p", "0", "q"],
    ["ZREMRANGEBYLEX", "z", "[p", "[p"], ["ZREMRANGEBYSCORE", "z", "-inf", "+inf"],
    ["ZADD", "z", "1", "a", "2", "b", "3", "c"], ["ZPOPMIN", "z"], ["ZPOPMAX", "z", "5"],
    ["ZADD", "z", "1", "a", "2", "b"], ["ZMPOP", "1", "z", "MIN", "COUNT", "1"],
    ["BZPOPMAX", "z", "0"], ["ZADD", "z", "1", "a", "2", "b"], ["BZMPOP", "0", "1", "z", "MIN"],
    ["ZADD", "y", "1", "b", "9", "x"], ["ZUNIONSTORE", "d", "2", "z", "y"],
    ["ZINTERSTORE", "d", "2", "z", "y"], ["ZDIFFSTORE", "d", "2", "z", "z"],
    ["ZRANGESTORE", "d", "y", "0", "0"], ["ZRANGESTORE", "d", "y", "5", "6"],
    ["ZINTERSTORE", "nokey2", "2", "z", "nokey"],
]


def test_keyspace_events_match_redis(node_server, redis_server):
    mine = keyspace_events(node_server.port, EVENT_SCRIPT)
    theirs = keyspace_events(redis_server.port, EVENT_SCRIPT)
    assert mine == theirs


def test_large_sorted_sets(diff):
    # Past Redis's listpack limits (128 entries, 64-byte members): skiplist.
    args = []
    for i in range(300):
        args += ["%d" % ((i * 37) % 101 - 50) if i % 7 else "%d.25" % (i % 13), "m%03d" % i]
    diff.check("ZADD", "big", *args)
    diff.check("ZADD", "long", "1", "x" * 100, "2", "y" * 65, "1", "a")
    for cmd in (["ZRANGE", "big", "0", "-1", "WITHSCORES"], ["ZREVRANGE", "big", "10", "60"],
                ["ZRANGEBYSCORE", "big", "(-10", "20", "LIMIT", "5", "40"],
                ["ZREVRANGEBYSCORE", "big", "+inf", "0", "WITHSCORES", "LIMIT", "3", "7"],
                ["ZRANGE", "big", "(0", "5", "BYSCORE", "REV"], ["ZCOUNT", "big", "-5", "(5"],
                ["ZRANK", "big", "m150"], ["ZREVRANK", "big", "m150"], ["ZCARD", "big"],
                ["ZRANDMEMBER", "big", "1000", "WITHSCORES"], ["ZRANGE", "long", "0", "-1"],
                ["ZRANGEBYLEX", "long", "-", "+"], ["ZSCORE", "long", "x" * 100]):
        diff.check(*cmd)
    diff.check("ZADD", "lex", *[w for i in range(200) for w in ("0", "k%04d" % (i * 7 % 200))])
    for lo, hi in (("[k0050", "(k0150"), ("-", "[k0010"), ("(k0190", "+")):
        diff.check("ZRANGEBYLEX", "lex", lo, hi, "LIMIT", "3", "20")
        diff.check("ZREVRANGEBYLEX", "lex", hi, lo)
        diff.check("ZLEXCOUNT", "lex", lo, hi)
    diff.check("ZUNIONSTORE", "u", "2", "big", "lex", "WEIGHTS", "2", "0.5")
    diff.check("ZRANGE", "u", "0", "-1", "WITHSCORES")
    diff.check("ZINTER", "2", "big", "big", "AGGREGATE", "MAX", "WITHSCORES")
    diff.check("ZREMRANGEBYSCORE", "big", "-10", "10")
    diff.check("ZREMRANGEBYRANK", "big", "5", "-5")
    diff.check("ZREMRANGEBYLEX", "lex", "[k0100", "+")
    diff.check("ZRANGE", "big", "0", "-1", "WITHSCORES")
    diff.check("ZPOPMAX", "lex", "30")
    diff.check("ZMPOP", "1", "lex", "MIN", "COUNT", "1000")
    diff.check("EXISTS", "lex")


def test_random_and_blocking_pops_replay_from_the_aof(server_factory):
    """SPOP, ZMPOP and blocked BZPOPMIN/BZMPOP are written to the AOF in
    their deterministic forms: a restart rebuilds exactly the same values."""
    import redis
    s = server_factory("--save", "", "--appendonly", "yes")
    c = redis.Redis(host="127.0.0.1", port=s.port)
    c.sadd("s", *[b"m%d" % i for i in range(50)])
    c.spop("s")
    c.spop("s", 7)
    c.sadd("small", "a", "b")
    c.spop("small", 5)
    c.zadd("z", {b"m%d" % i: i % 7 for i in range(40)})
    c.zpopmin("z", 3)
    c.execute_command("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "4")
    c.srandmember("s", -5)
    c.zrandmember("z", 3)
    for blocked, then in ((["BZPOPMIN", "q1", "0"], [["ZADD", "q1", "2", "x", "1", "y"]]),
                          (["BZMPOP", "0", "1", "q2", "MAX", "COUNT", "2"],
                           [["ZADD", "q2", "1", "a", "2", "b", "3", "c"]])):
        _blocked_pair(s.port, 2, blocked, then)
    before = {k: (c.type(k), sorted(c.smembers(k)) if c.type(k) == b"set"
                  else c.zrange(k, 0, -1, withscores=True)) for k in c.keys()}
    c.close()
    s.restart()
    c = redis.Redis(host="127.0.0.1", port=s.port)
    after = {k: (c.type(k), sorted(c.smembers(k)) if c.type(k) == b"set"
                 else c.zrange(k, 0, -1, withscores=True)) for k in c.keys()}
    c.close()
    assert after == before
    assert set(before) == {b"s", b"z", b"q1", b"q2"}


def test_writes_invalidate_watch(node_server, redis_server):
    """Every write of these commands touches WATCHed keys (also when it
    empties and deletes the key); no-op calls do not."""
    script = [
        (["SADD", "k", "a"], True), (["SADD", "k", "a"], False), (["SREM", "k", "zz"], False),
        (["SPOP", "k"], True), (["ZADD", "k", "1", "a"], True), (["ZADD", "k", "1", "a"], False),
        (["ZINCRBY", "k", "0", "a"], False), (["ZPOPMIN", "k"], True), (["ZPOPMIN", "k"], False),
        (["SMOVE", "nokey", "k", "a"], False),
    ]
    for port in (node_server.port, redis_server.port):
        a, b = RawClient(port), RawClient(port)
        try:
            a.call("FLUSHALL")
            for cmd, touches in script:
                if cmd[0] in ("SPOP", "SREM"):
                    b.call("DEL", "k")
                    b.call("SADD", "k", "a")
                if cmd[0] == "ZPOPMIN" and touches:
                    b.call("DEL", "k")
                    b.call("ZADD", "k", "1", "a")
                if cmd[0] == "ZINCRBY":
                    b.call("DEL", "k")
                    b.call("ZADD", "k", "1", "a")
                a.call("WATCH", "k")
                b.call(*cmd)
                a.call("MULTI")
                a.call("PING")
                reply = a.call("EXEC")
                assert (reply is None) == touches, (port, cmd, reply)
        finally:
            a.close()
            b.close()
