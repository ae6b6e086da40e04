"""Cases found by running Redis 7.0.15's own Tcl suite (tests/unit/keyspace.tcl)
against NodeNsync, compared with redis-server."""
import time

from hypothesis import HealthCheck, given, settings, strategies as st


def test_pattern_matching_long_nested_loops(diff):
    # keyspace.tcl "Regression for pattern matching long nested loops": a glob
    # with many stars against a long run of the same byte must not backtrack
    # exponentially (it hung NodeNsync: KEYS, SCAN MATCH, PSUBSCRIBE ...).
    diff.check("SET", "a" * 40, "1")
    pattern = "a*" * 20 + "b"
    started = time.monotonic()
    diff.check("KEYS", pattern)
    diff.check("SCAN", "0", "MATCH", pattern, "COUNT", "100")
    diff.check("KEYS", "a*" * 20)
    diff.check("KEYS", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a")
    diff.check("KEYS", "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a")
    diff.check("HSET", "h", "a" * 40, "v")
    diff.check("HSCAN", "h", "0", "MATCH", pattern)
    assert time.monotonic() - started < 5


def test_many_star_patterns_in_psubscribe(diff):
    diff.check("PSUBSCRIBE", "a*" * 30 + "b")
    diff.check("PUNSUBSCRIBE")


_KEYS = ["", "a", "ab", "abc", "aXbXc", "a*b", "[a]", "a\\b", "-", "aaaa", "abab", "cab",
         "h*llo", "hallo", "hello", "hxllo", "a?c"]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(["*", "?", "a", "b", "c", "X", "[ab]", "[^a]", "[a-c]", "\\*",
                                 "\\", "[", "]", "-", "h", "l", "lo"]),
                min_size=1, max_size=9))
def test_multi_star_globs_match_like_redis(diff, parts):
    """KEYS with patterns of several stars (the path that no longer uses one
    regex) against the same keys in both servers."""
    if not getattr(diff, "_compat_keys_loaded", False):
        for k in _KEYS:
            diff.check("SET", k, "1")
        diff._compat_keys_loaded = True
    diff.check("KEYS", "".join(parts), unordered=True)
