"""Inline-command splitting: the bytes.split() fast path for lines without
quotes or NUL gives exactly what the step-by-step sdssplitargs port gives.
(Differential tests against redis-server cover inline commands end to end:
tests/fault/test_bad_input.py.)"""
import os
import sys

from hypothesis import given, settings, strategies as st

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from nodensync.protocol.request import split_args, split_args_quoted  # noqa: E402

# Whitespace of every kind sdssplitargs knows, ordinary bytes, a backslash.
_ALPHABET = b" \t\r\n\x0b\x0cab\\xZ\x7f\xff"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(list(_ALPHABET)), max_size=24).map(bytes))
def test_fast_split_equals_sdssplitargs(line):
    assert split_args(line) == split_args_quoted(line)


def test_quotes_and_nul_take_the_exact_path():
    assert split_args(b'SET "a b" c') == [b"SET", b"a b", b"c"]
    assert split_args(b"SET 'it\\'s' x") == [b"SET", b"it's", b"x"]
    assert split_args(b'SET "a') is None
    assert split_args(b"A\0B C") == split_args_quoted(b"A\0B C")
