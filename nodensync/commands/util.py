"""Argument parsing shared by command handlers, with Redis's exact rules."""
import math
import re
from functools import lru_cache

from .. import errors
from ..errors import CommandError

def _error(message):
    # A fresh exception per raise: re-raising one shared instance makes its
    # __traceback__ grow with every raise and keeps those frames alive.
    return CommandError(message)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def parse_int(b, error=None):
    """A signed 64-bit integer written canonically (Redis's string2ll: no
    spaces, '+', leading zeros or '-0')."""
    try:
        v = int(b)
    except (ValueError, TypeError):
        raise (error or _error(errors.NOT_INTEGER)) from None
    if not _INT64_MIN <= v <= _INT64_MAX or b"%d" % v != b:
        raise error or _error(errors.NOT_INTEGER)
    return v


def parse_nonneg(b, message):
    v = parse_int(b)
    if v < 0:
        raise CommandError(message)
    return v


def try_int(b):
    """The int a string value holds if it is a canonical int64, else None
    (used to store INCR-able strings compactly)."""
    if 0 < len(b) <= 20:
        try:
            v = int(b)
        except ValueError:
            return None
        if _INT64_MIN <= v <= _INT64_MAX and b"%d" % v == b:
            return v
    return None


_FLOAT_OK = re.compile(rb"^[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|infinity)$", re.I)


def parse_float(b, error=None, allow_nan=False):
    """A double as Redis's strtod-based parsing accepts it: no spaces,
    'inf'/'-inf' allowed, NaN refused."""
    if not _FLOAT_OK.match(b):
        raise error or _error(errors.NOT_FLOAT)
    v = float(b)
    if math.isnan(v) and not allow_nan:
        raise error or _error(errors.NOT_FLOAT)
    return v


def parse_timeout_ms(b, unit_seconds=True):
    """A blocking-command timeout (seconds, may be fractional) -> ms."""
    try:
        v = float(b) if unit_seconds else int(b)
    except ValueError:
        raise CommandError("ERR timeout is not a float or out of range") from None
    if math.isnan(v) or math.isinf(v):
        raise CommandError("ERR timeout is not a float or out of range")
    if v < 0:
        raise CommandError("ERR timeout is negative")
    return int(v * 1000) if unit_seconds else v


@lru_cache(maxsize=1024)
def _glob_regex(pattern):
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i:i + 1]
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i:i + 1]))
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i:i + 1] == b"^"
            if negate:
                i += 1
            items = []
            while i < n and pattern[i:i + 1] != b"]":
                ch = pattern[i:i + 1]
                if ch == b"\\" and i + 1 < n:
                    i += 1
                    items.append(re.escape(pattern[i:i + 1]))
                elif i + 2 < n and pattern[i + 1:i + 2] == b"-" and pattern[i + 2:i + 3] != b"]":
                    lo, hi = pattern[i], pattern[i + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    items.append(b"\\x%02x-\\x%02x" % (lo, hi))
                    i += 2
                else:
                    items.append(re.escape(ch))
                i += 1
            if not items:
                out.append(b"[^\\x00-\\xff]" if not negate else b"[\\x00-\\xff]")
            else:
                out.append(b"[" + (b"^" if negate else b"") + b"".join(items) + b"]")
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile(b"".join(out), re.DOTALL)


def glob_match(pattern, subject):
    """Redis's stringmatchlen(): * ? [abc] [^a] [a-z] and \\ escapes."""
    if pattern == b"*":
        return True
    return _glob_regex(pattern).fullmatch(subject) is not None


def glob_matcher(pattern):
    """A fast predicate for repeated matching of one pattern."""
    if pattern == b"*":
        return lambda s: True
    return _glob_regex(pattern).fullmatch
